#!/usr/bin/env python
"""A batch plan for N one-core ranks, projected without training: the global batch, the time of one
update, and the updates, frames and minutes to score(100) targets, with 5-95% ranges.

    python benchmarks/plan.py --np 1536 [--game Breakout] [--targets 20 100 300] [--global_batch B]
    python benchmarks/plan.py --np 64 --noise_proxy   (before two batches reach a target: the best
        emulators per rank per 1M frames of each run, with its live noise scale standing in for B_crit)
    python train.py --plan 1536 [the usual batch flags]       (the same, for a run's own flags)

- Updates to a target at global batch B: McCandlish et al.'s S(B) = S_min (1 + B_crit / B)
  (ba3c/critical_batch.py), fitted to the scale study's runs (Adam beta1 0.8, beta2 0.75, lr 1e-3) that reached
  the target (benchmarks/results/scale.jsonl, finished runs, and batch-partial/, runs still going),
  with a bootstrap over runs for the range. A target reached at fewer than two batches has no fit,
  and the plan says so instead of guessing.
- Time per update: the compute fit of the last `make bench-scaling` (one core per rank) times the
  expected slowest of N ranks (`make bench-stragglers`), plus OpenMPI's allreduce on 10 GbE and
  InfiniBand EDR, synchronous or with --overlap (benchmarks/update_time.py).
Refuses, in one line, a game the study has no runs for."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from bench_scaling import NETWORKS
from scale_runs import (
    STUDY_OPTIMIZER,
    censored_runs,
    describe_optimizer,
    largest_batch,
    not_reached,
    study_flags,
    study_runs,
    updates_by_batch,
    updates_spans_by_batch,
)
from update_time import draw_ba3c_log_axes, update_seconds

from common import ROOT, SCALE_TARGETS, record, table

sys.path.insert(0, str(ROOT))
from ba3c.critical_batch import TradeOff  # noqa: E402

TARGETS = (20.0, 100.0, 300.0)  # the scores a plan projects unless told otherwise
ENVS_SEARCHED = range(1, 65)  # emulators per rank the batch-plan search considers


def best_envs(ranks: int, fit, network: str, overlap: bool = False, n_step: int = 5) -> tuple[int, float]:
    """The emulators per rank that reach the fit's target in the fewest seconds at `ranks` ranks:
    argmin over e of S(ranks e n_step) x t(e n_step), with S the fitted updates and t the time model's
    update. More emulators buy fewer updates (below B_crit) but a longer update. Returns (e, seconds)."""
    def seconds(e: int) -> float:
        return fit.updates(ranks * e * n_step) * update_seconds(ranks, e * n_step, overlap, network)

    e = min(ENVS_SEARCHED, key=seconds)
    return e, seconds(e)


def grow_thresholds(ranks: int, network: str, n_step: int = 5, start: int = 1, last: int = 16) -> dict[int, float]:
    """--grow_envs at `ranks` one-core ranks: for each b from `start` up to `last`, the noise scale above
    which doubling b emulators per rank pays (ba3c/grow.py's rule with this module's update time)."""
    from ba3c.grow import doubling_pays

    def seconds(e: int) -> float:
        return update_seconds(ranks, e * n_step, False, network)

    out, b = {}, start
    while b <= last:
        lo, hi = 1.0, 1e9  # doubling pays for every B_crit above the threshold (S(B) t falls faster in b)
        for _ in range(60):
            mid = (lo * hi) ** 0.5
            lo, hi = (lo, mid) if doubling_pays(b, ranks, n_step, mid, seconds) else (mid, hi)
        out[b] = hi
        b *= 2
    return out


def print_grow_thresholds(ranks: int, n_step: int) -> None:
    for network in NETWORKS:
        steps = ", ".join(f"{b}->{2 * b} above {t:,.0f}" for b, t in grow_thresholds(ranks, network, n_step).items())
        print(f"--grow_envs at {ranks:,} ranks, {network}: emulators per rank double {steps} (noise scale)")


def target_fits(runs: list[dict], target: float) -> tuple[dict[int, list], list]:
    """The runs' updates to the target per batch (censored ones as intervals), and the bootstrap's
    fits of them (empty: no fit, which needs the target measured at two batches and 100 resamples
    that fit the model). A censored run stays out of the fit's point but spreads its range."""
    from ba3c.critical_batch import bootstrap_tradeoff

    spans = updates_spans_by_batch(runs, target)
    fits = bootstrap_tradeoff(spans, n=500) if len(updates_by_batch(runs, target)) >= 2 else []
    return spans, (fits if len(fits) >= 100 else [])


