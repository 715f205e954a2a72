#!/usr/bin/env python
"""make bench: emulator, network and end-to-end trainer throughput at the trainer's default sizes,
then the figure that counts: trainer frames/s as a fraction of this machine's compute bound

    bound = 1 / (t_env + t_act + t_learn)   (per-sample times, each measured alone on the whole machine)
"""
from __future__ import annotations

import argparse

from bench_env import env_steps_per_second
from bench_model import measure
from bench_train import run_trainer
from common import machine, record, table


def main() -> None:
    from ba3c.config import parse_config
    from ba3c.envs import available_cores
    from ba3c.quiet import quiet_stderr

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=400_000)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--args", default="", help="train.py flags (e.g. '--envs_per_rank 32')")
    a = p.parse_args()
    cfg, _ = parse_config(a.args.split())
    cfg.finalize()
    threads = available_cores()
    env_rate = env_steps_per_second(cfg.env, cfg.envs_per_rank, min(threads, cfg.envs_per_rank), a.seconds)
    with quiet_stderr():
        import tensorflow  # noqa: F401
    model = measure(cfg.arch, cfg.envs_per_rank, cfg.n_step, a.seconds)
    trainer = run_trainer(a.frames, 1, a.args.split())
    # Per agent step the trainer runs one emulator step, one forward pass (acting) and 1/B of a
    # train step, plus 1/T of a bootstrap forward pass.
    t_env, t_act, t_learn = 1 / env_rate, 1 / model["act_samples_per_s"], 1 / model["learn_samples_per_s"]
    bound_steps = 1 / (t_env + t_act + t_learn)
    trainer_steps = trainer["frames_per_s"] / 4
    rows = [
        {"what": "emulators alone", "agent_steps_per_s": env_rate, "per_sample_ms": 1000 * t_env},
        {"what": "acting alone (forward)", "agent_steps_per_s": model["act_samples_per_s"],
         "per_sample_ms": 1000 * t_act},
        {"what": "learning alone (fwd+bwd+adam)", "agent_steps_per_s": model["learn_samples_per_s"],
         "per_sample_ms": 1000 * t_learn},
        {"what": "compute bound 1/(sum)", "agent_steps_per_s": bound_steps, "per_sample_ms": 1000 / bound_steps},
        {"what": "trainer end to end", "agent_steps_per_s": trainer_steps, "per_sample_ms": 1000 / trainer_steps},
    ]
    print(f"game {cfg.env}, {cfg.arch} net, {cfg.envs_per_rank} envs x {cfg.n_step} steps = batch {cfg.batch_size}, "
          f"{threads} cores")
    print(table(rows, ["what", "agent_steps_per_s", "per_sample_ms"]))
    split = {k: trainer[k] for k in trainer if k.endswith("_ms")}
    print("trainer time per update (ms): " + ", ".join(f"{k[:-3]} {v:.1f}" for k, v in split.items()))
    ratio = trainer_steps / bound_steps
    print(f"trainer / compute bound = {ratio:.1%}  ({trainer['frames_per_s']:.0f} frames/s)")
    record("bench", [{"env_steps_per_s": env_rate, **{k: v for k, v in model.items()}, "trainer": trainer,
                      "bound_agent_steps_per_s": bound_steps, "trainer_agent_steps_per_s": trainer_steps,
                      "ratio_to_bound": ratio}], {"machine": machine(), "args": a.args})


if __name__ == "__main__":
    main()
