"""How big one update is: per-rank emulators x steps, times ranks = the global batch, and the
learning-rate rule that goes with it. The one place that turns batch flags and the world size into
numbers, so a 1,536-rank launch with no flags does not silently average 120,000 samples per update.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ba3c.errors import UserError

DEFAULT_ENVS_PER_RANK = 16
DEFAULT_N_STEP = 5
# The global batch -l/--learning_rate was tuned at (one rank x 16 envs x 5 steps); --lr_scaling
# scales the rate by (global batch / this), linearly or by its square root.
REFERENCE_BATCH = DEFAULT_ENVS_PER_RANK * DEFAULT_N_STEP
# Emulators per rank when several ranks run with no batch flags: (from this many ranks on, emulators
# per rank). Each is the count that reaches Breakout score(100) DEFAULT_PLAN_TARGET in the fewest
# minutes on 10 GbE, synchronous, by the scale study's fit S(B) = S_min (1 + B_crit / B) times the
# measured time of one update (docs/large-batches.md), at most DEFAULT_ENVS_PER_RANK. More emulators
# buy fewer updates while the global batch is below B_crit, at a longer update. Derived from the
# recorded study at these rank steps by `make plan-defaults`; tests/test_config.py checks it still matches.
# At any rank count the emulators are also capped so that the global batch stays within
# DEFAULT_MAX_GLOBAL_BATCH, the largest the study trained: beyond it the fit is extrapolation alone
# (one emulator per rank, the least there is, may still exceed it).
DEFAULT_PLAN_TARGET = 300.0
DEFAULT_ENVS_BY_RANKS = ((1, 16), (2, 16), (4, 16), (8, 16), (16, 13), (32, 9), (64, 6), (128, 5), (256, 4),
                         (512, 2), (1024, 1))
DEFAULT_MAX_GLOBAL_BATCH = 5120
DEFAULT_LR_SCALING = "none"
STUDY_REF = "docs/large-batches.md"
# Rank r seeds its emulators from seed + 1000 * r, so more than this per rank would replay another
# rank's games (one process may have more).
MAX_ENVS_PER_RANK_MULTI = 1000


class BatchPlan(NamedTuple):
    envs_per_rank: int
    n_step: int
    ranks: int
    lr_scaling: str  # none | linear | sqrt
    why: str  # one line: where these numbers come from

    @property
    def rank_batch(self) -> int:
        return self.envs_per_rank * self.n_step

    @property
    def global_batch(self) -> int:
        return self.rank_batch * self.ranks

    @property
    def lr_factor(self) -> float:
        ratio = self.global_batch / REFERENCE_BATCH
        return {"none": 1.0, "linear": ratio, "sqrt": math.sqrt(ratio)}[self.lr_scaling]

    def summary(self) -> str:
        return (f"global batch {self.global_batch:,} ({self.ranks:,} rank(s) x {self.envs_per_rank} env(s) x "
                f"{self.n_step} steps), learning-rate rule {self.lr_scaling} (x{self.lr_factor:.3g}): {self.why}")


def derive_rank_batch(batch: int | None, envs: int | None, n_step: int | None) -> tuple[int | None, int | None,
                                                                                         int | None]:
    """Check the per-rank trio batch = envs x n_step and fill what two of them imply; leave all
    None when none is given (the plan then picks them from the world size)."""
    for flag, v in (("-b/--batch_size", batch), ("--envs_per_rank", envs), ("--n_step", n_step)):
        if v is not None and v <= 0:
            raise UserError(f"{flag} must be a positive integer, got {v}")
    if batch is None:
        if envs is None:
            return None, None, n_step
        n_step = n_step or DEFAULT_N_STEP
        return envs * n_step, envs, n_step
    if envs is None and n_step is None:
        # As in the source projects, -b alone is a batch of transitions with returns of up to 5 steps.
        n_step = max(d for d in range(1, DEFAULT_N_STEP + 1) if batch % d == 0)
    if envs is None:
        if batch % n_step:
            raise UserError(f"-b {batch} is not a multiple of --n_step {n_step}; give -b = envs_per_rank x n_step")
        return batch, batch // n_step, n_step
    if n_step is None:
        if batch % envs:
            raise UserError(f"-b {batch} is not a multiple of --envs_per_rank {envs}; "
                            "give -b = envs_per_rank x n_step")
        return batch, envs, batch // envs
    if batch != envs * n_step:
        raise UserError(f"-b {batch} != --envs_per_rank {envs} x --n_step {n_step}; give two of the three "
                        "and the third is derived")
    return batch, envs, n_step


def plan_batch(ranks: int, batch: int | None = None, envs: int | None = None, n_step: int | None = None,
               global_batch: int | None = None, lr_scaling: str = "auto") -> BatchPlan:
    """Explicit flags always win: --global_batch, else per-rank -b/--envs_per_rank/--n_step, else the
    emulators per rank the scale study's fit finds fastest at this many ranks (default_envs)."""
    plan = _plan(ranks, batch, envs, n_step, global_batch, lr_scaling)
    if ranks > 1 and plan.envs_per_rank > MAX_ENVS_PER_RANK_MULTI:
        raise UserError(f"{plan.envs_per_rank} emulators per rank: with several ranks at most "
                        f"{MAX_ENVS_PER_RANK_MULTI} (rank r seeds its emulators from seed + 1000 * r, so more would "
                        "repeat another rank's games); use more ranks or a smaller batch")
    return plan


