"""The run folder and everything written into it (rank 0 only): config, metadata, progress log
(JSONL), TensorBoard events and the terminal progress bar. Files are written by a background thread
(FileWriter): the main thread holds collectives with the other ranks and must not wait on a disk."""
from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ba3c.errors import UserError
from ba3c.noise_scale import format_for_status


def git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent.parent
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
        if out.returncode == 0:
            return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return None


def package_versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in ("tensorflow-cpu", "ale-py", "gymnasium", "numpy", "mpi4py", "horovod"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def check_writable(folder: Path) -> None:
    """Fail at start-up, not after an hour of training, when the run folder cannot take a checkpoint."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"x" * 4096)
        probe.unlink()
    except OSError as e:
        raise UserError(f"run folder {folder} is not writable ({e.strerror}); choose another --logdir") from None


_held_locks: list[Any] = []  # open lock files: the lock lasts as long as the process


def hold_run_lock(run_dir: Path) -> None:
    """Claim the run folder for this process, or fail in one line if another training process holds it:
    two runs in one folder would interleave their progress logs and overwrite each other's checkpoints.
    The kernel drops the lock when the holder exits, however it exits. Filesystems without flock support
    (some Lustre mounts) skip the check rather than refuse to train."""
    import errno
    import fcntl

    path = run_dir / ".lock"
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno not in (errno.EAGAIN, errno.EACCES):
            f.close()
            return
        f.seek(0)
        holder = f.read().strip() or "unknown"
        f.close()
        raise UserError(f"run folder {run_dir} is in use by another training process ({holder}); wait for it to "
                        "end, stop it, or choose another --name") from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()} on host {socket.gethostname()}\n")
    f.flush()
    _held_locks.append(f)


def release_run_locks() -> None:
    """Drop this process's run-folder locks, as its exit would (for callers of train.main in-process)."""
    while _held_locks:
        _held_locks.pop().close()


_active_bar = None


def print_line(msg: str, file=None) -> None:
    """Print above the progress bar when one is showing, so lines are not glued to it."""
    if _active_bar is not None:
        _active_bar.write(msg, file=file or sys.stdout)
    else:
        print(msg, file=file or sys.stdout, flush=True)


class FileWriter:
    """Rank 0's file writes on a thread of their own, so that a stalled shared filesystem never holds
    the main thread past the other ranks' collective deadline. Bounded: at most `limit` writes wait;
    beyond that the oldest waiting progress row is dropped (and the drops are counted and said once)."""

    def __init__(self, limit: int = 1000, slow: tuple[float, int] = (0.0, 0)) -> None:
        import collections
        import threading

        self.limit = limit
        self.slow, self.slow_n = slow  # seconds added to the first n writes (fault injection)
        self.dropped = 0
        self._jobs: collections.deque = collections.deque()
        self._cv = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="runlog-writer", daemon=True)
        self._thread.start()

    def submit(self, job, droppable: bool = True) -> None:
        """Queue job() (droppable: a progress row, which a newer row makes less needed)."""
        with self._cv:
            if len(self._jobs) >= self.limit:
                for i, (_, can_drop) in enumerate(self._jobs):
                    if can_drop:
                        del self._jobs[i]
                        self.dropped += 1
                        if self.dropped == 1:
                            print(f"warning: the run folder's filesystem is slow: {self.limit} log writes waiting; "
                                  "dropping the oldest progress rows (checkpoints are not affected)", file=sys.stderr)
                        break
            self._jobs.append((job, droppable))
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._jobs and not self._closing:
                    self._cv.wait()
                if not self._jobs:
                    return
                job, _ = self._jobs.popleft()
            if self.slow_n > 0:
                self.slow_n -= 1
                time.sleep(self.slow)
            job()

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        with self._cv:
            self._closing = True
            self._cv.notify()
        self._thread.join()


def surviving_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run's progress rows without those a resume undid. A resumed run goes on from its last
    checkpoint, so rows that a killed start logged after that checkpoint describe training that no
    longer exists; the resumed start's first row has fewer frames than they do, which marks them."""
    out: list[dict[str, Any]] = []
    for row in rows:
        while out and out[-1]["frames"] >= row["frames"]:
            out.pop()
        out.append(row)
    return out


# After a resume, score(100) is withheld until the emulators have finished this many games each, on
# average, since the start (see settle_after_resumes).
SETTLE_GAMES_PER_EMULATOR = 2


