"""The mean screen: a per-pixel average of the frames a run sees first, which the network subtracts
from every input (ba3c/model.py), stored with the weights as `model/obs_mean`.

Why: a game's static background is the same on every state, and on bright ones it dominates the
first layer's input (Boxing's ring: mean pixel 0.49; Breakout 0.16). On the raw screen Boxing's
features stopped depending on the state within ~130k frames under the default Adam; with the mean
screen subtracted they did not, and Breakout learned faster (models/README.md, "The mean screen").
Our reading, not proven: Adam's full-size steps along the constant part of the input moved every
unit at once. With the mean subtracted, the input is the part that changes between states.

The mean is measured over the first `--obs_mean_updates` rollouts of a new run (the same screens the
trainer learns from, no extra frames), on rank 0, broadcast to every rank, then fixed. Files written before it
existed hold none: they get zeros, the raw screen they were trained on. NumPy only (no TensorFlow),
so checkpoint readers can use it."""
from __future__ import annotations

import numpy as np

from ba3c.rollout import OBS_SHAPE

KEY = "model/obs_mean"
SHAPE = (OBS_SHAPE[1], OBS_SHAPE[2], 1)  # (H, W, 1): one mean for all stacked frames, NHWC-broadcastable


def mean_screen(obs: np.ndarray) -> np.ndarray:
    """uint8 screens (..., frames, H, W) -> their per-pixel mean in [0, 1] as float64 (H, W)."""
    return obs.reshape(-1, obs.shape[-2], obs.shape[-1]).mean(axis=0, dtype=np.float64) / 255.0


def with_mean_screen(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A model file's arrays, with zeros (no subtraction) where it predates the mean screen."""
    if KEY not in arrays:
        arrays = {**arrays, KEY: np.zeros(SHAPE, np.float32)}
    return arrays


class MeanScreenMeter:
    """Averages the screens of a run's first rollouts; `add` returns this rank's mean once the
    last one is in (the caller then broadcasts rank 0's to every rank and gives it to the network)."""

    def __init__(self, rollouts: int) -> None:
        self.rollouts = self.remaining = max(0, rollouts)
        self.total = np.zeros(SHAPE[:2])

    @property
    def active(self) -> bool:
        return self.remaining > 0

    def add(self, obs: np.ndarray) -> np.ndarray | None:
        self.total += mean_screen(obs)  # every rollout holds as many screens, so a mean of means
        self.remaining -= 1
        if self.remaining:
            return None
        return (self.total / self.rollouts).astype(np.float32).reshape(SHAPE)
