"""Start-up time of each rank, by phase, from the moment the OS started the process.

On a cluster, 1,500 ranks importing TensorFlow from one shared filesystem at once can take minutes;
these numbers say where a job's first minutes went (metadata.json "startup", and one line before the
first status line), and what staging the virtualenv to node-local disk buys (README, Slurm section).
"""
from __future__ import annotations

import os
import statistics
import time

PHASES = ("python", "tensorflow", "mpi", "setup", "first_update")
PHASE_TEXT = {"python": "interpreter + config", "tensorflow": "TensorFlow import", "mpi": "MPI/Horovod init",
              "setup": "envs + network + restore", "first_update": "first update (compile)"}


def process_start_time() -> float:
    """Wall-clock time at which this process started (Linux /proc), or now where unknown."""
    try:
        ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in open("/proc/stat") if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


class StartupClock:
    """Seconds spent in each phase; mark(phase) closes the phase that ends now."""

    def __init__(self, start: float | None = None) -> None:
        self._last = process_start_time() if start is None else start
        self.seconds: dict[str, float] = {}

    def mark(self, phase: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.seconds[phase] = round(max(0.0, now - self._last), 3)
        self._last = now


def summarize(per_rank: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Median and max over ranks of each phase and of the total, and the rank that started slowest."""
    totals = [sum(r.values()) for r in per_rank]
    out = {p: {"median": round(statistics.median(r.get(p, 0.0) for r in per_rank), 2),
               "max": round(max(r.get(p, 0.0) for r in per_rank), 2)} for p in PHASES}
    out["total"] = {"median": round(statistics.median(totals), 2), "max": round(max(totals), 2),
                    "slowest_rank": totals.index(max(totals))}
    return out


def describe(summary: dict[str, dict[str, float]], n_ranks: int) -> str:
    over = f"median / max over {n_ranks} ranks" if n_ranks > 1 else "one rank"
    parts = [f"{PHASE_TEXT[p]} {summary[p]['median']:.1f}" + (f"/{summary[p]['max']:.1f}" if n_ranks > 1 else "")
             for p in PHASES]
    t = summary["total"]
    total = f"{t['median']:.1f}/{t['max']:.1f} s (slowest: rank {t['slowest_rank']})" if n_ranks > 1 \
        else f"{t['median']:.1f} s"
    return f"start-up ({over}, seconds): " + ", ".join(parts) + f"; total {total}"
