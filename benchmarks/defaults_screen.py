#!/usr/bin/env python
"""The robust-defaults screen: candidate flag sets, each trained on the same games and seeds for the
same frame budget, one run at a time (resumable, like every study here), then one table of frames to
a per-game threshold and the score at the end.

Why these candidates (the measurements behind each are in models/README.md):
    defaults      the trainer's defaults when the screen ran (Distributed BA3C's Adam: beta1 0.8, beta2 0.75,
                  lr 1e-3), the reference every candidate is read against; explicit since adam-0.99
                  replaced them (the name stays: it names the screen's runs and records).
    adam-ppo      PPO's Atari optimizer in full: Adam with its usual memory (beta1 0.9, beta2 0.999)
                  at 2.5e-4 annealed linearly to 0 over the run, epsilon 1e-5, the global gradient norm
                  clipped at 0.5. The defaults' beta2 0.75 at a constant 1e-3 moves every weight by ~lr
                  per update, the suspect behind Boxing's feature collapse and Breakout's policy
                  collapses (batch 80 seed 1 of the scale study: score(100) 261 at 12.9M frames, then
                  106-253 to 40M).
    adam-0.99     Adam with beta1 0.9, beta2 0.99 at half the default rate, the defaults' clip: the
                  middle ground, one family of change (the optimizer's memory and step) at a time.
    rmsprop-a2c   A2C's optimizer and clip (RMSProp, TF1 form, lr 7e-4 annealed linearly to 0 over the
                  run as OpenAI baselines' A2C does, epsilon 1e-5, the global gradient norm clipped at
                  0.5; A2C's value weight is already ours): the one setting that learned Boxing (raw
                  screen, constant rate, from ~10M frames), slow on Breakout on the raw screen.
The two published settings anneal their rate to 0 at the run's --total_frames (the screen's budget
here), as PPO and A2C do on Atari; defaults and adam-0.99 keep a constant rate, so the screen also
reads whether annealing is what the defaults lack.
Games: Breakout (the trainer's reference), Boxing (the defaults do not learn it), Space Invaders (it
drifts back towards a uniform policy), and Pong, outside the six showcase games: like Boxing, a game
where a near-random player wins and loses points about equally, and the most common reference curve
for A2C/A3C.

Threshold per game, one rule for all: score(100) at 25% of the way from random play to the human score
(ba3c/scores.py): Breakout 8.9, Boxing 3.1, Space Invaders 528, Pong -11.9. "End" is the mean
score(100) over the last 10% of a run's frames, so one lucky row does not decide it.

    python benchmarks/defaults_screen.py run [--frames 5e6] [--seeds 1] [--candidates ...] [--games ...]
    python benchmarks/defaults_screen.py table [--json results/screen-table.json]
    python benchmarks/defaults_screen.py list
Runs go to benchmarks/runs/<game>-b80-none-s<seed>-<candidate>; finished runs to
benchmarks/results/screen.jsonl, curves so far to benchmarks/results/batch-partial/ every 10 minutes,
with the newest checkpoint to benchmarks/carry/ (commit both before a machine goes: a rerun on a new
machine skips the runs screen.jsonl holds and resumes the carried one).
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys

from scale_runs import study_flags

from common import ROOT, first_frames, furthest_per_run, table, with_partials

CANDIDATES: dict[str, list[str]] = {
    # the defaults the screen ran until 2026-12-06: Distributed BA3C's Adam, the scale study's optimizer too
    "defaults": study_flags(),
    "adam-ppo": ["--beta1", "0.9", "--beta2", "0.999", "-l", "2.5e-4", "--lr_schedule", "linear", "--epsilon", "1e-5",
                 "--clip_mode", "global_norm", "--grad_clip", "0.5"],
    "adam-0.99": ["--beta1", "0.9", "--beta2", "0.99", "-l", "5e-4"],
    "rmsprop-a2c": ["-o", "rmsprop", "--rms_form", "tf1", "-l", "7e-4", "--lr_schedule", "linear", "--epsilon",
                    "1e-5", "--clip_mode", "global_norm", "--grad_clip", "0.5"],
}
GAMES = ("Boxing", "Breakout", "SpaceInvaders", "Pong")
THRESHOLD_FRACTION = 0.25  # of the way from random play to the human score
END_FRACTION = 0.1  # "end" = the mean score(100) over the last 10% of the run's frames
GLOBAL_BATCH = 80


def game_key(name: str) -> str:
    """'SpaceInvaders' / 'space_invaders' / 'spaceinvaders' -> the scores table's key."""
    from ba3c.scores import RANDOM_HUMAN

    squashed = name.lower().replace("_", "").replace("-", "")
    for key in RANDOM_HUMAN:
        if key.replace("_", "") == squashed:
            return key
    raise KeyError(name)


