"""What synchronous averaging costs when every update waits for the slowest of N ranks.

Inputs are measured per-update compute times of one rank (bench_stragglers.py). Ranks are modelled
as independent draws from that empirical distribution (with replacement), so the expected slowest of
N is exact for the empirical distribution: E[max] = x_(1) + sum_k (x_(k+1) - x_(k)) (1 - (k/m)^N) over
the m sorted samples. Its limit: for N near m the answer is set by the few largest samples, so the
sample must be several times larger than N before the tail it describes is trusted.

The alternative the issue asks about, a bounded wait: ranks later than a deadline d contribute
nothing to that update. The update then takes E[min(max, d)] and loses, on average, the fraction
P(t > d) of its samples."""
from __future__ import annotations

import numpy as np


def expected_max(samples: np.ndarray, n: int) -> float:
    """E[max of n independent draws from the empirical distribution of samples]."""
    x = np.sort(np.asarray(samples, dtype=np.float64))
    m = len(x)
    k = np.arange(1, m)
    return float(x[0] + np.sum(np.diff(x) * (1.0 - (k / m) ** n)))


def simulated_max(samples: np.ndarray, n: int, trials: int, rng: np.random.Generator) -> float:
    """The same by Monte Carlo: mean over trials of the max of n draws with replacement."""
    x = np.asarray(samples, dtype=np.float64)
    return float(np.mean([x[rng.integers(0, len(x), n)].max() for _ in range(trials)]))


def expected_capped_max(samples: np.ndarray, n: int, deadline: float) -> float:
    """E[min(max of n draws, deadline)]: the update time when late ranks are not waited for."""
    x = np.minimum(np.asarray(samples, dtype=np.float64), deadline)
    return expected_max(x, n)


def late_fraction(samples: np.ndarray, deadline: float) -> float:
    """Expected fraction of ranks (and so of samples) left out of an update by the deadline."""
    return float(np.mean(np.asarray(samples) > deadline))


def summary(samples: np.ndarray, ranks: list[int], deadline_quantiles: tuple[float, ...] = (0.99, 0.999)) -> dict:
    """Per world size: expected slowest rank, synchronous efficiency (mean / E[max]), and for each
    deadline quantile the update time and the share of samples a bounded wait would drop."""
    x = np.asarray(samples, dtype=np.float64)
    mean = float(x.mean())
    out = {"samples": len(x), "mean": mean, "median": float(np.median(x)),
           "p99": float(np.quantile(x, 0.99)), "p999": float(np.quantile(x, 0.999)), "max": float(x.max()),
           "cv": float(x.std() / mean), "by_ranks": []}
    for n in ranks:
        e_max = expected_max(x, n)
        row = {"ranks": n, "expected_max": e_max, "sync_efficiency": mean / e_max}
        for q in deadline_quantiles:
            d = float(np.quantile(x, q))
            capped = expected_capped_max(x, n, d)
            row[f"deadline_q{q:g}"] = {"deadline": d, "update_time": capped, "dropped": late_fraction(x, d),
                                       "time_saved": 1.0 - capped / e_max}
        out["by_ranks"].append(row)
    return out
