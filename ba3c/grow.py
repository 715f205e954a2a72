"""--grow_envs: double the emulators per rank during a run when, by the live gradient noise scale,
the bigger batch saves more updates than its longer update costs.

McCandlish et al. 2018 ("An Empirical Model of Large-Batch Training", arXiv:1812.06162): the updates
to a target at global batch B are S(B) = S_min (1 + B_crit / B). A job of N one-core ranks with b
emulators each and n-step rollouts has B = N b n and spends S(B) t(b) seconds, t(b) the time of one
update. Doubling b pays when

    (1 + B_crit / (N b n)) t(b) > (1 + B_crit / (2 N b n)) t(2 b)

(S_min cancels). With t(b) = t0 + t1 b the best b is sqrt(B_crit t0 / (N n t1)): it grows as the
square root of B_crit, so B_crit must grow 4x for the best b to double. B_crit is not measured live;
the gradient noise scale B_simple is, and the paper finds B_simple a fair, somewhat larger, stand-in
for it on Atari, so the rule (which uses B_simple for B_crit) leans towards larger batches. The scale
study measured B_crit growing from ~485 at score(100) 20 to >= ~1,670 at 100 on Breakout (docs/scaling.md).

A single reading of the noise scale swings by several times, so the rule takes the median of the
readings over the last WINDOW_UPDATES updates, and starts afresh after each doubling. Pure Python;
tests/test_grow.py checks it against a brute-force search.
"""
from __future__ import annotations

from typing import Callable

# The readings the rule takes the median of: those of the last this many updates (the estimate is an
# average with a ~100-update time constant, ba3c/noise_scale.py), and at least MIN_READINGS of them.
WINDOW_UPDATES = 500
MIN_READINGS = 5
# The most emulators per one-core rank growth goes to (the range benchmarks/plan.py searches).
MAX_ENVS = 64


def doubling_pays(envs: int, ranks: int, n_step: int, b_crit: float, seconds: Callable[[int], float]) -> bool:
    """Whether 2*envs emulators per rank reach a target in fewer seconds than envs, by the model
    above: seconds(e) is one update's time at e emulators per rank. A noise scale <= 0 (its estimate
    still noise) says nothing: no."""
    if not b_crit > 0:
        return False
    batch = ranks * envs * n_step
    return (1.0 + b_crit / batch) * seconds(envs) > (1.0 + b_crit / (2.0 * batch)) * seconds(2 * envs)


def best_doubling(envs: int, ranks: int, n_step: int, b_crit: float, seconds: Callable[[int], float],
                  max_envs: int = MAX_ENVS) -> int:
    """Where repeated doubling from `envs` stops (for the start-up line and the tests)."""
    while 2 * envs <= max_envs and doubling_pays(envs, ranks, n_step, b_crit, seconds):
        envs *= 2
    return envs


class Growth:
    """Rank 0's question at each log line: double now? It owns the emulators per one-core rank of a
    growing run (what checkpoints keep, so a resumed run goes on at its grown size)."""

    def __init__(self, envs: int, ranks: int, n_step: int, max_envs: int = MAX_ENVS,
                 state: dict | None = None) -> None:
        self.envs = int(state["envs"]) if state else envs
        self.ranks, self.n_step, self.max_envs = ranks, n_step, max_envs
        self.readings: list[tuple[int, float]] = []  # (update, noise scale) since the last doubling

    def observe(self, update: int, noise_scale: float | None, seconds: Callable[[int], float]) -> bool:
        """Add this log line's noise-scale reading; True when doubling pays by the window's median."""
        if noise_scale is not None:
            self.readings.append((update, noise_scale))
        self.readings = [(u, v) for u, v in self.readings if u > update - WINDOW_UPDATES]
        if 2 * self.envs > self.max_envs or len(self.readings) < MIN_READINGS:
            return False
        if self.readings[0][0] > update - WINDOW_UPDATES // 2:
            return False  # the readings span too few updates yet (right after a start or a doubling)
        return doubling_pays(self.envs, self.ranks, self.n_step, self.b_crit(), seconds)

    def b_crit(self) -> float:
        """The window's median noise scale, the rule's stand-in for B_crit."""
        values = sorted(v for _, v in self.readings)
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])

    def doubled(self) -> None:
        self.envs *= 2
        self.readings = []

    def state(self) -> dict:
        return {"envs": self.envs}
