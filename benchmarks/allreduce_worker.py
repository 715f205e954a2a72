"""Run under mpirun: time comm.allreduce_mean of a buffer the size of the model's gradient
(plus loss stats and control flags). Rank 0 prints one JSON line. The MPI algorithm is whatever
the environment forces (OMPI_MCA_coll_tuned_allreduce_algorithm) or OpenMPI's own choice.
argv: backend floats [reps [fp16_head]]; fp16_head > 0 sends that many leading floats as 16-bit
(--grad_compression fp16), timed with its casts, as the trainer pays them."""
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run by mpirun as a plain script

from mpi.comm import init_comm

backend, size, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 40
fp16_head = int(sys.argv[4]) if len(sys.argv) > 4 else 0
comm = init_comm(backend)
buf = np.random.default_rng(comm.rank).normal(size=size).astype(np.float32)
if backend == "horovod":
    import tensorflow as tf

    src = tf.constant(buf)  # what the trainer hands over
else:
    src = buf
times = []
for i in range(reps):
    comm.barrier()
    t0 = time.perf_counter()
    out = comm.allreduce_mean(src, fp16_head)
    np.asarray(out)[:1].copy()  # make sure the result is materialised
    times.append(time.perf_counter() - t0)
times = times[5:]
expect = np.mean([np.random.default_rng(r).normal(size=8).astype(np.float32) for r in range(comm.size)], axis=0)
assert np.allclose(np.asarray(out)[:8], expect, atol=1e-5 if not fp16_head else 5e-3), "allreduce gave a wrong mean"
if comm.rank == 0:
    mbytes = (size * 4 - fp16_head * 2) / 1e6
    print("RESULT " + json.dumps({"backend": backend, "ranks": comm.size, "floats": size, "mbytes": mbytes,
                                  "compression": "fp16" if fp16_head else "none",
                                  "median_ms": 1000 * float(np.median(times)), "min_ms": 1000 * float(np.min(times))}))
