#!/usr/bin/env python
"""The robust-defaults screen's second step: confirm one candidate flag set on all six showcase games at
the showcase budget (10M frames) with 30-game evaluations, and read it against the shipped models
(the defaults of their time) and against random play.

Each game is trained by scripts/showcase.sh, the command that made the shipped models, with the
candidate's flags added, into its own run folder (benchmarks/runs/<game>-<candidate>) and its own
output folder (benchmarks/confirm/<candidate>/: the float16 model and the GIFs, kept out of git until the
candidate is adopted), so nothing under models/ or docs/showcase/ changes. A finished game appends one
record to benchmarks/results/confirm.jsonl: the 30-game evaluation, the training curve and frames/s.

    python benchmarks/confirm_defaults.py run --candidate adam-0.99 [--games ...] [--frames 1e7]
    python benchmarks/confirm_defaults.py table --candidate adam-0.99 [--json results/confirm-table.json]
Rerunning `run` skips recorded games and resumes a game still training.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

from defaults_screen import CANDIDATES, check_games, fmt, game_key, write_rows

from common import ROOT, load, record, table

SHOWCASE_GAMES = ("Breakout", "Boxing", "SpaceInvaders", "Seaquest", "StarGunner", "Assault")
PASS_STANDARD_ERRORS = 3.0  # the bar: each game's 30-game mean this many standard errors above random play
BOXING_BAR = 20.0


RUNS = ROOT / "benchmarks" / "runs"
OUT = ROOT / "benchmarks" / "confirm"


def run_folder(game: str, candidate: str) -> Path:
    return RUNS / f"{game.lower()}-{candidate}"


def out_folder(candidate: str) -> Path:
    return OUT / candidate


def recorded(candidate: str, game: str, frames: float) -> dict | None:
    done = [r for r in load("confirm") if r["candidate"] == candidate and r["game"] == game_key(game)
            and r["frames"] >= frames]
    return done[-1] if done else None


def train_and_evaluate(candidate: str, game: str, frames: float) -> int:
    """scripts/showcase.sh with the candidate's flags: train (resuming), export, 30-game eval, GIFs."""
    out = out_folder(candidate)
    env = {**os.environ, "RUNS": str(RUNS), "NAME": run_folder(game, candidate).name, "FRAMES": f"{frames:g}",
           "FLAGS": " ".join(CANDIDATES[candidate]), "OUT": str(out), "GIFS": str(out / "gifs"),
           "PY": sys.executable}
    return subprocess.run([str(ROOT / "scripts" / "showcase.sh"), game], cwd=ROOT, env=env).returncode


def standard_error(scores: list[float]) -> float:
    """The sample standard deviation over the square root of the number of games."""
    return statistics.stdev(scores) / math.sqrt(len(scores)) if len(scores) > 1 else math.inf


def evaluation_row(ev: dict) -> dict:
    return {"games": ev["games"], "mean": ev["mean"], "median": ev["median"], "std": ev["std"], "min": ev["min"],
            "max": ev["max"], "standard_error": standard_error(ev["scores"]), "scores": ev["scores"]}


def record_game(candidate: str, game: str) -> dict:
    from bench_batch import summarize

    folder = run_folder(game, candidate)
    run = summarize(folder)
    ev = json.loads((out_folder(candidate) / f"{game}-eval.json").read_text())
    row = {"candidate": candidate, "flags": CANDIDATES[candidate], "game": game_key(game), "frames": run["frames"],
           "seed": run["seed"], "wall_time": run["wall_time"], "median_fps": run["median_fps"],
           "entropy": run["entropy"], "score_mean100": run["score_mean100"], "eval": evaluation_row(ev),
           "run_folder": os.path.relpath(folder, ROOT), "git_commit": run["git_commit"], "argv": run["argv"],
           "code_history": run["code_history"], "curve": [(f, s) for f, s, *_ in run["curve"]],
           # the model it is measured against, as shipped now: adopting the candidate replaces it in models/
           "shipped": shipped(game)}
    record("confirm", [row])
    return row


def run(a) -> int:
    for game in a.games:
        if recorded(a.candidate, game, a.frames):
            print(f"confirm: {a.candidate} on {game} is recorded; skipping", flush=True)
            continue
        print(f"confirm: {a.candidate} on {game}, {a.frames:g} frames", flush=True)
        code = train_and_evaluate(a.candidate, game, a.frames)
        if code != 0:
            print(f"confirm: {a.candidate} on {game} stopped (exit {code}); rerun to resume", flush=True)
            return code
        record_game(a.candidate, game)
    return 0


