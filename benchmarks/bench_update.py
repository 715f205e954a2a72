#!/usr/bin/env python
"""The floor of one update: the time of one trainer update of one rank of a big job at 1, 4 and 16
emulators x 5 steps, on one core and on two, split into its parts, next to the least time its
arithmetic needs on this machine.

Parts, measured on real emulators with the trainer's own compiled steps (a rank of a multi-rank job:
no one-process half split; the allreduce of a world of one is the identity, its cost is modelled in
bench_scaling.py):
    act       5 forward passes at batch E (the policy) and the action sampling
    env       5 emulator steps of E emulators (ale-py's C++ vector env)
    collect   the rest of the rollout loop (buffer copies, Python)
    gradient  bootstrap forward, returns, forward + backward on 5 E samples, flat buffer packing
    apply     unpacking, finiteness check, clipping, the optimizer step, the result back to NumPy
    other     what is left of the whole update (dispatch, conversions, the loop)
Floor of each part:
    act       2 x MACs(network) x 5 E at the best GEMM/convolution rate measured here
    gradient  2 x MACs x (3 x 5 E + E) (forward, backward ~2 x forward, bootstrap) at that rate
    apply     the optimizer's bytes (Adam: read w, g, m, v; write w, m, v: 7 x 4 bytes per parameter)
              at the memory bandwidth measured here
    env       the emulators' own time (C++: taken as its own floor)
The FLOP rate is the best of a large float32 GEMM and a large Nature-CNN convolution, both through
TensorFlow on the same cores; the bandwidth is NumPy's copy of a 256 MB array (read + write).

    python benchmarks/bench_update.py [--updates 60] [--threads 1 2] [--envs 1 4 16]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from common import ROOT, machine, record, table

N_STEP = 5
PARTS = ("act", "env", "collect", "gradient", "apply", "other")


def network_macs(arch: str, model) -> int:
    """Multiply-adds of one forward pass of one frame stack: convolutions, fc layer, both heads."""
    from ba3c.model import ARCHS, feature_shapes

    macs, channels = 0, 4
    for (_name, kh, kw, out, _stride, _pool), (h, w, _c) in zip(ARCHS[arch].layers, feature_shapes(arch, True)):
        macs += h * w * out * kh * kw * channels
        channels = out
    fc_in, fc_out = model.vars[-6].shape
    return int(macs + fc_in * fc_out + fc_out * (model.n_actions + 1))


def flop_rate() -> float:
    """Best float32 FLOP/s of TensorFlow on this process's cores: a 1024^3 GEMM and a batch of the
    Nature CNN's second convolution."""
    import tensorflow as tf

    def best(fn, flops: float, reps: int = 10) -> float:
        fn()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return flops / min(times)

    a = tf.random.normal((1024, 1024))
    gemm = best(lambda: tf.matmul(a, a).numpy(), 2 * 1024 ** 3)
    x, k = tf.random.normal((256, 20, 20, 32)), tf.random.normal((4, 4, 32, 64))
    conv = best(lambda: tf.nn.conv2d(x, k, 2, "VALID").numpy(), 2 * 256 * 9 * 9 * 64 * 4 * 4 * 32)
    return max(gemm, conv)


def bandwidth() -> float:
    """Bytes/s of a NumPy copy of 256 MB (read and write counted)."""
    import numpy as np

    a = np.ones(64 * 2 ** 20, np.float32)
    b = np.empty_like(a)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(b, a)
        times.append(time.perf_counter() - t0)
    return 2 * a.nbytes / min(times)