def check_games(games: list[str]) -> None:
    """Stop in one line on a game outside the 57 with random and human scores."""
    for g in games:
        try:
            game_key(g)
        except KeyError:
            sys.exit(f"game {g!r} has no random/human scores in ba3c/scores.py, so no threshold; pick one of the 57")


def fmt(v, form: str) -> str:
    """A table cell: '-' for a missing value."""
    return "-" if v is None else form.format(v)


def write_rows(rows: list[dict], path: str) -> None:
    out = ROOT / "benchmarks" / path
    out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {out}")


def threshold(game: str) -> float:
    from ba3c.scores import RANDOM_HUMAN

    random, human = RANDOM_HUMAN[game_key(game)]
    return random + THRESHOLD_FRACTION * (human - random)


def end_score(curve: list[tuple[float, float | None]], fraction: float = END_FRACTION) -> float | None:
    """Mean score(100) of the rows in the last `fraction` of the curve's frames (None if none scored)."""
    if not curve:
        return None
    last = curve[-1][0]
    scores = [s for f, s in curve if f >= last * (1 - fraction) and s is not None]
    return sum(scores) / len(scores) if scores else None


def folder_name(game: str, seed: int, candidate: str) -> str:
    from bench_batch import run_name

    return run_name(game, GLOBAL_BATCH, "none", 0.0, seed, tag=candidate)


def runs(candidates: list[str], games: list[str], seeds: list[int]) -> list[tuple[str, str, int]]:
    """The screen's order: seed, then game (the hardest first), then candidate, so a screen cut short
    still compares every candidate on the games it reached."""
    return [(c, g, s) for s in seeds for g in games for c in candidates]


def train_candidate(study: str, what: str, candidate: str, tag: str, args: list[str]) -> int:
    """One resumable bench_batch.py run of `candidate`'s flags under `tag` (--skip_recorded, --carry);
    `study: what` names it in the lines it prints. Returns bench_batch's exit code."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_batch.py"), *args, "--tag", tag, "--skip_recorded",
           "--carry", "--", *CANDIDATES[candidate]]
    print(f"{study}: {what}: {' '.join(cmd)}", flush=True)
    code = subprocess.run(cmd, cwd=ROOT / "benchmarks").returncode
    if code != 0:
        print(f"{study}: {what} stopped (exit {code}); rerun to resume", flush=True)
    return code


def run(a) -> int:
    for candidate, game, seed in runs(a.candidates, a.games, a.seeds):
        code = train_candidate("screen", f"{candidate} on {game}, seed {seed}", candidate, candidate,
                               ["--game", game, "--global_batch", str(GLOBAL_BATCH), "--seed", str(seed), "--frames",
                                str(a.frames), "--results", "screen"])
        if code != 0:
            return code
    return 0


def load_rows() -> list[dict]:
    """Each screen run's furthest record: finished (screen.jsonl) or still going (batch-partial/)."""
    runs = furthest_per_run(r for r in with_partials("screen") if r.get("tag") in CANDIDATES)
    return [{**r, "status": "running" if r["bench"] == "batch-partial" else "finished"} for r in runs.values()]


def summarize(r: dict) -> dict:
    """One table row of a run record."""
    from ba3c.games import action_meanings
    from ba3c.quiet import quiet_stderr
    from ba3c.scores import human_normalized

    game = r["game"]
    curve = [(f, s) for f, s, *_ in r["curve"]]
    end = end_score(curve)
    hn = human_normalized(game_key(game), end) if end is not None else None
    entropy = r.get("entropy")
    with quiet_stderr():  # the emulator's banner
        uniform = math.log(len(action_meanings(game)))
    return {"candidate": r["tag"], "game": game, "seed": r["seed"], "frames": r["frames"],
            "threshold": threshold(game), "frames_to_threshold": first_frames(curve, threshold(game)),
            "end_score": end, "end_human_normalized": hn,
            "entropy_of_uniform": entropy / uniform if entropy is not None else None,
            "frames_per_s": r.get("median_fps"), "status": r["status"]}


