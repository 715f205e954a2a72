#!/usr/bin/env python
"""Projected wall time to a Breakout score against cores (2 ... 1,536), from recorded measurements only:

    minutes(C) = frames_to_score(B(C)) / frames_per_s(C) / 60

- B(C): the global batch the default plan gives C one-core ranks (ba3c/batch_plan.py).
- frames_to_score(B): the large-batch study (benchmarks/results/batch.jsonl, Breakout, default lr rule,
  float32 gradients, no overlap): the median over the runs at B that reached the score. Between two
  measured batches it is interpolated linearly in log(batch)-log(frames); a batch whose runs ended
  without reaching the score gives a lower bound (the frames it ran), and so does every larger batch
  (more samples per update never needed fewer frames in the study, as McCandlish et al. predict).
  Below the smallest measured batch the smallest batch's figure is used.
- frames_per_s(C) = B * 4 / update time. Update time: the compute fit t_c(b) of the last `make
  bench-scaling` (one core per rank), times E[slowest of C] / mean from the recorded straggler sample
  with the nearest per-rank batch (benchmarks/straggler_model.py), plus the allreduce of OpenMPI's
  algorithm (benchmarks/allreduce_model.py) on 10 GbE or InfiniBand EDR; with --overlap only
  max(0, allreduce - compute) is added (the 2-rank measurement of `make bench-node` hid ~85% of it).

Writes docs/time-to-score.png and appends the table to benchmarks/results/time_to_score.jsonl."""
from __future__ import annotations

import argparse
import math
from statistics import median

from allreduce_model import cost, openmpi_41_choice
from bench_scaling import NETWORKS
from straggler_model import expected_max

from common import ROOT, first_frames, load, machine, record, table

CORES = (2, 4, 8, 16, 24, 32, 64, 128, 256, 512, 768, 1024, 1536)
# Adamski et al. 2018 (arXiv 1801.02852), abstract: their own Breakout target, not ours.
BA3C = ((24, 10 * 60.0, "BA3C, 1 node (24 cores): 10 h"), (768, 21.0, "BA3C, 64 nodes (768 cores): 21 min"))


def study_points(rows: list[dict], target: float) -> list[tuple[int, float, bool]]:
    """(global batch, frames, reached) per batch: median frames to the target over the runs that
    reached it, else the most frames any run at that batch ran without reaching it (a lower bound)."""
    by_batch: dict[int, list[dict]] = {}
    for r in rows:
        by_batch.setdefault(int(r["global_batch"]), []).append(r)
    out = []
    for b, runs in sorted(by_batch.items()):
        firsts = (first_frames(((frames, score) for frames, score, *_ in r["curve"]), target) for r in runs)
        reached = [f for f in firsts if f is not None]
        if reached:
            out.append((b, float(median(reached)), True))
        else:
            out.append((b, float(max(r["frames"] for r in runs)), False))
    return out


def frames_to_score(batch: int, points: list[tuple[int, float, bool]]) -> tuple[float, bool]:
    """(frames, exact) at this global batch; exact False = a lower bound (see the module doc)."""
    bound = max((f for b, f, ok in points if b <= batch and not ok), default=None)
    reached = [(b, f) for b, f, ok in points if ok]
    if not reached:
        return (bound or math.nan), False
    below = [(b, f) for b, f in reached if b <= batch]
    above = [(b, f) for b, f in reached if b >= batch]
    if not below:
        value = reached[0][1]
    elif not above:
        value = below[-1][1]
        if batch > below[-1][0]:  # beyond the largest batch that reached it: frames at least that
            return max(value, bound or 0.0), False
    elif below[-1][0] == batch:
        value = below[-1][1]
    else:
        (b0, f0), (b1, f1) = below[-1], above[0]
        w = (math.log(batch) - math.log(b0)) / (math.log(b1) - math.log(b0))
        value = math.exp((1 - w) * math.log(f0) + w * math.log(f1))
    if bound is not None and bound > value:
        return bound, False
    return value, True


def straggler_factor(samples_by_batch: dict[int, list[float]], rank_batch: int, ranks: int) -> float:
    """E[slowest of `ranks`] / mean, from the recorded sample whose per-rank batch is nearest in log."""
    b = min(samples_by_batch, key=lambda k: abs(math.log(k) - math.log(rank_batch)))
    s = samples_by_batch[b]
    return expected_max(s, ranks) / (sum(s) / len(s))


