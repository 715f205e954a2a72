"""Atari emulators: ale-py's C++ AtariVectorEnv plus the bookkeeping an A3C learner needs.

The emulator runs with life_loss_info=True (a lost life ends a training episode, the game plays
on) and unclipped rewards, so we can both clip rewards for learning and sum raw rewards over all
lives for the game score users compare with published tables.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import numpy as np

from ba3c.games import action_meanings


def available_cores() -> int:
    """Cores this process may use: its CPU affinity (taskset, mpirun/srun binding), capped by
    Slurm's cpus-per-task where set (a Slurm without task binding leaves affinity at the whole node)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    per_task = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if per_task.isdigit() and int(per_task) > 0:
        cores = min(cores, int(per_task))
    return max(1, cores)


def threads_per_rank(cfg) -> int:
    """CPU threads of one rank for its emulators and TensorFlow: --threads, else its cores."""
    return cfg.threads or available_cores()


@dataclass
class StepResult:
    obs: np.ndarray  # (N, 4, 84, 84) uint8, observation after the step
    actions: np.ndarray  # (N,) actions actually sent (forced FIRE substituted)
    rewards: np.ndarray  # (N,) raw rewards
    dones: np.ndarray  # (N,) bool: this step ended a life or a game (the frame cap included)
    truncated: np.ndarray  # (N,) bool: the game was cut at the frame cap (not lost): bootstrap from obs
    valid: np.ndarray  # (N,) bool: False on the emulator's autoreset step (action ignored)
    forced: np.ndarray  # (N,) bool: the action was a forced FIRE, not the agent's


class AtariEnvs:
    """N emulators of one game stepped together; tracks whole-game scores and per-life returns."""

    def __init__(self, game: str, num_envs: int, seed: int, threads: int = 0, noop_max: int = 30,
                 sticky_actions: float = 0.0, max_episode_frames: int = 108_000,
                 fire_on_life_loss: bool = True, reward_clip: float = 1.0, screen: bool = False) -> None:
        """screen=True: one emulator that also shows its colour screen (ba3c/screen_env.py, for videos),
        stepped exactly as the vector emulators are."""
        self.meanings = action_meanings(game)
        self.n_actions = len(self.meanings)
        self.fire_action = self.meanings.index("FIRE") if fire_on_life_loss and "FIRE" in self.meanings else None
        self.reward_clip = reward_clip
        # fire_on_life_loss off is the strict protocol: nobody presses FIRE for the agent, at start included.
        settings = dict(repeat_action_probability=sticky_actions, max_num_frames_per_episode=max_episode_frames,
                        noop_max=noop_max, use_fire_reset=fire_on_life_loss)
        if screen:
            from ba3c.screen_env import ScreenEmulator

            assert num_envs == 1, "the screen emulator plays one game"
            self.env = ScreenEmulator(game, noop_max, sticky_actions, max_episode_frames, fire_on_life_loss)
        else:
            from ale_py.vector_env import AtariVectorEnv

            self.env = AtariVectorEnv(game, num_envs, num_threads=threads or min(available_cores(), num_envs),
                                      life_loss_info=True, episodic_life=False, reward_clipping=False, **settings)
        obs, info = self.env.reset(seed=seed)
        self.obs = obs
        self.reset_info = info  # the emulators' state at the start: no-op frames already played
        self._episode_frame = np.asarray(info["episode_frame_number"]).copy()
        self._fire_next = np.zeros(num_envs, bool)
        self._game_score = np.zeros(num_envs, np.float64)
        self._game_steps = np.zeros(num_envs, np.int64)  # agent steps of the running game
        self._life_return = np.zeros(num_envs, np.float64)
        self.finished_scores: list[float] = []  # raw score of each whole game, all lives
        self.finished_lengths: list[int] = []  # agent steps of each whole game
        self.finished_life_returns: list[float] = []  # clipped return of each life
        self.finished_ids: list[int] = []  # env index of each finished game

    def clip(self, rewards: np.ndarray) -> np.ndarray:
        if self.reward_clip > 0:
            return np.clip(rewards, -self.reward_clip, self.reward_clip)
        return rewards

    def step(self, actions: np.ndarray) -> StepResult:
        """Step every emulator once. A game ends where the emulator resets it, which we read from
        what it reports (its episode frame counter starts again) rather than guess from lives and
        flags: ale-py resets after a game over, after the frame cap (even when that step also lost a
        life and says terminated with lives > 0), and in ROMs whose lives never reach 0 (Adventure)."""
        actions = np.asarray(actions, dtype=np.int64).copy()
        forced = self._fire_next.copy()
        if self.fire_action is not None:
            actions[forced] = self.fire_action
        obs, rewards, term, trunc, info = self.env.step(actions)
        rewards = rewards.astype(np.float32)
        episode_frame = np.asarray(info["episode_frame_number"])
        # The emulator's autoreset step: it ignored the action and began a new game. Its reward
        # belongs to no one (always 0 in practice) and the game before it is over.
        reset = episode_frame <= self._episode_frame
        valid = ~reset
        self._episode_frame = episode_frame.copy()
        for i in np.flatnonzero(reset):
            self.finished_scores.append(float(self._game_score[i]))
            self.finished_lengths.append(int(self._game_steps[i]))
            self.finished_ids.append(int(i))
            self._game_score[i] = 0.0
            self._game_steps[i] = 0
        dones = (term | trunc) & valid
        # ale-py flags truncated only where the cap ended the game and no life was lost (then terminated).
        cut = trunc & ~term & valid
        self._game_score += np.where(valid, rewards, 0.0)
        self._game_steps += valid
        self._life_return += np.where(valid, self.clip(rewards), 0.0)
        for i in np.flatnonzero(dones):
            self.finished_life_returns.append(float(self._life_return[i]))
            self._life_return[i] = 0.0
        # After a lost life the usual wrappers press FIRE; if the game is in fact over, the next
        # step is the reset step and the emulator ignores it (valid is False there).
        self._fire_next = term & valid & (self.fire_action is not None)
        self.obs = obs
        return StepResult(obs, actions, rewards, dones, cut, valid, forced & valid)

    def pop_finished(self) -> tuple[list[float], list[int], list[float], list[int]]:
        """Games and lives finished since the last call: (game scores, game lengths in agent steps,
        clipped per-life returns, env index of each game)."""
        out = (self.finished_scores, self.finished_lengths, self.finished_life_returns, self.finished_ids)
        self.finished_scores, self.finished_lengths, self.finished_life_returns, self.finished_ids = [], [], [], []
        return out

    def close(self) -> None:
        self.env.close()


