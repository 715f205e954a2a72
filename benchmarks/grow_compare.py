#!/usr/bin/env python
"""--grow_envs against fixed plans: 64 one-core ranks (virtual, one process) from 1 emulator each
(global batch 320), growing by the live noise scale, against the scale study's fixed runs of the same
seed at every batch that many ranks can train (320, 640, 1,280 ... at 64 ranks; the default plan's
labelled), whichever are recorded: updates and frames to each score(100) target, then minutes
through the time model (benchmarks/plan.py: compute fit, stragglers, allreduce; 10 GbE and
InfiniBand, synchronous), each update of the growing run at the batch it had.

    python benchmarks/grow_compare.py [--ranks 64] [--seed 1]

Reads the runs' records (scale.jsonl when finished, batch-partial/ while going); prints a table and
writes benchmarks/results/grow.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench_scaling import NETWORKS
from scale_runs import study_runs
from update_time import update_seconds

from common import RESULTS, ROOT, SCALE_TARGETS, crossing, furthest_per_run, run_name_of, table, with_partials

sys.path.insert(0, str(ROOT))
from ba3c.batch_plan import plan_batch  # noqa: E402


def latest(folder_name: str) -> dict | None:
    """The furthest record of a run folder: its finished stage or its partial curve."""
    return furthest_per_run(r for r in with_partials("scale") if run_name_of(r) == folder_name).get(folder_name)


def fixed_runs(ranks: int, seed: int, default_batch: int, n_step: int = 5) -> dict[str, dict]:
    """The scale study's fixed-batch runs of `seed` that `ranks` ranks can train (a whole number of
    emulators per rank), by batch; the default plan's labelled as such (it moves with the study's fit:
    batch 640 at 64 ranks when the growing run was made, 1,280 since the defaults follow the fit)."""
    runs = sorted((r for r in study_runs("breakout")
                   if r["seed"] == seed and r["global_batch"] % (ranks * n_step) == 0), key=lambda r: r["global_batch"])
    return {f"fixed {r['global_batch']}" + (" (default)" if r["global_batch"] == default_batch else ""): r
            for r in runs}


def phases(record: dict) -> list[tuple[int, int, int]]:
    """(frames, updates, global batch) where each batch began; one phase for a run that never grew."""
    return [tuple(p) for p in record.get("batch_changes") or [(0, 0, record["global_batch"])]]


def updates_at(record: dict, frames: float) -> float:
    """Updates done by `frames`: each phase's frames over its own 4 x batch (frameskip 4)."""
    ps = phases(record)
    f0, u0, batch = max((p for p in ps if p[0] <= frames), key=lambda p: p[0])
    return u0 + (frames - f0) / (4 * batch)


def seconds_to(record: dict, frames: float, ranks: int, network: str, n_step: int = 5) -> float:
    """Seconds of a `ranks`-rank job to reach `frames`: each phase's updates x the model's update at
    its emulators per rank (global batch / (ranks x n_step))."""
    ps = phases(record) + [(frames, None, None)]
    total = 0.0
    for (f0, _, batch), (f1, _, _) in zip(ps, ps[1:]):
        if f0 >= frames:
            break
        total += (min(f1, frames) - f0) / (4 * batch) * update_seconds(ranks, batch // ranks, False, network)
    return total


def compare(plans: list[tuple[str, dict]], ranks: int) -> list[dict]:
    """One row per target and (plan label, run record)."""
    rows = []
    for target in SCALE_TARGETS:
        for name, r in plans:
            frames, censored = crossing(r["curve"], target)
            if frames is None or censored is not None:
                rows.append({"target": target, "plan": name, "frames_M": "-" if frames is None else "censored",
                             "reached_by": f"not by {r['frames'] / 1e6:.2f}M"})
                continue
            row = {"target": target, "plan": name, "frames_M": round(frames / 1e6, 2),
                   "updates": round(updates_at(r, frames)),
                   "batch_then": max((p for p in phases(r) if p[0] <= frames), key=lambda p: p[0])[2]}
            for network in NETWORKS:
                row[f"minutes {network}"] = round(seconds_to(r, frames, ranks, network) / 60, 2)
            rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", type=int, default=64, help="the one-core ranks the growing run stood for")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--global_batch", type=int, default=320, help="both runs' starting global batch")
    a = p.parse_args()
    base = f"breakout-b{a.global_batch}-none-s{a.seed}"
    grown = latest(f"{base}-grow")
    default_batch = plan_batch(a.ranks).global_batch
    fixed = fixed_runs(a.ranks, a.seed, default_batch)
    if grown is None or not fixed:
        raise SystemExit(f"error: no record of {base}-grow or of a fixed run of seed {a.seed} that {a.ranks} ranks "
                         "can train yet; run make scale-study (it trains them)")
    rows = compare([*fixed.items(), ("grow", grown)], a.ranks)
    cols = ["target", "plan", "frames_M", "updates", "batch_then", *(f"minutes {n}" for n in NETWORKS), "reached_by"]
    print(f"{a.ranks} one-core ranks (virtual) from global batch {a.global_batch}, seed {a.seed} (default plan at "
          f"{a.ranks} ranks: global batch {default_batch:,}); "
          + "; ".join(f"{label} to {r['frames'] / 1e6:.2f}M frames" for label, r in fixed.items())
          + f"; growing to {grown['frames'] / 1e6:.2f}M, its batches (frames, updates, batch): {phases(grown)}")
    print(table(rows, cols))
    out = RESULTS / "grow.json"
    out.write_text(json.dumps({"ranks": a.ranks, "seed": a.seed, "default_batch": default_batch,
                               "fixed_runs": {label: Path(r["run_folder"]).name for label, r in fixed.items()},
                               "fixed_frames": {label: r["frames"] for label, r in fixed.items()},
                               "grown_run": f"{base}-grow", "grown_frames": grown["frames"],
                               "grown_phases": phases(grown), "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
