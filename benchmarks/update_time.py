"""The time of one update at N one-core ranks, from recorded measurements only:

    t(N, b) = t_c(b) x E[slowest of N] / mean  +  allreduce(N)   (synchronous)
    t(N, b) = t_c(b) + max(0, allreduce(N) - t_c(b))             (--overlap)

- t_c(b) = c0 + c1 b: the compute fit of the last `make bench-scaling` (one core per rank, b =
  emulators x n-step per rank).
- E[slowest of N] / mean: the recorded straggler sample (`make bench-stragglers`) with the nearest
  per-rank batch (benchmarks/straggler_model.py).
- allreduce(N): OpenMPI 4.1's algorithm for the gradient buffer in the alpha-beta-gamma model
  (benchmarks/allreduce_model.py) on 10 GbE or InfiniBand EDR (bench_scaling.NETWORKS), gamma the
  reduction arithmetic measured by bench-scaling.
Projections (benchmarks/plan.py), the overlap decision and grow-compare all read it from here."""
from __future__ import annotations

import math

from allreduce_model import cost, openmpi_41_choice
from bench_scaling import NETWORKS
from straggler_model import expected_max

from common import load

# Adamski et al. 2018 (arXiv 1801.02852), abstract: their own Breakout target, not ours.
BA3C = ((24, 10 * 60.0, "BA3C, 1 node (24 cores): 10 h"), (768, 21.0, "BA3C, 64 nodes (768 cores): 21 min"))


def straggler_factor(samples_by_batch: dict[int, list[float]], rank_batch: int, ranks: int) -> float:
    """E[slowest of `ranks`] / mean, from the recorded sample whose per-rank batch is nearest in log."""
    b = min(samples_by_batch, key=lambda k: abs(math.log(k) - math.log(rank_batch)))
    s = samples_by_batch[b]
    return expected_max(s, ranks) / (sum(s) / len(s))


def update_seconds(ranks: int, rank_batch: int, overlap: bool, network: str) -> float:
    """Seconds per update at `ranks` one-core ranks of `rank_batch` samples each (module doc)."""
    scaling = [r for r in load("scaling") if "compute_fit_ms" in r][-1]
    samples = {r["envs"] * r["n_step"]: r["times_ms_sample"] for r in load("stragglers")}
    c0, c1 = scaling["compute_fit_ms"]
    t_c = (c0 + c1 * rank_batch) / 1000 * straggler_factor(samples, rank_batch, ranks)
    size = scaling["gradient_bytes"]
    alpha, beta = NETWORKS[network]
    t_ar = cost(openmpi_41_choice(ranks, size), ranks, size, alpha, beta, 1 / (scaling["reduction_GBps"] * 1e9))
    return t_c + (max(0.0, t_ar - t_c) if overlap else t_ar)


def draw_ba3c_log_axes(ax) -> None:
    """BA3C's published times as stars, on log-2 cores against log minutes."""
    for cores, minutes, label in BA3C:
        ax.plot([cores], [minutes], "k*", ms=11)
        ax.annotate(label, (cores, minutes), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
