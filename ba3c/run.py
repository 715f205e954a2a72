"""The parts train() is assembled from: the run's counters and decisions (RunState), named periodic
jobs (Every), the updates between their gradients and their application (Pipeline), the timing
split (Stopwatch), and no-op stand-ins for rank 0's side effects on the other ranks.

Collective calls are marked `# all ranks`: every trainer must make them in the same order."""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ba3c.rollout import Timing
from mpi.comm import PendingMean

COUNTERS = ("frames", "updates", "games", "wall_time", "skipped_updates")


class Every:
    """A job due every `seconds`. ask() is its one clock: it answers whether the job is due and, if
    so, starts the next interval. A job that never runs (other ranks than 0): Every(None)."""

    def __init__(self, seconds: float | None, now: float | None = None) -> None:
        self.seconds = seconds
        self.last = time.time() if now is None else now

    def ask(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        if self.seconds is None or now - self.last < self.seconds:
            return False
        self.last = now
        return True


class Stopwatch:
    """Seconds between consecutive laps, for the per-update time split."""

    def __init__(self) -> None:
        self.t = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        seconds, self.t = now - self.t, now
        return seconds


@dataclass
class RunState:
    """The run's counters (what checkpoints keep) and the loop's decisions: stop, skip, end."""
    counters: dict[str, Any] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    stopping: bool = False  # no new rollouts; what is in flight is still applied
    reason: str = "done"  # done | target | signal | nonfinite
    bad_in_row: int = 0

    def wants_rollout(self, in_flight: int, frames_per_update: int, total_frames: float) -> bool:
        """Play another rollout: not stopping, and the frames queued so far are short of the budget."""
        return not self.stopping and self.counters["frames"] + in_flight * frames_per_update < total_frames

    def count(self, applied: bool, stop_asked: bool, frames_per_update: int, max_bad_updates: int,
              target_reached: bool = False) -> str | None:
        """Count one applied (or skipped) update and decide whether to stop; a warning for a skip.
        target_reached (--stop_at_score) ends the run as finished, not as stopped."""
        c = self.counters
        c["updates"] += 1
        c["frames"] += frames_per_update
        warning = None
        if applied:
            self.bad_in_row = 0
        else:
            c["skipped_updates"] += 1
            self.bad_in_row += 1
            warning = (f"warning: non-finite loss or gradients at update {c['updates'] - 1} on some rank; "
                       f"update skipped on all ranks ({self.bad_in_row} in a row)")
        if self.bad_in_row >= max_bad_updates:
            self.reason = "nonfinite"  # also when already stopping for a signal: the last weights are bad
        if not self.stopping and (stop_asked or target_reached or self.reason == "nonfinite"):
            self.stopping = True
            self.reason = ("nonfinite" if self.reason == "nonfinite" else "signal" if stop_asked else "target")
        return warning

    def is_last(self, in_flight: int, total_frames: float) -> bool:
        """This update is the run's last: nothing in flight and stopping or at the budget."""
        return not in_flight and (self.stopping or self.counters["frames"] >= total_frames)


class InFlight(NamedTuple):
    """One update between its gradients and their application."""
    pending: PendingMean
    timing: Timing
    t_gradients: float  # seconds
    t_start: float  # seconds to start the allreduce (all of it, when synchronous)


class Pipeline:
    """Updates whose gradients are averaging. With --overlap (lag 1) update k's allreduce runs while
    update k+1's rollout plays, and k is applied one update late; synchronous (lag 0) it is applied
    at once. The one still in flight at the end is applied, not dropped."""

    def __init__(self, comm, lag: int, fp16_head: int = 0) -> None:
        self.comm, self.lag, self.fp16_head = comm, lag, fp16_head
        self._queue: deque[InFlight] = deque()

    def start(self, flat, timing: Timing, t_gradients: float) -> None:
        """Begin averaging this update's buffer.  # all ranks"""
        watch = Stopwatch()
        if self.lag:
            pending = self.comm.start_allreduce_mean(flat, self.fp16_head)
        else:
            pending = PendingMean(self.comm, value=self.comm.allreduce_mean(flat, self.fp16_head))
        self._queue.append(InFlight(pending, timing, t_gradients, watch.lap()))

    def ready(self) -> bool:
        """An update is due for its application (beyond the lag, or the queue is draining)."""
        return len(self._queue) > self.lag

    def pop(self) -> InFlight:
        return self._queue.popleft()

    def __len__(self) -> int:
        return len(self._queue)


class NullLog:
    """RunLog on ranks other than 0: they write nothing."""

    def write_json(self, name: str, obj: Any) -> None:
        pass

    def log(self, row: dict[str, Any]) -> None:
        pass

    def bar_update(self, frames: int, row: dict[str, Any] | None) -> None:
        pass

    def close(self) -> None:
        pass


class NullSideWork:
    """SideWork on ranks other than 0: side ranks talk to rank 0 only."""
    latest_eval = None

    def step(self, updates: int, frames: int) -> None:
        pass

    def close(self, final: bool) -> None:
        pass


class NullCheckpointer:
    """Checkpointer on ranks other than 0: rank 0 writes every checkpoint."""
    error = None

    def save(self, state, counters, extra, wait: bool = False) -> bool:
        return True

    def poll(self) -> bool:
        return True