def print_table(a) -> None:
    records = load_rows()
    rows = [summarize(r) for r in records]
    order = {c: i for i, c in enumerate(CANDIDATES)}
    rows.sort(key=lambda x: (x["game"], order.get(x["candidate"], 99), x["seed"]))
    if not rows:
        print("no screen runs recorded yet: make defaults-screen")
        return
    shown = [{**x, "frames": fmt(x["frames"] / 1e6, "{:.2f}M"), "end_score": fmt(x["end_score"], "{:.1f}"),
              "frames_to_threshold": fmt(x["frames_to_threshold"] and x["frames_to_threshold"] / 1e6, "{:.2f}M"),
              "end_human_normalized": fmt(x["end_human_normalized"] and 100 * x["end_human_normalized"], "{:.1f}%"),
              "entropy_of_uniform": fmt(x["entropy_of_uniform"], "{:.2f}"),
              "frames_per_s": fmt(x["frames_per_s"], "{:,.0f}")} for x in rows]
    print(f"threshold: score(100) {THRESHOLD_FRACTION:.0%} of the way from random play to human; end: mean "
          f"score(100) over the last {END_FRACTION:.0%} of the frames; entropy as a fraction of the uniform policy's; "
          "frames/s: the median of the run's logged rows on its machine")
    print(table(shown, ["game", "candidate", "seed", "frames", "threshold", "frames_to_threshold", "end_score",
                        "end_human_normalized", "entropy_of_uniform", "frames_per_s", "status"]))
    if a.json:
        write_rows(rows, a.json)
    if a.plot:
        plot(records, a.plot)


def plot(records: list[dict], path: str) -> None:
    """score(100) against frames, one panel per game, one line per candidate, the threshold dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = [game_key(g) for g in GAMES]
    games = sorted({r["game"] for r in records}, key=lambda g: order.index(g) if g in order else len(order))
    fig, axes = plt.subplots(1, len(games), figsize=(4.5 * len(games), 4), squeeze=False)
    for ax, game in zip(axes[0], games):
        for i, name in enumerate(CANDIDATES):  # one colour per candidate in every panel
            for r in (r for r in records if r["game"] == game and r["tag"] == name):
                pts = [(f / 1e6, s) for f, s, *_ in r["curve"] if s is not None]
                running = " running" if r["status"] == "running" else ""
                ax.plot(*zip(*pts), color=f"C{i}", label=f"{name} (seed {r['seed']}){running}")
        ax.axhline(threshold(game), color="grey", linestyle="--", linewidth=1)
        ax.set(title=game, xlabel="frames (M)", ylabel="score(100)")
        ax.legend(fontsize=8)
    fig.suptitle("defaults screen: batch 80, one process; dashed: threshold (25% of random -> human)", y=1.03)
    out = ROOT / "benchmarks" / path
    fig.savefig(out, dpi=80, bbox_inches="tight")
    print(f"wrote {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train every candidate x game x seed that is not finished (resumes)")
    r.add_argument("--frames", type=float, default=5e6)
    r.add_argument("--seeds", type=int, nargs="+", default=[1])
    r.add_argument("--candidates", nargs="+", default=list(CANDIDATES), metavar="NAME")
    r.add_argument("--games", nargs="+", default=list(GAMES), metavar="GAME")
    t = sub.add_parser("table", help="frames to each game's threshold and the end score, per candidate")
    t.add_argument("--json", default=None, help="also write the rows to benchmarks/<JSON>")
    t.add_argument("--plot", default=None, help="also draw the curves to benchmarks/<PLOT> (a .png)")
    sub.add_parser("list", help="the candidates and their flags")
    a = p.parse_args()
    sys.path.insert(0, str(ROOT))
    if a.command == "list":
        for name, flags in CANDIDATES.items():
            print(f"{name:12s} {' '.join(flags) or '(no flags: the defaults)'}")
        return
    if a.command == "table":
        return print_table(a)
    unknown = [c for c in a.candidates if c not in CANDIDATES]
    if unknown:
        sys.exit(f"unknown candidate(s) {', '.join(unknown)}; the candidates: {', '.join(CANDIDATES)}")
    check_games(a.games)
    sys.exit(run(a))


if __name__ == "__main__":
    main()
