#!/usr/bin/env python
"""Time one fused gradient allreduce of the model's size on 2, 4, 8 and 12 ranks, with OpenMPI's own
choice of algorithm and with each algorithm forced (coll_tuned_use_dynamic_rules +
coll_tuned_allreduce_algorithm), for mpi4py and Horovod; then fit the alpha-beta model of
benchmarks/allreduce_model.py to each algorithm and report Horovod's overhead over the bare
MPI_Allreduce.

What one shared-memory machine can validate: the shape of each algorithm's cost in the rank count,
and the overhead Horovod adds per call. What it cannot: network latency and bandwidth (messages go
through shared memory here), and more ranks than cores are time-sliced (2 cores here), so 4-12
ranks measure the algorithms' total work as much as their depth. Read fitted alpha and beta as this
machine's, not a cluster's.

    python benchmarks/bench_allreduce.py [--ranks 2 4 8 12] [--algorithms 0 1 2 3 4 5 6] [--backends mpi4py horovod]
                                         [--compression none fp16]

--compression fp16 times --grad_compression fp16 (gradients as 16-bit floats, the stats tail as
float32): its casts, Horovod's C half-float sum, or mpi4py's NumPy one.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np
from allreduce_model import NAMES, cost, openmpi_41_choice

from common import ROOT, machine, record, table


def model_buffer_floats(arch: str = "nature") -> int:
    from ba3c.config import parse_config
    from ba3c.learner import BUFFER_TAIL
    from ba3c.model import PolicyValueNet

    cfg, _ = parse_config(["--arch", arch])
    cfg.finalize()
    return PolicyValueNet(arch, 4, cfg.fc_neurons).num_params() + len(BUFFER_TAIL)


def time_allreduce(backend: str, n: int, size: int, alg: int, reps: int, fp16_head: int = 0) -> dict:
    env = dict(os.environ)
    if alg:
        env.update(OMPI_MCA_coll_tuned_use_dynamic_rules="1", OMPI_MCA_coll_tuned_allreduce_algorithm=str(alg))
    cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(n), sys.executable,
           str(ROOT / "benchmarks" / "allreduce_worker.py"), backend, str(size), str(reps), str(fp16_head)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT / "benchmarks", env=env, timeout=600)
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if out.returncode != 0 or not line:
        sys.exit(f"{backend} x{n} algorithm {alg} (fp16 head {fp16_head}) failed:\n{out.stderr[-2000:]}")
    row = json.loads(line[0][7:])
    chosen = alg or openmpi_41_choice(n, size * 4)
    return {**row, "algorithm": alg, "runs": NAMES[chosen] + ("" if alg else " (OpenMPI's choice)")}


def fit(rows: list[dict], size_bytes: float) -> list[dict]:
    """Least-squares alpha and beta of each forced algorithm from its mpi4py times."""
    out = []
    rows = [r for r in rows if r.get("compression", "none") == "none"]
    for alg in sorted({r["algorithm"] for r in rows if r["algorithm"] and r["backend"] == "mpi4py"}):
        pts = [r for r in rows if r["algorithm"] == alg and r["backend"] == "mpi4py"]
        if len(pts) < 2:
            continue
        # cost() is linear in (alpha, beta) with gamma folded into beta: columns are the two unit costs.
        a = np.array([[cost(alg, r["ranks"], size_bytes, 1.0, 0.0), cost(alg, r["ranks"], size_bytes, 0.0, 1.0)]
                      for r in pts])
        t = np.array([r["median_ms"] / 1000 for r in pts])
        (alpha, beta), *_ = np.linalg.lstsq(a, t, rcond=None)
        pred = a @ np.array([alpha, beta])
        out.append({"algorithm": alg, "name": NAMES[alg], "alpha_us": 1e6 * alpha,
                    "beta_GBps": (1 / beta / 1e9) if beta > 0 else float("inf"),
                    "worst_fit_error": float(np.max(np.abs(pred - t) / t))})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", type=int, nargs="*", default=[2, 4, 8, 12])
    p.add_argument("--algorithms", type=int, nargs="*", default=[0, 1, 2, 3, 4, 5, 6],
                   help="OpenMPI allreduce algorithm ids to force; 0 = OpenMPI's own choice")
    p.add_argument("--backends", nargs="*", default=["mpi4py", "horovod"])
    p.add_argument("--horovod_algorithms", type=int, nargs="*", default=[0, 4, 6],
                   help="Horovod runs only these (its overhead does not depend on the algorithm)")
    p.add_argument("--reps", type=int, default=40)
    p.add_argument("--compression", nargs="*", default=["none"], choices=["none", "fp16"],
                   help="gradient encodings to time (--grad_compression)")
    a = p.parse_args()
    from ba3c.learner import BUFFER_TAIL
    from ba3c.quiet import quiet_stderr

    with quiet_stderr():
        size = model_buffer_floats()
    rows = []
    for backend in a.backends:
        algs = a.algorithms if backend == "mpi4py" else [x for x in a.algorithms if x in a.horovod_algorithms]
        for alg in algs:
            for comp in a.compression:
                for n in a.ranks:
                    head = size - len(BUFFER_TAIL) if comp == "fp16" else 0
                    rows.append(time_allreduce(backend, n, size, alg, a.reps, head))
                    print(f"{backend:8s} ranks {n:3d} algorithm {alg} {comp:4s}: {rows[-1]['median_ms']:.2f} ms",
                          flush=True)
    print(table(rows, ["backend", "compression", "ranks", "algorithm", "runs", "mbytes", "median_ms", "min_ms"]))
    fits = fit(rows, size * 4)
    if fits:
        print()
        print(table(fits, ["algorithm", "name", "alpha_us", "beta_GBps", "worst_fit_error"]))
    overhead = []
    for r in rows:
        if r["backend"] == "horovod" and r["compression"] == "none":
            bare = next((x for x in rows if x["backend"] == "mpi4py" and x["ranks"] == r["ranks"]
                         and x["algorithm"] == r["algorithm"] and x["compression"] == "none"), None)
            if bare:
                overhead.append({"ranks": r["ranks"], "algorithm": r["algorithm"], "horovod_ms": r["median_ms"],
                                 "mpi4py_ms": bare["median_ms"], "overhead_ms": r["median_ms"] - bare["median_ms"]})
    if overhead:
        print()
        print(table(overhead, ["ranks", "algorithm", "horovod_ms", "mpi4py_ms", "overhead_ms"]))
    record("allreduce", rows + [{"fit": f} for f in fits] + [{"horovod_overhead": o} for o in overhead],
           {"machine": machine(), "message_bytes": size * 4})


if __name__ == "__main__":
    main()
