#!/usr/bin/env python
"""One node's choices, measured on this machine's cores at a fixed per-node batch (same global batch,
same frames): how to split the cores (R ranks x T threads, R*T = cores), and whether the allreduce
overlapped with the next rollout (--overlap) hides its time.

    python benchmarks/bench_node.py [--updates 400] [--batches 10 160] [--backend horovod]

For each per-node batch B (samples per update on the node): R ranks x 1 thread with B/(5R) envs each,
1 rank x R threads with B/5 envs, and R x 1 again with --overlap. Prints frames/s, the time per
update, and the allreduce time the update waited for (t_allreduce: with --overlap only the part the
rollout did not hide), and appends the rows to benchmarks/results/node.jsonl. OMPI_MCA_* variables
in the environment reach every rank and are recorded (train.py sets OMPI_MCA_mpi_yield_when_idle=1
unless the environment sets it; OMPI_MCA_mpi_yield_when_idle=0 measures OpenMPI's spinning wait)."""
from __future__ import annotations

import argparse
import os

from bench_train import run_trainer
from common import machine, record, table

N_STEP = 5
FRAMESKIP = 4


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--updates", type=int, default=400, help="updates per configuration (the first log row, "
                   "with compilation, is left out of the timing)")
    p.add_argument("--batches", type=int, nargs="+", default=[10, 160], help="per-node batches to measure")
    p.add_argument("--cores", type=int, default=0, help="cores of the node (default: this machine's)")
    p.add_argument("--backend", default="horovod", choices=("horovod", "mpi4py"))
    p.add_argument("--args", default="", help="extra train.py flags (not batch or thread flags)")
    a = p.parse_args()
    cores = a.cores or machine()["cores"]
    rows = []
    for batch in a.batches:
        if batch % (N_STEP * cores):
            raise SystemExit(f"--batches: {batch} is not a multiple of {N_STEP} steps x {cores} ranks")
        frames = a.updates * batch * FRAMESKIP
        for ranks, threads, overlap in ((cores, 1, False), (1, cores, False), (cores, 1, True)):
            envs = batch // (N_STEP * ranks)
            extra = [*a.args.split(), "--envs_per_rank", str(envs), "--n_step", str(N_STEP), "--threads",
                     str(threads), "--comm", a.backend if ranks > 1 else "none", *(["--overlap"] if overlap else [])]
            r = run_trainer(frames, ranks, extra)
            rows.append({"node_batch": batch, "layout": f"{ranks}x{threads}", "overlap": overlap,
                         "envs_per_rank": envs, **r})
            print(table(rows[-1:], ["node_batch", "layout", "overlap", "frames_per_s", "update_ms",
                                    "t_allreduce_ms"]), flush=True)
    print()
    print(table(rows, ["node_batch", "layout", "overlap", "envs_per_rank", "frames_per_s", "update_ms", "t_env_ms",
                       "t_act_ms", "t_learn_ms", "t_allreduce_ms", "t_other_ms"]))
    for batch in a.batches:
        by = {(r["layout"], r["overlap"]): r for r in rows if r["node_batch"] == batch}
        split, one, ov = by[(f"{cores}x1", False)], by[(f"1x{cores}", False)], by[(f"{cores}x1", True)]
        print(f"per-node batch {batch}: {cores}x1 / 1x{cores} frames/s = "
              f"{split['frames_per_s'] / one['frames_per_s']:.2f}; --overlap / synchronous frames/s = "
              f"{ov['frames_per_s'] / split['frames_per_s']:.2f}, allreduce waited "
              f"{split['t_allreduce_ms']:.1f} -> {ov['t_allreduce_ms']:.1f} ms per update")
    # OpenMPI reads MCA parameters from the environment of each rank (mpirun forwards OMPI_MCA_*).
    mca = {k: v for k, v in os.environ.items() if k.startswith("OMPI_MCA_")}
    record("node", rows, {"machine": machine(), "backend": a.backend, "args": a.args, "mca_env": mca})


if __name__ == "__main__":
    main()
