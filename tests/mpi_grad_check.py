"""Run under `mpirun -np 2`: the averaged gradient of two halves of a rollout (rank r takes half of
the envs) must equal the one-rank gradient of the whole rollout. Prints MAXDIFF <value> on rank 0."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ba3c.config import parse_config  # noqa: E402
from ba3c.learner import N_CONTROL, Learner  # noqa: E402
from mpi.comm import init_comm  # noqa: E402

backend = sys.argv[1]
comm = init_comm(backend)
assert comm.backend == backend and comm.size == 2, (comm.backend, comm.size)
T, half = 3, 4


def learner(n_envs: int) -> Learner:
    cfg, _ = parse_config(["--envs_per_rank", str(n_envs), "--n_step", str(T), "--comm", backend])
    return Learner(cfg.finalize(), 4)


mine_l, whole_l = learner(half), learner(2 * half)
rng = np.random.default_rng(123)  # the same data on both ranks; each takes its half of the envs
N = 2 * half
obs = rng.integers(0, 256, (T, N, 4, 84, 84), dtype=np.uint8)
last = rng.integers(0, 256, (N, 4, 84, 84), dtype=np.uint8)
actions = rng.integers(0, 4, (T, N)).astype(np.int32)
rewards = rng.normal(size=(T, N)).astype(np.float32)
dones = (rng.random((T, N)) < 0.3).astype(np.float32)
ones = np.ones((T, N), np.float32)
ctl = np.zeros(N_CONTROL, np.float32)
s = slice(comm.rank * half, (comm.rank + 1) * half)
mine = mine_l.gradients(obs[:, s], last[s], actions[:, s], rewards[:, s], dones[:, s], ones[:, s], ones[:, s],
                        np.float32(0.01), ctl)
averaged = np.asarray(comm.allreduce_mean(mine))[:mine_l.num_params]
whole = whole_l.gradients(obs, last, actions, rewards, dones, ones, ones, np.float32(0.01), ctl).numpy()
whole = whole[:whole_l.num_params]
if comm.rank == 0:
    print(f"MAXDIFF {float(np.max(np.abs(averaged - whole))):.3e} SCALE {float(np.max(np.abs(whole))):.3e}", flush=True)
