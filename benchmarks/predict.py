#!/usr/bin/env python
"""Pre-registered prediction of one global batch's updates and frames to score(100) targets, from the
scale study's runs at the other batches only, and its later check against that batch's own run.

    python benchmarks/predict.py --global_batch 5120             # write the prediction (then commit it)
    python benchmarks/predict.py --global_batch 5120 --check     # prediction vs the run, once it has run

The prediction fits McCandlish et al.'s S(B) = S_min (1 + B_crit / B) (ba3c/critical_batch.py) per
target to the runs at every other batch that reached it (finished: benchmarks/results/scale.jsonl;
still going: batch-partial/), with 5-95% ranges from a bootstrap over runs, and writes
benchmarks/results/prediction-b<B>.json with the runs it used. `make scale-study` trains batch B only
once that file is committed, so the prediction is on record, in git, before the run can reach a
target. A target is validated when the measured updates are within 30% of the predicted median.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scale_runs import censored_runs, study_runs, updates_by_batch

from common import RESULTS, ROOT, crossing, first_frames, table

sys.path.insert(0, str(ROOT))
TOLERANCE = 0.30


def prediction_path(batch: int):
    return RESULTS / f"prediction-b{batch}.json"


def predict(game: str, batch: int, targets: list[float]) -> dict:
    from ba3c.critical_batch import bootstrap_tradeoff, try_fit_medians
    from ba3c.runlog import git_commit

    runs = [r for r in study_runs(game) if int(r["global_batch"]) != batch]
    out = {"game": game, "global_batch": batch, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "code_commit": git_commit(), "tolerance": TOLERANCE, "targets": {},
           "runs_used": [{"run_folder": r["run_folder"], "global_batch": r["global_batch"], "frames": r["frames"],
                          "git_commit": r.get("git_commit")} for r in runs]}
    for target in targets:
        by_batch = updates_by_batch(runs, target)
        # The measured gradient noise scale where runs reached the target, beside the fit's B_crit
        # (McCandlish et al. find B_simple >= B_crit on Atari).
        noise = [n for r in runs if (n := noise_at(r["curve"], target)) is not None]
        entry: dict = {"updates_by_batch": {str(b): s for b, s in sorted(by_batch.items())},
                       "censored_runs_left_out": censored_runs(runs, target),
                       "noise_scale_at_target": float(np.median(noise)) if noise else None}
        point, why = try_fit_medians(by_batch)
        if len(by_batch) < 2:
            entry["error"] = f"reached at batch(es) {sorted(by_batch) or 'none'}; the fit needs two"
        elif point is None:
            entry["error"] = str(why)
        else:
            fits = bootstrap_tradeoff(by_batch, n=1000)
            s = np.array([f.updates(batch) for f in fits])
            lo, hi = np.percentile(s, [5, 95])
            entry.update({"s_min": point.s_min, "b_crit": point.b_crit, "updates": point.updates(batch),
                          "updates_5_95": [float(lo), float(hi)], "frames": 4 * batch * point.updates(batch),
                          "frames_5_95": [4 * batch * float(lo), 4 * batch * float(hi)],
                          "bootstrap_fits": len(fits)})
        out["targets"][f"{target:g}"] = entry
    return out


def noise_at(curve: list, target: float) -> float | None:
    """The first logged noise scale (> 0) at or after the frame where the curve reached the target."""
    reached = first_frames(((f, s) for f, s, *_ in curve), target)
    if reached is None:
        return None
    return next((n for f, _, n, *_ in curve if f >= reached and n is not None and n > 0), None)


def committed(path) -> bool:
    """True when the file is in git's HEAD exactly as it is on disk."""
    rel = str(path.relative_to(ROOT))
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", rel], cwd=ROOT, capture_output=True).returncode == 0
    return tracked and subprocess.run(["git", "diff", "--quiet", "HEAD", "--", rel], cwd=ROOT).returncode == 0


