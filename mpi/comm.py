"""Rank, size, fused gradient averaging, broadcast, gathers, abort, and messages to side ranks,
over three backends:

- "none":    a world of one, no MPI imported (plain `python train.py`);
- "mpi4py":  one MPI_Allreduce of a flat float32 buffer;
- "horovod": Horovod's allreduce of the same buffer (hvd.init over the trainers' communicator); built
             for CPU with MPI it is a negotiation round, then one MPI_Allreduce of its fusion buffer.

With fp16_head=n (--grad_compression fp16) the first n floats (the gradients) travel as 16-bit
floats, prescaled by 1/size so that their sum cannot overflow, and the rest (loss stats, the noise
norm, control flags) as float32: two allreduces, half the gradient bytes.

start_allreduce_mean() (--overlap) runs the same averaging on one worker thread and on a duplicate of
the trainers' communicator (Horovod's ops already run on a duplicate of their own), so the main thread
may step emulators and call other collectives while it is in flight; the watchdog guards the wait.

Trainer ranks average gradients among themselves (`comm.rank`, `comm.size` count trainers only).
Side ranks (--eval_node, --record_node: the last world ranks) take no part in collectives; they
talk to trainer rank 0 with non-blocking point-to-point messages only, so a busy side rank never
stalls training. Every trainer must call every collective in the same order; train.py calls them
at fixed points of each update.
"""
from __future__ import annotations

import os
import pickle
import sys
import time
from contextlib import nullcontext
from typing import Any

import numpy as np


class LaunchError(Exception):
    """A launch or backend problem the user can fix; printed as one line. (Defined here so mpi/
    depends on nothing in ba3c/.)"""

_LAUNCHER_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID")
_LAUNCHER_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS")
TAG_WEIGHTS, TAG_REPORT, TAG_STOP, TAG_BYE = 11, 12, 13, 14


def env_rank() -> int:
    """The rank the launcher gave this process, read before MPI starts (0 without a launcher)."""
    for var in _LAUNCHER_RANK_VARS:
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 0


def launched_size() -> int:
    """World size the launcher asked for, from its environment (1 without a launcher)."""
    for var in _LAUNCHER_SIZE_VARS:
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 1


class Comm:
    """A world of one trainer. Subclasses override the collectives."""

    backend = "none"

    def __init__(self) -> None:
        self.rank, self.size = 0, 1
        self.world_rank, self.world_size = 0, 1
        self.role = "trainer"
        self.side_ranks: dict[str, int] = {}  # role -> world rank
        self.watchdog = None  # a deadline on each collective (mpi/watchdog.py), on trainers of a multi-rank job
        # MPI_THREAD_MULTIPLE granted: threads other than the main one (--overlap's worker, the watchdog,
        # Horovod's background thread) may call MPI while it does. A world of one calls no MPI.
        self.thread_multiple = True

    def guard(self, name: str):
        """Context of one collective: the watchdog aborts the job if it does not complete in time."""
        return self.watchdog.collective(name) if self.watchdog else nullcontext()

    def set_collective_timeout(self, seconds: float) -> None:
        if self.watchdog:
            self.watchdog.timeout = seconds

    def start_watchdog(self, timeout: float) -> None:
        pass  # a world of one has nobody to wait for

    # ---- collectives among trainers -------------------------------------------------------------
    def allreduce_mean(self, flat, fp16_head: int = 0):
        """Mean over trainer ranks of a flat float32 buffer (NumPy array or TF tensor), one fused call;
        with fp16_head=n, its first n floats are averaged in 16-bit floats (see the module doc)."""
        with self.guard("allreduce"):
            return self._mean(flat, fp16_head, None)

    def start_allreduce_mean(self, flat, fp16_head: int = 0) -> "PendingMean":
        """The same mean, begun in the background; PendingMean.wait() returns it. Calls are served in
        order, and every trainer must start them in the same order, like any collective."""
        return PendingMean(self, value=flat)

    def _mean(self, flat, fp16_head: int, comm):
        """The unguarded mean over `comm` (the trainers' communicator or the overlap worker's)."""
        return flat

    def broadcast(self, arrays: list[np.ndarray], root: int = 0) -> list[np.ndarray]:
        """Root's arrays on every trainer (shapes and dtypes must already agree)."""
        return arrays

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        return obj

    def gather(self, obj: Any, root: int = 0) -> list[Any] | None:
        """Every trainer's obj as a list on root, None elsewhere."""
        return [obj]

    def barrier(self) -> None:
        pass

    def abort(self, code: int = 1) -> None:
        """End every rank of the job now (after a failure on one rank, so no rank waits forever)."""
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    # ---- point-to-point with side ranks (world ranks) ---------------------------------------------
    def send_weights(self, dest: int, weights: list[np.ndarray], step: int) -> bool:
        return False

    def poll(self, source: int | None = None) -> list[tuple[int, int, Any]]:
        """Messages that have arrived, as (tag, world source, payload), in arrival order."""
        return []

    def send(self, dest: int, tag: int, obj: Any) -> None:
        pass

    def drain_sends(self, timeout: float = 30.0) -> None:
        pass


