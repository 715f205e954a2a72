#!/usr/bin/env python
"""How much of each game's screen is static background? On random play (the states
benchmarks/feature_collapse.py measures on), prints the mean pixel (0-1), the mean distance of a
pixel from its mean screen (what is left once the network subtracts the mean screen,
ba3c/screen_mean.py) and their ratio.

    python benchmarks/screen_stats.py                      # the six showcase games
    python benchmarks/screen_stats.py -e Pong -e Boxing

Prints a table and appends one JSON line per game to benchmarks/results/screen_stats.jsonl.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from feature_collapse import random_play_states  # noqa: E402

from common import machine, record, table  # noqa: E402

SHOWCASE = ("Breakout", "Boxing", "Seaquest", "SpaceInvaders", "StarGunner", "Assault")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-e", "--env", action="append", help="game (repeatable; default: the six showcase games)")
    p.add_argument("--states", type=int, default=2000, help="states of random play per game")
    a = p.parse_args()
    from ba3c.errors import UserError
    from ba3c.quiet import quiet_stderr

    rows = []
    try:
        with quiet_stderr():
            from ba3c.games import resolve_game
            from ba3c.screen_mean import mean_screen

            for name in a.env or SHOWCASE:
                game = resolve_game(name)
                obs = random_play_states(game, 4, max(1, a.states // 4), seed=3)
                screen = mean_screen(obs)
                x = obs.astype(np.float32) / 255.0
                moving = float(np.abs(x - screen.astype(np.float32)).mean())
                rows.append({"game": game, "states": len(obs), "mean_pixel": float(x.mean()),
                             "mean_abs_from_mean_screen": moving, "ratio": float(x.mean()) / moving})
    except UserError as e:
        sys.exit(f"error: {e}")
    print(table(rows, ["game", "states", "mean_pixel", "mean_abs_from_mean_screen", "ratio"]))
    record("screen_stats", rows, {"machine": machine()})


if __name__ == "__main__":
    main()
