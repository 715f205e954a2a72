"""The scale study's runs and where each crossed a score(100) target: which records belong to the
study, the updates to a target per global batch (a crossing hidden by a resume as the interval it
lies in), and the runs that trained their whole budget without reaching it. benchmarks/plan.py,
predict.py and the plots read the study through here."""
from __future__ import annotations

from pathlib import Path

from common import crossing, furthest_per_run, load, with_partials

# The optimizer every run of the study trained with: the trainer's defaults of its time (Distributed
# BA3C's Adam). A run with other settings, whatever the defaults are when it runs, is not one of its points.
STUDY_OPTIMIZER = {"optimizer": "adam", "learning_rate": 1e-3, "beta1": 0.8, "beta2": 0.75}
OPTIMIZER_FLAGS = {"-o", "--optimizer", "-l", "--learning_rate", "--beta1", "--beta2"}


def study_flags() -> list[str]:
    """train.py flags that pin STUDY_OPTIMIZER, so the study's runs (resumed or new) keep training with
    it whatever the defaults are."""
    o = STUDY_OPTIMIZER
    return ["--optimizer", o["optimizer"], "--learning_rate", f"{o['learning_rate']:g}",
            "--beta1", f"{o['beta1']:g}", "--beta2", f"{o['beta2']:g}"]


def optimizer_of(r: dict) -> dict | None:
    """The optimizer settings (STUDY_OPTIMIZER's keys) a record trained with: its `optimizer` field, or
    in a record from before that field existed (2026-12-06) the defaults of its time, which were
    STUDY_OPTIMIZER, unless its argv set one of them (then None: unknown)."""
    if r.get("optimizer"):
        return {k: r["optimizer"].get(k) for k in STUDY_OPTIMIZER}
    argv = r.get("argv") or []
    if any(a.split("=", 1)[0] in OPTIMIZER_FLAGS for a in argv):
        return None
    return dict(STUDY_OPTIMIZER)


def describe_optimizer(settings: dict) -> str:
    return (f"{settings['optimizer'].capitalize()} beta1 {settings['beta1']:g}, beta2 {settings['beta2']:g}, "
            f"lr {settings['learning_rate']:g}")


def is_scale_run(r: dict) -> bool:
    """A run of the scale study's flags: synchronous, float32 gradients, no learning-rate rule or
    warm-up, no extra flags (a tag: a defaults candidate, a growing batch), the study's optimizer.
    batch-partial/ also holds other studies' runs still going (e.g. --overlap's)."""
    return (not r.get("overlap") and not r.get("tag") and r.get("grad_compression", "none") == "none"
            and r.get("lr_scaling", "none") == "none" and not r.get("lr_warmup")
            and optimizer_of(r) == STUDY_OPTIMIZER)


def study_runs(game: str, partials: bool = True) -> list[dict]:
    """The scale study's runs of `game`: the furthest record of every run folder, finished or (with
    `partials`) still going. The trainer's defaults follow the finished stages only, not curves that
    move every 10 minutes while a run trains."""
    records = with_partials("scale") if partials else load("scale")
    return list(furthest_per_run(r for r in records if r["game"] == game and is_scale_run(r)).values())


def largest_batch(runs: list[dict]) -> int:
    """The largest global batch the study trained: past it the fit is extrapolation alone."""
    return max(int(r["global_batch"]) for r in runs)


def updates_spans_by_batch(runs: list[dict], target: float) -> dict[int, list[float | tuple[float, float]]]:
    """Updates to the target per global batch, one entry per run that reached it: the count when its
    crossing is measured, the interval (lo, hi) it lies in when the run reached it while its score
    was withheld after a resume (censored, common.crossing)."""
    out: dict[int, list[float | tuple[float, float]]] = {}
    for r in runs:
        frames, censored_after = crossing(r["curve"], target)
        if frames is None:
            continue
        per_update = 4 * r["global_batch"]
        out.setdefault(int(r["global_batch"]), []).append(
            frames / per_update if censored_after is None else (censored_after / per_update, frames / per_update))
    return out


def updates_by_batch(runs: list[dict], target: float, censored: bool = False) -> dict[int, list[float]]:
    """Updates to the target per global batch, over the runs whose crossing is measured (the fit's
    points). With `censored`, a censored run counts too, with the upper end of its interval: the
    updates by which it had reached the target, fit for bounds, not for the fit."""
    out: dict[int, list[float]] = {}
    for b, spans in updates_spans_by_batch(runs, target).items():
        kept = [v[1] if isinstance(v, tuple) else v for v in spans if censored or not isinstance(v, tuple)]
        if kept:
            out[b] = kept
    return out


def censored_runs(runs: list[dict], target: float) -> list[str]:
    """The runs that reached the target inside a withheld stretch: '<run> (A-BM frames)'."""
    out = []
    for r in runs:
        frames, after = crossing(r["curve"], target)
        if after is not None:
            out.append(f"{Path(r['run_folder']).name} ({after / 1e6:.2f}-{frames / 1e6:.2f}M frames)")
    return out


def frame_budget(record: dict) -> float | None:
    """The --total_frames a run was started with. Records written before they stored it say it only
    in their argv (None if that does not either)."""
    if record.get("frame_budget") is not None:
        return float(record["frame_budget"])
    argv = record.get("argv") or []
    for i, a in enumerate(argv):
        if a.startswith("--total_frames="):
            return float(a.split("=", 1)[1])
        if a == "--total_frames" and i + 1 < len(argv):
            return float(argv[i + 1])
    return None


def not_reached(runs: list[dict], target: float) -> list[str]:
    """The runs that trained their whole frame budget without reaching the target: 'batch B seed S to
    <F>M frames, best score(100) X'. Runs still going, or stopped early at a lower score by design (a
    stage-1 run stops at 100), are not counted: they may yet reach it."""
    out = []
    for r in sorted(runs, key=lambda r: (r["global_batch"], r.get("seed", 0))):
        budget = frame_budget(r)
        if r.get("bench") == "batch-partial" or budget is None or r["frames"] < budget:
            continue
        if crossing(r["curve"], target)[0] is not None:
            continue
        scores = [p[1] for p in r["curve"] if p[1] is not None]
        best = f", best score(100) {max(scores):.0f}" if scores else ""
        out.append(f"batch {int(r['global_batch']):,} seed {r.get('seed', '?')} to {r['frames'] / 1e6:.1f}M frames"
                   f"{best}")
    return out


if __name__ == "__main__":  # scale_study.sh and overlap_study.sh read the study's flags from here
    print(" ".join(study_flags()))