def score_settled(games_since_start: int, emulators: int, resumed: bool) -> bool:
    """Whether score(100) can be read: always on a new run's start; after a resume, once the emulators
    have finished SETTLE_GAMES_PER_EMULATOR games each on average (see settle_after_resumes)."""
    return not resumed or games_since_start >= SETTLE_GAMES_PER_EMULATOR * emulators


def settle_after_resumes(rows: list[dict[str, Any]], starts: list[int], emulators: int) -> list[dict[str, Any]]:
    """Rows with score_mean100 withheld (None; the value kept as score_mean100_unsettled) while a resumed
    start's window is biased. A resume restarts every emulator's game at once (the vector emulator's
    state is not checkpointed), so the games end in order of length: the window fills with the
    cohort's shortest games first, then its longest (batch 1,280, 256 emulators: 46 -> 33 -> 92 within
    2M frames). `starts`: the frames each start began at (0 for a new run, whose start every run
    shares and which is left as it is)."""
    # the games counter where each resumed start began: its last row at or before that frame
    games_at = {f: max((r.get("games", 0) for r in rows if r["frames"] <= f), default=0) for f in starts if f > 0}
    out = []
    for row in rows:
        start = max((f for f in games_at if f < row["frames"]), default=None)
        if start is not None and not score_settled(row.get("games", 0) - games_at[start], emulators, True):
            row = {**row, "score_mean100": None, "score_mean100_unsettled": row.get("score_mean100")}
        out.append(row)
    return out


def read_progress(folder: Path) -> list[dict[str, Any]]:
    """A run folder's progress.jsonl as the run's history: its surviving rows (surviving_rows), with
    score(100) withheld while a resume's restarted games bias it (settle_after_resumes)."""
    folder = Path(folder)
    path = folder / "progress.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []
    rows = surviving_rows(rows)
    try:
        meta = json.loads((folder / "metadata.json").read_text())
        cfg = json.loads((folder / "config.json").read_text())
        emulators = int(meta["world"]["global_batch"]) // int(cfg["n_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return rows  # a folder without the start records: nothing to settle against
    starts = [s.get("frames_at_start") or 0 for s in (*meta.get("earlier_starts", []), meta)]
    return settle_after_resumes(rows, starts, emulators)


def trim_progress(folder: Path, frames: int) -> int:
    """On a start from a checkpoint at `frames`: progress.jsonl keeps its surviving rows up to that
    checkpoint (atomically); the undone rows are appended to progress-undone.jsonl, not deleted.
    Returns how many rows moved."""
    from ba3c.checkpoint import write_atomic

    path = Path(folder) / "progress.jsonl"
    if not path.exists():
        return 0
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    keep = [r for r in surviving_rows(rows) if r["frames"] <= frames]
    if len(keep) == len(rows):
        return 0
    kept = {id(r) for r in keep}
    with open(path.with_name("progress-undone.jsonl"), "a") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows if id(r) not in kept)
    write_atomic(path, "".join(json.dumps(r) + "\n" for r in keep).encode())
    return len(rows) - len(keep)


