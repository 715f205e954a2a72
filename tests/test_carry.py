"""benchmarks/carry.py: a study run's newest checkpoint and curve kept in the repository and put back
into a run folder that a new machine does not have."""
import sys

import numpy as np

from ba3c import checkpoint
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import carry  # noqa: E402


def make_run(folder, steps, rows):
    for step in steps:
        checkpoint.save(folder / "checkpoints", step, {"w": np.full(3, step, np.float32)},
                        {"counters": {"updates": step, "frames": 320 * step}}, keep=3)
    (folder / "progress.jsonl").write_text("".join(f'{{"frames": {f}}}\n' for f in rows))
    (folder / "config.json").write_text('{"game": "Breakout"}\n')


def test_a_carried_run_comes_back_with_its_newest_checkpoint_and_curve(tmp_path):
    run, root = tmp_path / "runs" / "breakout-b320-none-s1", tmp_path / "carry"
    make_run(run, [10, 20, 30], [3200, 6400, 9600, 12800])
    saved = carry.save(run, root)
    assert saved.name == "ckpt-000000000030.ba3c"
    assert [p.name for p in checkpoint.list_checkpoints(root / run.name / "checkpoints")] == [saved.name]

    new = tmp_path / "machine2" / run.name  # the run folder is gone on the next machine
    restored = carry.restore(new, root)
    arrays, meta = checkpoint.load(restored)
    assert meta["counters"]["updates"] == 30 and arrays["w"][0] == 30
    assert (new / "progress.jsonl").read_text() == (run / "progress.jsonl").read_text()
    assert (new / "config.json").exists() and not (new / "metadata.json").exists()


def test_a_corrupt_newest_checkpoint_is_not_carried(tmp_path):
    run, root = tmp_path / run_name(), tmp_path / "carry"
    make_run(run, [10, 20], [3200])
    newest = checkpoint.list_checkpoints(run / "checkpoints")[-1]
    newest.write_bytes(newest.read_bytes()[:-5])  # truncated, as a write cut by a power loss
    assert carry.save(run, root).name == "ckpt-000000000010.ba3c"


def test_a_folder_without_a_checkpoint_keeps_the_old_carry(tmp_path):
    run, root = tmp_path / run_name(), tmp_path / "carry"
    make_run(run, [10], [3200])
    carry.save(run, root)
    empty = tmp_path / "other" / run.name
    empty.mkdir(parents=True)
    assert carry.save(empty, root) is None
    assert checkpoint.list_checkpoints(root / run.name / "checkpoints")[-1].name == "ckpt-000000000010.ba3c"


def test_a_folder_with_its_own_checkpoint_is_never_overwritten(tmp_path):
    """Its own state is newer than any carry (the carry lags by what was not committed)."""
    run, root = tmp_path / run_name(), tmp_path / "carry"
    make_run(run, [10], [3200])
    carry.save(run, root)
    make_run(run, [40], [3200, 12800])
    assert carry.restore(run, root) is None
    assert checkpoint.list_checkpoints(run / "checkpoints")[-1].name == "ckpt-000000000040.ba3c"
    assert carry.restore(tmp_path / "never-carried", root) is None


def test_a_second_save_replaces_the_first_whole(tmp_path):
    run, root = tmp_path / run_name(), tmp_path / "carry"
    make_run(run, [10], [3200])
    carry.save(run, root)
    make_run(run, [20, 30], [3200, 6400, 9600])
    carry.save(run, root)
    assert [p.name for p in (root / run.name / "checkpoints").iterdir()] == ["ckpt-000000000030.ba3c"]
    assert sorted(p.name for p in root.iterdir()) == [run.name]  # no .tmp or .old left behind
    assert (root / run.name / "progress.jsonl").read_text().count("\n") == 3


def run_name():
    return "breakout-b80-none-s2"
