"""The noise-scale estimators against a synthetic problem with a known true gradient G and
per-sample covariance Sigma (plain NumPy)."""
import numpy as np
import pytest

from ba3c.noise_scale import (
    MIN_UPDATES,
    OUTLIER_RATIO,
    NoiseSample,
    NoiseScale,
    format_for_status,
    format_noise_scale,
    split_halves,
    unbiased_estimates,
)

D = 50


def synthetic(rng, b_small, b_big):
    """One 'update': per-sample gradients G + noise (diagonal Sigma); the big batch is K small ones."""
    G = np.linspace(-0.1, 0.1, D)
    sigma = np.linspace(0.2, 1.0, D)  # per-coordinate std: tr(Sigma) = sum(sigma^2)
    k = b_big // b_small
    samples = G + rng.standard_normal((b_big, D)) * sigma
    smalls = samples.reshape(k, b_small, D).mean(axis=1)
    g2_small = float(np.mean(np.sum(smalls ** 2, axis=1)))
    g2_big = float(np.sum(samples.mean(axis=0) ** 2))
    return NoiseSample(g2_small, b_small, g2_big, b_big), float(G @ G), float(np.sum(sigma ** 2))


def test_estimators_are_unbiased_on_a_known_problem():
    rng = np.random.default_rng(0)
    est = []
    for _ in range(3000):
        s, g2_true, trace_true = synthetic(rng, 8, 64)
        est.append(unbiased_estimates(s))
    g2, trace = np.mean(est, axis=0)
    assert g2 == pytest.approx(g2_true, rel=0.05)
    assert trace == pytest.approx(trace_true, rel=0.02)


def test_smoothed_noise_scale_converges_to_trace_over_g2():
    rng = np.random.default_rng(1)
    ns = NoiseScale()
    for i in range(1500):
        s, g2_true, trace_true = synthetic(rng, 16, 128)
        ns.update(s)
        if i < MIN_UPDATES - 1:
            assert ns.value is None  # too few samples to say anything
    assert ns.value == pytest.approx(trace_true / g2_true, rel=0.15)


