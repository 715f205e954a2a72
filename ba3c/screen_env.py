"""One emulator that plays exactly as one of ale-py's vector emulators and also shows its colour screen.

Videos need the 210x160 RGB screen, which AtariVectorEnv does not return. This class runs one
ale_py.ALEInterface through the same steps as ale-py 0.12.1's C++ PreprocessedEnv
(src/ale/vector/preprocessed_env.cpp) with the settings ba3c.envs.AtariEnvs uses, and speaks the
vector env's API, so AtariEnvs (and its FIRE-after-a-lost-life rule) drives it unchanged:

- reset: reset_game, FIRE for one frame where FIRE is pressed at start, then d - 1 single-frame NOOPs
  (d - 0 without that FIRE) with d drawn from [0, noop_max); the frame stack is zeros plus the
  reset screen;
- step: the action for 4 frames, grayscale screens of the last two max-pooled, resized to 84x84 with
  INTER_AREA; the loop stops early at game over or the frame cap, keeping the earlier screens;
- terminated: game over or a lost life (life_loss_info); truncated: the frame cap without either;
- the step after a finished game is the reset (NEXT_STEP autoreset), with reward 0.

The one difference: d comes from NumPy's generator, not the C++ std::mt19937, so the same seed draws
other no-op counts (the same distribution). tests/test_eval_video.py checks the screens step by step.
"""
from __future__ import annotations

import numpy as np

from ba3c.games import FRAMESKIP

STACK, SIZE = 4, 84


class ScreenEmulator:
    def __init__(self, game: str, noop_max: int = 30, sticky_actions: float = 0.0,
                 max_episode_frames: int = 108_000, use_fire_reset: bool = True) -> None:
        import ale_py
        import ale_py.roms

        self.rom = ale_py.roms.get_rom_path(game)
        self.ale = ale_py.ALEInterface()
        self.ale.setLoggerMode(ale_py.LoggerMode.Error)
        self.ale.setFloat("repeat_action_probability", float(sticky_actions))
        self.ale.loadROM(self.rom)
        self.actions = list(self.ale.getMinimalActionSet())
        self.fire_reset = use_fire_reset and ale_py.Action.FIRE in self.actions
        self.noop_max, self.max_frames = noop_max, max_episode_frames
        self.rng = np.random.default_rng()
        h, w = self.ale.getScreenDims()
        self.raw = [np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)]
        self.stack = np.zeros((STACK, SIZE, SIZE), np.uint8)
        self.idx = 0
        self.elapsed, self.lives, self.game_over, self.life_lost = max_episode_frames + 1, 0, False, False
        self.num_envs = 1

    # ---- the vector env's API, for one env ------------------------------------------------------
    def reset(self, seed: int | None = None):
        if seed is not None:

            self.ale.setInt("random_seed", int(seed))
            self.ale.loadROM(self.rom)
            self.rng = np.random.default_rng(seed)
        self._reset()
        return self._obs(), self._info()

    def step(self, actions):
        reward, terminated, truncated = 0, False, False
        if self._episode_over():
            self._reset()
        else:
            reward = self._step(self.actions[int(np.asarray(actions).reshape(-1)[0])])
            terminated = self.game_over or self.life_lost
            truncated = self.elapsed >= self.max_frames and not terminated
        return (self._obs(), np.array([reward], np.int32), np.array([terminated]), np.array([truncated]),
                self._info())

    def rgb(self) -> np.ndarray:
        """The colour screen (210, 160, 3) uint8 as it is now."""
        return self.ale.getScreenRGB()

    def close(self) -> None:
        pass

    # ---- PreprocessedEnv's steps ----------------------------------------------------------------
    def _reset(self) -> None:
        import ale_py

        self.ale.reset_game()
        if self.fire_reset:
            self.ale.act(ale_py.Action.FIRE)
        noops = int(self.rng.integers(0, self.noop_max)) if self.noop_max > 0 else 0
        for _ in range(noops - int(self.fire_reset)):
            self.ale.act(ale_py.Action.NOOP)
            if self.ale.game_over():
                self.ale.reset_game()
        self.stack[:] = 0
        self.idx = 0
        self.raw[0][:] = self.ale.getScreenGrayscale()
        self.raw[1][:] = 0
        self._push_screen()
        self.elapsed, self.game_over, self.life_lost = 0, False, False
        self.lives = self.ale.lives()

    def _step(self, action) -> int:
        reward = 0
        for skip in range(FRAMESKIP, 0, -1):
            reward += self.ale.act(action)
            self.game_over = self.ale.game_over()
            self.elapsed += 1
            self.life_lost = 0 < self.ale.lives() < self.lives
            if self.game_over or self.elapsed >= self.max_frames:
                break
            if skip <= 2:
                self.raw[skip - 1][:] = self.ale.getScreenGrayscale()
        self._push_screen()
        self.lives = self.ale.lives()
        return reward

    def _push_screen(self) -> None:
        import cv2

        np.maximum(self.raw[0], self.raw[1], out=self.raw[0])
        self.stack[self.idx] = cv2.resize(self.raw[0], (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        self.idx = (self.idx + 1) % STACK

    def _episode_over(self) -> bool:
        return self.game_over or self.elapsed >= self.max_frames

    def _obs(self) -> np.ndarray:
        return np.roll(self.stack, -self.idx, axis=0)[None]

    def _info(self) -> dict[str, np.ndarray]:
        return {"env_id": np.zeros(1, np.int32), "lives": np.array([self.ale.lives()], np.int32),
                "frame_number": np.array([self.ale.getFrameNumber()], np.int32),
                "episode_frame_number": np.array([self.ale.getEpisodeFrameNumber()], np.int32)}
