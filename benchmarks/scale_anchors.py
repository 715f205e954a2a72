#!/usr/bin/env python
"""The large-batch study's two anchors (Breakout, global batch 1,280 and 80, seed 1, to score(100) 300
or 40M frames) repeated with a defaults candidate's flags, and whether the critical-batch fit moved.

The study (benchmarks/scale_study.sh, docs/large-batches.md) was run with the defaults of its day:
Adam beta1 0.8, beta2 0.75, lr 1e-3. A change of defaults can move S_min and B_crit, and with them
every batch plan; repeating the whole study takes days here, its two anchors a few hours. Each anchor
trains through bench_batch.py with --tag anchor-<candidate> and the candidate's flags, so its record
(results/scale.jsonl) stays out of the study's own fit (scale_runs.is_scale_run) and its run folder
apart from the screen's 5M-frame run of the same flags (benchmarks/defaults_screen.py).

`compare` fits S(B) = S_min (1 + B_crit / B) through the two anchors of each flag set at every target
(two points: the fit is exact) and reads the candidate's B_crit against the old defaults' seed-1 and
seed-2 pairs, whose difference is the seed spread a single pair carries.

    python benchmarks/scale_anchors.py run --candidate adam-0.99
    python benchmarks/scale_anchors.py compare --candidate adam-0.99 [--json results/anchors-adam-0.99.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from defaults_screen import CANDIDATES, train_candidate
from scale_runs import study_runs

from common import SCALE_TARGETS, crossing, furthest_per_run, table, with_partials

GAME = "breakout"
ANCHOR_BATCHES = (1280, 80)  # 1,280 first: from frame 0 it reaches 300 within one session
FRAMES = 4e7
STOP_AT = 300.0


def tag(candidate: str) -> str:
    return f"anchor-{candidate}"


def train(candidate: str) -> int:
    for batch in ANCHOR_BATCHES:
        code = train_candidate("anchors", f"batch {batch:,} with {candidate}", candidate, tag(candidate),
                               ["--global_batch", str(batch), "--seed", "1", "--frames", f"{FRAMES:g}",
                                "--stop_at_score", f"{STOP_AT:g}", "--results", "scale", "--eval_games", "30"])
        if code != 0:
            return code
    return 0


def pairs(records: list[dict], candidate: str) -> dict[str, dict[int, dict]]:
    """The anchor pairs by label: the old defaults' seed 1 and seed 2, and the candidate's seed 1
    (its furthest record per batch, finished or still going)."""
    old = [r for r in study_runs(GAME) if int(r["global_batch"]) in ANCHOR_BATCHES]
    new = furthest_per_run(r for r in records if r["game"] == GAME and r.get("tag") == tag(candidate)
                           and int(r["global_batch"]) in ANCHOR_BATCHES and r.get("seed") == 1).values()
    out: dict[str, dict[int, dict]] = {}
    for label, runs in (("old s1", [r for r in old if r.get("seed") == 1]),
                        ("old s2", [r for r in old if r.get("seed") == 2]), (f"{candidate} s1", list(new))):
        out[label] = {int(r["global_batch"]): r for r in runs}
    return out


def updates_to(run: dict | None, target: float) -> float | str:
    """Updates to the target (frames / (4 x batch)), or why there is no count: 'not yet' (still going),
    '>N' (trained N updates without reaching it), '~lo-hi' (reached while the score was withheld)."""
    if run is None:
        return "no run"
    frames, censored_after = crossing(run["curve"], target)
    per_update = 4 * run["global_batch"]
    if frames is None:
        going = run.get("bench") == "batch-partial"
        return f"{'not yet: ' if going else '>'}{run['frames'] / per_update:,.0f}"
    if censored_after is not None:
        return f"~{censored_after / per_update:,.0f}-{frames / per_update:,.0f}"
    return frames / per_update


def two_point_b_crit(small: float | str, large: float | str) -> float | str:
    """B_crit through (80, S_80) and (1280, S_1280): S_80 / S_1280 = (1 + Bc/80) / (1 + Bc/1280).
    The model needs 1 < ratio < 16 (more updates at the small batch, but fewer samples). In closed form
    rather than ba3c/critical_batch.fit_tradeoff: its least-squares slope of two equal counts comes out
    ~1e-15, not 0, and would pass as a B_crit of ~0."""
    if not isinstance(small, float) or not isinstance(large, float):
        return "-"
    b_small, b_large = min(ANCHOR_BATCHES), max(ANCHOR_BATCHES)
    ratio = small / large
    if not 1.0 < ratio < b_large / b_small:
        return f"no fit (ratio {ratio:.1f})"
    return (ratio - 1.0) / (1.0 / b_small - ratio / b_large)


def compare_rows(by_label: dict[str, dict[int, dict]], targets=SCALE_TARGETS) -> list[dict]:
    rows = []
    small, large = min(ANCHOR_BATCHES), max(ANCHOR_BATCHES)
    for target in targets:
        row: dict = {"target": target}
        for label, runs in by_label.items():
            s_small, s_large = updates_to(runs.get(small), target), updates_to(runs.get(large), target)
            row[f"{label} S({small})"] = s_small
            row[f"{label} S({large:,})"] = s_large
            row[f"{label} B_crit"] = two_point_b_crit(s_small, s_large)
        rows.append(row)
    return rows


def verdict(row: dict, candidate: str) -> str:
    """Whether the candidate's B_crit lies outside the old defaults' seed-1 / seed-2 range."""
    new = row.get(f"{candidate} s1 B_crit")
    old = [row.get(f"old {s} B_crit") for s in ("s1", "s2")]
    old = [v for v in old if isinstance(v, float)]
    if isinstance(new, float) and not old:
        return f"{new:,.0f}; the old seeds' pairs give no fit here (see their counts)"
    if not isinstance(new, float) or not old:
        return "no comparison (a fit is missing)"
    lo, hi = min(old), max(old)
    where = "inside" if lo <= new <= hi else ("above" if new > hi else "below")
    if len(old) == 1:  # the other seed's pair has no fit at this target
        return f"{new:,.0f} vs old {lo:,.0f} (one seed's fit): {'equal to' if new == lo else where} it"
    return f"{new:,.0f} vs old {lo:,.0f}-{hi:,.0f}: {where} the old seeds' range"


def compare(candidate: str, json_path: Path | None) -> int:
    by_label = pairs(with_partials("scale"), candidate)
    if not by_label[f"{candidate} s1"]:
        print(f"error: no anchor runs of {candidate} yet; train them: make scale-anchors CANDIDATE={candidate}",
              file=sys.stderr)
        return 2
    rows = compare_rows(by_label)
    for row in rows:
        row["verdict"] = verdict(row, candidate)
    print(table(rows, list(rows[0])))
    if json_path is not None:
        json_path.write_text(json.dumps({"candidate": candidate, "flags": CANDIDATES[candidate], "rows": rows},
                                        indent=1) + "\n")
        print(f"wrote {json_path}")
    return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("run", "compare"))
    p.add_argument("--candidate", required=True)
    p.add_argument("--json", type=Path, default=None, help="with compare: also write the rows here")
    a = p.parse_args()
    if a.candidate not in CANDIDATES or a.candidate == "defaults":
        sys.exit(f"error: unknown candidate {a.candidate!r}; one of: "
                 f"{', '.join(c for c in CANDIDATES if c != 'defaults')}")
    sys.exit(train(a.candidate) if a.action == "run" else compare(a.candidate, a.json))


if __name__ == "__main__":
    main()
