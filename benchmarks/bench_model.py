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
    from ba3c.rollout import Rollout

    cfg, _ = parse_config(["--arch", arch, "--envs_per_rank", str(envs), "--n_step", str(n_step)])
    cfg.finalize()
    learner = Learner(cfg, 4, n_step, envs, n_ranks=1)
    rng = np.random.default_rng(0)
    B = n_step * envs
    rollout = Rollout.empty(n_step, envs)
    rollout.obs[...] = rng.integers(0, 255, rollout.obs.shape, dtype=np.uint8)
    rollout.last_obs[...] = rng.integers(0, 255, rollout.last_obs.shape, dtype=np.uint8)
    rollout.actions[...] = rng.integers(0, 4, rollout.actions.shape)
    rollout.rewards[...] = rng.normal(size=rollout.rewards.shape)
    rollout.dones[...] = rollout.truncated[...] = 0
    rollout.policy_mask[...] = rollout.value_mask[...] = 1
    obs_act = rollout.last_obs

    def act():
        learner.logits(obs_act)

    def learn():  # the trainer's whole learning step: bootstrap, returns, gradients (two halves), clip, Adam
        learner.apply(learner.gradients(rollout, 0.01), 1e-4)

    return {"arch": arch, "act_batch": envs, "learn_batch": B, "act_samples_per_s": rate(act, envs, seconds),
            "learn_samples_per_s": rate(learn, B, seconds), "params": learner.num_params}


def main() -> None:
    from ba3c.batch_plan import DEFAULT_ENVS_PER_RANK, DEFAULT_N_STEP
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
