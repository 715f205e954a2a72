"""The straggler model: the exact expected maximum of the empirical distribution against plain loops
and simulation, and the bounded-wait arithmetic."""
import itertools
import sys

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from straggler_model import expected_capped_max, expected_max, late_fraction, simulated_max, summary  # noqa: E402


def test_expected_max_equals_enumeration_of_every_draw():
    """Small case by brute force: every ordered tuple of n draws from 4 samples is equally likely."""
    x = np.array([1.0, 2.0, 2.5, 7.0])
    for n in (1, 2, 3):
        want = np.mean([max(t) for t in itertools.product(x, repeat=n)])
        assert expected_max(x, n) == pytest.approx(want)


def test_expected_max_of_one_rank_is_the_mean_and_grows_to_the_sample_max():
    x = np.random.default_rng(0).gamma(4.0, 0.02, 500)
    assert expected_max(x, 1) == pytest.approx(x.mean())
    assert expected_max(x, 64) < expected_max(x, 768) < expected_max(x, 1536) <= x.max()
    assert expected_max(x, 100_000) == pytest.approx(x.max(), rel=1e-6)


def test_expected_max_agrees_with_simulation():
    rng = np.random.default_rng(1)
    x = rng.lognormal(-2.5, 0.4, 2000)
    for n in (8, 64, 768):
        assert expected_max(x, n) == pytest.approx(simulated_max(x, n, 4000, rng), rel=0.01)


def test_bounded_wait_caps_the_time_and_counts_the_dropped_samples():
    x = np.array([1.0] * 98 + [5.0, 9.0])
    assert late_fraction(x, 4.0) == pytest.approx(0.02)
    assert expected_capped_max(x, 1, 4.0) == pytest.approx((98 + 4 + 4) / 100)
    assert expected_capped_max(x, 10_000, 4.0) == pytest.approx(4.0)
    s = summary(x, [1, 64], (0.99,))
    assert s["by_ranks"][0]["sync_efficiency"] == pytest.approx(1.0)
    row = s["by_ranks"][1]
    assert row["deadline_q0.99"]["update_time"] <= row["expected_max"]