@pytest.mark.parametrize("envs", [5, 7, 2, 8])
def test_one_process_halves_estimate_the_true_noise_scale_with_odd_emulator_counts(envs):
    """One process splits its emulators in two halves (5 emulators x 5 steps: 10 and 15 samples).
    With a true noise scale of 400 the estimate must read ~400 whatever the split; equal weights
    with b_big = b1 + b2 read ~168 at 5 emulators."""
    rng = np.random.default_rng(envs)
    G = np.full(D, 1.0 / np.sqrt(D))  # |G|^2 = 1
    sigma = np.full(D, np.sqrt(400.0 / D))  # tr(Sigma) = 400
    b1, b2 = 5 * (envs // 2), 5 * (envs - envs // 2)
    split = split_halves(b1, b2)
    est = []
    for _ in range(20000):
        samples = G + rng.standard_normal((b1 + b2, D)) * sigma
        g1, g2 = samples[:b1].mean(axis=0), samples[b1:].mean(axis=0)
        g = split.w1 * g1 + split.w2 * g2
        assert np.allclose(g, samples.mean(axis=0))  # the training gradient is the batch mean
        small = split.w1 * g1 @ g1 + split.w2 * g2 @ g2
        est.append(unbiased_estimates(NoiseSample(small, split.b_small, float(g @ g), split.b_big)))
    g2_hat, trace_hat = np.mean(est, axis=0)
    assert trace_hat / g2_hat == pytest.approx(400, rel=0.15)


def test_non_finite_or_single_batch_samples_are_ignored_and_state_round_trips():
    ns = NoiseScale()
    ns.update(NoiseSample(float("nan"), 8, 1.0, 64))
    ns.update(NoiseSample(1.0, 8, 1.0, 8))  # one batch size only: nothing to learn
    assert ns.n == 0 and ns.parts() == (None, None)
    ns.update(NoiseSample(2.0, 8, 1.0, 64))
    again = NoiseScale(state=ns.state())
    assert again.parts() == ns.parts() and again.n == 1


def test_one_diverged_update_does_not_take_over_the_estimate():
    """A ~1e5-norm gradient (|g|^2 ~ 1e10) after 200 ordinary updates: 300 updates later (three time
    constants) the estimate is back near the truth. Unbounded, the spike's negative tr(Sigma) would
    still dominate the average then (no estimate at all, for thousands of updates)."""
    rng = np.random.default_rng(2)
    ns = NoiseScale()
    for _ in range(200):
        s, g2_true, trace_true = synthetic(rng, 16, 128)
        ns.update(s)
    before = ns.value
    # Every rank's gradient equally huge: |G|^2 ~ 1e10 and a large negative tr(Sigma) estimate (the
    # small-batch norm happens to be the smaller one), as in the diverged run in README.md.
    ns.update(NoiseSample(1e10, 16, 1.01e10, 128))
    for _ in range(300):
        ns.update(synthetic(rng, 16, 128)[0])
    assert ns.value == pytest.approx(before, rel=0.25)
    assert ns.value == pytest.approx(trace_true / g2_true, rel=0.25)


def test_outlier_bound_leaves_ordinary_samples_alone():
    """The bound is far outside what ordinary heavy-tailed samples reach: with it, the smoothed values
    equal a plain EMA of the same samples (the plain loop below) to float precision."""
    rng = np.random.default_rng(3)
    ns, g2, trace, decay = NoiseScale(), 0.0, 0.0, NoiseScale().decay
    biggest = 0.0
    for _ in range(1000):
        s = synthetic(rng, 4, 32)[0]
        ns.update(s)
        a, b = unbiased_estimates(s)
        g2, trace = decay * g2 + (1 - decay) * a, decay * trace + (1 - decay) * b
        biggest = max(biggest, abs(a) / max(ns.g2_abs / (1 - decay ** ns.n), 1e-12))
    c = 1 - decay ** 1000
    assert ns.parts() == pytest.approx((g2 / c, trace / c), rel=1e-12)
    assert biggest < OUTLIER_RATIO / 10


def test_format_noise_scale_keeps_small_and_negative_estimates_readable():
    assert format_noise_scale(None) == "-"
    assert format_noise_scale(-1.6e-4) == "<0"  # not "-0"
    assert format_noise_scale(0.57) == "0.6" and format_noise_scale(3.52) == "3.5"
    assert format_noise_scale(1000.1) == "1,000"


def test_status_line_shows_the_estimate_once_settled_with_a_calibrated_uncertainty():
    """The estimate's relative standard error comes from the spread of the per-update samples. Over
    independent repeats of the same problem, the estimates spread about as much as it says; the
    status line shows 'noisy' while it is large and the value with its error once it is small."""
    finals, errors = [], []
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        ns = NoiseScale()
        for _ in range(800):
            ns.update(synthetic(rng, 16, 128)[0])
        finals.append(ns.value)
        errors.append(ns.relative_error())
    spread = np.std(finals) / np.mean(finals)
    assert 0.4 < np.mean(errors) / spread < 2.5, (np.mean(errors), spread)
    assert format_for_status(None, None) == "-"
    assert format_for_status(400.0, 0.9) == "noisy" and format_for_status(400.0, 0.1) == "400 (+-10%)"
    # a handful of updates is not a settled estimate
    rng = np.random.default_rng(0)
    early = NoiseScale()
    for _ in range(MIN_UPDATES):
        early.update(synthetic(rng, 4, 8)[0])
    assert format_for_status(early.value, early.relative_error()) in ("noisy", "-")


def test_the_large_batch_note_waits_for_a_settled_estimate(capsys):
    """The trainer's one-time note that the global batch is far above the noise scale acts only on an
    estimate the status line would show: right after a resume the estimate of the synchronised games
    read ~94 at batch 1,280 ("noisy"), a false alarm."""
    from types import SimpleNamespace

    import train
    from ba3c.meter import ScoreTarget
    from mpi.comm import Comm

    progress = train.Progress(Comm(), None, SimpleNamespace(global_batch=1280), ScoreTarget(None, 0, False, 256))
    row = {"value_std": 1.0}
    progress._warn(2_000_000, row, 94.0, 0.6)  # too uncertain
    progress._warn(500_000, row, 94.0, 0.1)  # too early in training
    progress._warn(2_000_000, row, 400.0, 0.1)  # within 4x
    assert "note: the global batch" not in capsys.readouterr().err
    progress._warn(2_000_000, row, 94.0, 0.1)
    progress._warn(2_100_000, row, 94.0, 0.1)
    err = capsys.readouterr().err
    assert err.count("note: the global batch 1,280 is 14x the measured gradient noise scale (~94)") == 1