def no_fit(target: float, by_batch: dict, runs: list[dict] = ()) -> str:
    from ba3c.critical_batch import try_fit_medians

    reached = ", ".join(f"{b:,}" for b in sorted(by_batch)) or "none"
    why = try_fit_medians(by_batch)[1] if len(by_batch) >= 2 else "the model needs two"
    line = f"score {target:g}: no fit (reached at batch(es) {reached}; {why})"
    if short := not_reached(list(runs), target):
        line += f"; not reached by {'; '.join(short)}"
    return line


def censored_note(runs: list[dict], target: float, fitted: bool = False) -> str | None:
    names = censored_runs(runs, target)
    how = "in the range only, as an interval" if fitted else "left out"
    return (f"score {target:g}: {how}, reached while the score was withheld after a resume: {', '.join(names)}"
            if names else None)


def fitted_targets(runs: list[dict], targets):
    """(target, updates by batch, bootstrap fits) for each target with a fit; for the others, and for
    runs left out as censored, one line each on stdout."""
    for target in targets:
        spans, fits = target_fits(runs, target)
        if note := censored_note(runs, target, fitted=bool(fits)):
            print(note)
        if fits:
            yield target, spans, fits
        else:
            print(no_fit(target, updates_by_batch(runs, target), runs))


def no_runs(game: str) -> int:
    print(f"error: the scale study has no runs of {game} (benchmarks/results/scale.jsonl, batch-partial/); "
          f"run them first: make scale-study", file=sys.stderr)
    return 2


def updates_quantiles(fits_by_target: dict[float, list[TradeOff]], batch: int
                      ) -> dict[float, tuple[float, float, float, float | None]]:
    """5 / 50 / 95% of the bootstrap fits' updates to each target at this global batch, as (lo, mid,
    hi, floored_by). A run passes every lower score(100) first, so each is at least the next lower
    target's; where a target's own fit gives fewer (it rests on other batches and extrapolates here),
    its figures are raised to that target's, named in floored_by (else None)."""
    out: dict[float, tuple[float, float, float, float | None]] = {}
    floor, below = (0.0, 0.0, 0.0), None
    for target in sorted(fits_by_target):
        q = np.percentile([f.updates(batch) for f in fits_by_target[target]], [5, 50, 95])
        raised = below if q[1] < floor[1] else None
        lo, mid, hi = (float(max(a, b)) for a, b in zip(q, floor))
        out[target] = (lo, mid, hi, raised)
        floor, below = (lo, mid, hi), target
    return out


def floored_note(target: float, below: float, batch: int) -> str:
    return (f"score {target:g}: its fit gives fewer updates at batch {batch:,} than the fit to {below:g} (it "
            f"extrapolates from other batches), so the figures are at least those to {below:g}: a run passes "
            f"{below:g} first")


def optimizer_settings(cfg=None) -> dict:
    """A run's optimizer settings (a ba3c.config.Config; None = the trainer's defaults), in
    STUDY_OPTIMIZER's keys."""
    from ba3c.config import Config

    return {k: getattr(Config() if cfg is None else cfg, k) for k in STUDY_OPTIMIZER}


def optimizer_note(optimizer: dict, whose: str) -> str | None:
    """One line when `optimizer` is not the study's: the projections hold for the study's optimizer
    only (the critical batch and S_min move with it), so say which flags train with that one."""
    if optimizer == STUDY_OPTIMIZER:
        return None
    return (f"{whose} {describe_optimizer(optimizer)}: these projections are for the study's optimizer; "
            f"train with {' '.join(study_flags())} to follow them (make anchors-table: the two at batches 80 "
            f"and 1,280)")


