"""Fault injection for the tests of the no-hang and non-finite paths, read from the environment:

    BA3C_FAULT_NAN="<rank>:<first update>[-<last>]"   that rank's gradients are NaN for those updates
    BA3C_FAULT_CRASH="<rank>:<update>"                that rank raises at that update
    BA3C_FAULT_HANG="<rank>:<update>"                 that rank sleeps forever at that update (alive, silent)
    BA3C_FAULT_SLOW_SAVE="<seconds>[:<n>]"            the first n (default all) checkpoint writes take that
                                                      much longer (a slow shared filesystem)
    BA3C_FAULT_SLOW_LOG="<seconds>[:<n>]"             the same for the run folder's log writes
"""
from __future__ import annotations

import os
import time

import numpy as np


class Faults:
    def __init__(self, rank: int, env: dict[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.nan_first = self.nan_last = self.crash_at = self.hang_at = -1
        nan = env.get("BA3C_FAULT_NAN", "")
        if nan.startswith(f"{rank}:"):
            first, _, last = nan.split(":")[1].partition("-")
            self.nan_first, self.nan_last = int(first), int(last or first)
        crash = env.get("BA3C_FAULT_CRASH", "")
        if crash.startswith(f"{rank}:"):
            self.crash_at = int(crash.split(":")[1])
        seconds, _, n = env.get("BA3C_FAULT_SLOW_SAVE", "0").partition(":")
        self.slow_save, self.slow_saves = float(seconds), int(n) if n else 10**9
        seconds, _, n = env.get("BA3C_FAULT_SLOW_LOG", "0").partition(":")
        self.slow_log = (float(seconds), int(n) if n else 10**9)
        hang = env.get("BA3C_FAULT_HANG", "")
        if hang.startswith(f"{rank}:"):
            self.hang_at = int(hang.split(":")[1])
        hang = env.get("BA3C_FAULT_HANG_AFTER", "")
        self.hang_after = int(hang.split(":")[1]) if hang.startswith(f"{rank}:") else -1

    def before_allreduce(self, update: int, flat, n_params: int):
        """The rank's buffer as it should go into the allreduce at this update."""
        if update == self.crash_at:
            raise RuntimeError(f"injected crash at update {update} (BA3C_FAULT_CRASH)")
        while update == self.hang_at:
            time.sleep(60)  # like a dead mount: alive, never returning
        if self.nan_first <= update <= self.nan_last:
            flat = np.array(flat, np.float32)
            flat[:n_params] = np.nan
        return flat

    def after_allreduce(self, update: int) -> None:
        """Between an update's allreduce and the collectives of its log line."""
        while update == self.hang_after:
            time.sleep(60)
