"""The gradient noise scale B_simple = tr(Sigma) / |G|^2 (McCandlish et al. 2018, "An Empirical Model
of Large-Batch Training", arXiv:1812.06162), which predicts the critical batch size: below it, a
bigger batch buys nearly proportionally fewer updates; far above it, extra samples buy almost nothing.

A gradient estimated from a batch of B samples has E|g_B|^2 = |G|^2 + tr(Sigma) / B. With squared
norms measured at two batch sizes B_small < B_big (their Appendix A):

    |G|^2     ~ (B_big |g_big|^2 - B_small |g_small|^2) / (B_big - B_small)
    tr(Sigma) ~ (|g_small|^2 - |g_big|^2) / (1/B_small - 1/B_big)

Both are unbiased but very noisy per update, so, as the paper does, each is smoothed with an
exponential moving average before the ratio is taken. Data-parallel training has the two sizes for
free: each rank's own gradient (B_small = its batch) and the averaged one (B_big = the global batch);
a one-process run splits its emulators into two halves instead.
"""
from __future__ import annotations

from typing import NamedTuple

# Smoothing of both estimates: an EMA with this decay per update (time constant ~100 updates),
# bias-corrected like Adam's moments so the first values are not pulled towards zero.
EMA_DECAY = 0.99
# Updates before the estimate is reported at all (the EMA still has a few samples in it).
MIN_UPDATES = 20
# From the OUTLIER_AFTER-th update on, each sample's |G|^2 and tr(Sigma) are bounded to OUTLIER_RATIO
# times the running mean of their magnitudes. One diverged update (gradient norm ~1e5) otherwise outweighs hundreds of
# ordinary samples and keeps the estimate meaningless for thousands of updates; bounded, it fades in
# a few hundred. The per-update estimates are heavy-tailed: in 625 updates of a Breakout run the
# largest sample was 67x the mean magnitude (p99 13-18x), so a tighter bound would bias ordinary runs.
OUTLIER_RATIO = 100.0
OUTLIER_AFTER = 5  # the first few samples set the scale (in that run they differed by up to 48x)


class NoiseSample(NamedTuple):
    g2_small: float  # mean squared L2 norm of the small-batch gradients
    b_small: float  # their batch size (see split_halves for one process's two halves)
    g2_big: float  # squared L2 norm of the big-batch (averaged) gradient
    b_big: float  # its batch size: the global batch


class HalfSplit(NamedTuple):
    """How one process turns the gradients of two halves of its batch into a training gradient and
    a noise sample: g = w1 g1 + w2 g2 and |g_small|^2 = w1 |g1|^2 + w2 |g2|^2."""
    w1: float
    w2: float
    b_small: float  # E[w1 |g1|^2 + w2 |g2|^2] = |G|^2 + tr(Sigma) / b_small
    b_big: float  # E|w1 g1 + w2 g2|^2 = |G|^2 + tr(Sigma) / b_big


def split_halves(b1: int, b2: int) -> HalfSplit:
    """Weights and batch sizes for halves of b1 and b2 samples (an odd emulator count gives b1 != b2).

    Weighting by size, w_i = b_i / (b1 + b2), makes w1 g1 + w2 g2 the mean over the whole batch (what
    the training step must apply) with variance tr(Sigma) / (b1 + b2), so b_big = b1 + b2; and
    E[sum w_i |g_i|^2] = |G|^2 + tr(Sigma) sum (w_i / b_i) = |G|^2 + tr(Sigma) * 2 / (b1 + b2), so
    b_small = (b1 + b2) / 2. (Equal weights with b_big = b1 + b2 overstate b_big when b1 != b2.)
    """
    b = b1 + b2
    return HalfSplit(b1 / b, b2 / b, b / 2.0, float(b))


def unbiased_estimates(s: NoiseSample) -> tuple[float, float]:
    """(|G|^2, tr(Sigma)) from one sample, per the formulas above; NaN when the sizes coincide."""
    if s.b_big <= s.b_small:
        return float("nan"), float("nan")
    g2 = (s.b_big * s.g2_big - s.b_small * s.g2_small) / (s.b_big - s.b_small)
    trace = (s.g2_small - s.g2_big) / (1.0 / s.b_small - 1.0 / s.b_big)
    return g2, trace


