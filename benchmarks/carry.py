"""A study run's resumable state kept in the repository (benchmarks/carry/<run>/), so a run longer
than the machine it started on continues on the next one instead of starting again from frame 0.

Run folders (benchmarks/runs/) are not versioned: checkpoints every 5 minutes and TensorBoard
events would bloat the history. The carry is one checkpoint (the newest that passes its checksum)
with the files the trainer reads on resume: progress.jsonl (the curve; the trainer cuts it back to
the checkpoint's frames), config.json and metadata.json. bench_batch.py refreshes it with every
partial curve and restores it into a run folder that has no checkpoint. Committing it is a choice
made per session (a checkpoint is ~10 MB), so a carry may lag its run by whatever was not committed.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from ba3c.checkpoint import list_checkpoints, load_latest  # noqa: E402

CARRY = HERE / "carry"
FILES = ("progress.jsonl", "config.json", "metadata.json")


def carry_dir(run_folder: Path, root: Path = CARRY) -> Path:
    return root / Path(run_folder).name


def save(run_folder: Path, root: Path = CARRY) -> Path | None:
    """Replace the run's carry with its newest good checkpoint and resume files; None (and the old
    carry kept) while the folder has no checkpoint yet."""
    run_folder = Path(run_folder)
    found = load_latest(run_folder / "checkpoints", warn=lambda _msg: None)
    if found is None:
        return None
    ckpt = found[0]
    dest = carry_dir(run_folder, root)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "checkpoints").mkdir(parents=True)
    shutil.copy2(ckpt, tmp / "checkpoints" / ckpt.name)
    for name in FILES:
        if (run_folder / name).exists():
            shutil.copy2(run_folder / name, tmp / name)
    # Swap in whole: an interrupted save leaves the previous carry or the new one, never a mix.
    old = dest.with_name(dest.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest / "checkpoints" / ckpt.name


def restore(run_folder: Path, root: Path = CARRY) -> Path | None:
    """Copy the run's carry into a run folder that has no checkpoint of its own (a new machine);
    returns the checkpoint restored, or None (nothing carried, or the folder has its own state,
    which is newer than any carry)."""
    run_folder = Path(run_folder)
    src = carry_dir(run_folder, root)
    carried = list_checkpoints(src / "checkpoints")
    if not carried or list_checkpoints(run_folder / "checkpoints"):
        return None
    (run_folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if (src / name).exists():
            shutil.copy2(src / name, run_folder / name)
    shutil.copy2(carried[-1], run_folder / "checkpoints" / carried[-1].name)
    return run_folder / "checkpoints" / carried[-1].name
