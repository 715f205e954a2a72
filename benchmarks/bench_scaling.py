#!/usr/bin/env python
"""Trainer frames/s on 1 and 2 ranks of this machine with the per-update time split, then a
projection of scaling efficiency to 64, 768 and 1,500 ranks.

Model (stated in README "Scaling"): each rank owns one core, as in the 2-rank run here, so its
compute time per update t_c = t_env + t_act + t_learn is the 2-rank measurement. An update adds
one allreduce of S bytes (the model's gradient) and nothing overlaps it:
    ring (Horovod):            t_ar = 2 (N-1) alpha + 2 (N-1)/N * S / beta
    halving-doubling (MPI):    t_ar = 2 log2(N) alpha + 2 (N-1)/N * S / beta
    efficiency(N) = t_c / (t_c + t_ar);  frames/s(N) = N * batch * 4 / (t_c + t_ar)
alpha = per-message latency, beta = per-link bandwidth; reduction arithmetic is ignored (it runs at
memory speed, well above these links)."""
from __future__ import annotations

import argparse
import math

from bench_train import run_trainer
from common import machine, record, table

NETWORKS = {  # name: (alpha seconds, beta bytes/s)
    "10GbE TCP": (50e-6, 1.1e9),
    "100Gb InfiniBand EDR": (1.5e-6, 11e9),
}


def allreduce_seconds(n: int, size_bytes: float, alpha: float, beta: float, algo: str) -> float:
    if n == 1:
        return 0.0
    steps = 2 * (n - 1) if algo == "ring" else 2 * math.ceil(math.log2(n))
    return steps * alpha + 2 * (n - 1) / n * size_bytes / beta


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=300_000)
    p.add_argument("--args", default="")
    a = p.parse_args()
    measured = [run_trainer(a.frames, n, a.args.split()) for n in (1, 2)]
    print(table(measured, ["ranks", "frames_per_s", "update_ms", "t_env_ms", "t_act_ms", "t_learn_ms",
                           "t_allreduce_ms", "t_other_ms"]))
    from ba3c.config import parse_config
    from ba3c.quiet import quiet_stderr
    from bench_allreduce import model_buffer_floats

    cfg, _ = parse_config(a.args.split())
    cfg.finalize()
    with quiet_stderr():
        size_bytes = 4 * model_buffer_floats(cfg.arch)
    two = measured[1]
    t_c = (two["t_env_ms"] + two["t_act_ms"] + two["t_learn_ms"]) / 1000
    proj = []
    for net, (alpha, beta) in NETWORKS.items():
        for algo in ("ring", "halving-doubling"):
            for n in (1, 2, 64, 768, 1500):
                t_ar = allreduce_seconds(n, size_bytes, alpha, beta, algo)
                proj.append({"network": net, "allreduce": algo, "ranks": n, "global_batch": n * cfg.batch_size,
                             "t_compute_ms": 1000 * t_c, "t_allreduce_ms": 1000 * t_ar,
                             "efficiency": t_c / (t_c + t_ar),
                             "frames_per_s": n * cfg.batch_size * 4 / (t_c + t_ar)})
    print()
    print(table(proj, ["network", "allreduce", "ranks", "global_batch", "t_compute_ms", "t_allreduce_ms",
                       "efficiency", "frames_per_s"]))
    record("scaling", measured + proj, {"machine": machine(), "args": a.args, "gradient_bytes": size_bytes})


if __name__ == "__main__":
    main()
