"""A deadline on every collective, kept by a thread that stands outside the blocked call.

A rank that hangs but stays alive (stopped, stuck in a system call or a dead mount) never makes MPI
abort: every other rank waits in the next collective forever. Horovod's stall check cannot help, as
it runs in the coordinator's negotiation loop, which waits for the same rank.

Each trainer runs one daemon thread. The main thread marks entry to and exit from each collective
(`with watchdog.collective("allreduce"): ...`); both MPI (mpi4py) and TensorFlow (Horovod's op)
release the interpreter lock while they wait, so the thread keeps running. When rank 0 has waited
longer than the deadline, its thread asks every rank, on a communicator of its own, where its main
thread is; ranks whose thread answers say what they are doing, and ranks that do not answer within
a grace period are stopped or dead. Rank 0 prints one line naming the ranks that did not arrive and
aborts the job. If rank 0 itself is the hung rank, the other ranks give it the grace period twice
over and then abort, naming rank 0. The questions need MPI_THREAD_MULTIPLE (mpi4py asks for it, but
an MPI may grant less); below it the thread makes no MPI call and each waiting rank ends itself.
"""
from __future__ import annotations

import atexit
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

TAG_QUERY, TAG_ANSWER = 1, 2
POLL_SECONDS = 0.25
GRACE_SECONDS = 5.0      # how long rank 0 waits for answers; others wait twice this for rank 0
START_TIMEOUT = 600.0    # until the run is warm: compilation, checkpoint loading, start-up skew
WARM_UPDATES = 20
MIN_TIMEOUT = 60.0       # OS noise, swapping, a slow log write: never abort a healthy job for these
TIMEOUT_PER_UPDATE = 20  # deadline = this many times the slowest recent update


def auto_timeout(recent_update_seconds: Sequence[float]) -> float:
    """The deadline on one collective when --collective_timeout is not given: generous for the first
    WARM_UPDATES updates of a run (or of a resumed segment), then a multiple of the slowest recent
    update, never under a minute."""
    if len(recent_update_seconds) < WARM_UPDATES:
        return START_TIMEOUT
    return max(MIN_TIMEOUT, TIMEOUT_PER_UPDATE * max(recent_update_seconds))


def describe_missing(missing: list[int], where: list[tuple[str, int]], answers: dict[int, str], limit: int = 8) -> str:
    """'rank 1 (host a, pid 5: no answer)' for the first `limit` ranks, then a count."""
    parts = []
    for r in missing[:limit]:
        host, pid = where[r]
        parts.append(f"rank {r} (host {host}, pid {pid}: {answers.get(r, 'no answer, stopped or dead')})")
    more = f" and {len(missing) - limit} more" if len(missing) > limit else ""
    return ", ".join(parts) + more


def judge_answer(seq: int, inside: str, r_seq: int, r_inside: str | None, r_for: float) -> str | None:
    """What a rank's answer says about rank 0's wait in collective `inside` #seq: None if that rank
    has arrived (it waits in the same one, or has already passed it: a gather or broadcast lets other
    ranks than the root leave before the root is done, and they go on into the next collective),
    else why it has not."""
    if r_seq > seq or (r_seq == seq and r_inside in (None, inside)):
        return None
    if r_seq == seq:
        return f"waiting in {r_inside} #{r_seq}: ranks called collectives in different orders, a bug"
    if r_inside is None:
        return f"busy outside any collective for {r_for:.0f} s after #{r_seq}"
    return f"still in {r_inside} #{r_seq}, which rank 0 has left"


