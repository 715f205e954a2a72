"""What MPI_Allreduce costs us: OpenMPI's choice of algorithm and the alpha-beta-gamma cost of each.

Both of our backends end in one MPI_Allreduce of the flat float32 gradient buffer (Horovod built for
CPU with MPI adds a negotiation round and a fusion-buffer copy, see horovod/common/ops/
mpi_operations.cc), so what a big job pays is decided by OpenMPI's `coll/tuned` component.

openmpi_41_choice() transcribes the commutative-operation branch of
ompi_coll_tuned_allreduce_intra_dec_fixed() in ompi/mca/coll/tuned/coll_tuned_decision_fixed.c, the
same in v4.1.4 (Debian 12's) and v4.1.8. Algorithm ids are OpenMPI's (coll_tuned_allreduce_algorithm):
1 basic linear, 2 nonoverlapping (reduce + bcast), 3 recursive doubling, 4 ring, 5 segmented ring,
6 Rabenseifner (recursive-halving reduce-scatter + recursive-doubling allgather).

cost() is the textbook model (Thakur, Rabenseifner and Gropp 2005, "Optimization of collective
communication operations in MPICH"): alpha = latency per message, beta = seconds per byte on a link,
gamma = seconds per byte of reduction arithmetic; N ranks, S bytes. Non-powers of two pay the
fold-in of ompi_coll_base_allreduce_intra_redscat_allgather (coll_base_allreduce.c, "Step 1"): pairs
of the first 2(N-p) ranks swap half vectors, reduce a half, send it back (2 alpha + S beta + S/2
gamma), and the removed ranks get the full result at the end (alpha + S beta); p = the largest power
of two <= N. Recursive doubling folds in the same way, with full vectors.
"""
from __future__ import annotations

import math

NAMES = {1: "basic linear", 2: "nonoverlapping", 3: "recursive doubling", 4: "ring", 5: "segmented ring",
         6: "Rabenseifner"}

# (upper bound on communicator size, [(upper bound on message bytes, algorithm), ..., (None, algorithm)])
_OPENMPI_41 = [
    (4, [(8, 4), (4096, 3), (8192, 4), (16384, 3), (65536, 4), (262144, 5), (None, 6)]),
    (8, [(16, 4), (8192, 3), (None, 6)]),
    (16, [(8192, 3), (None, 6)]),
    (32, [(64, 5), (4096, 3), (None, 6)]),
    (64, [(128, 5), (None, 6)]),
    (128, [(262144, 3), (None, 6)]),
    (256, [(131072, 2), (262144, 3), (None, 6)]),
    (512, [(4096, 2), (None, 6)]),
    (2048, [(2048, 2), (16384, 3), (None, 6)]),
    (4096, [(2048, 2), (4096, 5), (16384, 3), (None, 6)]),
    (None, [(2048, 2), (16384, 5), (32768, 3), (None, 6)]),
]


def openmpi_41_choice(n_ranks: int, message_bytes: int) -> int:
    """The algorithm OpenMPI 4.1's fixed decision picks for a commutative MPI_Allreduce (MPI_SUM)."""
    for size_bound, rules in _OPENMPI_41:
        if size_bound is None or n_ranks < size_bound:
            for bytes_bound, alg in rules:
                if bytes_bound is None or message_bytes < bytes_bound:
                    return alg
    raise AssertionError("unreachable")


def cost(alg: int, n: int, s: float, alpha: float, beta: float, gamma: float = 0.0) -> float:
    """Seconds for one allreduce of s bytes over n ranks with algorithm alg (OpenMPI's ids)."""
    if n <= 1:
        return 0.0
    p = 1 << int(math.log2(n))  # largest power of two <= n
    fold = 0.0 if p == n else 3 * alpha + 2 * s * beta + s / 2 * gamma  # non-power-of-two: in and out
    lg = math.log2(p)
    if alg == 1:  # everyone sends to the root, which reduces and sends the result back
        return 2 * (n - 1) * (alpha + s * beta) + (n - 1) * s * gamma
    if alg == 2:  # binomial reduce, then binomial broadcast
        return 2 * math.ceil(math.log2(n)) * (alpha + s * beta) + math.ceil(math.log2(n)) * s * gamma
    if alg == 3:
        return fold + lg * (alpha + s * beta + s * gamma)
    if alg in (4, 5):  # segments pipeline the same volume; the model does not tell 4 and 5 apart
        return 2 * (n - 1) * alpha + 2 * (n - 1) / n * s * beta + (n - 1) / n * s * gamma
    if alg == 6:
        return fold + 2 * lg * alpha + 2 * (p - 1) / p * s * beta + (p - 1) / p * s * gamma
    raise ValueError(f"unknown algorithm {alg}")