def report(ranks: int, game: str, plan, targets: tuple[float, ...] = TARGETS, cfg=None) -> int:
    """Print the plan and its projections; 2 (with one line on stderr) for a game without study runs.
    `cfg`: the run's Config (train.py --plan), whose optimizer the note reads; None = the defaults."""
    runs = study_runs(game)
    if not runs:
        return no_runs(game)
    B = plan.global_batch
    print(f"{ranks:,} ranks: {plan.summary()}")
    print(f"study: {len(runs)} run(s) of {game} at global batches "
          f"{', '.join(f'{b:,}' for b in sorted({int(r['global_batch']) for r in runs}))}, "
          f"all trained with {describe_optimizer(STUDY_OPTIMIZER)}")
    if note := optimizer_note(optimizer_settings(cfg),
                              "the trainer's defaults are now" if cfg is None else "these flags train with"):
        print(note)
    rows, caveats = [], []
    found = list(fitted_targets(runs, sorted(targets)))
    fitted = [target for target, _, _ in found]
    quantiles = updates_quantiles({target: fits for target, _, fits in found}, B)
    for target, by_batch, _ in found:
        lo, mid, hi, below = quantiles[target]
        if single := sorted(b for b, u in by_batch.items() if len(u) == 1):
            caveats.append(f"score {target:g}: one run at batch(es) {', '.join(f'{b:,}' for b in single)}, "
                           f"so the ranges carry no seed spread from there: they understate the uncertainty")
        if below is not None:
            caveats.append(floored_note(target, below, B))
        for network in NETWORKS:
            for overlap in (False, True):
                t = update_seconds(ranks, plan.rank_batch, overlap, network)
                rows.append({"target": f"{target:g}", "network": network, "overlap": overlap, "update_ms": 1000 * t,
                             "updates": f"{mid:,.0f} ({lo:,.0f}-{hi:,.0f})",
                             "frames": f"{4 * B * mid / 1e6:.1f}M ({4 * B * lo / 1e6:.1f}-{4 * B * hi / 1e6:.1f})",
                             "minutes": f"{mid * t / 60:.1f} ({lo * t / 60:.1f}-{hi * t / 60:.1f})"})
    if rows:
        print(table(rows, ["target", "network", "overlap", "update_ms", "updates", "frames", "minutes"]))
        for line in caveats:
            print(line)
        print_best_envs(ranks, plan, runs, fitted)
    for target in (t for t in targets if t not in fitted):
        if line := upper_bound(ranks, plan, updates_by_batch(runs, target, censored=True), target):
            print(line)
    print_grow_thresholds(ranks, plan.n_step)
    return 0


def upper_bound(ranks: int, plan, by_batch: dict[int, list[float]], target: float) -> str | None:
    """For a target without a fit: the updates by which the largest batch not above the plan's had
    reached it (updates_by_batch with censored crossings; the most of its runs), which bound the
    plan's updates from above if a larger batch never needs more updates (true at every target the
    study has fitted), and the minutes they take (synchronous). None if no batch at or below the
    plan's reached the target."""
    below = [b for b in by_batch if b <= plan.global_batch]
    if not below:
        return None
    b = max(below)
    updates = float(max(by_batch[b]))
    minutes = " / ".join(f"{updates * update_seconds(ranks, plan.rank_batch, False, n) / 60:.1f} ({n})"
                         for n in NETWORKS)
    return (f"score {target:g}: bound: batch {b:,} had reached it by {updates:,.0f} updates; if a larger batch needs "
            f"no more, batch {plan.global_batch:,} takes at most {updates:,.0f} updates, {minutes} minutes")


