#!/usr/bin/env python
"""The overlap study's verdict: frames to Breakout score(100) 20 and the score at 3M frames, per
global batch and arm (--overlap or synchronous), from benchmarks/results/overlap.jsonl.

    python benchmarks/overlap_decision.py [--results overlap] [--target 20] [--json out.json]

Only runs of the study's settings count: recorded on or after DEFAULTS_SINCE (the mean screen became
the default then; the study's earlier records trained on the raw screen), with the scale study's
flags apart from --overlap (no learning-rate rule or warm-up, float32 gradients), the newest record
of each run folder. A run that never reached the target within its frames counts as reaching it
at its last frame, so its arm's mean is a lower bound (marked >=). At a batch where some run did
not reach the target (batch 1,280 reaches 20 only after ~6M frames), the arms are compared at the
highest score of LADDER that every run of both arms reached, said so in the output; if the --overlap
runs reached none of it, at the highest that every synchronous run reached, with the --overlap mean
a lower bound (its frames ratio too: --overlap then wins nowhere its update speedup does not beat
that bound). The score at 3M frames is compared too (the --overlap mean against the synchronous range).

The rule (the overlap issue's): --overlap's cost is inside the seed spread at a batch when the mean
frames to the target of the --overlap arm is not above the synchronous arm's range over seeds. Not
above at every batch studied: overlap may become the default for multi-rank runs. Either way it prints
where --overlap wins in minutes to the target: at N ranks its update is faster by the time model's
ratio (benchmarks/plan.py: compute fit, stragglers, allreduce on 10 GbE / InfiniBand), and it wins
when that ratio exceeds its frames ratio (overlap mean / synchronous mean, at the studied batch
nearest the plan's global batch)."""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from bench_scaling import NETWORKS
from plot_batch import at_frames
from scale_runs import is_scale_run
from update_time import update_seconds

from common import RESULTS, first_frames, load, table

DEFAULTS_SINCE = "2026-11-25"
AT_FRAMES = 3e6
LADDER = (15, 10, 8, 6, 5, 4, 3)  # lower targets for a batch whose runs did not all reach --target


@dataclass(frozen=True)
class Arm:
    batch: int
    overlap: bool
    seeds: tuple[int, ...]
    frames_to: tuple[float, ...]  # per seed; a run that did not reach the target: its last frame
    reached: tuple[bool, ...]
    score_at: tuple[float | None, ...]  # score(100) at AT_FRAMES per seed

    @property
    def mean(self) -> float:
        return sum(self.frames_to) / len(self.frames_to)

    @property
    def censored(self) -> bool:
        return not all(self.reached)


def study_runs(records: list[dict], game: str = "breakout") -> list[dict]:
    """The newest record of each run folder that trained the mean screen with the scale study's flags."""
    latest: dict[str, dict] = {}
    for r in sorted(records, key=lambda r: r["time"]):
        # the scale study's flags apart from --overlap
        if r["game"] == game and r["time"] >= DEFAULTS_SINCE and is_scale_run({**r, "overlap": False}):
            latest[r["run_folder"]] = r
    return list(latest.values())


def arms(runs: list[dict], target: float) -> list[Arm]:
    groups: dict[tuple[int, bool], list[dict]] = {}
    for r in runs:
        groups.setdefault((int(r["global_batch"]), bool(r.get("overlap"))), []).append(r)
    out = []
    for (batch, overlap), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["seed"])
        firsts = [first_frames(((c[0], c[1]) for c in r["curve"]), target) for r in rs]
        out.append(Arm(batch, overlap, tuple(r["seed"] for r in rs),
                       tuple(f if f is not None else r["frames"] for f, r in zip(firsts, rs)),
                       tuple(f is not None for f in firsts), tuple(at_frames(r["curve"], AT_FRAMES, 1) for r in rs)))
    return out


def common_target(runs: list[dict], target: float, ladder: tuple[float, ...] = LADDER) -> float | None:
    """`target` if every run reached it, else the highest score of `ladder` below it that every run
    reached (None: not even the lowest)."""
    for t in (target, *(x for x in ladder if x < target)):
        if all(first_frames(((c[0], c[1]) for c in r["curve"]), t) is not None for r in runs):
            return t
    return None