def _plan(ranks: int, batch: int | None, envs: int | None, n_step: int | None, global_batch: int | None,
          lr_scaling: str) -> BatchPlan:
    batch, envs, n_step = derive_rank_batch(batch, envs, n_step)
    rule = DEFAULT_LR_SCALING if lr_scaling == "auto" else lr_scaling
    rule_why = "" if lr_scaling != "auto" else f"; rule {rule} (default, see {STUDY_REF})"
    if global_batch is not None:
        if envs is not None:
            raise UserError("give either --global_batch or the per-rank -b/--envs_per_rank, not both")
        n_step = n_step or DEFAULT_N_STEP
        if global_batch <= 0 or global_batch % (n_step * ranks):
            raise UserError(f"--global_batch {global_batch} is not a positive multiple of {ranks} rank(s) x "
                            f"--n_step {n_step} = {ranks * n_step}; pick a multiple of {ranks * n_step}")
        return BatchPlan(global_batch // (n_step * ranks), n_step, ranks, rule, "from --global_batch" + rule_why)
    if envs is not None:
        return BatchPlan(envs, n_step, ranks, rule, "from the per-rank batch flags" + rule_why)
    n_step = n_step or DEFAULT_N_STEP
    envs = default_envs(ranks, n_step)
    if ranks == 1:
        why = f"the default {envs} envs per rank"
    else:
        why = (f"{envs} env(s) per rank: the fewest minutes to Breakout score(100) {DEFAULT_PLAN_TARGET:g} at "
               f"{ranks:,} ranks (10 GbE, synchronous) by the scale study's fit ({STUDY_REF})")
        if envs < table_envs(ranks):
            why += f", capped at the study's largest global batch, {DEFAULT_MAX_GLOBAL_BATCH:,}"
    return BatchPlan(envs, n_step, ranks, rule, why + rule_why)


def table_envs(ranks: int) -> int:
    """DEFAULT_ENVS_BY_RANKS's entry for the largest rank count not above `ranks`."""
    return max((r, e) for r, e in DEFAULT_ENVS_BY_RANKS if r <= ranks)[1]


def default_envs(ranks: int, n_step: int = DEFAULT_N_STEP) -> int:
    """Emulators per rank with no batch flags: table_envs, fewer if the global batch would pass
    DEFAULT_MAX_GLOBAL_BATCH (never fewer than one)."""
    return max(1, min(table_envs(ranks), DEFAULT_MAX_GLOBAL_BATCH // (n_step * ranks)))