class PendingMean:
    """An averaging in flight (or already done, in a world of one)."""

    def __init__(self, comm: Comm, value: Any = None, future: Any = None) -> None:
        self._comm, self._value, self._future = comm, value, future

    def wait(self):
        """The mean; a rank that never contributes makes this wait, which the watchdog bounds."""
        if self._future is None:
            return self._value
        with self._comm.guard("allreduce"):
            return self._future.result()


class Mpi4pyComm(Comm):
    backend = "mpi4py"

    def __init__(self, n_side: int = 0) -> None:
        super().__init__()
        from mpi4py import MPI

        self.MPI = MPI
        self.world = MPI.COMM_WORLD
        self.world_rank, self.world_size = self.world.Get_rank(), self.world.Get_size()
        n_train = self.world_size - n_side
        if n_side and n_train < 1:
            raise LaunchError(f"{n_side} side rank(s) (--eval_node/--record_node) need at least "
                            f"{n_side + 1} MPI ranks; launch with -np {n_side + 1} or more")
        is_trainer = self.world_rank < n_train
        self.comm = self.world.Split(0 if is_trainer else 1, self.world_rank) if n_side else self.world
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.thread_multiple = MPI.Query_thread() >= MPI.THREAD_MULTIPLE
        self._pending: list[Any] = []  # outstanding non-blocking sends (request, buffer kept alive)
        self._worker = self._worker_comm = None  # --overlap: one thread, its own communicator
        self._weights_req: dict[int, Any] = {}

    def start_allreduce_mean(self, flat, fp16_head: int = 0) -> PendingMean:
        if self._worker is None:
            from concurrent.futures import ThreadPoolExecutor

            # Dup is collective: every trainer gets here at the same update (the first overlapped one).
            self._worker_comm = self.comm.Dup()
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="allreduce")
        return PendingMean(self, future=self._worker.submit(self._mean, flat, fp16_head, self._worker_comm))

    def _mean(self, flat, fp16_head: int, comm) -> np.ndarray:
        comm = comm or self.comm
        flat = np.ascontiguousarray(flat, dtype=np.float32)  # no copy for a CPU float32 tensor
        out = np.empty_like(flat)
        n = fp16_head
        if n:
            head = (flat[:n] * np.float32(1.0 / self.size)).astype(np.float16)
            summed = np.empty_like(head)
            # MPI has no 16-bit float type: the bytes travel as uint16 and a user op adds them as
            # half floats (in NumPy, ~10 ms per 1.7M floats on one core; Horovod does it in C).
            comm.Allreduce([head, self.MPI.UINT16_T], [summed, self.MPI.UINT16_T], op=_half_sum_op(self.MPI))
            out[:n] = summed
        out[n:] = _mean_float32(comm, flat[n:], self.MPI)
        return out

    def broadcast(self, arrays: list[np.ndarray], root: int = 0) -> list[np.ndarray]:
        out = []
        for a in arrays:
            buf = np.array(a, order="C", copy=True)  # ascontiguousarray would make 0-d arrays 1-d
            with self.guard("broadcast"):
                self.comm.Bcast(buf.reshape(-1), root=root)
            out.append(buf)
        return out

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        with self.guard("broadcast"):
            return self.comm.bcast(obj, root=root)

    def gather(self, obj: Any, root: int = 0) -> list[Any] | None:
        with self.guard("gather"):
            return self.comm.gather(obj, root=root)

    def barrier(self) -> None:
        with self.guard("barrier"):
            self.comm.Barrier()

    def abort(self, code: int = 1) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.world.Abort(code)

    def start_watchdog(self, timeout: float) -> None:
        from mpi.watchdog import Watchdog

        if self.role == "trainer" and self.size > 1:
            self.watchdog = Watchdog(self.comm, self.abort, timeout, ask_others=self.thread_multiple)

    def send_weights(self, dest: int, weights: list[np.ndarray], step: int) -> bool:
        """Non-blocking send of the weights; skipped (False) while the previous one is undelivered,
        so a side rank busy playing a long game never holds training up."""
        req = self._weights_req.get(dest)
        if req is not None and not req.Test():
            return False
        payload = pickle.dumps((step, weights), protocol=pickle.HIGHEST_PROTOCOL)
        buf = np.frombuffer(payload, np.uint8)
        self._weights_req[dest] = self.world.Isend(buf, dest=dest, tag=TAG_WEIGHTS)
        self._pending.append((self._weights_req[dest], buf))
        return True

    def send(self, dest: int, tag: int, obj: Any) -> None:
        buf = np.frombuffer(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), np.uint8)
        self._pending.append((self.world.Isend(buf, dest=dest, tag=tag), buf))
        self._pending = [(r, b) for r, b in self._pending if not r.Test()]

    def poll(self, source: int | None = None) -> list[tuple[int, int, Any]]:
        MPI = self.MPI
        out = []
        status = MPI.Status()
        src = MPI.ANY_SOURCE if source is None else source
        while self.world.Iprobe(source=src, tag=MPI.ANY_TAG, status=status):
            n = status.Get_count(MPI.BYTE)
            buf = np.empty(n, np.uint8)
            self.world.Recv(buf, source=status.Get_source(), tag=status.Get_tag())
            out.append((status.Get_tag(), status.Get_source(), pickle.loads(buf.tobytes())))
        return out

    def drain_sends(self, timeout: float = 30.0) -> None:
        deadline = time.time() + timeout
        while self._pending and time.time() < deadline:
            self._pending = [(r, b) for r, b in self._pending if not r.Test()]
            time.sleep(0.01)