def measure(envs: int, updates: int, threads: int) -> dict:
    """Median milliseconds of each part over `updates` updates (after 5 of warm-up)."""
    import numpy as np

    from ba3c.config import parse_config
    from ba3c.envs import AtariEnvs
    from ba3c.learner import Control, Learner
    from ba3c.quiet import quiet_stderr
    from ba3c.rollout import Rollout, collect

    cfg, _ = parse_config(["--envs_per_rank", str(envs), "--n_step", str(N_STEP), "--threads", str(threads)])
    cfg.finalize()
    with quiet_stderr():
        learner = Learner(cfg, 4, N_STEP, envs, n_ranks=2)  # a rank of a multi-rank job: no half split
        env = AtariEnvs("breakout", envs, seed=1, threads=threads, **cfg.protocol())
    rng = np.random.default_rng(0)
    rollout = Rollout.empty(N_STEP, envs)
    samples: dict[str, list[float]] = {k: [] for k in (*PARTS, "total")}
    for i in range(updates + 5):
        t0 = time.perf_counter()
        timing = collect(env, learner.logits, rng, rollout)  # the trainer's rollout loop, timed by parts
        t_act, t_env = timing.act, timing.env
        t1 = time.perf_counter()
        flat = learner.gradients(rollout, 0.01, Control())
        flat.numpy()  # the buffer as the allreduce takes it
        t2 = time.perf_counter()
        learner.apply(flat, 1e-4)
        t3 = time.perf_counter()
        if i < 5:
            continue
        parts = {"act": t_act, "env": t_env, "collect": t1 - t0 - t_act - t_env, "gradient": t2 - t1,
                 "apply": t3 - t2}
        parts["other"] = 0.0
        for k, v in parts.items():
            samples[k].append(v)
        samples["total"].append(time.perf_counter() - t0)
    env.close()
    out = {k: 1000 * float(np.median(v)) for k, v in samples.items()}
    out["other"] = max(out["total"] - sum(out[k] for k in PARTS if k != "other"), 0.0)
    return {"macs": network_macs(cfg.arch, learner.model), "params": learner.num_params, "ms": out}


def floors(ms: dict, envs: int, macs: int, params: int, flops: float, bytes_per_s: float) -> dict:
    """Least milliseconds of each part (see the module doc)."""
    b = N_STEP * envs
    return {"act": 1000 * 2 * macs * b / flops, "env": ms["env"], "collect": 0.0,
            "gradient": 1000 * 2 * macs * (3 * b + envs) / flops, "apply": 1000 * 7 * 4 * params / bytes_per_s,
            "other": 0.0}


def child(a) -> None:
    """One thread count, in its own process: TensorFlow's thread pools are fixed at start."""
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:a.threads]))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    flops, bw = flop_rate(), bandwidth()
    rows = []
    for envs in a.envs:
        m = measure(envs, a.updates, a.threads)
        f = floors(m["ms"], envs, m["macs"], m["params"], flops, bw)
        rows.append({"threads": a.threads, "envs": envs, "rank_batch": N_STEP * envs, "ms": m["ms"], "floor_ms": f,
                     "update_ms": m["ms"]["total"], "floor_update_ms": sum(f.values()),
                     "ratio": m["ms"]["total"] / sum(f.values()), "gflops": flops / 1e9, "gb_per_s": bw / 1e9,
                     "macs_per_frame_stack": m["macs"], "params": m["params"]})
    print("RESULT " + json.dumps(rows), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--updates", type=int, default=60)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--envs", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    sys.path.insert(0, str(ROOT))
    if a.child:
        a.threads = a.threads[0]
        return child(a)
    rows = []
    for threads in a.threads:
        cmd = [sys.executable, __file__, "--child", "--threads", str(threads), "--updates", str(a.updates),
               "--envs", *map(str, a.envs)]
        out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"bench_update child failed:\n{out.stderr[-2000:]}")
        rows += json.loads(line[len("RESULT "):])
    flat = [{"threads": r["threads"], "batch": f"{r['envs']} x {N_STEP}", "update_ms": r["update_ms"],
             **{k: f"{r['ms'][k]:.1f}/{r['floor_ms'][k]:.1f}" for k in PARTS},
             "floor_ms": r["floor_update_ms"], "measured/floor": r["ratio"]} for r in rows]
    print(f"per update, ms measured/floor; floor at {rows[0]['gflops']:.0f} GFLOP/s and {rows[0]['gb_per_s']:.0f} "
          f"GB/s ({rows[0]['threads']} thread), Nature CNN {rows[0]['macs_per_frame_stack'] / 1e6:.2f}M MACs per "
          f"frame stack, {rows[0]['params']:,} parameters")
    print(table(flat, ["threads", "batch", "update_ms", *PARTS, "floor_ms", "measured/floor"]))
    from ba3c.runlog import git_commit

    record("update", rows, {"machine": machine(), "git_commit": git_commit()})


if __name__ == "__main__":
    main()
