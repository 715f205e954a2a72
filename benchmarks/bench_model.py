#!/usr/bin/env python
"""Network throughput: acting (forward) and learning (forward + backward + optimizer step)
samples/s of each architecture at the trainer's batch sizes, on the whole machine."""
from __future__ import annotations

import argparse
import time

import numpy as np

from common import machine, record, table


def rate(fn, samples: int, seconds: float) -> float:
    for _ in range(3):
        fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += samples
    return n / (time.perf_counter() - t0)


def measure(arch: str, envs: int, n_step: int, seconds: float) -> dict:
    from ba3c.config import parse_config
    from ba3c.learner import Learner

    cfg, _ = parse_config(["--arch", arch, "--envs_per_rank", str(envs), "--n_step", str(n_step)])
    cfg.finalize()
    learner = Learner(cfg, 4)
    rng = np.random.default_rng(0)
    B, T, N = cfg.batch_size, cfg.n_step, cfg.envs_per_rank
    from ba3c.learner import N_CONTROL

    obs_act = rng.integers(0, 255, (N, 4, 84, 84), dtype=np.uint8)
    obs = rng.integers(0, 255, (T, N, 4, 84, 84), dtype=np.uint8)
    actions = rng.integers(0, 4, (T, N)).astype(np.int32)
    rewards = rng.normal(size=(T, N)).astype(np.float32)
    dones = np.zeros((T, N), np.float32)
    ones = np.ones((T, N), np.float32)
    control = np.zeros(N_CONTROL, np.float32)

    def act():
        learner.act(obs_act)[0].numpy()

    def learn():  # the trainer's whole learning step: bootstrap, returns, gradients, clip, Adam
        flat = learner.gradients(obs, obs_act, actions, rewards, dones, ones, ones, np.float32(0.01), control)
        learner.apply(flat, np.float32(1e-4)).numpy()

    return {"arch": arch, "act_batch": envs, "learn_batch": B, "act_samples_per_s": rate(act, envs, seconds),
            "learn_samples_per_s": rate(learn, B, seconds), "params": learner.num_params}


def main() -> None:
    from ba3c.config import DEFAULT_ENVS_PER_RANK, DEFAULT_N_STEP
    from ba3c.quiet import quiet_stderr

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--envs", type=int, default=DEFAULT_ENVS_PER_RANK)
    p.add_argument("--n_step", type=int, default=DEFAULT_N_STEP)
    p.add_argument("--archs", nargs="*", default=["nature", "ba3c"])
    a = p.parse_args()
    with quiet_stderr():
        import tensorflow  # noqa: F401
    rows = [measure(arch, a.envs, a.n_step, a.seconds) for arch in a.archs]
    print(table(rows, ["arch", "params", "act_batch", "act_samples_per_s", "learn_batch", "learn_samples_per_s"]))
    record("model", rows, {"machine": machine()})


if __name__ == "__main__":
    main()
