"""Watch or record one full game in colour at the emulator's native 160x210 resolution.

The agent plays one emulator stepped exactly as the training emulators are (ba3c/screen_env.py,
checked screen by screen in tests), which also shows its RGB screen for the video."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ba3c.errors import UserError
from ba3c.sampling import sample_actions

VIDEO_FPS = 15  # 60 Hz emulator / frameskip 4
FORMATS = (".gif", ".mp4")


def game_frames(policy: Callable[[np.ndarray], np.ndarray], game: str, seed: int, noop_max: int = 30,
                sticky_actions: float = 0.0, max_episode_frames: int = 108_000,
                fire_on_life_loss: bool = True) -> Iterator[tuple[np.ndarray, float]]:
    """Yield (RGB frame (210, 160, 3) uint8, game score so far) once at the start and after every
    agent step of one full game (all lives). The agent sees what training sees: the same emulator
    steps, observations, no-op starts and FIRE presses (ba3c/screen_env.py)."""
    from ba3c.envs import AtariEnvs
    from ba3c.quiet import quiet_stderr

    with quiet_stderr():
        envs = AtariEnvs(game, 1, seed=seed, noop_max=noop_max, sticky_actions=sticky_actions,
                         max_episode_frames=max_episode_frames, fire_on_life_loss=fire_on_life_loss,
                         reward_clip=0.0, screen=True)
    rng = np.random.default_rng(seed)
    score = 0.0
    yield envs.env.rgb(), score
    while True:
        res = envs.step(sample_actions(policy(envs.obs), rng))
        if not res.valid[0]:  # the emulator's reset step: the game ended at the previous step
            break
        score += float(res.rewards[0])
        yield envs.env.rgb(), score
    envs.close()


def overlay_score(frame: np.ndarray, score: float, step: int | None = None) -> np.ndarray:
    """Score (and game time, which also keeps GIF encoders from merging identical frames)."""
    import cv2

    out = np.ascontiguousarray(frame).copy()
    text = f"{score:g}"
    if step is not None:
        t = step / VIDEO_FPS
        text += f"  {int(t // 60)}:{t % 60:05.2f}"
    org = (3, out.shape[0] - 4)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def check_video_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise UserError(f"--output {path}: unknown video format {path.suffix!r}; use .gif or .mp4")
    if not path.parent.exists():
        raise UserError(f"--output {path}: folder {path.parent} does not exist")
    return path


def record(frames: Iterator[tuple[np.ndarray, float]], path: str | Path) -> tuple[int, float]:
    """Write the frames with the score overlaid to .gif or .mp4 (atomically); return (frames, score)."""
    import imageio.v2 as imageio

    path = check_video_path(path)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    n, score = 0, 0.0
    if path.suffix.lower() == ".mp4":
        writer = imageio.get_writer(tmp, fps=VIDEO_FPS, codec="libx264", quality=7, macro_block_size=1,
                                    pixelformat="yuv420p")
    else:
        writer = imageio.get_writer(tmp, mode="I", duration=1000 / VIDEO_FPS, loop=0)
    try:
        for frame, score in frames:
            writer.append_data(overlay_score(frame, score, n))
            n += 1
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    writer.close()
    tmp.replace(path)
    return n, score


def show(frames: Iterator[tuple[np.ndarray, float]]) -> float:
    """Show the game in a window (matplotlib) at about the game's speed; return the score."""
    import time

    try:
        import matplotlib

        matplotlib.use("TkAgg")
        import matplotlib.pyplot as plt
    except Exception as e:  # no Tk in this Python, or the display refused the connection
        raise UserError(f"cannot open a window ({e}); use --task record --output game.mp4 instead") from None
    plt.ion()
    fig, ax = plt.subplots(figsize=(4, 5.25))
    ax.axis("off")
    image = None
    score = 0.0
    for frame, score in frames:
        shown = overlay_score(frame, score)
        if image is None:
            image = ax.imshow(shown)
        else:
            image.set_data(shown)
        fig.canvas.draw_idle()
        plt.pause(1 / VIDEO_FPS)
        if not plt.fignum_exists(fig.number):
            break
    time.sleep(0.5)
    plt.close(fig)
    return score