class HorovodComm(Mpi4pyComm):
    """Horovod for the hot path (gradient allreduce, weight broadcast) on the trainers'
    communicator; mpi4py for small control messages and side ranks."""

    backend = "horovod"

    def __init__(self, n_side: int = 0) -> None:
        super().__init__(n_side)
        # The watchdog (mpi/watchdog.py) owns the deadline on collectives. Horovod's stall check runs in
        # the negotiation loop that waits for a hung rank, so it never fires for one, while its shutdown
        # would kill a healthy job behind a slow checkpoint write; it stays off unless the user sets it.
        os.environ.setdefault("HOROVOD_STALL_CHECK_DISABLE", "1")
        import horovod.tensorflow as hvd
        import tensorflow as tf

        self.hvd, self.tf = hvd, tf
        self._n = 0
        if self.world_rank >= self.world_size - n_side:
            return  # side ranks never join Horovod
        hvd.init(comm=self.comm)
        if hvd.size() != self.size:
            raise LaunchError(f"horovod sees {hvd.size()} ranks but MPI sees {self.size}; rebuild horovod "
                            "against this MPI (make install)")

    def _mean(self, flat, fp16_head: int, comm):
        # Stays a tensor end to end: no copies into and out of NumPy on the hot path.
        tf, hvd = self.tf, self.hvd
        flat = tf.convert_to_tensor(flat, dtype=tf.float32)
        if not fp16_head:
            return hvd.allreduce(flat, op=hvd.Average, name="grads")
        # Horovod sums the half floats in C (a group cannot mix dtypes, and a second Horovod
        # call would cost a second negotiation round): the float32 tail goes by plain MPI.
        head = hvd.allreduce(tf.cast(flat[:fp16_head] * (1.0 / self.size), tf.float16), op=hvd.Sum,
                             name="grads16")
        tail = _mean_float32(comm or self.comm, np.ascontiguousarray(flat[fp16_head:].numpy()), self.MPI)
        return tf.concat([tf.cast(head, tf.float32), tail], axis=0)

    def broadcast(self, arrays: list[np.ndarray], root: int = 0) -> list[np.ndarray]:
        self._n += 1
        with self.guard("broadcast"):
            return [self.hvd.broadcast(self.tf.convert_to_tensor(a), root, name=f"bcast{self._n}_{i}").numpy()
                    for i, a in enumerate(arrays)]


def _mean_float32(comm, a: np.ndarray, MPI) -> np.ndarray:
    """Mean over `comm` of a float32 array, one plain MPI_Allreduce (no guard: callers hold it)."""
    out = np.empty_like(a)
    comm.Allreduce(a, out, op=MPI.SUM)
    out /= comm.Get_size()
    return out


_HALF_SUM = None


def _half_sum_op(MPI):
    """An MPI reduction op adding two buffers of IEEE half floats (sent as uint16), created once."""
    global _HALF_SUM
    if _HALF_SUM is None:
        def add(inbuf, inoutbuf, datatype) -> None:
            acc = np.frombuffer(inoutbuf, dtype=np.float16)
            acc += np.frombuffer(inbuf, dtype=np.float16)
        _HALF_SUM = MPI.Op.Create(add, commute=True)
    return _HALF_SUM


