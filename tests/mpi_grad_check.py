"""Run under `mpirun -np 2`: the averaged gradient of two half batches (one per rank) must equal
the one-rank gradient of the whole batch. Prints MAXDIFF <value> on rank 0."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ba3c.config import parse_config  # noqa: E402
from ba3c.learner import Learner  # noqa: E402
from mpi.comm import init_comm  # noqa: E402

backend = sys.argv[1]
comm = init_comm(backend)
assert comm.backend == backend and comm.size == 2, (comm.backend, comm.size)
half = 8
cfg, _ = parse_config(["-b", str(half), "--n_step", "2", "--comm", backend])
cfg.finalize()
full_cfg, _ = parse_config(["-b", str(2 * half), "--n_step", "2"])
full_cfg.finalize()
learner, full = Learner(cfg, 4), Learner(full_cfg, 4)

rng = np.random.default_rng(123)  # the same data on both ranks; each takes its half
obs = rng.integers(0, 256, (2 * half, 4, 84, 84), dtype=np.uint8)
actions = rng.integers(0, 4, 2 * half).astype(np.int32)
returns = rng.normal(size=2 * half).astype(np.float32)
ones = np.ones(2 * half, np.float32)
sl = slice(comm.rank * half, (comm.rank + 1) * half)
mine = learner.gradients(obs[sl], actions[sl], returns[sl], ones[sl], ones[sl], np.float32(0.01)).numpy()
averaged = comm.allreduce_mean(mine)[:learner.num_params]
whole = full.gradients(obs, actions, returns, ones, ones, np.float32(0.01)).numpy()[:full.num_params]
diff = float(np.max(np.abs(averaged - whole)))
scale = float(np.max(np.abs(whole)))
if comm.rank == 0:
    print(f"MAXDIFF {diff:.3e} SCALE {scale:.3e}", flush=True)
