#!/usr/bin/env python
"""Emulator-only throughput: agent steps/s of AtariVectorEnv with random actions, at the trainer's
env count and thread count (and a few others for comparison)."""
from __future__ import annotations

import argparse
import time

import numpy as np

from common import machine, record, table


def env_steps_per_second(game: str, num_envs: int, threads: int, seconds: float) -> float:
    from ba3c.envs import AtariEnvs
    from ba3c.quiet import quiet_stderr

    with quiet_stderr():
        envs = AtariEnvs(game, num_envs, seed=0, threads=threads)
    rng = np.random.default_rng(0)
    for _ in range(20):
        envs.step(rng.integers(0, envs.n_actions, num_envs))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        envs.step(rng.integers(0, envs.n_actions, num_envs))
        n += num_envs
    rate = n / (time.perf_counter() - t0)
    envs.close()
    return rate


def main() -> None:
    from ba3c.batch_plan import DEFAULT_ENVS_PER_RANK
    from ba3c.envs import available_cores

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--game", default="breakout")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--envs", type=int, nargs="*", default=[8, DEFAULT_ENVS_PER_RANK, 32, 64])
    a = p.parse_args()
    threads = available_cores()
    rows = []
    for n in a.envs:
        rate = env_steps_per_second(a.game, n, min(threads, n), a.seconds)
        rows.append({"game": a.game, "envs": n, "threads": min(threads, n), "agent_steps_per_s": rate,
                     "frames_per_s": 4 * rate, "trainer_default": n == DEFAULT_ENVS_PER_RANK})
    print(table(rows, ["game", "envs", "threads", "agent_steps_per_s", "frames_per_s", "trainer_default"]))
    record("env", rows, {"machine": machine()})


if __name__ == "__main__":
    main()