class NoiseScale:
    """Running, smoothed B_simple. Same inputs on every rank give the same value on every rank."""

    def __init__(self, decay: float = EMA_DECAY, state: dict | None = None) -> None:
        self.decay = decay
        self.g2 = self.trace = 0.0
        self.g2_abs = self.trace_abs = 0.0  # EMAs of the samples' magnitudes: the outlier bound's scale
        self.g2_sq = self.trace_sq = 0.0  # EMAs of the samples' squares: how uncertain the averages are
        self.n = 0
        if state:
            self.g2, self.trace, self.n = float(state["g2"]), float(state["trace"]), int(state["n"])
            # Checkpoints written before the bound existed: start its scale from the running means.
            self.g2_abs = float(state.get("g2_abs", abs(self.g2)))
            self.trace_abs = float(state.get("trace_abs", abs(self.trace)))
            # ...and before the uncertainty: none known (reads as uncertain until new samples come).
            self.g2_sq = float(state.get("g2_sq", float("inf")))
            self.trace_sq = float(state.get("trace_sq", float("inf")))

    def update(self, sample: NoiseSample) -> None:
        g2, trace = unbiased_estimates(sample)
        if not (g2 == g2 and trace == trace) or abs(g2) == float("inf") or abs(trace) == float("inf"):
            return  # non-finite (skipped update, or no second batch size): leave the average alone
        if self.n >= OUTLIER_AFTER:
            g2 = _bounded(g2, OUTLIER_RATIO * self._debiased(self.g2_abs))
            trace = _bounded(trace, OUTLIER_RATIO * self._debiased(self.trace_abs))
        d = self.decay
        self.g2, self.trace = d * self.g2 + (1 - d) * g2, d * self.trace + (1 - d) * trace
        self.g2_abs, self.trace_abs = d * self.g2_abs + (1 - d) * abs(g2), d * self.trace_abs + (1 - d) * abs(trace)
        self.g2_sq, self.trace_sq = d * self.g2_sq + (1 - d) * g2 * g2, d * self.trace_sq + (1 - d) * trace * trace
        self.n += 1

    def _debiased(self, ema: float) -> float:
        """An EMA started at 0, divided by the weight its n samples carry (Adam's bias correction)."""
        return ema / (1.0 - self.decay ** self.n)

    def _corrected(self) -> tuple[float, float]:
        return self._debiased(self.g2), self._debiased(self.trace)

    @property
    def value(self) -> float | None:
        """Smoothed B_simple in samples, or None before MIN_UPDATES usable updates (or while the
        smoothed |G|^2 is not yet positive)."""
        if self.n < MIN_UPDATES:
            return None
        g2, trace = self._corrected()
        return trace / g2 if g2 > 0 else None

    def relative_error(self) -> float | None:
        """The standard error of the smoothed B_simple relative to its value, from the spread of the
        per-update samples and the EMA's effective sample count ((1 + d) / (1 - d) = 199 once full):
        sqrt(rse(|G|^2)^2 + rse(tr Sigma)^2). None before MIN_UPDATES or while |G|^2 <= 0."""
        if self.value is None:
            return None
        d, n = self.decay, self.n
        n_eff = (1 - d ** n) ** 2 * (1 + d) / ((1 - d) * (1 - d ** (2 * n)))
        rse = 0.0
        for mean_ema, sq_ema in ((self.g2, self.g2_sq), (self.trace, self.trace_sq)):
            mean, mean_sq = self._debiased(mean_ema), self._debiased(sq_ema)
            if mean == 0 or mean_sq == float("inf"):
                return float("inf")
            rse += max(mean_sq - mean * mean, 0.0) / n_eff / (mean * mean)
        return rse ** 0.5

    def parts(self) -> tuple[float | None, float | None]:
        """The smoothed (|G|^2, tr(Sigma)), for the log."""
        if self.n == 0:
            return None, None
        return self._corrected()

    def state(self) -> dict:
        return {"g2": self.g2, "trace": self.trace, "n": self.n, "g2_abs": self.g2_abs, "trace_abs": self.trace_abs,
                "g2_sq": self.g2_sq, "trace_sq": self.trace_sq}


def _bounded(x: float, limit: float) -> float:
    return x if limit <= 0 else max(-limit, min(limit, x))


# The status line shows the estimate only once its relative standard error is below this; before,
# "noisy" (at small batches it may stay so: one process's halves of 40 samples measure little).
SHOW_BELOW_RELATIVE_ERROR = 0.25


def settled(value: float | None, relative_error: float | None) -> bool:
    """Certain enough to act on: to show on the status line or to warn about."""
    return (value is not None and relative_error is not None and value >= 0
            and relative_error < SHOW_BELOW_RELATIVE_ERROR)


def format_for_status(value: float | None, relative_error: float | None) -> str:
    """For the status line: '-' before there is an estimate, 'noisy' while it is too uncertain to act
    on, else the value and its uncertainty, e.g. '434 (+-18%)'. progress.jsonl keeps the raw value."""
    if value is None or relative_error is None:
        return "-"
    if not settled(value, relative_error):
        return "noisy"
    return f"{format_noise_scale(value)} (+-{100 * relative_error:.0f}%)"


def format_noise_scale(value: float | None) -> str:
    """For the status line and tables: '-' before there is an estimate; '<0' when the smoothed
    tr(Sigma) is negative (the estimate is noise, or one huge gradient still dominates the average);
    one decimal below 10 so small values do not all print as 0 or 1."""
    if value is None:
        return "-"
    if value < 0:
        return "<0"
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"