def comparison_target(runs: list[dict], target: float) -> tuple[float, str]:
    """(score to compare frames at, basis): 'all' if every run of both arms reached it; 'synchronous'
    if only the synchronous runs all did (then the --overlap runs that did not are censored at their
    last frame: a lower bound); 'none' (at `target`) if not even the synchronous runs reached 3."""
    every = common_target(runs, target)
    if every is not None:
        return every, "all"
    synchronous = common_target([r for r in runs if not r.get("overlap")], target)
    return (synchronous, "synchronous") if synchronous is not None else (target, "none")


def ratio_bound(overlapped: Arm, synchronous: Arm) -> str:
    """What the arms' frames ratio is: 'measured'; a 'lower bound' (an --overlap run never got there,
    so counts at its last frame); 'unknown' (a synchronous run never got there)."""
    return "unknown" if synchronous.censored else "lower bound" if overlapped.censored else "measured"


def place(value: float, spread: list[float] | tuple[float, ...]) -> str:
    """Where `value` lies against the range of `spread`: 'below', 'inside' or 'above'."""
    return "below" if value < min(spread) else "above" if value > max(spread) else "inside"


def score_verdict(overlapped: Arm, synchronous: Arm) -> tuple[float, str] | None:
    """(synchronous mean - overlap mean of score(100) at AT_FRAMES; where the overlap mean lies against
    the synchronous seeds' scores). Here 'below' is the cost beyond the spread. None without scores."""
    over = [s for s in overlapped.score_at if s is not None]
    sync = [s for s in synchronous.score_at if s is not None]
    if not over or not sync:
        return None
    mean = sum(over) / len(over)
    return sum(sync) / len(sync) - mean, place(mean, sync)


def verdict(overlapped: Arm, synchronous: Arm) -> tuple[float, str]:
    """(cost in frames: overlap mean - synchronous mean; where the overlap mean lies against the
    synchronous seeds' range: 'below', 'inside' or 'above'). Only 'above' is a cost beyond the spread."""
    return overlapped.mean - synchronous.mean, place(overlapped.mean, synchronous.frames_to)


