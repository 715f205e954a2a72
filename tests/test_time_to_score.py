"""The time-to-score projection's use of the batch study: interpolation and lower bounds."""
import math
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from time_to_score import frames_to_score, study_points  # noqa: E402


def run(batch, frames, curve):
    return {"global_batch": batch, "frames": frames, "curve": [(f, s, None) for f, s in curve]}


def test_study_points_take_the_median_of_runs_that_reached_and_a_bound_otherwise():
    rows = [run(80, 3e6, [(1e6, 5.0), (2e6, 21.0)]), run(80, 3e6, [(1e6, 5.0), (1.5e6, 20.0)]),
            run(80, 3e6, [(1e6, 5.0), (3e6, 25.0)]), run(640, 5e6, [(4e6, 19.0), (4.5e6, 20.5)]),
            run(2560, 3e6, [(3e6, 2.0)]), run(2560, 5e6, [(5e6, 9.0)])]
    assert study_points(rows, 20.0) == [(80, 2e6, True), (640, 4.5e6, True), (2560, 5e6, False)]


def test_frames_to_score_interpolates_in_log_log_and_bounds_beyond_the_data():
    points = [(80, 2e6, True), (640, 4e6, True), (2560, 3e6, False)]
    assert frames_to_score(80, points) == (2e6, True)
    assert frames_to_score(40, points) == (2e6, True)  # below the smallest measured batch
    value, exact = frames_to_score(int(math.sqrt(80 * 640)), points)  # halfway in log(batch)
    assert exact and value == pytest.approx(math.sqrt(2e6 * 4e6), rel=1e-3)
    # Past the largest batch that reached the score: at least its frames, and at least the bound.
    assert frames_to_score(1280, points) == (4e6, False)
    assert frames_to_score(7680, [(80, 2e6, True), (2560, 6e6, False)]) == (6e6, False)
    # Nothing reached: only the bound is known.
    assert frames_to_score(5120, [(2560, 3e6, False)]) == (3e6, False)
