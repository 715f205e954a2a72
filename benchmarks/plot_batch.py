#!/usr/bin/env python
"""Draw every run recorded in benchmarks/results/batch.jsonl (or another --results file): mean game
score of the last 100 games against frames (left) and the measured gradient noise scale against
frames (right), one line per game / global batch / learning-rate rule (the newest record of each).
Writes docs/batch-study.png.

    python benchmarks/plot_batch.py [--game breakout] [--output docs/batch-study.png] [--results batch]

With --results other than batch, each line is labelled with its run folder and the code's commit
(e.g. the learning check of a change against the same run on the code before it).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from common import RESULTS, ROOT, SCALE_TARGETS, furthest_per_run, load, with_partials


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--game", default="breakout")
    p.add_argument("--output", default=str(ROOT / "docs" / "batch-study.png"))
    p.add_argument("--results", default="batch", help="benchmarks/results/<RESULTS>.jsonl")
    p.add_argument("--partial", action="store_true",
                   help="also the runs still going (benchmarks/results/batch-partial/, the scale study's)")
    a = p.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = with_partials(a.results) if a.partial else load(a.results)
    if a.results == "scale":  # the study's own runs: not a growing batch's, not another study's still going
        from scale_runs import is_scale_run

        records = [r for r in records if is_scale_run(r)]
    # One line per run: the batch study reused folder names across value_coef settings, hence the key.
    runs = furthest_per_run((r for r in records if r["game"] == a.game), key=lambda r: (
        r["global_batch"], r["lr_scaling"], r["lr_warmup"], r["value_coef"], r["seed"], Path(r["run_folder"]).name))
    if not runs:
        raise SystemExit(f"no {a.game} runs in {RESULTS / (a.results + '.jsonl')}; run make bench-batch first")
    fig, (ax_s, ax_n) = plt.subplots(1, 2, figsize=(12, 6))
    # Colour = global batch, line style = learning-rate rule, dots = with a warm-up.
    batches = sorted({k[0] for k in runs})
    colour = {b: plt.get_cmap("viridis")(i / max(1, len(batches) - 1) * 0.9) for i, b in enumerate(batches)}
    style = {"none": "-", "sqrt": "--", "linear": ":"}
    for i, key in enumerate(sorted(runs)):
        r = runs[key]
        label = (f"batch {r['global_batch']:,}, lr {r['lr_scaling']}" + (f", warm-up {r['lr_warmup'] / 1e6:g}M" if
                 r["lr_warmup"] else "") + f", value_coef {r['value_coef']:g}, seed {r['seed']}")
        if a.results != "batch":
            label = f"{Path(r['run_folder']).name} (code {(r.get('git_commit') or '?')[:7]}): {label}"
        # Colour = batch in the batch study; one colour per run elsewhere (runs there share a batch).
        line_colour = colour[r["global_batch"]] if a.results == "batch" else plt.get_cmap("tab10")(i % 10)
        look = dict(color=line_colour, linestyle=style.get(r["lr_scaling"], "-."), label=label,
                    marker="o" if r["lr_warmup"] else None, markersize=3, markevery=4)
        curve = r["curve"]
        ax_s.plot([c[0] / 1e6 for c in curve if c[1] is not None], [c[1] for c in curve if c[1] is not None], **look)
        ax_n.plot([c[0] / 1e6 for c in curve if c[2] is not None], [c[2] for c in curve if c[2] is not None], **look)
    ax_s.set(xlabel="frames (millions)", ylabel="game score, mean of last 100 games", title=f"{a.game}: score")
    ax_n.set(xlabel="frames (millions)", ylabel="B_simple (samples)", yscale="log",
             title="gradient noise scale (smoothed; values <= 0 not drawn)")
    for ax in (ax_s, ax_n):
        ax.grid(alpha=0.3)
    handles, labels = ax_s.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 + 0.025 * ((len(labels) + 1) // 2), 1, 1))
    fig.savefig(a.output, dpi=90, bbox_inches="tight")  # long run labels: keep the legend on the canvas
    print(f"wrote {a.output}")
    targets = SCALE_TARGETS if a.results == "scale" else SCALE_TARGETS[:3]
    print(markdown_table([runs[k] for k in sorted(runs)], targets))


def at_frames(curve: list, frames: float, col: int):
    """The value in column col of the last logged row at or before `frames` (None if the run
    stopped earlier than that or had no value yet)."""
    if curve[-1][0] < frames * 0.98:
        return None
    rows = [c for c in curve if c[0] <= frames * 1.02]
    return rows[-1][col] if rows else None


def markdown_table(runs: list[dict], targets: tuple[int, ...] = (20, 50, 100)) -> str:
    from ba3c.noise_scale import format_noise_scale  # ba3c is importable once common has run

    def num(v, fmt: str) -> str:
        return "-" if v is None else fmt.format(v)

    head = ["global batch", "lr rule", "value_coef", "seed", "frames run", "score @1M", "@2M", "@3M", "@5M", "@10M",
            f"frames to {targets[0]}", *(f"to {t}" for t in targets[1:]), "noise scale @1M", "@2M", "@end"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in runs:
        c = r["curve"]
        rule = r["lr_scaling"] + (f" + warm-up {r['lr_warmup'] / 1e6:g}M" if r["lr_warmup"] else "")
        def reached(t) -> str:  # a censored crossing is an interval (common.crossing)
            f, after = r.get(f"frames_to_{t}"), r.get(f"frames_to_{t}_censored_after")
            return "-" if f is None else f"{f / 1e6:.2f}M" if after is None else f"{after / 1e6:.2f}-{f / 1e6:.2f}M"

        cells = [f"{r['global_batch']:,}", rule, f"{r['value_coef']:g}", str(r["seed"]), f"{r['frames'] / 1e6:.2f}M",
                 *(num(at_frames(c, f, 1), "{:.1f}") for f in (1e6, 2e6, 3e6, 5e6, 10e6)),
                 *(reached(t) for t in targets),
                 *(format_noise_scale(v) for v in (at_frames(c, 1e6, 2), at_frames(c, 2e6, 2), c[-1][2]))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
