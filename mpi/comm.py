"""Rank, size, fused gradient averaging, broadcast, gathers and abort over three backends:

- "none":    a world of one, no MPI imported (plain `python train.py`);
- "mpi4py":  one MPI_Allreduce of a flat float32 buffer;
- "horovod": Horovod's ring-allreduce of the same buffer (hvd.init over MPI_COMM_WORLD).

All collectives take and return NumPy arrays so the trainer is identical across backends. Every
rank must call every collective in the same order; the trainer guarantees that by calling them at
fixed points of each update.
"""
from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from ba3c.errors import UserError

_LAUNCHER_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID")
_LAUNCHER_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS")


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
    """A world of one. Subclasses override the collectives."""

    backend = "none"

    def __init__(self) -> None:
        self.rank, self.size, self.local_rank = 0, 1, 0

    def allreduce_mean(self, flat):
        """Mean over ranks of a flat float32 buffer (NumPy array or TF tensor), in one fused call."""
        return flat

    def broadcast(self, arrays: list[np.ndarray], root: int = 0) -> list[np.ndarray]:
        """Root's arrays on every rank (shapes and dtypes must already agree)."""
        return arrays

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        return obj

    def gather(self, obj: Any, root: int = 0) -> list[Any] | None:
        """Every rank's obj as a list on root, None elsewhere."""
        return [obj]

    def allreduce_max(self, x: float) -> float:
        return x

    def barrier(self) -> None:
        pass

    def abort(self, code: int = 1) -> None:
        """End every rank of the job now (after a failure on one rank, so no rank waits forever)."""
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class Mpi4pyComm(Comm):
    backend = "mpi4py"

    def __init__(self) -> None:
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        local = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank = local.Get_rank()
        local.Free()

    def allreduce_mean(self, flat) -> np.ndarray:
        flat = np.ascontiguousarray(flat, dtype=np.float32)  # no copy for a CPU float32 tensor
        out = np.empty_like(flat)
        self.comm.Allreduce(flat, out, op=self.MPI.SUM)
        out /= self.size
        return out

    def broadcast(self, arrays: list[np.ndarray], root: int = 0) -> list[np.ndarray]:
        out = []
        for a in arrays:
            buf = np.array(a, order="C", copy=True)  # ascontiguousarray would make 0-d arrays 1-d
            self.comm.Bcast(buf.reshape(-1), root=root)
            out.append(buf)
        return out

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        return self.comm.bcast(obj, root=root)

    def gather(self, obj: Any, root: int = 0) -> list[Any] | None:
        return self.comm.gather(obj, root=root)

    def allreduce_max(self, x: float) -> float:
        return float(self.comm.allreduce(x, op=self.MPI.MAX))

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int = 1) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.comm.Abort(code)


class HorovodComm(Mpi4pyComm):
    """Horovod for the hot path (gradient allreduce, weight broadcast); mpi4py for small control
    messages. Horovod runs on the same MPI_COMM_WORLD."""

    backend = "horovod"

    def __init__(self) -> None:
        super().__init__()
        # Bound a stalled collective (a rank that died without MPI noticing): Horovod then shuts down.
        os.environ.setdefault("HOROVOD_STALL_CHECK_TIME_SECONDS", "30")
        os.environ.setdefault("HOROVOD_STALL_SHUTDOWN_TIME_SECONDS", "60")
        import horovod.tensorflow as hvd
        import tensorflow as tf

        self.hvd, self.tf = hvd, tf
        hvd.init(comm=self.comm)
        if hvd.size() != self.size:
            raise UserError(f"horovod sees {hvd.size()} ranks but MPI sees {self.size}; rebuild horovod "
                            "against this MPI (make install)")
        self._n = 0

    def allreduce_mean(self, flat):
        # Stays a tensor end to end: no copies into and out of NumPy on the hot path.
        return self.hvd.allreduce(self.tf.convert_to_tensor(flat, dtype=self.tf.float32), op=self.hvd.Average,
                                  name="grads")

    def broadcast(self, arrays: list[np.ndarray], root: int = 0) -> list[np.ndarray]:
        self._n += 1
        return [self.hvd.broadcast(self.tf.convert_to_tensor(a), root, name=f"bcast{self._n}_{i}").numpy()
                for i, a in enumerate(arrays)]


def _horovod_importable() -> bool:
    try:
        import horovod.tensorflow  # noqa: F401
        return True
    except Exception:
        return False


def init_comm(choice: str = "auto") -> Comm:
    """Start the requested backend; 'auto' = horovod if importable, else mpi4py, else a world of one.

    Raises UserError when an explicit choice cannot be honoured, or when the launcher started
    several tasks but MPI sees a world of one (srun without PMIx), which would otherwise train
    N unrelated copies."""
    want = launched_size()
    if want > 1 and os.environ.get("SLURM_STEP_NUM_TASKS") and not any(
            v in os.environ for v in ("PMIX_RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK")):
        # Checked before MPI starts: OpenMPI without a PMI server aborts inside MPI_Init.
        raise UserError(f"srun started {want} tasks without a PMI this MPI understands; use "
                        "`srun --mpi=pmix ...` (or set MpiDefault=pmix in slurm.conf)")
    if choice == "none":
        if want > 1:
            raise UserError(f"--comm none but the launcher started {want} tasks; use --comm auto")
        return Comm()
    if choice == "auto":
        if want == 1 and not any(v in os.environ for v in _LAUNCHER_RANK_VARS[:3]):
            # No launcher: skip MPI start-up entirely (a singleton MPI init costs ~1 s and needs orted).
            return Comm()
        choice = "horovod" if _horovod_importable() else "mpi4py"
    if choice == "horovod" and not _horovod_importable():
        raise UserError("--comm horovod but horovod.tensorflow does not import; run `make install` or "
                        "use --comm mpi4py")
    try:
        comm: Comm = HorovodComm() if choice == "horovod" else Mpi4pyComm()
    except ImportError as e:
        raise UserError(f"--comm {choice}: {e}; run `make install`") from None
    if comm.size == 1 and want > 1:
        raise UserError(f"the launcher started {want} tasks but MPI sees a world of one: the launcher's "
                        "PMI does not match this MPI. Under Slurm use `srun --mpi=pmix ...` (Debian's "
                        "OpenMPI has no PMI2), or launch with mpirun")
    return comm
