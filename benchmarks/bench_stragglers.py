#!/usr/bin/env python
"""Stragglers: the distribution of one rank's per-update compute time, and what waiting for the
slowest of N ranks costs at 64, 768 and 1,536 ranks.

Each worker process is one rank of a big job, one thread, at the per-rank batch the batch plan
gives that job (1 emulator x 5 steps at 1,536 ranks): it runs the trainer's own per-update work
(collect on real emulators with game resets, gradients, optimizer step; everything but the
allreduce) and times every update. `--procs 2` runs two such ranks side by side, as two ranks on
one node share it (OS noise and memory bandwidth included). The model is benchmarks/straggler_model.py.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from straggler_model import summary

from common import ROOT, machine, record, table

RANKS = [64, 768, 1536]


def worker(envs: int, n_step: int, updates: int, warmup: int, seed: int, out: Path) -> None:
    from ba3c.quiet import quiet_stderr

    with quiet_stderr():  # TensorFlow's import-time notes (oneDNN, CPU features), as in train.py
        from ba3c.config import parse_config
        from ba3c.envs import AtariEnvs
        from ba3c.games import action_meanings
        from ba3c.learner import Control, Learner
        from ba3c.rollout import Rollout, collect
        from train import configure_threads

    cfg, _ = parse_config(["--envs_per_rank", str(envs), "--n_step", str(n_step), "--seed", str(seed),
                           "--threads", "1"])
    cfg.finalize()
    configure_threads(cfg)  # the trainer's own thread setup, before TensorFlow's runtime starts
    with quiet_stderr():
        n_actions = len(action_meanings(cfg.env))
        # n_ranks > 1: one backward pass per update, as on every rank of a multi-rank job
        learner = Learner(cfg, n_actions, n_step, envs, n_ranks=max(RANKS))
        env = AtariEnvs(cfg.env, envs, seed=seed, threads=cfg.threads, reward_clip=cfg.reward_clip, **cfg.protocol())
    rng = np.random.default_rng(seed)
    rollout = Rollout.empty(n_step, envs)
    times, ends = [], 0
    for i in range(warmup + updates):
        t0 = time.perf_counter()
        collect(env, learner.logits, rng, rollout)
        learner.apply(learner.gradients(rollout, cfg.entropy_beta, Control()), cfg.learning_rate)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            ends += int(np.sum(rollout.dones))
    env.close()
    out.write_text(json.dumps({"times": times, "lives_ended": ends}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--envs", type=int, default=1, help="emulators per rank (1 = the planned batch at 768-1,536 ranks)")
    p.add_argument("--n_step", type=int, default=5)
    p.add_argument("--updates", type=int, default=3000, help="timed updates per rank")
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--procs", type=int, default=2, help="ranks run side by side on this machine")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        worker(a.envs, a.n_step, a.updates, a.warmup, a.seed, Path(a.worker))
        return
    with tempfile.TemporaryDirectory() as d:
        outs = [Path(d) / f"rank{r}.json" for r in range(a.procs)]
        procs = [subprocess.Popen([sys.executable, __file__, "--envs", str(a.envs), "--n_step", str(a.n_step),
                                   "--updates", str(a.updates), "--warmup", str(a.warmup), "--seed", str(1000 * r),
                                   "--worker", str(o)], cwd=ROOT) for r, o in enumerate(outs)]
        if any(pr.wait() for pr in procs):
            sys.exit("a worker failed (see above)")
        got = [json.loads(o.read_text()) for o in outs]
    times = np.concatenate([g["times"] for g in got])
    s = summary(times, RANKS)
    ms = {k: 1000 * s[k] for k in ("mean", "median", "p99", "p999", "max")}
    print(f"per-update compute time of one rank, {len(times):,} updates over {a.procs} rank(s), batch "
          f"{a.envs} x {a.n_step}, {sum(g['lives_ended'] for g in got)} lives or games ended: "
          f"mean {ms['mean']:.1f} ms, "
          f"median {ms['median']:.1f}, p99 {ms['p99']:.1f}, p99.9 {ms['p999']:.1f}, max {ms['max']:.1f}, "
          f"cv {s['cv']:.3f}")
    rows = []
    for r in s["by_ranks"]:
        q99, q999 = r["deadline_q0.99"], r["deadline_q0.999"]
        rows.append({"ranks": r["ranks"], "E[slowest] ms": 1000 * r["expected_max"],
                     "sync efficiency": r["sync_efficiency"],
                     "p99 wait: ms": 1000 * q99["update_time"], "p99 wait: dropped": q99["dropped"],
                     "p99.9 wait: ms": 1000 * q999["update_time"], "p99.9 wait: dropped": q999["dropped"]})
    print(table(rows, list(rows[0])))
    record("stragglers", [{k: v for k, v in s.items() if k != "by_ranks"} | {"by_ranks": s["by_ranks"]}],
           {"machine": machine(), "envs": a.envs, "n_step": a.n_step, "procs": a.procs,
            "times_ms_sample": [round(1000 * t, 3) for t in times[:: max(1, len(times) // 2000)]]})


if __name__ == "__main__":
    main()
