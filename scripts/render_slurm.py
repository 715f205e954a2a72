#!/usr/bin/env python
"""Render an sbatch file from slurm_templates/ that a user can read, edit and submit.

    python scripts/render_slurm.py --nodes 64 --tasks 1500 --cpus-per-task 1 --time 02:00:00 \\
        --args "-e Breakout" --output breakout.sbatch
    sbatch breakout.sbatch
"""
from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def seconds(hms: str) -> int:
    """Slurm time 'MM', 'HH:MM:SS', 'D-HH:MM:SS' or 'MM:SS' in seconds."""
    days = 0
    if "-" in hms:
        d, hms = hms.split("-", 1)
        days = int(d)
    parts = [int(p) for p in hms.split(":")]
    if len(parts) == 1:
        h, m, s = 0, parts[0], 0
    elif len(parts) == 2:
        h, m, s = 0, parts[0], parts[1]
    else:
        h, m, s = parts
    return days * 86400 + h * 3600 + m * 60 + s


# Filled in for --stage-venv. Braces are doubled for str.format.
STAGE = """# Stage the virtualenv to node-local disk: 1,500 ranks importing TensorFlow from one shared
# filesystem at once can stall it for minutes. The virtualenv is packed once (again when it changes),
# sent to every node by sbcast (Slurm's tree broadcast, one read of the shared file), unpacked by one
# task per node, and the ranks run its python from local disk. The code and the run folder stay shared.
VENV={venv}
PACK={pack}
STAGE={stage_dir}/ba3c-$SLURM_JOB_ID
if [ ! -f "$PACK" ] || [ "$VENV/.installed" -nt "$PACK" ]; then
    echo "[$(date -Is)] packing $VENV into $PACK"
    tar -C "$(dirname "$VENV")" -cf "$PACK.tmp$$" "$(basename "$VENV")" && mv "$PACK.tmp$$" "$PACK" || exit 1
fi
t0=$(date +%s)
sbcast --force "$PACK" "$STAGE.tar" || exit 1
srun --mpi=none --ntasks-per-node=1 --ntasks="$SLURM_JOB_NUM_NODES" \\
    bash -c "mkdir -p $STAGE && tar -C $STAGE -xf $STAGE.tar && rm -f $STAGE.tar" || exit 1
echo "[$(date -Is)] virtualenv staged to $STAGE on $SLURM_JOB_NUM_NODES node(s) in $(( $(date +%s) - t0 )) s"
PYTHON=$STAGE/$(basename "$VENV")/bin/python
unstage() {{ srun --mpi=none --ntasks-per-node=1 --ntasks="$SLURM_JOB_NUM_NODES" rm -rf "$STAGE"; }}
trap unstage EXIT
"""


def render(kind: str, nodes: int, tasks: int, cpus_per_task: int, time: str, args: str, job_name: str,
           python: str, workdir: str, log: str, extra: list[str], stage_dir: str | None = None,
           pack: str | None = None) -> str:
    limit = seconds(time)
    # Leave room to finish the update in flight and write the checkpoint; at most 5 minutes early.
    signal_seconds = max(10, min(300, limit // 10))
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", job_name)
    text = (ROOT / "slurm_templates" / f"{kind}.sbatch.in").read_text()
    stage = ""
    if stage_dir:
        venv = str(Path(python).parent.parent)  # <venv>/bin/python
        stage = STAGE.format(venv=shlex.quote(venv), pack=shlex.quote(pack or f"{venv}.tar"),
                             stage_dir=shlex.quote(stage_dir))
    return text.format(job_name=name, nodes=nodes, tasks=tasks, cpus_per_task=cpus_per_task, time=time,
                       output=log, signal_seconds=signal_seconds, workdir=shlex.quote(workdir),
                       python=shlex.quote(python), args=args, run_name=name, stage=stage,
                       extra_sbatch="\n".join(f"#SBATCH {e}" for e in extra))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", choices=("train", "eval"), default="train")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--tasks", type=int, default=2, help="MPI ranks (one trainer each)")
    p.add_argument("--cpus-per-task", type=int, default=1, help="cores per rank (emulator + TF threads)")
    p.add_argument("--time", default="01:00:00", help="time limit, HH:MM:SS or D-HH:MM:SS")
    p.add_argument("--args", default="-e Breakout", help="flags for train.py, quoted as one string")
    p.add_argument("--job-name", default=None, help="job and run name (default: ba3c-<game>)")
    p.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"))
    p.add_argument("--workdir", default=str(ROOT))
    p.add_argument("--log", default="slurm-%x-%j.out", help="Slurm output file pattern")
    p.add_argument("--sbatch", action="append", default=[], help="extra '#SBATCH' line, e.g. --sbatch=--partition=cpu")
    p.add_argument("--stage-venv", metavar="DIR", default=None,
                   help="copy the virtualenv to this node-local folder (e.g. /tmp) on every node before training "
                        "(train jobs; for many ranks on a shared filesystem)")
    p.add_argument("--pack", default=None, help="with --stage-venv: the packed virtualenv (default <venv>.tar)")
    p.add_argument("--output", "-o", default="-", help="file to write (default: stdout)")
    a = p.parse_args(argv)
    for k in ("nodes", "tasks", "cpus_per_task"):
        if getattr(a, k) < 1:
            p.error(f"--{k.replace('_', '-')} must be >= 1")
    if a.tasks < a.nodes:
        p.error(f"--tasks {a.tasks} < --nodes {a.nodes}: every node needs at least one rank")
    try:
        seconds(a.time)
    except ValueError:
        p.error(f"--time {a.time!r} is not HH:MM:SS")
    if a.job_name is None:
        m = re.search(r"(?:-e|--env)[ =](\S+)", a.args)
        a.job_name = f"ba3c-{m.group(1) if m else 'Breakout'}"
    if a.stage_venv and a.kind != "train":
        p.error("--stage-venv applies to train jobs")
    text = render(a.kind, a.nodes, a.tasks, a.cpus_per_task, a.time, a.args, a.job_name, a.python, a.workdir,
                  a.log, a.sbatch, a.stage_venv, a.pack)
    if a.output == "-":
        sys.stdout.write(text)
    else:
        Path(a.output).write_text(text)
        print(f"wrote {a.output}; submit with: sbatch {a.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
