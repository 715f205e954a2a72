"""The log row: accumulates what each update reports and emits one row per log interval
(progress.jsonl, TensorBoard, the status line). Rank 0 owns it."""
from __future__ import annotations

import time
from collections import deque
from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np

from ba3c.learner import STAT_NAMES, UpdateResult
from ba3c.noise_scale import NoiseScale
from ba3c.rollout import Timing
from ba3c.runlog import score_settled

TIMERS = ("t_env", "t_act", "t_learn", "t_allreduce", "t_other")
SCORE_WINDOW = 100  # the games score(100) averages


class ScoreTarget(NamedTuple):
    """--stop_at_score on rank 0: reached once score(100) is at least `score` over a full window
    and, after a resume, once the restarted games have settled (ba3c/runlog.py: score_settled)."""
    score: float | None
    games_at_start: int
    resumed: bool
    emulators: int  # all ranks'

    def met_by(self, window: Sequence[float]) -> bool:
        """A full window at or above the target (a resumed run's checkpointed window: games played
        before this start, so no settling needed)."""
        return self.score is not None and len(window) >= SCORE_WINDOW and float(np.mean(window)) >= self.score

    def reached(self, window: Sequence[float], games: int) -> bool:
        """The live window meets it, and a resume's restarted games have settled."""
        return self.met_by(window) and score_settled(games - self.games_at_start, self.emulators, self.resumed)


class Meter:
    def __init__(self, frames: int, noise: NoiseScale, recent_scores: Iterable[float] = ()) -> None:
        """recent_scores: a resumed run's last games (Meter.state() of its checkpoint)."""
        self.noise = noise
        self.recent_scores: deque[float] = deque((float(s) for s in recent_scores), maxlen=SCORE_WINDOW)
        self._reset(frames, time.time())

    def state(self) -> list[float]:
        """The score(100) window, for the checkpoint (rank 0's is the one that counts)."""
        return list(self.recent_scores)

    def _reset(self, frames: int, now: float) -> None:
        self.sums = dict.fromkeys(STAT_NAMES + ("grad_norm",) + TIMERS, 0.0)
        self.n_updates = self.n_applied = 0
        self.life_returns: list[float] = []
        self.frames_at_start, self.t_start = frames, now

    def add(self, result: UpdateResult, timing: Timing, t_learn: float, t_allreduce: float, t_other: float) -> None:
        """Every update, on every rank (the noise scale must evolve alike everywhere)."""
        self.noise.update(result.noise)
        if result.applied:
            for k, v in result.stats.items():
                self.sums[k] += v
            self.sums["grad_norm"] += result.grad_norm
            self.n_applied += 1
        for k, v in zip(TIMERS, (timing.env, timing.act, t_learn, t_allreduce, t_other)):
            self.sums[k] += v
        self.n_updates += 1

    def add_games(self, scores: list[float], life_returns: list[float]) -> None:
        self.recent_scores.extend(scores)
        self.life_returns.extend(life_returns)

    def row(self, counters: dict[str, Any], wall_time: float, lr: float, entropy_beta: float,
            eval_mean: float | None) -> dict[str, Any]:
        """The progress row of the interval since the last one, then start a new interval."""
        now = time.time()
        g2, trace = self.noise.parts()
        row = {"frames": counters["frames"], "updates": counters["updates"], "wall_time": round(wall_time, 2),
               "fps": (counters["frames"] - self.frames_at_start) / max(now - self.t_start, 1e-9),
               "games": counters["games"],
               "score_mean100": float(np.mean(self.recent_scores)) if self.recent_scores else None,
               "train_life_return": float(np.mean(self.life_returns)) if self.life_returns else None,
               "lr": lr, "entropy_beta": entropy_beta, "skipped_updates": counters["skipped_updates"],
               "eval_score_mean": eval_mean,
               "noise_scale": self.noise.value, "noise_scale_rel_error": self.noise.relative_error(),
               "noise_grad_sq": g2, "noise_trace": trace}
        for k, v in self.sums.items():
            row[k] = v / max(self.n_applied if k in STAT_NAMES or k == "grad_norm" else self.n_updates, 1)
        self._reset(counters["frames"], now)
        return row
