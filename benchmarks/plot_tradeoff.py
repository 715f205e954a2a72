#!/usr/bin/env python
"""Updates against samples to each score(100) target, one point per scale-study run that reached
it, with McCandlish et al.'s fitted curve S = S_min (1 + B_crit / B), E = B S (ba3c/critical_batch.py)
and its 5-95% band from a bootstrap over runs. A target reached at fewer than two global batches gets
its points and no curve, and the legend says so. Writes docs/scale-tradeoff.png and prints the fit.

    python benchmarks/plot_tradeoff.py [--game Breakout] [--targets 20 50 100 200 300] [--output ...]

Read it as the paper's Figure 1: on a curve, the batch grows from top left (few samples, many updates)
to bottom right; the knee is at B_crit, S = 2 S_min, E = 2 E_min."""
from __future__ import annotations

import argparse

import numpy as np
from scale_runs import study_runs, updates_by_batch, updates_spans_by_batch

from common import ROOT, SCALE_TARGETS, table


def curve(fit, batches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(samples, updates) of the fitted trade-off at these global batches."""
    s = np.array([fit.updates(b) for b in batches])
    return batches * s, s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--game", default="Breakout")
    p.add_argument("--targets", type=float, nargs="+", default=list(SCALE_TARGETS))
    p.add_argument("--output", default=str(ROOT / "docs" / "scale-tradeoff.png"))
    a = p.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ba3c.critical_batch import bootstrap_tradeoff, try_fit_medians
    from ba3c.games import resolve_game

    game = resolve_game(a.game)
    runs = study_runs(game)
    if not runs:
        raise SystemExit(f"no scale-study runs of {game}; run make scale-study first")
    fig, ax = plt.subplots(figsize=(8, 6))
    batches = np.geomspace(10, 1e5, 200)
    rows, every = [], []
    for i, target in enumerate(a.targets):
        colour = plt.get_cmap("viridis")(i / max(1, len(a.targets) - 1) * 0.9)
        by_batch = updates_by_batch(runs, target)
        if not by_batch:
            continue
        pts = [(b * s, s) for b, ss in by_batch.items() for s in ss]
        every += pts
        label = f"score {target:g}"
        fit, why = try_fit_medians(by_batch)
        if fit is not None:
            fits = bootstrap_tradeoff(updates_spans_by_batch(runs, target), n=500)  # censored runs as intervals
            e, s = curve(fit, batches)
            ax.plot(e, s, color=colour)
            if len(fits) >= 100:
                band = np.array([curve(f, batches)[1] for f in fits])
                lo, hi = np.percentile(band, [5, 95], axis=0)
                ax.fill_between(e, lo, hi, color=colour, alpha=0.15, linewidth=0)
            label += f": B_crit {fit.b_crit:,.0f}, S_min {fit.s_min:,.0f}"
            rows.append({"target": target, "batches": len(by_batch), "runs": len(pts), "b_crit": round(fit.b_crit),
                         "s_min": round(fit.s_min), "e_min_frames": f"{4 * fit.e_min / 1e6:.2f}M"})
        else:
            label += (f" (batch {next(iter(by_batch)):,} only: no fit)" if len(by_batch) == 1 else
                      f" (no fit: {why.label})")
            rows.append({"target": target, "batches": len(by_batch), "runs": len(pts), "b_crit": "-", "s_min": "-",
                         "e_min_frames": "-"})
            if len(by_batch) >= 2:
                print(f"score {target:g}: {why}")
        ax.scatter([x for x, _ in pts], [y for _, y in pts], color=colour, label=label, zorder=3)
        for b, ss in by_batch.items():
            for s in ss:
                ax.annotate(f"{b:,}", (b * s, s), textcoords="offset points", xytext=(4, 4), fontsize=7)
    if every:  # the fitted curves run over all batches; frame the measured points
        e_all, s_all = np.array(every).T
        ax.set_xlim(e_all.min() / 4, e_all.max() * 4)
        ax.set_ylim(s_all.min() / 4, s_all.max() * 4)
    ax.set(xscale="log", yscale="log", xlabel="samples to the target (frames / 4)", ylabel="updates to the target",
           title=f"{game}: updates vs samples to score(100) targets (labels: global batch)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.output, dpi=90)
    print(f"wrote {a.output}")
    if rows:
        print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
