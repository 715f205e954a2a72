"""The robust-defaults screen (benchmarks/defaults_screen.py): every candidate is a valid command line,
the per-game threshold and the end score against plain arithmetic, the run order, and the one-line
refusals of its command line."""
import subprocess
import sys

import pytest

from ba3c.config import parse_config
from ba3c.scores import RANDOM_HUMAN
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import defaults_screen as screen  # noqa: E402


@pytest.mark.parametrize("name", list(screen.CANDIDATES))
def test_every_candidate_is_a_command_line_the_trainer_takes(name):
    cfg, _ = parse_config(["-e", "Pong", *screen.CANDIDATES[name]])
    cfg.finalize()
    if name == "adam-ppo":
        assert (cfg.optimizer, cfg.beta2, cfg.learning_rate, cfg.clip_mode) == ("adam", 0.999, 2.5e-4, "global_norm")


def test_threshold_is_a_quarter_of_the_way_from_random_to_human():
    for game, key in (("SpaceInvaders", "space_invaders"), ("Pong", "pong"), ("Boxing", "boxing")):
        random, human = RANDOM_HUMAN[key]
        assert screen.game_key(game) == key
        assert screen.threshold(game) == pytest.approx(random + (human - random) / 4)
    with pytest.raises(KeyError):
        screen.game_key("NoSuchGame")


def test_end_score_is_the_mean_over_the_last_tenth_of_the_frames():
    curve = [(f, None if f < 300 else float(f) / 100) for f in range(0, 5001, 100)]
    want = [s for f, s in curve if f >= 4500]
    assert screen.end_score(curve) == pytest.approx(sum(want) / len(want))
    assert screen.end_score([(100, None), (200, None)]) is None and screen.end_score([]) is None


def test_runs_go_seed_then_game_then_candidate_into_their_own_folders():
    order = screen.runs(["a", "b"], ["Boxing", "Pong"], [1, 2])
    assert order[:4] == [("a", "Boxing", 1), ("b", "Boxing", 1), ("a", "Pong", 1), ("b", "Pong", 1)]
    assert len(order) == 8
    names = {screen.folder_name(g, s, c) for c, g, s in order}
    assert len(names) == 8 and "boxing-b80-none-s1-a" in names


@pytest.mark.parametrize("args,message", [
    (["run", "--candidates", "nope"], "unknown candidate(s) nope; the candidates: defaults"),
    (["run", "--games", "NoSuchGame"], "has no random/human scores"),
])
def test_bad_command_lines_stop_in_one_line(args, message):
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "defaults_screen.py"), *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and message in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
