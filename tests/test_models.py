"""Every trained model shipped in models/ loads through the command users run, plays full games
under the standard evaluation protocol, and beats its game's random-policy score (ba3c/scores.py)."""
import json
from pathlib import Path

import pytest

from ba3c.scores import RANDOM_HUMAN
from conftest import ROOT, run_train

MODELS = sorted((ROOT / "models").glob("*.npz"))
# The games run side by side, one emulator each. One game is too few: single games spread widely
# (StarGunner's lowest of 30 is near random play; a Boxing candidate's std was twice its mean), and
# float rounding that differs between CPUs can change a sampled action, so the same seed need not
# replay the same game on another machine. Three: every game of each model's 30-game evaluation
# (models/*-eval.json) scored above random play, so no mean of three drawn from them is at or below
# it; eight cost ~1.6x the time (the longest of eight games is longer, and the steps wider).
GAMES = 3


def test_the_demo_model_is_shipped():
    assert (ROOT / "models" / "Breakout.npz") in MODELS


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_shipped_model_plays_above_random(path: Path, tmp_path):
    out = tmp_path / "eval.json"
    run_train(["--task", "eval", "--load", path, "-e", path.stem, "--episodes", GAMES, "--seed", 5,
               "--output", out], timeout=600)
    result = json.loads(out.read_text())
    random_score = RANDOM_HUMAN[result["game"]][0]
    assert result["protocol"]["noop_max"] == 30 and result["protocol"]["max_episode_frames"] == 108_000
    assert result["mean"] > random_score, (path.name, result["mean"], random_score)
