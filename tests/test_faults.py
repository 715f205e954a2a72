"""Faults with real processes and real signals: preemption, dead ranks, bad checkpoints, full
disks, non-finite gradients, and random command lines."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ba3c import checkpoint
from ba3c.config import parse_config
from ba3c.errors import UserError
from conftest import MPIRUN, ROOT, run_train, small


def start_mpirun(args, n=2, env=None):
    cmd = [*MPIRUN, str(n), sys.executable, str(ROOT / "train.py"), *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            start_new_session=True, env={**os.environ, **(env or {})})


def rank_pids(mpirun_pid):
    out = subprocess.run(["pgrep", "-P", str(mpirun_pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def wait_for_progress(run, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (run / "progress.jsonl").exists() and len((run / "progress.jsonl").read_text().splitlines()) >= 2:
            return
        time.sleep(0.5)
    raise AssertionError("training never started")


@pytest.mark.slow
def test_sigterm_to_ranks_checkpoints_and_resumes(tmp_path):
    """What Slurm does on preemption or time-out: SIGTERM to every task."""
    run = tmp_path / "t"
    proc = start_mpirun(small("auto") + ["--total_frames", 1e8, "--logdir", tmp_path, "--name", "t"])
    wait_for_progress(run)
    for pid in rank_pids(proc.pid):
        os.kill(pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert "stopped by SIGTERM" in out and "weights identical on all 2 rank(s)" in out
    last = checkpoint.list_checkpoints(run / "checkpoints")[-1]
    _, meta = checkpoint.load(last)
    frames = meta["counters"]["frames"]
    p = run_train(small("auto") + ["--total_frames", frames + 800, "--logdir", tmp_path, "--name", "t"],
                  launcher=[*MPIRUN, "2"], timeout=300)
    assert f"resumed from {last} at {frames:,} frames" in p.stdout
    _, meta2 = checkpoint.load(checkpoint.list_checkpoints(run / "checkpoints")[-1])
    assert meta2["counters"]["updates"] > meta["counters"]["updates"]


@pytest.mark.slow
def test_sigusr1_to_mpirun_checkpoints_and_exits_zero_with_side_ranks(tmp_path):
    """The requeue trap's USR1 reaches every rank, eval and record ranks included: they must not die
    of it (that took the job down before rank 0 checkpointed), nor play a final round."""
    proc = start_mpirun(small("auto") + ["--total_frames", 1e8, "--logdir", tmp_path, "--name", "u", "--eval_node",
                                 "--record_node", "--eval_every", 5, "--eval_games", 2], n=4)
    wait_for_progress(tmp_path / "u")
    os.kill(proc.pid, signal.SIGUSR1)  # mpirun forwards USR1 to every rank
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert "stopped by SIGUSR1" in out and "weights identical on all 2 rank(s)" in out
    assert checkpoint.list_checkpoints(tmp_path / "u" / "checkpoints")
    assert "final eval at" not in out and "final video at" not in out  # a normal end prints these


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["horovod", "mpi4py"])
def test_sigkill_of_one_rank_ends_job_fast_and_resume_works(tmp_path, backend):
    run = tmp_path / "k"
    proc = start_mpirun(small("auto") + ["--total_frames", 1e8, "--logdir", tmp_path, "--name", "k", "--comm", backend,
                                 "--save_every", 2])
    wait_for_progress(run)
    deadline = time.time() + 120
    while not checkpoint.list_checkpoints(run / "checkpoints") and time.time() < deadline:
        time.sleep(0.5)
    ranks = rank_pids(proc.pid)
    assert len(ranks) == 2
    os.kill(ranks[1], signal.SIGKILL)
    t0 = time.time()
    proc.communicate(timeout=60)
    assert proc.returncode != 0 and time.time() - t0 < 60
    time.sleep(1)
    alive = [p for p in ranks if os.path.exists(f"/proc/{p}") and "zombie" not in open(f"/proc/{p}/status").read()]
    assert not alive, f"orphan ranks {alive}"
    latest = checkpoint.load_latest(run / "checkpoints")
    assert latest is not None
    p = run_train(small(backend) + ["--total_frames", latest[2]["counters"]["frames"] + 400, "--logdir", tmp_path,
                                    "--name", "k"], launcher=[*MPIRUN, "2"], timeout=300)
    assert "resumed from" in p.stdout


def rank_pid(marker, rank):
    """pid of the train.py task with this MPI rank whose command line contains marker (a tmp_path);
    under srun the tasks are slurmstepd's children, not the launcher's."""
    for p in map(int, subprocess.run(["pgrep", "-f", str(marker)], capture_output=True, text=True).stdout.split()):
        try:
            env = open(f"/proc/{p}/environ", "rb").read().split(b"\0")
            exe = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[0].decode()
        except OSError:
            continue
        if exe == sys.executable and {f"OMPI_COMM_WORLD_RANK={rank}".encode(), f"PMIX_RANK={rank}".encode()} & set(env):
            return p
    raise AssertionError(f"rank {rank} of {marker} not found")


def alive(pids):
    return [p for p in pids if os.path.exists(f"/proc/{p}") and "zombie" not in open(f"/proc/{p}/status").read()]


HANG_TIMEOUT = 10  # --collective_timeout in the hang tests
# The deadline, twice the watchdog's grace, and slack for a loaded machine: a stopped rank 0 was
# named 20-21 s after the stop alone and under a CPU hog, but the job ended 41 s after it once in the
# full suite (2026-12-04, cause not found: the end of the job after rank 1's MPI_Abort took ~20 s).
HANG_LIMIT = HANG_TIMEOUT + 2 * 5 + 25


@pytest.mark.slow
@pytest.mark.parametrize("backend,fault,victim", [("horovod", "stop", 1), ("mpi4py", "stop", 0),
                                                  ("horovod", "hang", 0), ("mpi4py", "hang", 1)])
def test_hung_rank_ends_the_job_within_the_deadline_naming_it(tmp_path, backend, fault, victim):
    """A rank that stays alive but never arrives (SIGSTOP, or an injected endless sleep): the others
    abort the job after --collective_timeout plus the grace, naming it; nothing is left running; the
    same command resumes."""
    run = tmp_path / "h"
    args = small("auto") + ["--total_frames", 1e8, "--logdir", tmp_path, "--name", "h", "--comm", backend,
                    "--save_every", 2, "--collective_timeout", HANG_TIMEOUT]
    cmd = [*MPIRUN, "2", sys.executable, str(ROOT / "train.py"), *map(str, args)]
    env = {**os.environ, **({"BA3C_FAULT_HANG": f"{victim}:40"} if fault == "hang" else {})}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
                            start_new_session=True)
    wait_for_progress(run)
    ranks = [rank_pid(tmp_path, r) for r in (0, 1)]
    if fault == "stop":
        os.kill(ranks[victim], signal.SIGSTOP)
        t0 = time.time()
    else:
        t0 = None
    try:
        out, err = proc.communicate(timeout=240)
    finally:
        for p in alive(ranks):
            os.kill(p, signal.SIGKILL)
    if t0 is None:  # the hang began after the last progress line rank 0 wrote
        t0 = (run / "progress.jsonl").stat().st_mtime
    took = time.time() - t0
    assert proc.returncode != 0
    named = [line for line in err.splitlines() if "error:" in line and f"rank {victim} (host" in line]
    assert named and "did not arrive at" in named[0], err[-3000:]
    assert took < HANG_LIMIT, (took, named[0])
    print(f"{backend} {fault} rank {victim}: job ended {took:.1f} s after the hang: {named[0]}")
    time.sleep(1)
    assert not alive(ranks), "orphan ranks"
    if fault == "stop" and victim == 1:
        latest = checkpoint.load_latest(run / "checkpoints")
        assert latest is not None
        p = run_train(args[:-2] + ["--total_frames", latest[2]["counters"]["frames"] + 400],
                      launcher=[*MPIRUN, "2"], timeout=300)
        assert "resumed from" in p.stdout


@pytest.mark.slow
def test_rank_hung_between_allreduce_and_log_gather_is_named(tmp_path):
    """3 ranks, every update logged. Rank 2 hangs after update 30's allreduce: rank 0 waits in the log
    line's gather while rank 1, past the gather, waits in the next allreduce. Rank 0 must name rank 2,
    not report rank 1's order as a bug."""
    args = small("auto") + ["--total_frames", 1e8, "--logdir", tmp_path, "--name", "g", "--comm", "mpi4py",
                    "--log_every", 1e-6, "--collective_timeout", HANG_TIMEOUT]
    proc = start_mpirun(args, n=3, env={"BA3C_FAULT_HANG_AFTER": "2:30"})
    try:
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    named = [line for line in err.splitlines() if "error:" in line and "did not arrive at gather" in line]
    assert named and "rank 2 (host" in named[0] and "rank 1 (host" not in named[0], err[-3000:]
    assert "different orders" not in err


