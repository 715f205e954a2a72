#!/usr/bin/env python
"""How many gradient elements --grad_compression fp16 keeps: play real Breakout with a checkpoint's
policy, take 20 real rollout gradients (8 envs x 5 steps), and report, for each rank count N, the
fraction of the nonzero elements that the 1/N prescale puts below half precision's smallest normal
(6.1e-5, fewer significant bits) and below 2^-25 (rounded to zero).

    python benchmarks/fp16_underflow.py --load benchmarks/runs/<run>/checkpoints/ckpt-....ba3c
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--load", required=True, help="a training checkpoint (.ba3c) of a Breakout run")
    p.add_argument("--ranks", type=int, nargs="*", default=[2, 64, 768, 1536])
    a = p.parse_args()
    from ba3c import checkpoint
    from ba3c.config import parse_config
    from ba3c.envs import AtariEnvs
    from ba3c.learner import Learner
    from ba3c.quiet import quiet_stderr
    from ba3c.rollout import Rollout, collect

    cfg, _ = parse_config(["--comm", "none"])
    cfg = cfg.finalize()
    T, N = 5, 8
    arrays, _ = checkpoint.load(Path(a.load))
    with quiet_stderr():
        learner = Learner(cfg, 4, T, N, n_ranks=2)
        learner.set_state([arrays[n] for n in learner.state_names()])
        envs = AtariEnvs("breakout", N, seed=3, threads=1, reward_clip=1.0, **cfg.protocol())
    rng = np.random.default_rng(0)
    rollout = Rollout.empty(T, N)
    grads = []
    for i in range(60):  # the first 40 rollouts only move the games past their starts
        collect(envs, learner.logits, rng, rollout)
        if i >= 40:
            grads.append(np.abs(learner.gradients(rollout, 0.01).numpy()[:learner.num_params]))
    g = np.concatenate(grads)
    nonzero = g[g > 0]
    print(f"{len(grads)} gradients of {learner.num_params:,} elements: {np.mean(g == 0):.1%} exactly zero in float32")
    for n in a.ranks:
        s = nonzero / n
        print(f"N={n:5d}: of the nonzero elements, {np.mean(s < 2.0**-14):6.1%} below fp16's smallest normal, "
              f"{np.mean(s < 2.0**-25):6.1%} rounded to zero")


if __name__ == "__main__":
    main()
