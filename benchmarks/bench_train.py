#!/usr/bin/env python
"""End-to-end trainer throughput over a fixed frame budget, with the per-update time split
(emulators, acting, learning, allreduce, logging/other), compared with the machine's compute bound
1 / (t_env + t_act + t_learn) from bench_env and bench_model at the same batch sizes."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, machine, record, table

SPLIT = ("t_env", "t_act", "t_learn", "t_allreduce", "t_other")


def run_trainer(frames: int, ranks: int, extra: list[str]) -> dict:
    """Run train.py (under mpirun when ranks > 1) and average its progress rows after warm-up."""
    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, str(ROOT / "train.py"), "--total_frames", str(frames), "--logdir", d, "--name", "b",
               "--progress", "off", "--log_every", "2", "--save_every", "1e9", *extra]
        if ranks > 1:
            cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(ranks), *cmd]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if p.returncode != 0:
            sys.exit(f"trainer failed:\n{p.stderr[-3000:]}")
        rows = [json.loads(x) for x in (Path(d) / "b" / "progress.jsonl").read_text().splitlines()]
    steady = rows[1:-1] or rows  # the first row holds tracing/compilation, the last a partial interval
    # Measure from the end of the warm-up row when there is one, else from the start of the run.
    base = rows[0] if len(rows) > 2 else {"frames": 0, "wall_time": 0, "updates": 0}
    frames_done = steady[-1]["frames"] - base["frames"]
    wall = steady[-1]["wall_time"] - base["wall_time"]
    out = {"ranks": ranks, "frames": frames_done, "frames_per_s": frames_done / wall,
           "update_ms": 1000 * wall / (steady[-1]["updates"] - base["updates"])}
    for k in SPLIT:
        if k in steady[0]:
            out[k + "_ms"] = 1000 * sum(r[k] for r in steady) / len(steady)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--frames", type=int, default=400_000)
    p.add_argument("--ranks", type=int, nargs="*", default=[1])
    p.add_argument("--args", default="", help="extra train.py flags")
    a = p.parse_args()
    rows = []
    for n in a.ranks:
        r = run_trainer(a.frames, n, a.args.split())
        rows.append(r)
    cols = ["ranks", "frames", "frames_per_s", "update_ms"] + [k + "_ms" for k in SPLIT if k + "_ms" in rows[0]]
    print(table(rows, cols))
    record("train", rows, {"machine": machine(), "args": a.args})


if __name__ == "__main__":
    main()
