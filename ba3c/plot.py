"""Learning curve of a run folder to a PNG: game score and frames/s against frames and wall time,
evaluation scores overlaid.

    python -m ba3c.plot runs/breakout [--output curve.png]      (or: make plot RUN=runs/breakout)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ba3c.errors import UserError
from ba3c.runlog import read_progress


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash mid-write
    return rows


def plot_run(run: Path, output: Path | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_progress(run)
    if not rows:
        raise UserError(f"{run} has no progress.jsonl rows yet; is it a run folder (runs/<name>)?")
    evals = read_jsonl(run / "eval.jsonl")
    frames = [r["frames"] / 1e6 for r in rows]
    hours = [r["wall_time"] / 3600 for r in rows]
    score = [r.get("score_mean100") for r in rows]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, x, label in ((axes[0][0], frames, "frames (millions)"), (axes[0][1], hours, "wall time (hours)")):
        ax.plot(x, [s if s is not None else float("nan") for s in score], label="training, mean of last 100 games")
        if evals:
            by_frame = {r["frames"]: r for r in rows}
            ex = [e["frames"] / 1e6 for e in evals] if x is frames else [
                by_frame.get(e["frames"], {}).get("wall_time", float("nan")) / 3600 for e in evals]
            ax.plot(ex, [e["mean"] for e in evals], "o", label="evaluation mean")
        ax.set_xlabel(label)
        ax.set_ylabel("game score (all lives)")
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
    axes[1][0].plot(frames, [r["fps"] for r in rows])
    axes[1][0].set_xlabel("frames (millions)")
    axes[1][0].set_ylabel("frames/s")
    axes[1][0].grid(alpha=0.3)
    axes[1][1].plot(hours, [r["fps"] for r in rows])
    axes[1][1].set_xlabel("wall time (hours)")
    axes[1][1].set_ylabel("frames/s")
    axes[1][1].grid(alpha=0.3)
    cfg = json.loads((run / "config.json").read_text()) if (run / "config.json").exists() else {}
    fig.suptitle(f"{run.name}: {cfg.get('env', '?')}, {cfg.get('arch', '?')} net")
    fig.tight_layout()
    out = output or run / "curve.png"
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", nargs="?", help="run folder, e.g. runs/breakout")
    p.add_argument("--output", "-o", type=Path)
    a = p.parse_args(argv)
    try:
        if not a.run:
            raise UserError("give a run folder: make plot RUN=runs/<name>")
        out = plot_run(Path(a.run), a.output)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