class Watchdog:
    """One per trainer rank. `comm` is the trainers' mpi4py communicator (duplicated here, so the
    watchdog's messages never meet the training's); `abort(code)` ends every rank of the job."""

    def __init__(self, comm: Any, abort: Callable[[int], None], timeout: float = START_TIMEOUT,
                 grace: float = GRACE_SECONDS, exit_code: int = 3, ask_others: bool = True) -> None:
        """ask_others=False (MPI granted less than MPI_THREAD_MULTIPLE): the thread makes no MPI call
        at all; at the deadline each waiting rank says where it waited and ends its own process, which
        the launcher turns into the end of the job."""
        import os
        import socket

        self.ask_others = ask_others

        self.channel = comm.Dup()
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.where: list[tuple[str, int]] = comm.allgather((socket.gethostname(), os.getpid()))
        self.abort, self.timeout, self.grace, self.exit_code = abort, timeout, grace, exit_code
        self.seq = 0                         # collectives entered so far; the same on every rank
        self.inside: str | None = None       # name of the collective the main thread waits in
        self.since = time.monotonic()        # when the main thread entered it, or last left one
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="collective-watchdog", daemon=True)
        self._thread.start()
        atexit.register(self.close)  # before MPI_Finalize: the thread must not call MPI after it

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    @contextmanager
    def collective(self, name: str) -> Iterator[None]:
        with self._lock:
            self.seq += 1
            self.inside, self.since = name, time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self.inside, self.since = None, time.monotonic()

    def status(self) -> tuple[int, str | None, float]:
        with self._lock:
            return self.seq, self.inside, time.monotonic() - self.since

    # ---- the thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                if self.ask_others:
                    self._answer_queries()
                seq, inside, waited = self.status()
                if inside is not None and waited > self.timeout:
                    if not self.ask_others:
                        self._exit_alone(seq, inside, waited)
                    self._expired(seq, inside, waited)
            except Exception as e:  # the thread must never die silently and leave the job unguarded
                print(f"[rank {self.rank}] collective watchdog failed: {e!r}", file=sys.stderr, flush=True)
                return

    def _answer_queries(self) -> None:
        while self.channel.Iprobe(source=0, tag=TAG_QUERY):
            self.channel.recv(source=0, tag=TAG_QUERY)
            self.channel.send(self.status(), dest=0, tag=TAG_ANSWER)

    def _expired(self, seq: int, inside: str, waited: float) -> None:
        if self.rank != 0:
            # Rank 0 finds the culprits; if it has not aborted the job by now, it is the one stuck.
            if waited > self.timeout + 2 * self.grace:
                self._fail(f"rank 0 (host {self.where[0][0]}, pid {self.where[0][1]}) did not arrive at {inside} "
                           f"#{seq} within {waited:.0f} s and did not report on the other ranks: it is stopped or hung")
            return
        from mpi4py import MPI

        st = MPI.Status()
        for r in range(1, self.size):
            self.channel.isend(None, dest=r, tag=TAG_QUERY)
        answers: dict[int, tuple[int, str | None, float]] = {}
        deadline = time.monotonic() + self.grace
        while len(answers) < self.size - 1 and time.monotonic() < deadline:
            while self.channel.Iprobe(tag=TAG_ANSWER, status=st):
                answers[st.Get_source()] = self.channel.recv(source=st.Get_source(), tag=TAG_ANSWER)
            time.sleep(0.05)
        text: dict[int, str] = {}
        missing = []
        for r in range(1, self.size):
            if r not in answers:
                missing.append(r)
                continue
            r_seq, r_inside, r_for = answers[r]
            verdict = judge_answer(seq, inside, r_seq, r_inside, r_for)
            if verdict is not None:
                missing.append(r)
                text[r] = verdict
        if missing:
            self._fail(f"{describe_missing(missing, self.where, text)} did not arrive at {inside} #{seq}; "
                       f"the other {self.size - len(missing)} rank(s) waited {waited:.0f} s "
                       f"(--collective_timeout {self.timeout:.0f})")
        else:
            self._fail(f"all {self.size} ranks waited {waited:.0f} s in {inside} #{seq}: the collective itself is "
                       "stuck (MPI or the network)")

    def _exit_alone(self, seq: int, inside: str, waited: float) -> None:
        import os

        print(f"[rank {self.rank}] error: waited {waited:.0f} s in {inside} #{seq} (--collective_timeout "
              f"{self.timeout:.0f}): another rank did not arrive (this MPI's thread level does not let the "
              "watchdog ask which; a rank whose line is missing here is the hung one). Ending this rank so the "
              "launcher ends the job; run the same command to resume from the last checkpoint",
              file=sys.stderr, flush=True)
        os._exit(self.exit_code)  # no MPI call from this thread, MPI_Abort included

    def _fail(self, what: str) -> None:
        print(f"[rank {self.rank}] error: {what}. Aborting the whole job; run the same command to resume from "
              "the last checkpoint", file=sys.stderr, flush=True)
        self.abort(self.exit_code)