def check(game: str, batch: int) -> int:
    path = prediction_path(batch)
    if not path.exists():
        print(f"error: no prediction for batch {batch:,} ({path}); write and commit one first", file=sys.stderr)
        return 2
    pred = json.loads(path.read_text())
    runs = [r for r in study_runs(game) if int(r["global_batch"]) == batch]
    if not runs:
        print(f"error: the study has no run at batch {batch:,} yet", file=sys.stderr)
        return 2
    rows = []
    for target, entry in pred["targets"].items():
        measured = [crossing(r["curve"], float(target)) for r in runs]
        reached = [m / (4 * batch) for m, after in measured if m is not None and after is None]
        row = {"target": target, "predicted_updates": entry.get("updates"), "predicted_5_95": entry.get("updates_5_95"),
               "measured_updates": None, "ratio": None, "in_5_95": None,
               "verdict": "no prediction" if "updates" not in entry else "not reached yet"}
        if reached and "updates" in entry:
            m = float(np.median(reached))
            lo, hi = entry["updates_5_95"]
            row.update(measured_updates=m, measured_frames=4 * batch * m, ratio=m / entry["updates"],
                       in_5_95=bool(lo <= m <= hi),
                       verdict="validated" if abs(m / entry["updates"] - 1) <= TOLERANCE else "not validated")
        rows.append(row)
    print(f"batch {batch:,}: prediction of {pred['time']} (code {pred['code_commit']}) vs {len(runs)} run(s)")
    shown = [{**r, "predicted_5_95": "-" if r["predicted_5_95"] is None else
              f"{r['predicted_5_95'][0]:,.0f}-{r['predicted_5_95'][1]:,.0f}"} for r in rows]
    print(table(shown, ["target", "predicted_updates", "predicted_5_95", "measured_updates", "ratio", "in_5_95",
                        "verdict"]))
    out = path.with_name(f"prediction-b{batch}-check.json")
    out.write_text(json.dumps({"prediction": path.name, "prediction_commit": pred["code_commit"],
                               "runs": [Path(r["run_folder"]).name for r in runs],
                               "run_frames": [r["frames"] for r in runs], "tolerance": pred.get("tolerance", TOLERANCE),
                               "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--global_batch", type=int, required=True)
    p.add_argument("--game", default="breakout")
    p.add_argument("--targets", type=float, nargs="+", default=[20, 50, 100])
    p.add_argument("--check", action="store_true", help="compare the committed prediction with the run")
    p.add_argument("--committed", action="store_true", help="exit 0 only if the prediction is committed")
    a = p.parse_args()
    if a.committed:
        sys.exit(0 if prediction_path(a.global_batch).exists() and committed(prediction_path(a.global_batch)) else 1)
    if a.check:
        sys.exit(check(a.game, a.global_batch))
    path = prediction_path(a.global_batch)
    if path.exists() and committed(path):
        sys.exit(f"error: {path.name} is already committed; a pre-registered prediction is not rewritten "
                 f"(check it with --check)")
    pred = predict(a.game, a.global_batch, a.targets)
    rows = [{"target": t, **{k: e.get(k) for k in ("b_crit", "noise_scale_at_target", "s_min", "updates", "frames")},
             "updates_5_95": e.get("updates_5_95"), "note": e.get("error", "")} for t, e in pred["targets"].items()]
    print(table(rows, ["target", "b_crit", "noise_scale_at_target", "s_min", "updates", "updates_5_95", "frames",
                       "note"]))
    missing = [t for t, e in pred["targets"].items() if "error" in e]
    if missing:
        sys.exit(f"error: no fit yet for score(s) {', '.join(missing)}; nothing written (let the study's other "
                 f"batches reach them first)")
    path.write_text(json.dumps(pred, indent=1) + "\n")
    print(f"wrote {path}; commit it before batch {a.global_batch:,} trains (make scale-study checks)")


if __name__ == "__main__":
    main()