THREAD_LEVEL_FIX = ("ask your MPI for it (Cray MPICH: export MPICH_MAX_THREAD_SAFETY=multiple; Intel MPI: "
                    "I_MPI_THREAD_SPLIT / the release_mt library; OpenMPI: a build with thread support)")


def thread_level_multiple() -> bool:
    """Whether MPI granted MPI_THREAD_MULTIPLE (starts MPI; mpi4py asks for MULTIPLE unless
    MPI4PY_RC_THREAD_LEVEL says otherwise)."""
    from mpi4py import MPI

    return MPI.Query_thread() >= MPI.THREAD_MULTIPLE


def thread_level_name() -> str:
    from mpi4py import MPI

    names = {MPI.THREAD_SINGLE: "SINGLE", MPI.THREAD_FUNNELED: "FUNNELED", MPI.THREAD_SERIALIZED: "SERIALIZED",
             MPI.THREAD_MULTIPLE: "MULTIPLE"}
    return "MPI_THREAD_" + names.get(MPI.Query_thread(), str(MPI.Query_thread()))


def _horovod_importable() -> bool:
    try:
        import horovod.tensorflow  # noqa: F401
        return True
    except Exception:
        return False


def init_comm(choice: str = "auto", side_roles: tuple[str, ...] = ()) -> Comm:
    """Start the requested backend; 'auto' = horovod if importable, else mpi4py, else a world of one.

    OpenMPI's blocking calls spin while they wait. A rank's waiting thread (Horovod's background
    thread, or the --overlap worker) then takes a core from its own emulators and TensorFlow, or from
    another rank when ranks are not pinned. mpi_yield_when_idle (read at MPI_Init,
    ompi/runtime/ompi_mpi_params.c) makes the wait yield: 1.5x faster updates on 2 one-core ranks,
    and without it --overlap was slower than no overlap (`make bench-node`, README Scaling). On a
    pinned idle core a yield costs one system call per poll. A user's own value wins.

    side_roles (e.g. ("eval", "record")) take the last world ranks. Raises LaunchError when an
    explicit choice cannot be honoured, or when the launcher started several tasks but MPI sees a
    world of one (srun without PMIx), which would otherwise train N unrelated copies."""
    want = launched_size()
    if want > 1 and os.environ.get("SLURM_STEP_NUM_TASKS") and not any(
            v in os.environ for v in ("PMIX_RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK")):
        # Checked before MPI starts: OpenMPI without a PMI server aborts inside MPI_Init.
        raise LaunchError(f"srun started {want} tasks without a PMI this MPI understands; use "
                        "`srun --mpi=pmix ...` (or set MpiDefault=pmix in slurm.conf)")
    if choice == "none":
        if want > 1:
            raise LaunchError(f"--comm none but the launcher started {want} tasks; use --comm auto")
        return Comm()
    if choice == "auto" and want == 1 and not any(v in os.environ for v in _LAUNCHER_RANK_VARS[:3]):
        # No launcher: skip MPI start-up entirely (a singleton MPI init costs ~1 s and needs orted).
        return Comm()
    os.environ.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")  # read at MPI_Init: set before anything starts MPI
    if choice == "auto":
        # Horovod's background thread calls MPI while the main thread does: it needs THREAD_MULTIPLE.
        choice = "horovod" if _horovod_importable() and thread_level_multiple() else "mpi4py"
    if choice == "horovod" and not _horovod_importable():
        raise LaunchError("--comm horovod but horovod.tensorflow does not import; run `make install` or "
                        "use --comm mpi4py")
    if choice == "horovod" and not thread_level_multiple():
        raise LaunchError(f"--comm horovod needs MPI_THREAD_MULTIPLE but this MPI granted {thread_level_name()}; "
                          f"{THREAD_LEVEL_FIX}, or use --comm mpi4py")
    n_side = len(side_roles) if want > 1 else 0  # in a world of one, side work runs in-process
    try:
        comm: Comm = HorovodComm(n_side) if choice == "horovod" else Mpi4pyComm(n_side)
    except ImportError as e:
        raise LaunchError(f"--comm {choice}: {e}; run `make install`") from None
    if comm.world_size == 1 and want > 1:
        raise LaunchError(f"the launcher started {want} tasks but MPI sees a world of one: the launcher's "
                        "PMI does not match this MPI. Under Slurm use `srun --mpi=pmix ...` (Debian's "
                        "OpenMPI has no PMI2), or launch with mpirun")
    first_side = comm.world_size - n_side
    comm.side_ranks = {role: first_side + i for i, role in enumerate(side_roles[:n_side])}
    for role, r in comm.side_ranks.items():
        if comm.world_rank == r:
            comm.role = role
    return comm
