#!/usr/bin/env python
"""Stable-Baselines3's A2C on the same machine, for a side-by-side throughput ratio with this trainer.

Not part of the project's dependencies: run it from a throwaway virtualenv outside the project,

    python3 -m venv /tmp/sb3 && /tmp/sb3/bin/pip install torch==2.13.0 stable-baselines3 ale-py==0.12.1 \\
        gymnasium==1.4.0 opencv-python-headless
    /tmp/sb3/bin/python benchmarks/sb3_a2c.py --steps 100000     # then, right after: make bench-train

Settings as a new user runs it (and as this trainer's defaults): BreakoutNoFrameskip-v4 through
SB3's Atari wrappers (make_atari_env: no-op starts, 4-frame max-pooled skip, 84x84 gray), 4 stacked
frames, CnnPolicy (the Nature CNN), 16 emulators, n_steps 5, torch on the CPU with every core.
Prints agent steps/s (emulator frames/s = 4x) after a warm-up, as one JSON line."""
from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=100_000, help="agent steps timed (over all emulators)")
    p.add_argument("--envs", type=int, default=16)
    a = p.parse_args()
    import ale_py
    import gymnasium as gym
    import stable_baselines3
    import torch
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    gym.register_envs(ale_py)
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    env = VecFrameStack(make_atari_env("BreakoutNoFrameskip-v4", n_envs=a.envs, seed=0), n_stack=4)
    model = A2C("CnnPolicy", env, n_steps=5, device="cpu", verbose=0, seed=0)
    model.learn(total_timesteps=4_000)  # warm-up
    t0 = time.perf_counter()
    model.learn(total_timesteps=a.steps, reset_num_timesteps=False)
    seconds = time.perf_counter() - t0
    print(json.dumps({"bench": "sb3_a2c", "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                      "stable_baselines3": stable_baselines3.__version__, "torch": torch.__version__,
                      "envs": a.envs, "n_steps": 5, "agent_steps": a.steps, "seconds": round(seconds, 2),
                      "agent_steps_per_s": a.steps / seconds, "torch_threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