def print_best_envs(ranks: int, plan, runs: list[dict], targets: list[float]) -> None:
    """The batch plan that minimises minutes rather than frames, per target (the fit of the medians),
    against this plan; and how much the best emulators per rank grow from the first target to the last."""
    from ba3c.critical_batch import try_fit_medians

    rows, best = [], {}
    fits = {t: fit for t in targets if (fit := try_fit_medians(updates_by_batch(runs, t))[0]) is not None}
    if not fits:
        return
    targets = list(fits)
    for target, fit in fits.items():
        for network in NETWORKS:
            e, sec = best_envs(ranks, fit, network, n_step=plan.n_step)
            here = fit.updates(plan.global_batch) * update_seconds(ranks, plan.rank_batch, False, network)
            best[(target, network)] = e
            rows.append({"target": f"{target:g}", "network": network, "best_envs_per_rank": e,
                         "global_batch": ranks * e * plan.n_step, "minutes": round(sec / 60, 1),
                         f"minutes_at_{plan.envs_per_rank}_envs": round(here / 60, 1)})
    print(f"fewest minutes (synchronous; emulators per rank searched {ENVS_SEARCHED.start}-{ENVS_SEARCHED.stop - 1}):")
    print(table(rows, list(rows[0])))
    largest = largest_batch(runs)
    if beyond := sorted({r["global_batch"] for r in rows if r["global_batch"] > largest}):
        listed = ", ".join(f"{b:,}" for b in beyond)
        print(f"global batch {listed}: beyond the study's largest ({largest:,}), where the fit is extrapolation "
              f"only (the default plan goes past it only at one emulator per rank)")
    if len(targets) > 1:
        for network in NETWORKS:
            first, last = best[(targets[0], network)], best[(targets[-1], network)]
            print(f"{network}: the best emulators per rank go from {first} (score {targets[0]:g}) to {last} "
                  f"(score {targets[-1]:g}): x{last / first:.1f}")


DEFAULTS_NETWORK = "10GbE TCP"  # the commodity network: the plan a user gets without knowing theirs
DEFAULTS_GAME = "breakout"  # the game the scale study trains


