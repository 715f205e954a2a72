"""The trade-off between updates and samples to reach a score, as McCandlish et al. 2018 model it
("An Empirical Model of Large-Batch Training", arXiv:1812.06162, eq. 2.11):

    S(B) = S_min (1 + B_crit / B)        updates to the target at global batch B
    E(B) = E_min (1 + B / B_crit)        samples to the target, E = B S, E_min = S_min B_crit

S is linear in 1/B (intercept S_min, slope S_min B_crit), so the fit is a least-squares line of the
measured updates on 1/B. Far below B_crit more samples per update buy nearly proportionally fewer
updates; far above it they buy almost nothing. Pure NumPy; tests/test_critical_batch.py checks it.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np


class TradeOff(NamedTuple):
    s_min: float  # updates to the target at an infinite batch
    b_crit: float  # the critical batch, samples

    @property
    def e_min(self) -> float:
        """Samples to the target at a vanishing batch."""
        return self.s_min * self.b_crit

    def updates(self, batch: float) -> float:
        return self.s_min * (1.0 + self.b_crit / batch)

    def samples(self, batch: float) -> float:
        return batch * self.updates(batch)


class NoFit(ValueError):
    """Why points do not fit the model: the message for a reader, `label` short enough for a legend."""

    def __init__(self, message: str, label: str):
        super().__init__(message)
        self.label = label


def fit_tradeoff(points: Sequence[tuple[float, float]]) -> TradeOff:
    """Least-squares fit of (global batch, updates to the target) points; at least two batches.
    Raises NoFit when the points do not fit the model (S_min or B_crit not positive)."""
    batches = np.array([b for b, _ in points], float)
    updates = np.array([s for _, s in points], float)
    if len(set(batches.tolist())) < 2:
        raise NoFit("the fit needs runs at two global batches at least", "one batch only")
    slope, intercept = np.polyfit(1.0 / batches, updates, 1)
    if slope <= 0:
        raise NoFit(f"the updates do not fall as the batch grows, so they do not fit S_min (1 + B_crit / B) "
                    f"(slope {slope:.3g} against 1 / batch)", "the updates do not fall as the batch grows")
    if intercept <= 0:
        raise NoFit(f"the updates fall faster than 1 / batch (the larger batches needed fewer samples too), "
                    f"so they do not fit S_min (1 + B_crit / B) (intercept {intercept:.3g})",
                    "the updates fall faster than the model allows")
    return TradeOff(float(intercept), float(slope / intercept))


def fit_medians(runs: dict[float, Sequence[float]]) -> TradeOff:
    """The fit of each batch's median updates over its runs (the point a bootstrap spreads around)."""
    return fit_tradeoff([(b, float(np.median(np.asarray(s, float)))) for b, s in runs.items()])


def try_fit_medians(runs: dict[float, Sequence[float]]) -> tuple[TradeOff | None, NoFit | None]:
    """fit_medians, or (None, why) when the runs are at fewer than two batches or do not fit the model."""
    try:
        return fit_medians(runs), None
    except NoFit as e:
        return None, e


def bootstrap_tradeoff(runs: dict[float, Sequence[float | tuple[float, float]]], n: int = 1000,
                       rng: np.random.Generator | None = None) -> list[TradeOff]:
    """Fits of resampled studies: at every batch, its runs' updates drawn with replacement (their
    median is that batch's point). A run given as an interval (lo, hi), a crossing known only to lie
    in it, takes a value drawn uniformly from it each time it is drawn: nothing says where inside it
    fell. Resamples that do not fit the model are left out."""
    rng = rng or np.random.default_rng(0)
    spans = {b: (np.array([v if isinstance(v, tuple) else (v, v) for v in s], float)) for b, s in runs.items()}
    fits = []
    for _ in range(n):
        points = []
        for b, span in spans.items():
            drawn = span[rng.integers(len(span), size=len(span))]
            values, wide = drawn[:, 0].copy(), drawn[:, 0] < drawn[:, 1]
            if wide.any():  # only intervals draw again: measured runs resample exactly as before
                values[wide] = rng.uniform(drawn[wide, 0], drawn[wide, 1])
            points.append((b, float(np.median(values))))
        try:
            fits.append(fit_tradeoff(points))
        except NoFit:
            continue
    return fits