class EnvGroup:
    """Several AtariEnvs stepped as one, in order: --grow_envs adds emulators to a running rank while
    the ones it has play their games on (restarting them would cut every running game short)."""

    def __init__(self, parts: list[AtariEnvs]) -> None:
        self.parts = list(parts)

    def add(self, envs: AtariEnvs) -> None:
        self.parts.append(envs)

    @property
    def num_envs(self) -> int:
        return sum(len(p.obs) for p in self.parts)

    @property
    def obs(self) -> np.ndarray:
        return np.concatenate([p.obs for p in self.parts])

    def clip(self, rewards: np.ndarray) -> np.ndarray:
        return self.parts[0].clip(rewards)

    def step(self, actions: np.ndarray) -> StepResult:
        bounds = np.cumsum([0] + [len(p.obs) for p in self.parts])
        results = [p.step(actions[lo:hi]) for p, lo, hi in zip(self.parts, bounds[:-1], bounds[1:])]
        return StepResult(**{f.name: np.concatenate([getattr(r, f.name) for r in results])
                             for f in dataclasses.fields(StepResult)})

    def pop_finished(self) -> tuple[list[float], list[int], list[float], list[int]]:
        """As AtariEnvs.pop_finished, with env indices counted over the whole group."""
        scores, lengths, lives, ids, offset = [], [], [], [], 0
        for p in self.parts:
            s, n, life, i = p.pop_finished()
            scores += s
            lengths += n
            lives += life
            ids += [offset + k for k in i]
            offset += len(p.obs)
        return scores, lengths, lives, ids

    def close(self) -> None:
        for p in self.parts:
            p.close()
