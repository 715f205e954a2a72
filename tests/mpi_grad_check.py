"""Run under `mpirun -np 2`: the averaged gradient of two halves of a rollout (rank r takes half of
the envs) must equal the one-process gradient of the whole rollout, and so must the noise-scale
sample (each rank's own gradient vs the average; one process splits its envs into the same halves).
The same average with the gradients sent as 16-bit floats (--grad_compression fp16) must agree to
half precision, with the float32 tail exact. Prints MAXDIFF, SCALE, NOISE, FP16 lines on rank 0."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ba3c.config import parse_config  # noqa: E402
from ba3c.learner import Learner  # noqa: E402
from ba3c.rollout import Rollout  # noqa: E402
from mpi.comm import init_comm  # noqa: E402

backend = sys.argv[1]
comm = init_comm(backend)
assert comm.backend == backend and comm.size == 2, (comm.backend, comm.size)
T, half = 3, 4
N = 2 * half
cfg, _ = parse_config(["--comm", backend])
cfg = cfg.finalize()
mine_l = Learner(cfg, 4, T, half, n_ranks=2)
whole_l = Learner(cfg, 4, T, N, n_ranks=1)
rng = np.random.default_rng(123)  # the same data on both ranks; each takes its half of the envs
whole = Rollout(obs=rng.integers(0, 256, (T, N, 4, 84, 84), dtype=np.uint8),
                last_obs=rng.integers(0, 256, (N, 4, 84, 84), dtype=np.uint8),
                actions=rng.integers(0, 4, (T, N)).astype(np.int32), rewards=rng.normal(size=(T, N)).astype(np.float32),
                dones=(rng.random((T, N)) < 0.3).astype(np.float32),
                truncated=np.zeros((T, N), np.float32), policy_mask=np.ones((T, N), np.float32),
                value_mask=np.ones((T, N), np.float32))
mine = whole.envs(slice(comm.rank * half, (comm.rank + 1) * half))
mine_flat = mine_l.gradients(mine, 0.01)
averaged = np.asarray(comm.allreduce_mean(mine_flat))
one = whole_l.gradients(whole, 0.01).numpy()
P = mine_l.num_params
averaged16 = np.asarray(comm.allreduce_mean(mine_flat, fp16_head=P))
noise_2 = mine_l.apply(averaged, 1e-3).noise
noise_1 = whole_l.apply(one, 1e-3).noise
if comm.rank == 0:
    print(f"MAXDIFF {float(np.max(np.abs(averaged[:P] - one[:P]))):.3e} SCALE {float(np.max(np.abs(one[:P]))):.3e}")
    print("NOISE2 " + " ".join(f"{x:.6e}" for x in noise_2))
    print("NOISE1 " + " ".join(f"{x:.6e}" for x in noise_1))
    print(f"FP16 {float(np.max(np.abs(averaged16[:P] - averaged[:P]))):.3e} "
          f"TAIL {float(np.max(np.abs(averaged16[P:] - averaged[P:]))):.3e}", flush=True)
