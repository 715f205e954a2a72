#!/usr/bin/env python
"""Time one fused gradient allreduce of the model's size, Horovod vs mpi4py, for 1, 2 and 4 ranks
(4 ranks on this 2-core machine are oversubscribed: read them as an upper bound)."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

from common import ROOT, machine, record, table


def model_buffer_floats(arch: str = "nature") -> int:
    from ba3c.config import parse_config
    from ba3c.learner import BUFFER_TAIL
    from ba3c.model import PolicyValueNet

    cfg, _ = parse_config(["--arch", arch])
    cfg.finalize()
    return PolicyValueNet(arch, 4, cfg.fc_neurons).num_params() + len(BUFFER_TAIL)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ranks", type=int, nargs="*", default=[1, 2, 4])
    p.add_argument("--backends", nargs="*", default=["horovod", "mpi4py"])
    a = p.parse_args()
    from ba3c.quiet import quiet_stderr

    with quiet_stderr():
        size = model_buffer_floats()
    rows = []
    for backend in a.backends:
        for n in a.ranks:
            cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(n), sys.executable,
                   str(ROOT / "benchmarks" / "allreduce_worker.py"), backend, str(size)]
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT / "benchmarks")
            line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
            if out.returncode != 0 or not line:
                sys.exit(f"{backend} x{n} failed:\n{out.stderr[-2000:]}")
            rows.append(json.loads(line[0][7:]))
    print(table(rows, ["backend", "ranks", "mbytes", "median_ms", "min_ms"]))
    record("allreduce", rows, {"machine": machine()})


if __name__ == "__main__":
    main()