def derive_default_envs(runs: list[dict], n_step: int = 5
                        ) -> tuple[float, tuple[tuple[int, int], ...], int, list[dict]]:
    """The batch plan's defaults from the study: for each rank count of ba3c/batch_plan.py's table (its
    rank steps are kept; the emulators are derived), the emulators per rank that reach the furthest
    score(100) target with a fit (measured at two batches or more, and following the model) in the
    fewest minutes on 10 GbE, synchronous (best_envs), never more than the default 16 per rank that
    the learning rate and the shipped models were tuned at, nor more than keep the global batch within
    the largest the study trained (the fit is not extrapolated). Returns (target, table of (from ranks,
    emulators per rank), the largest global batch, one row per rank count for the printout)."""
    from ba3c.batch_plan import DEFAULT_ENVS_BY_RANKS, DEFAULT_ENVS_PER_RANK
    from ba3c.critical_batch import try_fit_medians

    fitted = {t: fit for t in SCALE_TARGETS if (fit := try_fit_medians(updates_by_batch(runs, t))[0]) is not None}
    if not fitted:
        raise SystemExit("no score(100) target is measured at two batches (and fits the model) yet: make scale-study")
    target = float(max(fitted))
    fit = fitted[max(fitted)]
    largest = largest_batch(runs)
    steps, rows = [], []
    for ranks, _ in DEFAULT_ENVS_BY_RANKS:
        best, _ = best_envs(ranks, fit, DEFAULTS_NETWORK, n_step=n_step)
        envs = max(1, min(best, DEFAULT_ENVS_PER_RANK, largest // (n_step * ranks)))
        old = max(1, min(DEFAULT_ENVS_PER_RANK, 640 // (n_step * ranks)))  # the rule before: global batch <= 640

        def minutes(e: int) -> float:
            return fit.updates(ranks * e * n_step) * update_seconds(ranks, e * n_step, False, DEFAULTS_NETWORK) / 60

        steps.append((ranks, envs))
        rows.append({"from_ranks": ranks, "best_envs": best, "default_envs": envs,
                     "global_batch": ranks * envs * n_step, "minutes": round(minutes(envs), 2),
                     "cap_640_envs": old, "minutes_cap_640": round(minutes(old), 2)})
    return target, tuple(steps), largest, rows


def print_defaults(runs: list[dict]) -> int:
    """Print the derived defaults beside ba3c/batch_plan.py's; 1 if they differ (then paste the line)."""
    from ba3c.batch_plan import (
        DEFAULT_ENVS_BY_RANKS,
        DEFAULT_ENVS_PER_RANK,
        DEFAULT_MAX_GLOBAL_BATCH,
        DEFAULT_PLAN_TARGET,
    )

    target, steps, largest, rows = derive_default_envs(runs)
    print(f"emulators per rank with no batch flags: fewest minutes to score(100) {target:g} ({DEFAULTS_NETWORK}, "
          f"synchronous) by the fit of {len(runs)} finished study runs, at most {DEFAULT_ENVS_PER_RANK} per rank "
          f"and a global batch of at most {largest:,} (the study's largest)")
    print(table(rows, list(rows[0])))
    if (steps, target, largest) == (DEFAULT_ENVS_BY_RANKS, DEFAULT_PLAN_TARGET, DEFAULT_MAX_GLOBAL_BATCH):
        print("ba3c/batch_plan.py's defaults match")
        return 0
    print(f"ba3c/batch_plan.py differs; set DEFAULT_PLAN_TARGET = {target:g}, DEFAULT_MAX_GLOBAL_BATCH = {largest},"
          f"\nDEFAULT_ENVS_BY_RANKS = {steps}")
    return 1


SWEEP_RANKS = (8, 24, 64, 128, 256, 512, 768, 1024, 1536)


def sweep(game: str, targets: tuple[float, ...], output: Path) -> int:
    """Minutes to each fitted target against one-core ranks, each count with its default batch plan,
    synchronous (--overlap is off by default: docs/scaling.md), with the fit's 5-95% range: printed,
    appended to results/plan_sweep.jsonl and drawn beside BA3C's published times."""
    from ba3c.batch_plan import plan_batch

    runs = study_runs(game)
    if not runs:
        return no_runs(game)
    rows = []
    found = list(fitted_targets(runs, sorted(targets)))
    fits_by_target = {target: fits for target, _, fits in found}
    plans = {ranks: plan_batch(ranks, None, None, None, None, "auto") for ranks in SWEEP_RANKS}
    quantiles = {ranks: updates_quantiles(fits_by_target, plan.global_batch) for ranks, plan in plans.items()}
    for target, by_batch, _ in found:
        for ranks, plan in plans.items():
            lo, mid, hi, below = quantiles[ranks][target]
            for network in NETWORKS:
                t = update_seconds(ranks, plan.rank_batch, False, network)
                rows.append({"target": f"{target:g}", "ranks": ranks, "global_batch": plan.global_batch,
                             "network": network, "updates": round(mid),
                             "frames_M": round(4 * plan.global_batch * mid / 1e6, 2),
                             "update_ms": round(1000 * t, 1), "minutes": round(mid * t / 60, 2),
                             "minutes_5": round(lo * t / 60, 2), "minutes_95": round(hi * t / 60, 2),
                             "runs_per_batch": {str(b): len(u) for b, u in sorted(by_batch.items())},
                             "at_least_updates_to": below})
    if not rows:
        return 0
    print(table(rows, ["target", "ranks", "global_batch", "network", "updates", "frames_M", "update_ms", "minutes",
                       "minutes_5", "minutes_95", "at_least_updates_to"]))
    record("plan_sweep", rows, {"game": game, "runs": [Path(r["run_folder"]).name for r in runs]})
    plot_sweep(rows, output)
    print(f"wrote {output}")
    return 0


def plot_sweep(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    keys = sorted({(r["target"], r["network"]) for r in rows}, key=lambda k: (float(k[0]), k[1]))
    for i, (target, network) in enumerate(keys):
        rs = [r for r in rows if (r["target"], r["network"]) == (target, network)]
        x = [r["ranks"] for r in rs]
        style = "-" if network.startswith("10GbE") else "--"
        ax.plot(x, [r["minutes"] for r in rs], f"C{i // 2}{style}", label=f"score {target}, {network}")
        ax.fill_between(x, [r["minutes_5"] for r in rs], [r["minutes_95"] for r in rs], color=f"C{i // 2}", alpha=0.15)
    draw_ba3c_log_axes(ax)
    ax.set_xlabel("one-core ranks (default batch plan)")
    ax.set_ylabel("projected minutes to Breakout score(100)")
    ax.set_title("The scale study's fit S(B) = S_min (1 + B_crit / B) x the time model's update, synchronous;\n"
                 "bands: 5-95% bootstrap over runs. * = BA3C as published, to its own (higher) target", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def noise_windows(run: dict, window: float = 1e6) -> list[tuple[float, float, float | None]]:
    """(first frame, median noise scale B_simple, mean score(100)) of each `window` frames of a run's
    curve that logged at least 5 positive noise-scale readings (single readings swing by 10x)."""
    out = []
    last = run["curve"][-1][0] if run["curve"] else 0
    for lo in np.arange(0.0, last, window):
        rows = [(s, n) for f, s, n, *_ in run["curve"] if lo <= f < lo + window]
        noise = [n for _, n in rows if n is not None and n > 0]
        scores = [s for s, _ in rows if s is not None]
        if len(noise) >= 5:
            out.append((float(lo), float(np.median(noise)), float(np.mean(scores)) if scores else None))
    return out


def print_noise_proxy(ranks: int, runs: list[dict], n_step: int = 5) -> None:
    """The minutes-minimising emulators per rank along each run, from its live noise scale as B_crit
    (McCandlish et al. find B_simple >= B_crit on Atari, so this leans to larger batches): whether the
    best plan grows during training before the fit of two batches can say so."""
    rows = []
    for r in sorted(runs, key=lambda r: (r["global_batch"], r["seed"])):
        for lo, b_simple, score in noise_windows(r):
            proxy = TradeOff(s_min=1.0, b_crit=b_simple)
            rows.append({"run": Path(r["run_folder"]).name, "frames": f"{lo / 1e6:.0f}-{lo / 1e6 + 1:.0f}M",
                         "score": "-" if score is None else round(score, 1), "B_simple": round(b_simple),
                         **{f"best_envs {n}": best_envs(ranks, proxy, n, n_step=n_step)[0] for n in NETWORKS}})
    if not rows:
        print("no run has 5 noise-scale readings in any 1M frames yet")
        return
    print(f"{ranks:,} ranks: emulators per rank (searched {ENVS_SEARCHED.start}-{ENVS_SEARCHED.stop - 1}) that "
          f"minimise (1 + B_simple / B) x t(B) per 1M frames, B_simple = median of the window's readings")
    print(table(rows, list(rows[0])))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--np", type=int, help="one-core ranks")
    p.add_argument("--sweep", action="store_true",
                   help=f"instead: minutes to each target at {', '.join(map(str, SWEEP_RANKS))} ranks, "
                        f"printed, recorded and drawn to --output")
    p.add_argument("--output", type=Path, default=ROOT / "docs" / "plan-minutes.png")
    p.add_argument("--game", default="Breakout")
    p.add_argument("--targets", type=float, nargs="+", default=list(TARGETS))
    p.add_argument("--global_batch", type=int, default=None, help="another plan than the default one")
    p.add_argument("--defaults", action="store_true",
                   help="instead: the emulators per rank the trainer defaults to at each rank count, derived from "
                        "the finished study runs, against ba3c/batch_plan.py's (exit 1 if they differ)")
    p.add_argument("--noise_proxy", action="store_true",
                   help="instead: the best emulators per rank along each study run, from its live noise scale")
    a = p.parse_args()
    from ba3c.batch_plan import plan_batch
    from ba3c.errors import UserError
    from ba3c.games import resolve_game

    if a.defaults:
        sys.exit(print_defaults(study_runs(DEFAULTS_GAME, partials=False)))
    if a.sweep:
        try:
            game = resolve_game(a.game)
        except UserError as e:
            sys.exit(f"error: {e}")
        sys.exit(sweep(game, tuple(a.targets), a.output))
    if a.np is None:
        p.error("--np N is required (or --sweep)")
    try:
        game = resolve_game(a.game)
        plan = plan_batch(a.np, None, None, None, a.global_batch, "auto")
    except UserError as e:
        sys.exit(f"error: {e}")
    if a.noise_proxy:
        runs = study_runs(game)
        if not runs:
            sys.exit(f"error: the scale study has no runs of {game}; run them first: make scale-study")
        return print_noise_proxy(a.np, runs, plan.n_step)
    sys.exit(report(a.np, game, plan, a.targets))


if __name__ == "__main__":
    main()