@pytest.mark.slow
def test_exception_on_one_rank_ends_the_job_naming_the_rank(tmp_path):
    t0 = time.time()
    p = run_train(small("auto") + ["--total_frames", 1e8, "--logdir", tmp_path, "--name", "x"], launcher=[*MPIRUN, "2"],
                  env={"BA3C_FAULT_CRASH": "1:5"}, check=False, timeout=300)
    assert p.returncode != 0
    assert "[rank 1] crashed" in p.stderr and "injected crash at update 5" in p.stderr
    assert "[rank 1] aborting the whole job" in p.stderr
    assert time.time() - t0 < 120


@pytest.mark.slow
def test_nan_gradient_on_one_rank_is_skipped_on_all(tmp_path):
    p = run_train(small("auto") + ["--total_frames", 2400, "--logdir", tmp_path, "--name", "n"],
                  launcher=[*MPIRUN, "2"], env={"BA3C_FAULT_NAN": "1:3"}, timeout=300)
    assert "update skipped on all ranks (1 in a row)" in p.stdout
    assert "weights identical on all 2 rank(s)" in p.stdout
    _, meta = checkpoint.load(checkpoint.list_checkpoints(tmp_path / "n" / "checkpoints")[-1])
    assert meta["counters"]["skipped_updates"] == 1
    rows = [json.loads(x) for x in (tmp_path / "n" / "progress.jsonl").read_text().splitlines()]
    assert rows[-1]["skipped_updates"] == 1