def minutes_table(verdicts: dict, found: list[Arm], ranks_list: tuple[int, ...] = (64, 256, 768, 1536)) -> list[dict]:
    """Per rank count and network: the update-time gain of --overlap and its frames cost; prints a table.
    A frames ratio from a censored --overlap arm is a lower bound: --overlap then loses where the
    speedup does not beat it, and is undecided (None) where it does."""
    if not verdicts:
        return []
    from ba3c.batch_plan import plan_batch

    by_key = {(arm.batch, arm.overlap): arm for arm in found}
    rows = []
    for ranks in ranks_list:
        plan = plan_batch(ranks)
        batch = min(verdicts, key=lambda b: abs(b - plan.global_batch))
        over, sync = by_key[(batch, True)], by_key[(batch, False)]
        frames_ratio = over.mean / sync.mean
        bound = ratio_bound(over, sync)
        for network in NETWORKS:
            t_sync, t_over = (update_seconds(ranks, plan.rank_batch, o, network) for o in (False, True))
            speedup = t_sync / t_over
            if bound == "measured":
                wins = speedup > frames_ratio
            else:  # a bound decides only against --overlap
                wins = False if bound == "lower bound" and speedup <= frames_ratio else None
            rows.append({"ranks": ranks, "global_batch": plan.global_batch, "network": network,
                         "update_ms_sync": round(1000 * t_sync, 1), "update_ms_overlap": round(1000 * t_over, 1),
                         "speedup": round(speedup, 3), "frames_ratio": round(frames_ratio, 3), "ratio_is": bound,
                         "from_batch": batch, "overlap_wins": wins})
    print(table(rows, list(rows[0])))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", default="overlap")
    p.add_argument("--target", type=float, default=20)
    p.add_argument("--json", default=None, help="also write the table and verdicts here")
    a = p.parse_args()
    path = RESULTS / f"{a.results}.jsonl"
    records = load(a.results)
    runs = study_runs(records)
    if not runs:
        raise SystemExit(f"no runs of the study's settings in {path}; run make overlap-study first")
    found, targets, bases = [], {}, {}
    for batch in sorted({int(r["global_batch"]) for r in runs}):
        at_batch = [r for r in runs if int(r["global_batch"]) == batch]
        targets[batch], bases[batch] = comparison_target(at_batch, a.target)
        found += arms(at_batch, targets[batch])
    print("| global batch | arm | seeds | frames to target per seed | mean | range | score(100) @3M per seed |")
    print("|---|---|---|---|---|---|---|")
    for arm in found:
        per_seed = ", ".join(f"{f / 1e6:.2f}M" + ("" if ok else " (not reached)")
                             for f, ok in zip(arm.frames_to, arm.reached))
        scores = ", ".join("-" if s is None else f"{s:.1f}" for s in arm.score_at)
        print(f"| {arm.batch:,} | {'--overlap' if arm.overlap else 'synchronous'} | "
              f"{', '.join(map(str, arm.seeds))} | {targets[arm.batch]:g}: {per_seed} | "
              f"{'>=' if arm.censored else ''}{arm.mean / 1e6:.2f}M | "
              f"{min(arm.frames_to) / 1e6:.2f}-{max(arm.frames_to) / 1e6:.2f}M | {scores} |")
    verdicts = {}
    for batch in sorted({arm.batch for arm in found}):
        t = f"{targets[batch]:g}"
        ladder = "/".join(f"{x:g}" for x in LADDER)
        if bases[batch] == "synchronous":
            print(f"batch {batch:,}: some --overlap run reached none of {a.target:g}/{ladder}; compared at score(100) "
                  f"{t}, the highest every synchronous run reached: the --overlap frames are lower bounds")
        elif bases[batch] == "none":
            print(f"batch {batch:,}: some synchronous run reached none of {a.target:g}/{ladder}: "
                  "no comparison in frames")
        elif targets[batch] != a.target:
            print(f"batch {batch:,}: not every run reached {a.target:g}; compared at score(100) {t}, the highest "
                  f"of {ladder} that every run reached")
        pair = {arm.overlap: arm for arm in found if arm.batch == batch}
        if len(pair) < 2:
            print(f"batch {batch:,}: only the {'--overlap' if True in pair else 'synchronous'} arm so far")
            continue
        cost, where = verdict(pair[True], pair[False])
        verdicts[batch] = {"target": targets[batch], "reached_by": bases[batch], "cost_frames": cost,
                           "cost_is_lower_bound": ratio_bound(pair[True], pair[False]) == "lower bound",
                           "against_synchronous_range": where,
                           "seeds": {"overlap": len(pair[True].seeds), "synchronous": len(pair[False].seeds)}}
        at_least = "at least " if verdicts[batch]["cost_is_lower_bound"] else ""
        print(f"batch {batch:,}: --overlap needs {at_least}{cost / 1e6:+.2f}M frames to {t} on average "
              f"({len(pair[True].seeds)} vs {len(pair[False].seeds)} seeds): "
              f"its mean is {where} the synchronous seeds' range")
        by_score = score_verdict(pair[True], pair[False])
        if by_score is not None:
            verdicts[batch].update(score_cost_at_3m=by_score[0], score_against_synchronous_range=by_score[1])
            print(f"batch {batch:,}: at 3M frames --overlap scores {by_score[0]:.1f} lower on average; its mean is "
                  f"{by_score[1]} the synchronous seeds' scores")
    wins = minutes_table(verdicts, found)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"target": a.target, "targets": {str(b): t for b, t in targets.items()},
                       "arms": [arm.__dict__ for arm in found],
                       "verdicts": {str(b): v for b, v in verdicts.items()}, "minutes": wins}, f, indent=1)


if __name__ == "__main__":
    main()
