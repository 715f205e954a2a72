#!/usr/bin/env python
"""Trainer time per update on 2 one-core ranks at two per-rank batches, then a projection of the
update time, scaling efficiency and frames/s to 64, 768 and 1,536 ranks at the default batch plan.

Model (README "Scaling"): every rank owns one core, as in the 2-rank runs here. Compute per update
grows linearly with the per-rank batch b: t_c(b) = c0 + c1 b, fitted from b = 5 (1 env x 5 steps)
and b = 80 (16 x 5). Each update adds one MPI_Allreduce of the S-byte gradient buffer, with the
algorithm OpenMPI 4.1 picks for S (Rabenseifner for our 6.75 MB at every size) and the
alpha-beta-gamma cost of benchmarks/allreduce_model.py; gamma (reduction arithmetic per byte) is
measured here. Two bounds: nothing overlaps the allreduce (what the trainer does today), and a
perfect overlap with the next rollout (the most an asynchronous allreduce could give).
    efficiency = t_c / (t_c + t_ar)  or  t_c / max(t_c, t_ar);   frames/s = N b 4 / update time
With --grad_compression fp16 the gradients travel as half floats: half the bytes for beta, and the
reduction arithmetic taken at the measured float32 cost per element (per byte doubled; Horovod's C
half-float sum is not measured separately here). The 11-float tail adds latency only.
Stragglers and Horovod's own per-call overhead (bench_allreduce) are not in the model."""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
from allreduce_model import NAMES, cost, openmpi_41_choice

from bench_train import run_trainer
from common import RESULTS, machine, record, table

NETWORKS = {  # name: (alpha seconds, beta seconds per byte)
    "10GbE TCP": (50e-6, 1 / 1.1e9),
    "100Gb InfiniBand EDR": (1.5e-6, 1 / 11e9),
}
ENVS = (1, 16)


def reduction_seconds_per_byte(size_bytes: int) -> float:
    a = np.ones(size_bytes // 4, np.float32)
    b = np.ones_like(a)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        np.add(a, b, out=a)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) / size_bytes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=200_000)
    p.add_argument("--args", default="", help="extra train.py flags (not batch flags)")
    p.add_argument("--grad_compression", default="none", choices=("none", "fp16"),
                   help="project with 16-bit gradients in the allreduce")
    p.add_argument("--from-record", action="store_true",
                   help="project again from the last measurement in benchmarks/results/scaling.jsonl")
    a = p.parse_args()
    from ba3c.batch_plan import plan_batch
    from ba3c.config import parse_config
    from ba3c.quiet import quiet_stderr
    from bench_allreduce import model_buffer_floats

    measured = []
    if a.from_record:
        rows = [json.loads(x) for x in (RESULTS / "scaling.jsonl").read_text().splitlines()]
        measured = [r for r in rows if "rank_batch" in r and "t_compute_ms" in r and "network" not in r][-2:]
        print(f"measured at {measured[0]['time']} on {measured[0]['machine']}")
    for envs in ENVS if not measured else ():
        r = run_trainer(a.frames, 2, [*a.args.split(), "--envs_per_rank", str(envs), "--n_step", "5",
                                      "--threads", "1"])
        measured.append({**r, "rank_batch": envs * 5,
                         "t_compute_ms": r["t_env_ms"] + r["t_act_ms"] + r["t_learn_ms"]})
    print(table(measured, ["ranks", "rank_batch", "frames_per_s", "update_ms", "t_env_ms", "t_act_ms", "t_learn_ms",
                           "t_compute_ms", "t_allreduce_ms", "t_other_ms"]))
    (b0, t0), (b1, t1) = [(m["rank_batch"], m["t_compute_ms"] / 1000) for m in measured]
    c1 = (t1 - t0) / (b1 - b0)
    c0 = t0 - c1 * b0
    cfg, _ = parse_config(a.args.split())
    cfg.finalize()
    with quiet_stderr():
        size = 4 * model_buffer_floats(cfg.arch)
    gamma = reduction_seconds_per_byte(size)
    print(f"\ncompute per update t_c(b) = {1000 * c0:.1f} ms + {1000 * c1:.2f} ms x b; reduction "
          f"{1 / gamma / 1e9:.1f} GB/s; gradient buffer {size / 1e6:.2f} MB")
    wire, wire_gamma = size, gamma
    if a.grad_compression == "fp16":
        wire, wire_gamma = size // 2, 2 * gamma
        print(f"--grad_compression fp16: {wire / 1e6:.2f} MB on the wire")
    proj = []
    for net, (alpha, beta) in NETWORKS.items():
        for n in (64, 768, 1024, 1536):
            plan = plan_batch(n, None, None, None, None, "auto")
            b = plan.envs_per_rank * plan.n_step
            t_c = c0 + c1 * b
            alg = openmpi_41_choice(n, wire)
            t_ar = cost(alg, n, wire, alpha, beta, wire_gamma)
            proj.append({"network": net, "grad_compression": a.grad_compression, "ranks": n,
                         "global_batch": plan.global_batch, "rank_batch": b,
                         "allreduce": NAMES[alg], "t_compute_ms": 1000 * t_c, "t_allreduce_ms": 1000 * t_ar,
                         "efficiency": t_c / (t_c + t_ar), "efficiency_overlapped": t_c / max(t_c, t_ar),
                         "frames_per_s": n * b * 4 / (t_c + t_ar)})
    print()
    print(table(proj, ["network", "grad_compression", "ranks", "global_batch", "rank_batch", "allreduce",
                       "t_compute_ms", "t_allreduce_ms", "efficiency", "efficiency_overlapped", "frames_per_s"]))
    record("scaling", ([] if a.from_record else measured) + proj,
           {"machine": machine(), "args": a.args, "gradient_bytes": size, "wire_bytes": wire,
            "compute_fit_ms": [1000 * c0, 1000 * c1], "reduction_GBps": 1 / gamma / 1e9})


if __name__ == "__main__":
    main()