def project(target: float, fit_ms: tuple[float, float], gradient_bytes: int, reduction_gbps: float,
            samples_by_batch: dict[int, list[float]], points: list[tuple[int, float, bool]]) -> list[dict]:
    from ba3c.batch_plan import plan_batch

    gamma = 1 / (reduction_gbps * 1e9)
    rows = []
    for net, (alpha, beta) in NETWORKS.items():
        for c in CORES:
            plan = plan_batch(c, None, None, None, None, "auto")
            b = plan.rank_batch
            t_c = (fit_ms[0] + fit_ms[1] * b) / 1000 * straggler_factor(samples_by_batch, b, c)
            t_ar = cost(openmpi_41_choice(c, gradient_bytes), c, gradient_bytes, alpha, beta, gamma)
            frames, exact = frames_to_score(plan.global_batch, points)
            for overlap in (False, True):
                t_up = t_c + (max(0.0, t_ar - t_c) if overlap else t_ar)
                fps = plan.global_batch * 4 / t_up
                rows.append({"network": net, "overlap": overlap, "cores": c, "global_batch": plan.global_batch,
                             "rank_batch": b, "update_ms": 1000 * t_up, "frames_per_s": fps,
                             "frames_to_score": frames, "exact": exact, "minutes": frames / fps / 60,
                             "target": target})
    return rows


def draw_ba3c_log_axes(ax) -> None:
    """BA3C's published times as stars, on log-2 cores against log minutes."""
    for cores, minutes, label in BA3C:
        ax.plot([cores], [minutes], "k*", ms=11)
        ax.annotate(label, (cores, minutes), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")


def plot(rows: list[dict], target: float, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for (net, overlap), style in {("10GbE TCP", False): "C0-", ("10GbE TCP", True): "C0--",
                                  ("100Gb InfiniBand EDR", False): "C1-",
                                  ("100Gb InfiniBand EDR", True): "C1--"}.items():
        rs = [r for r in rows if r["network"] == net and r["overlap"] == overlap]
        ax.plot([r["cores"] for r in rs], [r["minutes"] for r in rs], style,
                label=f"{net}{', --overlap' if overlap else ''}")
        bound = [r for r in rs if not r["exact"]]
        ax.plot([r["cores"] for r in bound], [r["minutes"] for r in bound], style[:2] + "^", ms=6)
    draw_ba3c_log_axes(ax)
    ax.set_xlabel("cores (one rank per core, default batch plan)")
    ax.set_ylabel(f"projected minutes to Breakout score(100) {target:g}")
    ax.set_title("Projected from measurements; ^ = lower bound (the study's runs at that batch did not reach "
                 "it).\n* = BA3C as published, to its own (higher) Breakout target, for scale only", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", type=float, default=20.0, help="score(100) to reach")
    a = p.parse_args()
    scaling = [r for r in load("scaling") if "compute_fit_ms" in r]
    stragglers = load("stragglers")
    study = [r for r in load("batch") if r["game"] == "breakout" and r["lr_scaling"] == "none"
             and r.get("grad_compression", "none") == "none" and not r.get("overlap")]
    if not scaling or not stragglers or not study:
        raise SystemExit("needs benchmarks/results/{scaling,stragglers,batch}.jsonl: run make bench-scaling, "
                         "make bench-stragglers and make bench-batch first")
    last = scaling[-1]
    samples: dict[int, list[float]] = {}
    for r in stragglers:  # the latest sample per per-rank batch
        samples[r["envs"] * r["n_step"]] = r["times_ms_sample"]
    latest: dict[str, dict] = {}
    for r in study:  # the latest record of each run folder
        latest[r["run_folder"]] = r
    points = study_points(list(latest.values()), a.target)
    print("frames to score(100) >= {:g} in the study: ".format(a.target) + ", ".join(
        f"batch {b:,}: {'' if ok else '>= '}{f / 1e6:.2f}M" for b, f, ok in points))
    rows = project(a.target, tuple(last["compute_fit_ms"]), last["gradient_bytes"], last["reduction_GBps"],
                   samples, points)
    shown = [{**r, "minutes": ("" if r["exact"] else ">= ") + f"{r['minutes']:.1f}"} for r in rows]
    print(table(shown, ["network", "overlap", "cores", "global_batch", "rank_batch", "update_ms", "frames_per_s",
                        "frames_to_score", "minutes"]))
    out = ROOT / "docs" / "time-to-score.png"
    plot(rows, a.target, out)
    print(f"plot: {out.relative_to(ROOT)}")
    record("time_to_score", rows, {"machine": machine(), "compute_measured": last["time"],
                                   "study_points": points})


if __name__ == "__main__":
    main()
