"""A short real training run writes its run folder; a resumed run continues counters and state."""
import json

import numpy as np
import pytest

from ba3c import checkpoint
from ba3c.noise_scale import format_noise_scale
from conftest import SHORT


def test_short_run_writes_run_folder_and_resumes_exactly(train, tmp_path):
    args = SHORT + ["--logdir", tmp_path, "--name", "r", "--total_frames", 4000]
    p = train(args)
    run = tmp_path / "r"
    assert "checkpoint" in p.stdout
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["env"] == "breakout" and cfg["batch_size"] == 20
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["world"]["size"] == 1 and meta["versions"]["ale-py"] == "0.12.1"
    # Start-up phases, measured from process start, in metadata.json and one line before the status lines.
    phases = meta["startup"]["per_rank"][0]
    assert set(phases) == {"python", "tensorflow", "mpi", "setup", "first_update"}
    assert all(v >= 0 for v in phases.values()) and phases["tensorflow"] > 0.5
    assert "start-up (one rank, seconds): interpreter + config" in p.stdout
    rows = [json.loads(line) for line in (run / "progress.jsonl").read_text().splitlines()]
    assert rows[-1]["frames"] >= 4000
    for key in ("frames", "wall_time", "fps", "score_mean100", "train_life_return", "loss", "entropy", "value_std",
                "lr"):
        assert key in rows[-1]
    assert list((run / "tb").glob("events.out.tfevents.*"))
    # The gradient noise scale (50 updates, >= MIN_UPDATES) in the log, the status line and TensorBoard.
    assert rows[-1]["noise_scale"] > 0 and rows[-1]["noise_trace"] > 0
    assert f"noise scale {format_noise_scale(rows[-1]['noise_scale'])}" in p.stdout
    import tensorflow as tf

    tags = {v.tag for f in (run / "tb").glob("events.out.tfevents.*")
            for e in tf.compat.v1.train.summary_iterator(str(f)) for v in e.summary.value}
    assert {"noise_scale", "noise_grad_sq", "noise_trace", "score_mean100"} <= tags
    from ba3c.plot import plot_run

    assert plot_run(run).read_bytes()[:4] == b"\x89PNG"
    (ckpt1,) = checkpoint.list_checkpoints(run / "checkpoints")
    arrays1, meta1 = checkpoint.load(ckpt1)
    updates1 = meta1["counters"]["updates"]
    assert meta1["counters"]["frames"] == updates1 * 20 * 4
    assert arrays1["optimizer/0"] == updates1  # Adam's step counter
    # The mean screen was measured over the first 25 rollouts (Breakout's mean pixel is ~0.16).
    mean_screen = arrays1["model/obs_mean"]
    assert updates1 > 25 and mean_screen.shape == (84, 84, 1)
    assert 0.05 < mean_screen.mean() < 0.5 and mean_screen.min() >= 0 and mean_screen.max() <= 1

    # Same budget again: nothing left to train, the state must round-trip bit for bit.
    p = train(args)
    assert f"resumed from {ckpt1}" in p.stdout
    assert f"already trained {meta1['counters']['frames']:,} frames (--total_frames 4,000)" in p.stdout
    arrays2, meta2 = checkpoint.load(checkpoint.list_checkpoints(run / "checkpoints")[-1])
    assert meta2["counters"] == {**meta1["counters"], "wall_time": meta2["counters"]["wall_time"]}
    for k in arrays1:
        assert np.array_equal(arrays1[k], arrays2[k]), k

    # A larger budget continues the frame counter and the optimizer's step from the checkpoint.
    train(SHORT + ["--logdir", tmp_path, "--name", "r", "--total_frames", 6000])
    arrays3, meta3 = checkpoint.load(checkpoint.list_checkpoints(run / "checkpoints")[-1])
    new_updates = meta3["counters"]["updates"] - updates1
    assert new_updates == -(-(6000 - meta1["counters"]["frames"]) // 80)
    assert arrays3["optimizer/0"] == updates1 + new_updates
    rows = [json.loads(line) for line in (run / "progress.jsonl").read_text().splitlines()]
    assert rows[-1]["frames"] == meta3["counters"]["frames"]
    # ...and the smoothed noise scale goes on from its saved state rather than restarting.
    assert meta3["noise_scale"]["n"] == meta1["noise_scale"]["n"] + new_updates
    # The mean screen is fixed once measured.
    assert np.array_equal(arrays3["model/obs_mean"], mean_screen)

    # A checkpoint from before the mean screen existed resumes on the raw screen it was trained on.
    old = {k: v for k, v in arrays1.items() if k != "model/obs_mean"}
    checkpoint.save(tmp_path / "old" / "checkpoints", updates1, old, meta1, keep=3)
    p = train(SHORT + ["--logdir", tmp_path, "--name", "old", "--total_frames", 6000])
    assert "resumed from" in p.stdout
    arrays4, _ = checkpoint.load(checkpoint.list_checkpoints(tmp_path / "old" / "checkpoints")[-1])
    assert not arrays4["model/obs_mean"].any()


def test_resume_no_refuses_to_reuse_a_run(train, two_checkpoint_run):
    p = train(SHORT + ["--logdir", two_checkpoint_run.parent, "--name", "c", "--total_frames", 800, "--resume", "no"],
              check=False)
    assert p.returncode == 2
    assert "already has checkpoints" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_checkpoint_of_other_game_is_refused(train, two_checkpoint_run):
    ckpt = checkpoint.list_checkpoints(two_checkpoint_run / "checkpoints")[-1]
    p = train(["-e", "Pong", "--logdir", two_checkpoint_run.parent, "--name", "p", "--resume", ckpt, "--comm", "none",
               "--progress", "off"], check=False)
    assert p.returncode == 2
    line, = p.stderr.strip().splitlines()
    assert "game 'breakout' (here 'pong')" in line and "n_actions 4 (here 6)" in line


def test_mismatched_architecture_checkpoint_is_refused(train, two_checkpoint_run):
    p = train(SHORT + ["--logdir", two_checkpoint_run.parent, "--name", "c", "--total_frames", 800,
                       "--fc_neurons", 256], check=False)
    assert p.returncode == 2
    assert "fc_neurons 512 (here 256)" in p.stderr and len(p.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_damaged_latest_checkpoint_falls_back_to_previous(train, two_checkpoint_run, damage):
    older, newer = checkpoint.list_checkpoints(two_checkpoint_run / "checkpoints")
    data = bytearray(newer.read_bytes())
    if damage == "corrupt":
        data[len(data) // 2] ^= 0xFF
    else:
        del data[-1000:]
    newer.write_bytes(bytes(data))
    p = train(SHORT + ["--logdir", two_checkpoint_run.parent, "--name", "c", "--total_frames", 800])
    assert {"corrupt": "checksum mismatch", "truncated": "truncated"}[damage] in p.stderr
    assert f"resumed from {older}" in p.stdout


def test_second_run_in_a_busy_run_folder_is_refused(train, tmp_path):
    """Two runs in one folder would interleave progress logs and overwrite each other's checkpoints: the
    second one stops in one line naming the holder; the folder is free again once the holder exits."""
    import subprocess
    import sys

    from conftest import ROOT

    run = tmp_path / "busy"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from ba3c.runlog import hold_run_lock; hold_run_lock(Path(sys.argv[1])); "
                               "print('held', flush=True); time.sleep(600)", str(run)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        p = train(SHORT + ["--logdir", tmp_path, "--name", "busy", "--total_frames", 80], check=False)
        assert p.returncode == 2
        line, = p.stderr.strip().splitlines()
        assert f"is in use by another training process (pid {holder.pid} on host" in line
        assert not (run / "progress.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()
    train(SHORT + ["--logdir", tmp_path, "--name", "busy", "--total_frames", 80])
    assert (run / "progress.jsonl").exists()
