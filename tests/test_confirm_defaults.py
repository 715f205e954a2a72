"""The defaults screen's confirmation step (benchmarks/confirm_defaults.py): its arithmetic against plain
formulas, its one-line refusals, and one real pass through scripts/showcase.sh (train, export, evaluate,
GIFs) at a tiny budget, recorded and tabled."""
import argparse
import json
import math
import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import confirm_defaults as confirm  # noqa: E402

import common  # noqa: E402


def test_standard_error_is_the_sample_deviation_over_root_n():
    scores = [3.0, 7.0, 8.0, 2.0, 10.0]
    mean = sum(scores) / len(scores)
    sample_var = sum((s - mean) ** 2 for s in scores) / (len(scores) - 1)
    assert confirm.standard_error(scores) == pytest.approx(math.sqrt(sample_var / len(scores)))
    assert confirm.standard_error([4.0]) == math.inf


def test_a_game_passes_at_three_standard_errors_above_random_and_boxing_also_needs_20():
    random_breakout = 1.7
    assert confirm.verdict("Breakout", {"mean": random_breakout + 3.0, "standard_error": 1.0})["passes"]
    assert not confirm.verdict("Breakout", {"mean": random_breakout + 2.9, "standard_error": 1.0})["passes"]
    assert not confirm.verdict("Boxing", {"mean": 19.9, "standard_error": 0.1})["passes"]
    assert confirm.verdict("Boxing", {"mean": 20.0, "standard_error": 0.1})["passes"]
    assert confirm.verdict("Boxing", None)["passes"] is None
    assert confirm.verdict("Breakout", {"mean": 0.0, "standard_error": 0.0})["se_above_random"] == -math.inf


@pytest.mark.parametrize("args,message", [
    (["table", "--candidate", "nope"], "unknown candidate nope; the candidates: defaults"),
    (["run", "--candidate", "defaults", "--games", "NoSuchGame"], "has no random/human scores"),
])
def test_bad_command_lines_stop_in_one_line(args, message):
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "confirm_defaults.py"), *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and message in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_a_candidate_is_trained_evaluated_recorded_and_tabled_without_touching_models(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(confirm, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(confirm, "OUT", tmp_path / "confirm")
    monkeypatch.setenv("EPISODES", "2")
    monkeypatch.setenv("VIDEO_SECONDS", "1")
    shipped_before = (ROOT / "models" / "Breakout-eval.json").read_bytes()
    a = argparse.Namespace(candidate="adam-0.99", games=["Breakout"], frames=800.0)
    assert confirm.run(a) == 0
    [row] = common.load("confirm")
    assert (row["candidate"], row["game"], row["eval"]["games"]) == ("adam-0.99", "breakout", 2)
    assert 800 <= row["frames"] < 800 + 320  # whole updates of 16 emulators x 5 steps x frameskip 4
    assert "--beta2" in row["argv"] and row["curve"] and row["median_fps"] > 0
    out = tmp_path / "confirm" / "adam-0.99"
    assert {p.name for p in (out / "gifs").iterdir()} == {"breakout-0M.gif", "breakout-mid.gif", "breakout-end.gif"}
    assert json.loads((out / "Breakout-eval.json").read_text())["games"] == 2
    assert (ROOT / "models" / "Breakout-eval.json").read_bytes() == shipped_before
    assert confirm.run(a) == 0 and len(common.load("confirm")) == 1  # recorded: skipped
    [t] = confirm.table_rows("adam-0.99", ["Breakout"])
    assert t["mean"] == row["eval"]["mean"] and t["shipped_mean"] == pytest.approx(297.3)
    # the record keeps the model it was measured against, which adopting the candidate replaces in models/
    monkeypatch.setattr(confirm, "shipped", lambda game: None)
    [t] = confirm.table_rows("adam-0.99", ["Breakout"])
    assert row["shipped"]["mean"] == t["shipped_mean"] == pytest.approx(297.3)
