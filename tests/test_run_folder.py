"""A short real training run writes its run folder; a resumed run continues counters and state."""
import json

import numpy as np
import pytest

from ba3c import checkpoint
from ba3c.noise_scale import format_for_status
from conftest import MPIRUN, run_train, small


def test_short_run_writes_run_folder_and_resumes_exactly(train, tmp_path):
    args = small() + ["--logdir", tmp_path, "--name", "r", "--total_frames", 4000]
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
    last = rows[-1]
    assert f"noise scale {format_for_status(last['noise_scale'], last['noise_scale_rel_error'])}" in p.stdout
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
    assert "settings changed" not in p.stdout
    arrays2, meta2 = checkpoint.load(checkpoint.list_checkpoints(run / "checkpoints")[-1])
    assert meta2["counters"] == {**meta1["counters"], "wall_time": meta2["counters"]["wall_time"]}
    for k in arrays1:
        assert np.array_equal(arrays1[k], arrays2[k]), k

    # A larger budget continues the frame counter and the optimizer's step from the checkpoint. A row
    # logged past the checkpoint by a start that was then killed describes undone training: it moves
    # to progress-undone.jsonl, so curves and frames-to-score read only the run's surviving history.
    orphan = {**rows[-1], "frames": meta1["counters"]["frames"] + 80, "score_mean100": 999.0}
    with open(run / "progress.jsonl", "a") as f:
        f.write(json.dumps(orphan) + "\n")
    p = train(small() + ["--logdir", tmp_path, "--name", "r", "--total_frames", 6000])
    assert "progress.jsonl: 1 row(s) logged after the checkpoint" in p.stdout
    assert [json.loads(x) for x in (run / "progress-undone.jsonl").read_text().splitlines()] == [orphan]
    arrays3, meta3 = checkpoint.load(checkpoint.list_checkpoints(run / "checkpoints")[-1])
    new_updates = meta3["counters"]["updates"] - updates1
    assert new_updates == -(-(6000 - meta1["counters"]["frames"]) // 80)
    assert arrays3["optimizer/0"] == updates1 + new_updates
    rows = [json.loads(line) for line in (run / "progress.jsonl").read_text().splitlines()]
    assert rows[-1]["frames"] == meta3["counters"]["frames"] and 999.0 not in [r["score_mean100"] for r in rows]
    assert all(a["frames"] < b["frames"] for a, b in zip(rows, rows[1:]))
    # metadata.json is the latest start's; the earlier starts (commit, command, first frame) stay in it.
    meta_now = json.loads((run / "metadata.json").read_text())
    assert meta_now["frames_at_start"] == meta1["counters"]["frames"]
    first = meta_now["earlier_starts"][0]
    assert first["frames_at_start"] == 0 and first["started"] == meta["started"] and first["argv"] == meta["argv"]
    # ...and the smoothed noise scale goes on from its saved state rather than restarting...
    assert meta3["noise_scale"]["n"] == meta1["noise_scale"]["n"] + new_updates
    # ...and so does the score(100) window: every game since the start, up to 100, not only the new ones.
    assert len(meta1["recent_scores"]) == min(meta1["counters"]["games"], 100)
    assert len(meta3["recent_scores"]) == min(meta3["counters"]["games"], 100)
    old = meta1["recent_scores"]
    kept = max(0, min(len(old), 100 - (meta3["counters"]["games"] - meta1["counters"]["games"])))
    assert meta3["recent_scores"][:kept] == old[len(old) - kept:]
    # The mean screen is fixed once measured.
    assert np.array_equal(arrays3["model/obs_mean"], mean_screen)

    # A checkpoint from before the mean screen existed resumes on the raw screen it was trained on. A
    # setting that shapes the updates may change on a resume, and the start says which did.
    old = {k: v for k, v in arrays1.items() if k != "model/obs_mean"}
    checkpoint.save(tmp_path / "old" / "checkpoints", updates1, old, meta1, keep=3)
    p = train(small() + ["--logdir", tmp_path, "--name", "old", "--total_frames", 6000, "--gamma", "0.98"])
    assert "resumed from" in p.stdout
    assert ("settings changed since that checkpoint, training goes on with the new ones: gamma 0.99 -> 0.98 "
            "(pass the old values as flags to keep them)") in p.stdout
    arrays4, _ = checkpoint.load(checkpoint.list_checkpoints(tmp_path / "old" / "checkpoints")[-1])
    assert not arrays4["model/obs_mean"].any()


def test_resume_no_refuses_to_reuse_a_run(train, two_checkpoint_run):
    p = train(small() + ["--logdir", two_checkpoint_run.parent, "--name", "c", "--total_frames", 800, "--resume", "no"],
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
    p = train(small() + ["--logdir", two_checkpoint_run.parent, "--name", "c", "--total_frames", 800,
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
    p = train(small() + ["--logdir", two_checkpoint_run.parent, "--name", "c", "--total_frames", 800])
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
        p = train(small() + ["--logdir", tmp_path, "--name", "busy", "--total_frames", 80], check=False)
        assert p.returncode == 2
        line, = p.stderr.strip().splitlines()
        assert f"is in use by another training process (pid {holder.pid} on host" in line
        assert not (run / "progress.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()
    train(small() + ["--logdir", tmp_path, "--name", "busy", "--total_frames", 80])
    assert (run / "progress.jsonl").exists()


def test_log_writes_leave_the_main_thread_and_stay_bounded(tmp_path):
    """A stalled filesystem (each write 1 s) must not hold the caller: log() returns at once, and
    close() writes every row; past the queue's limit the oldest progress rows are dropped, counted."""
    import json
    import time

    from ba3c.runlog import RunLog

    log = RunLog(tmp_path, 1000, "off", slow_write=(1.0, 2))
    t0 = time.perf_counter()
    for i in range(5):
        log.log({"frames": i, "fps": 1.0, "score_mean100": None})
    assert time.perf_counter() - t0 < 0.5
    log.close()
    rows = [json.loads(x) for x in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert [r["frames"] for r in rows] == list(range(5))

    (tmp_path / "b").mkdir()
    small = RunLog(tmp_path / "b", 1000, "off", slow_write=(0.5, 1), queue_limit=3)
    small.write_json("config.json", {"kept": True})  # never dropped
    for i in range(10):
        small.log({"frames": i, "fps": 1.0, "score_mean100": None})
    small.close()
    kept = [json.loads(x)["frames"] for x in (tmp_path / "b" / "progress.jsonl").read_text().splitlines()]
    assert small.writer.dropped == 10 - len(kept) > 0 and kept[-1] == 9
    assert json.loads((tmp_path / "b" / "config.json").read_text()) == {"kept": True}


@pytest.mark.slow
def test_slow_log_write_does_not_abort_a_healthy_job(tmp_path):
    """Rank 0's first log write stalls 20 s, twice the collective deadline: training goes on, the job
    ends normally with every row written."""
    p = run_train(small("mpi4py") + ["--total_frames", 4000, "--logdir", tmp_path, "--name", "s",
                                     "--collective_timeout", 10],
                  launcher=[*MPIRUN, "2"], env={"BA3C_FAULT_SLOW_LOG": "20:1"})
    assert "weights identical on all 2 rank(s)" in p.stdout
    rows = (tmp_path / "s" / "progress.jsonl").read_text().splitlines()
    assert len(rows) >= 2 and '"frames": 4000' in rows[-1]


def test_training_outlives_its_stdout_reader_and_a_stop_still_checkpoints(tmp_path):
    """`python train.py | head -c 200`: the reader goes away at once; training goes on to its end.
    Then, as after `make run | tee log` and Ctrl-C: stdout's reader gone, SIGINT, and the stop still
    writes its checkpoint and exits cleanly."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT

    def start(name, frames):
        cmd = [sys.executable, str(ROOT / "train.py"), *map(str, small() + ["--logdir", tmp_path, "--name", name,
                                                                       "--total_frames", frames])]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)

    p = start("head", 2000)
    p.stdout.read(200)
    p.stdout.close()  # like head -c 200 exiting
    assert p.wait(timeout=300) == 0, p.stderr.read().decode()[-2000:]
    assert checkpoint.load_latest(tmp_path / "head" / "checkpoints")[2]["counters"]["frames"] == 2000

    p = start("tee", 10**9)
    progress = tmp_path / "tee" / "progress.jsonl"
    deadline = time.time() + 240
    while not (progress.exists() and progress.read_text().count("\n") >= 2) and time.time() < deadline:
        time.sleep(0.5)
    p.stdout.close()
    p.stderr.close()  # tee took both (2>&1)
    os.kill(p.pid, signal.SIGINT)
    assert p.wait(timeout=120) == 0
    assert checkpoint.load_latest(tmp_path / "tee" / "checkpoints") is not None


def test_changed_settings_names_the_update_shaping_settings_a_resume_changes():
    trained = {"learning_rate": 1e-3, "beta2": 0.75, "total_frames": 1e6, "gamma": 0.99}  # a config without beta1
    now = {"learning_rate": 5e-4, "beta1": 0.9, "beta2": 0.75, "total_frames": 4e7, "gamma": 0.99}
    assert checkpoint.changed_settings(trained, now) == ["learning_rate 0.001 -> 0.0005"]  # budgets may grow
    assert checkpoint.changed_settings(now, now) == []
