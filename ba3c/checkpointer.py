"""Rank 0's checkpoint writer: the state is copied at an update boundary and written by a background
thread, so a slow shared filesystem (Lustre, NFS under load) never holds the other ranks in the next
allreduce. At most one write is in flight; a save that comes due while one runs is skipped, and says
so. The final save (end of run, signal) waits for both. The file format, atomic rename, checksums and
keep-last-N are those of ba3c/checkpoint.py.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ba3c import checkpoint


class Checkpointer:
    def __init__(self, folder: Path, keep: int, run_meta: dict[str, Any], say: Callable[[str], None],
                 warn: Callable[[str], None], slow_write: tuple[float, int] = (0.0, 0)) -> None:
        """run_meta: what every checkpoint of this run records (identity, config, world size)."""
        self.folder, self.keep, self.run_meta, self.say, self.warn = folder, keep, run_meta, say, warn
        self.slow_write, self.slow_writes = slow_write  # seconds added to the first n writes (fault injection)
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._done: tuple[Path, int, float] | BaseException | None = None
        self._started = 0.0
        self._skipped = 0  # saves skipped while the current write runs

    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def save(self, state: dict[str, np.ndarray], counters: dict[str, Any], extra: dict[str, Any],
             wait: bool = False) -> bool:
        """Copy the state now and write it in the background (wait=True: wait for the write in
        flight, then write this one and wait for it too). False if skipped or failed. extra: more
        metadata of this moment (noise-scale state, weights checksum)."""
        frames = counters["frames"]
        if not self.poll():
            return False
        if self.busy():
            if not wait:
                if not self._skipped:  # once per slow write, not at every due save
                    self.say(f"checkpoint at {frames:,} frames skipped: the previous write has been running for "
                             f"{time.time() - self._started:.0f} s (slow filesystem?); training goes on")
                self._skipped += 1
                return False
            self._thread.join()
            if not self.poll():
                return False
        snapshot = {k: np.array(v, copy=True) for k, v in state.items()}
        meta = {**self.run_meta, "counters": dict(counters), **extra}
        self._started = time.time()
        self._thread = threading.Thread(target=self._write, args=(counters["updates"], frames, snapshot, meta),
                                        name="checkpoint-writer")
        self._thread.start()
        if wait:
            self._thread.join()
            return self.poll()
        return True

    def _write(self, step: int, frames: int, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        try:
            if self.slow_writes > 0:
                self.slow_writes -= 1
                time.sleep(self.slow_write)
            path = checkpoint.save(self.folder, step, arrays, meta, self.keep)
            self._done = (path, frames, time.time() - self._started)
        except BaseException as e:  # any failure is a failed save: a silent thread death would read as success
            self._done = e

    def poll(self) -> bool:
        """Report a write that has finished since the last call; False once a write has failed (the
        caller then stops the run at the next update, keeping the last good checkpoint)."""
        done, self._done = self._done, None
        if isinstance(done, BaseException):
            last = checkpoint.list_checkpoints(self.folder)
            why = done.strerror if isinstance(done, OSError) and done.strerror else f"{type(done).__name__}: {done}"
            fix = "Free space and run" if isinstance(done, OSError) else "Run"
            self.error = (f"cannot write a checkpoint in {self.folder} ({why}); the last good one is "
                          f"{last[-1] if last else 'none'}. {fix} the same command to resume")
            self.warn(f"error: {self.error}")
        elif done is not None:
            path, frames, seconds = done
            slow = f", written in {seconds:.0f} s" if seconds >= 5 else ""
            skipped = f"; {self._skipped} save(s) skipped meanwhile" if self._skipped else ""
            self.say(f"checkpoint {path} ({frames:,} frames{slow}{skipped})")
            self._skipped = 0
        return self.error is None

    def close(self) -> None:
        """Wait for the write in flight (end of run)."""
        if self._thread is not None:
            self._thread.join()
            self.poll()
