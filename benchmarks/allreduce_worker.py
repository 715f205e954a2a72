"""Run under mpirun: time comm.allreduce_mean of a buffer the size of the model's gradient
(plus loss stats and control flags). Rank 0 prints one JSON line."""
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run by mpirun as a plain script

from ba3c.quiet import quiet_stderr
from mpi.comm import init_comm

backend, size = sys.argv[1], int(sys.argv[2])
with quiet_stderr():
    import tensorflow as tf
comm = init_comm(backend)
buf = np.random.default_rng(comm.rank).normal(size=size).astype(np.float32)
src = tf.constant(buf) if backend == "horovod" else buf  # what the trainer hands over
times = []
for i in range(40):
    comm.barrier()
    t0 = time.perf_counter()
    out = comm.allreduce_mean(src)
    np.asarray(out)[:1].copy()  # make sure the result is materialised
    times.append(time.perf_counter() - t0)
times = times[5:]
if comm.rank == 0:
    print("RESULT " + json.dumps({"backend": backend, "ranks": comm.size, "floats": size, "mbytes": size * 4 / 1e6,
                                  "median_ms": 1000 * float(np.median(times)), "min_ms": 1000 * float(np.min(times))}))
