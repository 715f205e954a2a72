"""Has the network stopped telling states apart? Read from the value's spread over each update's batch
(`value_std`, ba3c/losses.py), logged per progress row.

When a ReLU network's features collapse (every unit dead, or the same on every state), the value and
the policy are the same for every state and no gradient reaches the dead units; no run measured here
recovered (Boxing with the defaults: random play to 33M frames). Measured (models/README.md, "Why
Adam fails on Boxing"; seed 0): with the defaults, Boxing's batch value_std fell below 1e-4 by ~130k
frames and stayed at 0-4e-5, while Breakout's stayed at 0.2-0.5 from ~80k frames on and never read
below ~4e-3, even untrained; Boxing under A2C's optimizer, which does learn it, stayed at 0.008-0.05.
"""
from __future__ import annotations

# Below this on every row over COLLAPSE_SPAN_FRAMES frames, the run says so once.
COLLAPSE_VALUE_STD = 1e-4
COLLAPSE_SPAN_FRAMES = 100_000


class CollapseWatch:
    """Feed it each progress row's (frames, value_std); it answers True once, at the first row that
    ends a stretch of at least COLLAPSE_SPAN_FRAMES frames in which every row read below the bound."""

    def __init__(self, bound: float = COLLAPSE_VALUE_STD, span_frames: int = COLLAPSE_SPAN_FRAMES) -> None:
        self.bound, self.span_frames = bound, span_frames
        self.since: int | None = None  # first frame count of the current stretch below the bound
        self.said = False

    def update(self, frames: int, value_std: float | None) -> bool:
        if value_std is None or value_std != value_std or value_std >= self.bound:  # None/NaN: no evidence
            self.since = None
            return False
        if self.since is None:
            self.since = frames
        if not self.said and frames - self.since >= self.span_frames:
            self.said = True
            return True
        return False
