"""The scale study's anchors repeated with a defaults candidate (benchmarks/scale_anchors.py): the
two-point critical batch against the least-squares fit, how a run's updates to a target read, the
verdict against the old seeds' range, and the one-line refusal of an unknown candidate."""
import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import scale_anchors as anchors  # noqa: E402

from ba3c.critical_batch import TradeOff, fit_tradeoff  # noqa: E402


@pytest.mark.parametrize("b_crit", [100.0, 1000.0, 5000.0])
def test_two_point_b_crit_is_the_fit_through_both_anchors(b_crit):
    model = TradeOff(s_min=2000.0, b_crit=b_crit)
    s80, s1280 = model.updates(80), model.updates(1280)
    assert anchors.two_point_b_crit(s80, s1280) == pytest.approx(b_crit)
    assert fit_tradeoff([(80, s80), (1280, s1280)]).b_crit == pytest.approx(b_crit)


def test_no_b_crit_outside_the_model_or_without_both_counts():
    assert anchors.two_point_b_crit(1000.0, 1000.0).startswith("no fit")  # no fewer updates at the large batch
    assert anchors.two_point_b_crit(17000.0, 1000.0).startswith("no fit")  # fewer samples at the large batch
    assert anchors.two_point_b_crit(">125,000", 2469.0) == "-"


def run(batch, curve, frames, bench="scale"):
    return {"global_batch": batch, "curve": curve, "frames": frames, "bench": bench}


def test_updates_to_a_target_measured_not_reached_still_going_and_censored():
    curve = [(3200, 10.0, None), (6400, 25.0, None)]
    assert anchors.updates_to(run(80, curve, 6400), 20) == 6400 / 320
    assert anchors.updates_to(run(80, curve, 6400), 50) == ">20"
    assert anchors.updates_to(run(80, curve, 6400, "batch-partial"), 50) == "not yet: 20"
    withheld = [(3200, 10.0, None), (6400, None, None, 30.0), (9600, 31.0, None)]
    assert anchors.updates_to(run(80, withheld, 9600), 20) == "~10-30"
    assert anchors.updates_to(None, 20) == "no run"


def test_verdict_reads_the_candidate_against_the_old_seeds_range():
    row = {"old s1 B_crit": 500.0, "old s2 B_crit": 400.0, "c s1 B_crit": 450.0}
    assert "inside" in anchors.verdict(row, "c")
    assert "above" in anchors.verdict({**row, "c s1 B_crit": 900.0}, "c")
    assert "below" in anchors.verdict({**row, "c s1 B_crit": 100.0}, "c")
    assert anchors.verdict({**row, "c s1 B_crit": "-"}, "c").startswith("no comparison")
    assert anchors.verdict({**row, "old s2 B_crit": "-"}, "c") == "450 vs old 500 (one seed's fit): below it"
    # a target the old seeds' batch 80 never reached: the candidate's fit stands alone, said as such
    no_old = {"old s1 B_crit": "-", "old s2 B_crit": "no fit (ratio 50.6)", "c s1 B_crit": 830.8}
    assert anchors.verdict(no_old, "c") == "831; the old seeds' pairs give no fit here (see their counts)"
    assert anchors.verdict({**no_old, "c s1 B_crit": "-"}, "c").startswith("no comparison")


def test_an_unknown_candidate_is_refused_in_one_line():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scale_anchors.py"), "compare", "--candidate",
                          "nope"], capture_output=True, text=True)
    assert out.returncode != 0
    expected = "error: unknown candidate 'nope'; one of: adam-ppo, adam-0.99, rmsprop-a2c"
    assert out.stderr.strip().splitlines() == [expected]


def test_the_candidates_pair_is_its_anchor_runs_not_its_screen_run(monkeypatch):
    def rec(batch, seed, tag=None, name=None):
        return {"game": "breakout", "global_batch": batch, "seed": seed, "tag": tag, "frames": 1, "time": "t",
                "run_folder": f"/runs/{name or f'b{batch}-s{seed}'}", "curve": []}
    old = [rec(80, 1), rec(1280, 1), rec(80, 2), rec(1280, 2), rec(320, 1)]
    monkeypatch.setattr(anchors, "study_runs", lambda game: old)
    screen = rec(80, 1, "adam-0.99", "screen")
    anchor80, anchor1280 = rec(80, 1, "anchor-adam-0.99", "a80"), rec(1280, 1, "anchor-adam-0.99", "a1280")
    by_label = anchors.pairs([screen, anchor80, anchor1280], "adam-0.99")
    assert by_label["adam-0.99 s1"] == {80: anchor80, 1280: anchor1280}
    assert by_label["old s1"] == {80: old[0], 1280: old[1]} and by_label["old s2"] == {80: old[2], 1280: old[3]}