class RunLog:
    def __init__(self, folder: Path, total_frames: int, progress: str, slow_write: tuple[float, int] = (0.0, 0),
                 queue_limit: int = 1000) -> None:
        self.folder = folder
        self.progress_path = folder / "progress.jsonl"
        self._tb = None
        self._bar = None
        self._log_failed = False
        self.writer = FileWriter(queue_limit, slow_write)
        show = progress == "on" or (progress == "auto" and sys.stdout.isatty())
        if show:
            from tqdm import tqdm

            self._bar = tqdm(total=total_frames, unit="frame", unit_scale=True, dynamic_ncols=True,
                             smoothing=0.1, mininterval=1.0)
            global _active_bar
            _active_bar = self._bar

    def write_json(self, name: str, obj: Any) -> None:
        """Written atomically in the background (config.json, metadata.json: never dropped)."""
        from ba3c.checkpoint import write_json_atomic

        self.writer.submit(lambda: write_json_atomic(self.folder / name, obj), droppable=False)

    def write_metadata(self, meta: dict[str, Any]) -> dict[str, Any]:
        """metadata.json of this start; returns what it wrote. A resumed run keeps what its earlier
        starts ran (commit, command, from which frame) under earlier_starts, so a curve that spans
        code changes says so."""
        try:
            old = json.loads((self.folder / "metadata.json").read_text())
        except (OSError, ValueError):  # a new run, or a file a crash left unreadable
            old = None
        if old:
            meta = {**meta, "earlier_starts": [*old.get("earlier_starts", []), {
                k: old.get(k) for k in ("started", "git_commit", "frames_at_start", "argv")}]}
        self.write_json("metadata.json", meta)
        return meta

    def tensorboard(self):
        if self._tb is None:
            import tensorflow as tf

            self._tb = tf.summary.create_file_writer(str(self.folder / "tb"))
        return self._tb

    def log(self, row: dict[str, Any]) -> None:
        """Queue one progress row for progress.jsonl and TensorBoard; print the status line (no bar)."""
        self.writer.submit(lambda: self._write_row(row))
        if self._bar is None:
            score = row.get("score_mean100")
            print(f"frames {row['frames']:>12,}  fps {row['fps']:7.0f}  score(100) "
                  f"{'-' if score is None else f'{score:7.1f}'}  loss {row.get('loss', float('nan')):8.4f}  "
                  f"entropy {row.get('entropy', float('nan')):.3f}  noise scale {_noise(row)}", flush=True)

    def _write_row(self, row: dict[str, Any]) -> None:
        """On the writer thread. A failed write (disk full) is reported once and training goes on;
        checkpoints decide."""
        try:
            with open(self.progress_path, "a") as f:
                f.write(json.dumps(row) + "\n")
            import tensorflow as tf

            with self.tensorboard().as_default(step=int(row["frames"])):
                for k, v in row.items():
                    if k != "frames" and isinstance(v, (int, float)) and v is not None:
                        tf.summary.scalar(k, v)
            self.tensorboard().flush()
        except Exception as e:  # OSError, or TensorFlow's own error type for the event file
            if not self._log_failed:
                why = getattr(e, "strerror", None) or str(e).splitlines()[0]
                print(f"warning: cannot write the progress log in {self.folder} ({why})", file=sys.stderr)
            self._log_failed = True

    def side_report(self, rep: dict[str, Any]) -> None:
        """Evaluation results and video notices from side ranks: eval.jsonl / videos.jsonl + TensorBoard."""
        rep = {**rep, "time": time.time()}
        self.writer.submit(lambda: self._write_side_report(rep), droppable=False)

    def _write_side_report(self, rep: dict[str, Any]) -> None:
        name = "eval.jsonl" if rep["role"] == "eval" else "videos.jsonl"
        with open(self.folder / name, "a") as f:
            f.write(json.dumps(rep) + "\n")
        if rep["role"] == "eval":
            import tensorflow as tf

            with self.tensorboard().as_default(step=int(rep["frames"])):
                for k in ("mean", "median", "std", "human_normalized_mean"):
                    if rep.get(k) is not None:
                        tf.summary.scalar(f"eval/{k}", rep[k])
            self.tensorboard().flush()

    def bar_update(self, frames: int, row: dict[str, Any] | None) -> None:
        if self._bar is None:
            return
        self._bar.n = frames
        if row is not None:
            score = row.get("score_mean100")
            self._bar.set_postfix_str(f"fps={row['fps']:.0f} score={'-' if score is None else f'{score:.1f}'} "
                                      f"loss={row.get('loss', float('nan')):.3f} noise={_noise(row)}", refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        """Write what is queued (the end of a run waits for a slow filesystem), then close."""
        global _active_bar
        if self._bar is not None:
            self._bar.close()
            _active_bar = None
        self.writer.close()
        if self.writer.dropped:
            print(f"warning: {self.writer.dropped} progress row(s) were dropped while the filesystem was slow",
                  file=sys.stderr)
        if self._tb is not None:
            self._tb.close()


def _noise(row: dict[str, Any]) -> str:
    """The smoothed gradient noise scale (samples) once it has settled (ba3c/noise_scale.py)."""
    return format_for_status(row.get("noise_scale"), row.get("noise_scale_rel_error"))


def metadata(world: dict[str, Any]) -> dict[str, Any]:
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "argv": sys.argv,
        "python": sys.executable,
        "git_commit": git_commit(),
        "versions": package_versions(),
        "world": world,
        "slurm": {k: v for k, v in os.environ.items() if k.startswith("SLURM_")},
    }