def test_nan_run_stops_after_n_in_a_row_with_last_good_weights(tmp_path):
    args = small("auto") + ["--total_frames", 1e6, "--logdir", tmp_path, "--name", "m", "--comm", "none",
                    "--max_bad_updates", 3]
    p = run_train(args, env={"BA3C_FAULT_NAN": "0:2-1000"}, check=False)
    assert p.returncode == 2
    assert "3 updates in a row had non-finite loss or gradients" in p.stderr.strip().splitlines()[-1]
    _, meta = checkpoint.load(checkpoint.list_checkpoints(tmp_path / "m" / "checkpoints")[-1])
    assert meta["counters"]["updates"] == 5 and meta["counters"]["skipped_updates"] == 3


def test_unwritable_logdir_fails_at_start(train, tmp_path):
    (tmp_path / "file").write_text("x")
    p = train(small("auto") + ["--logdir", tmp_path / "file", "--comm", "none"], check=False)
    assert p.returncode == 2 and "is not writable" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_disk_full_mid_run_stops_cleanly_keeping_last_checkpoint(tmp_path):
    """A 45 MB tmpfs takes two 20 MB checkpoints; the third write fails mid-run."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=45M", "tmpfs", str(mnt)]).returncode != 0:
        pytest.fail("cannot mount a tmpfs (the tests run as root on this machine kind)")
    try:
        p = run_train(small("auto") + ["--logdir", mnt, "--name", "d", "--comm", "none", "--total_frames", 1e8,
                               "--save_every", 1], check=False, timeout=300)
        assert p.returncode == 2, p.stderr[-2000:]
        last = p.stderr.strip().splitlines()[-1]
        assert "cannot write a checkpoint" in last and "No space left on device" in last
        kept = checkpoint.list_checkpoints(mnt / "d" / "checkpoints")
        assert len(kept) == 2
        checkpoint.load(kept[-1])  # intact
        assert not [f for f in (mnt / "d" / "checkpoints").iterdir() if f.name.startswith(".")]  # no temp left
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_same_seed_same_first_updates_bit_for_bit(train, tmp_path):
    sums = []
    for i in range(2):
        p = train(small("auto") + ["--logdir", tmp_path, "--name", f"d{i}", "--comm", "none", "--total_frames", 1200])
        sums.append(p.stdout.split("checksum ")[1].split()[0])
    assert sums[0] == sums[1]


FLAGS = ["-e", "-l", "-b", "--envs_per_rank", "--n_step", "-o", "--beta1", "--beta2", "--epsilon", "--gamma",
         "--entropy_beta", "--grad_clip", "--fc_neurons", "--total_frames", "--seed", "--save_every", "--lr_schedule",
         "--task", "--sticky_actions", "--noop_max", "--name", "--resume", "--arch", "--comm", "--eval_every"]
VALUES = st.one_of(st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
                   st.sampled_from(["", "nan", "inf", "-0", "1e400", "Breakout", "adam", "x=y", "1e6=3e-4", "/", ".."]),
                   st.text(max_size=8))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(FLAGS), VALUES), max_size=5))
def test_random_flags_give_a_config_or_a_one_line_error(pairs):
    argv = [x for pair in pairs for x in pair]
    try:
        cfg, _ = parse_config(argv)
        cfg.finalize()
    except UserError as e:
        assert "\n" not in str(e)


@pytest.mark.slow
def test_sigkill_of_one_srun_task_ends_the_step(slurm, tmp_path):
    run = tmp_path / "s"
    cmd = ["srun", "-n", "2", sys.executable, str(ROOT / "train.py"), *map(str, small("auto")),
           "--total_frames", "1e8", "--logdir", str(tmp_path), "--name", "s", "--save_every", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, **slurm.env})
    wait_for_progress(run)
    deadline = time.time() + 120
    while not checkpoint.list_checkpoints(run / "checkpoints") and time.time() < deadline:
        time.sleep(0.5)
    out = subprocess.run(["pgrep", "-f", f"{tmp_path} --name s"], capture_output=True, text=True).stdout.split()
    victims = [int(p) for p in out
               if open(f"/proc/{p}/cmdline").read().split("\0")[0] == sys.executable]  # the tasks, not srun
    assert len(victims) == 2, victims
    os.kill(victims[1], signal.SIGKILL)
    t0 = time.time()
    proc.communicate(timeout=60)
    assert proc.returncode != 0 and time.time() - t0 < 60
    time.sleep(1)
    assert not [p for p in victims if os.path.exists(f"/proc/{p}")
                and "zombie" not in open(f"/proc/{p}/status").read()]
    assert checkpoint.load_latest(run / "checkpoints") is not None


@pytest.mark.slow
def test_sigstop_of_one_srun_task_ends_the_step_naming_it(slurm, tmp_path):
    run = tmp_path / "z"
    cmd = ["srun", "-n", "2", sys.executable, str(ROOT / "train.py"), *map(str, small("auto")), "--total_frames", "1e8",
           "--logdir", str(tmp_path), "--name", "z", "--collective_timeout", str(HANG_TIMEOUT)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, **slurm.env})
    wait_for_progress(run)
    ranks = [rank_pid(tmp_path, r) for r in (0, 1)]
    os.kill(ranks[1], signal.SIGSTOP)
    t0 = time.time()
    try:
        _, err = proc.communicate(timeout=240)
    finally:
        for p in alive(ranks):
            os.kill(p, signal.SIGKILL)
    took = time.time() - t0
    assert proc.returncode != 0
    assert "rank 1 (host" in err and "did not arrive at" in err, err[-3000:]
    assert took < HANG_LIMIT, took
    print(f"srun stop rank 1: step ended {took:.1f} s after SIGSTOP")
    time.sleep(1)
    assert not alive(ranks), "orphan tasks"


@pytest.mark.slow
def test_slow_checkpoint_write_does_not_stall_training(tmp_path):
    """A 25 s checkpoint write (a loaded shared filesystem) under a 10 s collective deadline: rank 0
    writes in the background, both ranks keep training, the job is not killed, the file lands whole,
    and the final checkpoint on SIGTERM waits for the write in flight."""
    run = tmp_path / "w"
    proc = start_mpirun(small("horovod") + ["--total_frames", 1e8, "--logdir", tmp_path, "--name", "w",
                                            "--save_every", 2, "--collective_timeout", 10],
                        env={"BA3C_FAULT_SLOW_SAVE": "25:1"})
    wait_for_progress(run)
    rows_at_start = len((run / "progress.jsonl").read_text().splitlines())
    deadline = time.time() + 120
    while not checkpoint.list_checkpoints(run / "checkpoints") and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
    rows_during = len((run / "progress.jsonl").read_text().splitlines()) - rows_at_start
    ranks = rank_pids(proc.pid)
    for pid in ranks:
        os.kill(pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert rows_during >= 10, rows_during  # one log line a second went on while the file was written
    assert "written in 2" in out and "skipped: the previous write has been running" in out, out[-3000:]
    first = checkpoint.list_checkpoints(run / "checkpoints")[0]
    checkpoint.load(first)  # complete, checksum intact
    assert "stopped by SIGTERM" in out
