#!/usr/bin/env python
"""Learning benchmark: train a game for a fixed wall time, then report frames, frames/s and the
mean game score (raw, all lives) of the last 100 games, as a table and a JSON line.

    python benchmarks/bench_learn.py --minutes 30 [-- extra train.py flags]
"""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine, record, table

sys.path.insert(0, str(ROOT))
from ba3c.runlog import read_progress  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--game", default="Breakout")
    p.add_argument("--ranks", type=int, default=1, help="train under mpirun -np RANKS")
    p.add_argument("--keep", default=None, help="keep the run folder here instead of a temporary one")
    a, extra = p.parse_known_args()
    extra = [x for x in extra if x != "--"]
    logdir = a.keep or tempfile.mkdtemp(prefix="bench-learn-")
    name = f"bench-{int(time.time())}"
    cmd = [sys.executable, str(ROOT / "train.py"), "-e", a.game, "--total_frames", "1e10", "--logdir", logdir,
           "--name", name, "--progress", "off", "--log_every", "30", "--resume", "no", *extra]
    if a.ranks > 1:
        cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(a.ranks), *cmd]
    print("running:", " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, cwd=ROOT)
    deadline = time.time() + a.minutes * 60
    while proc.poll() is None and time.time() < deadline:
        time.sleep(1)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # the trainer checkpoints and exits cleanly
        proc.wait(timeout=300)
    if proc.returncode not in (0, None):
        sys.exit(f"trainer exited {proc.returncode}")
    rows = read_progress(Path(logdir) / name)
    last = rows[-1]
    best = max((r["score_mean100"] for r in rows if r["score_mean100"] is not None), default=None)
    out = {"game": a.game, "minutes": a.minutes, "ranks": a.ranks, "args": " ".join(extra),
           "frames": last["frames"], "frames_per_s": last["frames"] / last["wall_time"],
           "score_mean100": last["score_mean100"], "best_score_mean100": best, "games": last["games"],
           "curve": [(r["wall_time"], r["frames"], r["score_mean100"]) for r in rows[::4]],
           "run_folder": str(Path(logdir) / name)}
    print(table([out], ["game", "minutes", "ranks", "frames", "frames_per_s", "score_mean100", "best_score_mean100"]))
    record("learn", [out], {"machine": machine()})


if __name__ == "__main__":
    main()