def shipped(game: str) -> dict | None:
    """The shipped model's 30-game evaluation now (models/README.md says how it was trained)."""
    path = ROOT / "models" / f"{game}-eval.json"
    return evaluation_row(json.loads(path.read_text())) if path.exists() else None


def verdict(game: str, ev: dict | None) -> dict:
    """Standard errors above random play, and whether the game passes the bar (Boxing also needs 20)."""
    from ba3c.scores import RANDOM_HUMAN

    random = RANDOM_HUMAN[game_key(game)][0]
    if ev is None:
        return {"random": random, "se_above_random": None, "passes": None}
    gap, se = ev["mean"] - random, ev["standard_error"]
    z = gap / se if se > 0 else math.copysign(math.inf, gap) if gap else 0.0  # all games scored alike
    passes = z >= PASS_STANDARD_ERRORS and (game_key(game) != "boxing" or ev["mean"] >= BOXING_BAR)
    return {"random": random, "se_above_random": z, "passes": passes}


def table_rows(candidate: str, games: list[str]) -> list[dict]:
    mine = {r["game"]: r for r in load("confirm") if r["candidate"] == candidate}
    rows = []
    for game in games:
        r = mine.get(game_key(game))
        old = r["shipped"] if r else shipped(game)  # the model it was recorded against, or the one shipped now
        ev = r["eval"] if r else None
        rows.append({"game": game, "candidate": candidate, "frames": r["frames"] if r else None,
                     "mean": ev and ev["mean"], "standard_error": ev and ev["standard_error"],
                     "median": ev and ev["median"], **verdict(game, ev),
                     "shipped_mean": old and old["mean"], "shipped_standard_error": old and old["standard_error"],
                     "shipped_se_above_random": verdict(game, old)["se_above_random"],
                     "frames_per_s": r["median_fps"] if r else None})
    return rows


def print_table(a) -> None:
    rows = table_rows(a.candidate, a.games)

    shown = [{"game": x["game"], "frames": fmt(x["frames"] and x["frames"] / 1e6, "{:.1f}M"),
              "mean (SE)": "-" if x["mean"] is None else f"{x['mean']:,.1f} ({x['standard_error']:,.1f})",
              "median": fmt(x["median"], "{:,.1f}"), "random": fmt(x["random"], "{:,.1f}"),
              "SE above random": fmt(x["se_above_random"], "{:.1f}"),
              "passes": {None: "-", True: "yes", False: "no"}[x["passes"]],
              "shipped mean (SE)": "-" if x["shipped_mean"] is None
              else f"{x['shipped_mean']:,.1f} ({x['shipped_standard_error']:,.1f})",
              "shipped SE above random": fmt(x["shipped_se_above_random"], "{:.1f}"),
              "frames/s": fmt(x["frames_per_s"], "{:,.0f}")} for x in rows]
    print(f"{a.candidate} ({' '.join(CANDIDATES[a.candidate]) or 'no flags'}): 30-game evaluations of the last "
          f"checkpoint; passes = at least {PASS_STANDARD_ERRORS:g} standard errors above random play (Boxing: and a "
          f"mean >= {BOXING_BAR:g}); shipped = models/<Game>-eval.json (10M frames with the "
          "defaults of the time; Boxing: A2C's flags, 30M)")
    print(table(shown, list(shown[0])))
    if a.json:
        write_rows(rows, a.json)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for name, what in (("run", "train, export and evaluate every game not recorded yet (resumes)"),
                       ("table", "the candidate's evaluations against random play and the shipped models")):
        s = sub.add_parser(name, help=what)
        s.add_argument("--candidate", required=True, metavar="NAME")
        s.add_argument("--games", nargs="+", default=list(SHOWCASE_GAMES), metavar="GAME")
        if name == "run":
            s.add_argument("--frames", type=float, default=1e7)
        else:
            s.add_argument("--json", default=None, help="also write the rows to benchmarks/<JSON>")
    a = p.parse_args()
    sys.path.insert(0, str(ROOT))
    if a.candidate not in CANDIDATES:
        sys.exit(f"unknown candidate {a.candidate}; the candidates: {', '.join(CANDIDATES)}")
    check_games(a.games)
    if a.command == "table":
        return print_table(a)
    sys.exit(run(a))


if __name__ == "__main__":
    main()
