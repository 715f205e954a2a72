"""Real multi-rank launches: mpirun -np 2, and srun/sbatch on a local Slurm cluster."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ba3c import checkpoint
from conftest import MPIRUN, ROOT, run_train, small

pytestmark = pytest.mark.slow


def checksum_line(p: subprocess.CompletedProcess) -> tuple[str, str]:
    m = re.search(r"weights identical on all (\d+) rank\(s\): checksum (\w+)", p.stdout)
    assert m, f"no identical-weights line in stdout:\n{p.stdout[-2000:]}\nstderr:\n{p.stderr[-2000:]}"
    return m.group(1), m.group(2)


@pytest.mark.parametrize("backend", ["horovod", "mpi4py"])
def test_averaged_gradient_and_noise_sample_equal_one_process_of_all_envs(backend):
    """K ranks x N envs = one process with K*N envs: the same averaged gradient (also, to half
    precision, when it travels as 16-bit floats), and the same noise-scale sample (squared norms at
    both batch sizes, and the sizes). Tolerance: 1e-5 absolute on gradients of order 1 (float32 sums
    in another order), 1e-4 relative on the norms."""
    p = subprocess.run([*MPIRUN, "2", sys.executable, str(ROOT / "tests" / "mpi_grad_check.py"), backend],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    diff, scale = map(float, re.search(r"MAXDIFF (\S+) SCALE (\S+)", p.stdout).groups())
    assert scale > 1e-3 and diff < 1e-5
    two = [float(x) for x in re.search(r"NOISE2 (.+)", p.stdout).group(1).split()]
    one = [float(x) for x in re.search(r"NOISE1 (.+)", p.stdout).group(1).split()]
    assert two[1] == one[1] == 12 and two[3] == one[3] == 24  # B_small = 4 envs x 3 steps, B_big = 24
    assert two == pytest.approx(one, rel=1e-4)
    assert one[0] > one[2] > 0  # a small batch's gradient is noisier, so its squared norm is larger
    # --grad_compression fp16: the gradients went through half floats (they differ, by at most a few
    # half-precision roundings of the largest element: 2^-11 relative each); the tail is float32.
    diff16, tail = map(float, re.search(r"FP16 (\S+) TAIL (\S+)", p.stdout).groups())
    assert 0 < diff16 < 3 * 2**-11 * scale and tail <= 1e-6 * scale, (diff16, tail, scale)


def test_two_ranks_identical_weights_backends_agree_with_and_without_overlap(tmp_path):
    """After K updates every rank holds the same weights (checksums gathered at the end), and the
    Horovod and mpi4py paths produce the very same weights from the same seed, synchronous or with
    --overlap. With --overlap, one update equals the synchronous update (the first gradient is taken
    on the broadcast weights, and the last one in flight is applied, not lost); ten differ (each
    gradient was one update stale). The mean screen is measured over 5 rollouts here, so its broadcast
    happens mid-run, beside an allreduce in flight with --overlap, and is in the checksum."""
    def checksum(name, frames, backend, *extra):
        p = run_train(small(backend) + ["--total_frames", frames, "--logdir", tmp_path, "--name", name,
                                        "--obs_mean_updates", 5, *extra], launcher=[*MPIRUN, "2"], timeout=300)
        n, value = checksum_line(p)
        assert n == "2" and f"2 rank(s) via {backend}" in p.stdout
        assert "global batch 40 (2 rank(s) x 4 env(s) x 5 steps)" in p.stdout
        assert ("note: --overlap applies each gradient one update late" in p.stdout) == ("--overlap" in extra)
        return value

    sync = {b: checksum(f"sync-{b}", 1600, b) for b in ("horovod", "mpi4py")}
    overlap = {b: checksum(f"overlap-{b}", 1600, b, "--overlap") for b in ("horovod", "mpi4py")}
    assert sync["horovod"] == sync["mpi4py"] != overlap["horovod"] == overlap["mpi4py"]
    rows = [json.loads(x) for x in (tmp_path / "overlap-mpi4py" / "progress.jsonl").read_text().splitlines()]
    assert rows[-1]["updates"] == 10 and rows[-1]["frames"] == 1600
    arrays, _ = checkpoint.load(checkpoint.list_checkpoints(tmp_path / "overlap-horovod" / "checkpoints")[-1])
    assert 0.05 < arrays["model/obs_mean"].mean() < 0.5
    # OpenMPI's waits yield rather than spin (set by train.py before MPI starts; README, Scaling).
    meta = json.loads((tmp_path / "sync-horovod" / "metadata.json").read_text())
    assert meta["world"]["openmpi_mca"]["OMPI_MCA_mpi_yield_when_idle"] == "1"
    assert checksum("one-overlap", 160, "horovod", "--overlap") == checksum("one-sync", 160, "mpi4py")


def test_resume_across_world_sizes(tmp_path):
    args = small("auto") + ["--logdir", tmp_path, "--name", "w"]
    run_train(args + ["--total_frames", 800], launcher=[*MPIRUN, "2"], timeout=300)
    c1 = checkpoint.list_checkpoints(tmp_path / "w" / "checkpoints")[-1]
    _, m1 = checkpoint.load(c1)
    assert m1["world_size"] == 2
    p = run_train(args + ["--total_frames", 1600, "--comm", "none"])
    assert f"resumed from {c1}" in p.stdout
    _, m2 = checkpoint.load(checkpoint.list_checkpoints(tmp_path / "w" / "checkpoints")[-1])
    assert m2["world_size"] == 1 and m2["counters"]["updates"] > m1["counters"]["updates"]
    p = run_train(args + ["--total_frames", 2400], launcher=[*MPIRUN, "2"], timeout=300)
    assert "resumed from" in p.stdout and checksum_line(p)[0] == "2"
    _, m3 = checkpoint.load(checkpoint.list_checkpoints(tmp_path / "w" / "checkpoints")[-1])
    assert m3["world_size"] == 2 and m3["counters"]["frames"] >= 2400


def test_comm_none_under_two_ranks_is_a_clear_error(tmp_path):
    p = run_train(small("auto") + ["--comm", "none", "--logdir", tmp_path], launcher=[*MPIRUN, "2"], check=False)
    assert p.returncode != 0 and "--comm none but the launcher started 2 tasks" in p.stderr


def test_srun_two_ranks_writes_one_run_folder(slurm, tmp_path):
    p = run_train(small("auto") + ["--total_frames", 1600, "--logdir", tmp_path, "--name", "s"],
                  launcher=["srun", "-n", "2"], env=slurm.env, timeout=300)
    assert checksum_line(p)[0] == "2"
    assert [d.name for d in tmp_path.iterdir()] == ["s"]
    meta = json.loads((tmp_path / "s" / "metadata.json").read_text())
    assert meta["world"]["size"] == 2 and meta["slurm"]["SLURM_STEP_NUM_TASKS"] == "2"


def test_srun_without_pmix_stops_with_fix(slurm, tmp_path):
    p = run_train(small("auto") + ["--logdir", tmp_path], launcher=["srun", "-n", "2", "--mpi=none"], env=slurm.env,
                  check=False)
    assert p.returncode != 0
    assert "use `srun --mpi=pmix ...`" in p.stderr


def _wait_job(slurm, job: str, timeout: float) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, env=slurm.env).stdout
        state = re.search(r"JobState=(\w+)", out).group(1)
        if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"):
            return state
        time.sleep(1)
    raise AssertionError(f"job {job} not done after {timeout}s: {out}")


def _render_and_submit(slurm, tmp_path, args: str, time_limit: str = "00:10:00", extra=()) -> str:
    job_file = tmp_path / "job.sbatch"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "render_slurm.py"), "--tasks", "2", "--time", time_limit,
                    "--args", args, "--job-name", "t", "--log", str(tmp_path / "job.out"),
                    "--output", str(job_file), *extra], check=True)
    text = job_file.read_text()
    assert "#SBATCH --requeue" in text and "#SBATCH --signal=B:USR1@" in text and "#SBATCH --time=" in text
    out = subprocess.run(["sbatch", "--parsable", str(job_file)], capture_output=True, text=True,
                         env=slurm.env, check=True, cwd=tmp_path).stdout
    return out.strip().split(";")[0]


def _scratch(tmp_path: Path) -> Path:
    """A directory for the 2 GB packed virtualenv and its staged copy: RAM-backed /dev/shm when it has
    room (packing and unpacking there is ~3x faster than on this machine's disk), else tmp_path."""
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > 6 * 2**30:
        return Path(tempfile.mkdtemp(prefix="ba3c-test-", dir=shm))
    return tmp_path


def test_staged_sbatch_job_checkpoints_requeues_on_usr1_and_resumes(slurm, tmp_path):
    """A cluster job as a user runs it: rendered with --stage-venv, the virtualenv is packed, sbcast to
    the node, unpacked by one task per node, and the ranks run its python from there. Slurm's
    pre-time-limit signal (--signal=B:USR1) makes the job checkpoint and requeue itself; the requeued
    job stages again, resumes the same run folder, runs to completion and removes the staged copy."""
    scratch = _scratch(tmp_path)
    try:
        local = scratch / "node-local"
        local.mkdir()
        venv = Path(sys.executable).parent.parent
        args = (f"-e Breakout --envs_per_rank 4 --total_frames 16000 --progress off --log_every 1 "
                f"--logdir {tmp_path}/runs")
        job = _render_and_submit(slurm, tmp_path, args, extra=["--python", str(venv / "bin" / "python"),
                                                               "--stage-venv", str(local),
                                                               "--pack", str(scratch / "venv.tar")])
        run = tmp_path / "runs" / "t"
        deadline = time.time() + 300
        while not (run / "progress.jsonl").exists() and time.time() < deadline:
            time.sleep(0.2)
        subprocess.run(["scancel", "--signal=USR1", "--batch", job], check=True, env=slurm.env)
        deadline = time.time() + 120
        while time.time() < deadline:
            out = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True,
                                 env=slurm.env).stdout
            if "Restarts=1" in out:
                break
            time.sleep(0.5)
        assert "Restarts=1" in out, out
        # Slurm holds a requeued job for about two minutes so that the node has forgotten the old job's
        # credential; a restart in the same second as the requeue fails with "Job credential revoked".
        # A few seconds are enough on one node.
        subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now+3"], env=slurm.env,
                       capture_output=True)
        assert _wait_job(slurm, job, 400) == "COMPLETED", (tmp_path / "job.out").read_text()
        log = (tmp_path / "job.out").read_text()
        assert "stopped by SIGUSR1" in log and "restart 1" in log and "resumed from" in log
        assert log.count(f"virtualenv staged to {local}/ba3c-{job} on 1 node(s)") == 2, log
        assert "weights identical on all 2 rank(s)" in log and "step exited with 0" in log
        assert "start-up (median / max" in log
        meta = json.loads((run / "metadata.json").read_text())
        assert meta["python"] == f"{local}/ba3c-{job}/{venv.name}/bin/python"
        assert meta["startup"]["summary"]["total"]["max"] > 0
        _, ckpt_meta = checkpoint.load(checkpoint.list_checkpoints(run / "checkpoints")[-1])
        assert ckpt_meta["counters"]["frames"] >= 16000
        assert not list(local.iterdir())  # unstaged
    finally:
        if scratch != tmp_path:
            shutil.rmtree(scratch, ignore_errors=True)


def test_sbatch_job_whose_step_fails_to_launch_fails(slurm, tmp_path):
    """A real launch failure: the PMIx plugin cannot create its per-step folder because one is already
    there (what a killed earlier job leaves behind). srun prints "launch failed" yet exits 0; the
    job must still end FAILED, saying why."""
    job = _render_and_submit(slurm, tmp_path, f"-e Breakout --logdir {tmp_path}/runs", extra=["--sbatch=--hold"])
    (slurm.root / "tmp" / f"spmix_appdir_{os.getuid()}_{job}.0").mkdir(parents=True)
    subprocess.run(["scontrol", "release", job], check=True, env=slurm.env)
    assert _wait_job(slurm, job, 120) == "FAILED", (tmp_path / "job.out").read_text()
    log = (tmp_path / "job.out").read_text()
    assert "launch failed" in log and "train.py never started" in log and "step exited with 1" in log, log
    assert not list(ROOT.glob(f".ba3c-started-{job}")) and not (tmp_path / "runs").exists()


def test_eval_node_reports_while_two_trainers_stay_identical(tmp_path):
    p = run_train(small("auto") + ["--total_frames", 3200, "--logdir", tmp_path, "--name", "e", "--eval_node",
                           "--eval_every", 5, "--eval_games", 2], launcher=[*MPIRUN, "3"], timeout=400)
    n, _ = checksum_line(p)
    assert n == "2" and "2 rank(s) via" in p.stdout  # the third rank evaluates, it does not train
    rows = [json.loads(x) for x in (tmp_path / "e" / "eval.jsonl").read_text().splitlines()]
    assert rows and all(r["games"] == 2 and len(r["scores"]) == 2 for r in rows)
    assert len({r["frames"] for r in rows}) == len(rows)  # one round per weight delivery
    assert rows[-1]["frames"] == 3200  # a normal end always evaluates the final weights
    assert "final eval at 3,200 frames" in p.stdout


def test_eval_and_record_nodes_together(tmp_path):
    """4 ranks: 2 trainers, rank 2 evaluates, rank 3 records videos. Whether a round of the starting
    weights finishes before this short run ends is a race; the final round with the end weights is not."""
    p = run_train(small("auto") + ["--total_frames", 2400, "--logdir", tmp_path, "--name", "v", "--eval_node",
                           "--record_node", "--eval_every", 5, "--eval_games", 2], launcher=[*MPIRUN, "4"],
                  timeout=400)
    assert checksum_line(p)[0] == "2"
    run = tmp_path / "v"
    assert (run / "videos" / "frames-000000002400.mp4").stat().st_size > 0
    assert json.loads((run / "videos.jsonl").read_text().splitlines()[-1])["frames"] == 2400
    assert json.loads((run / "eval.jsonl").read_text().splitlines()[-1])["frames"] == 2400
    assert "final video at 2,400 frames" in p.stdout and "final eval at 2,400 frames" in p.stdout
    assert json.loads((run / "eval.jsonl").read_text().splitlines()[-1])["final"] is True


def _submit_eval(slurm, tmp_path, extra=()) -> str:
    """Render and submit the eval template for a 2-game evaluation of an untrained checkpoint."""
    from ba3c.model import PolicyValueNet

    model = PolicyValueNet("nature", 4, 512, seed=0)
    ckpt = checkpoint.save(tmp_path, 1, {f"model/{n}": w for n, w in zip(model.names, model.get_weights())},
                           {"game": "breakout", "arch": "nature", "fc_neurons": 512, "n_actions": 4}, keep=1)
    job_file = tmp_path / "eval.sbatch"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "render_slurm.py"), "--kind", "eval", "--time", "00:05:00",
                    "--args", f"-e Breakout --load {ckpt} --episodes 2 --output {tmp_path}/e.json", "--job-name", "ev",
                    "--log", str(tmp_path / "eval.out"), "--output", str(job_file), *extra], check=True)
    out = subprocess.run(["sbatch", "--parsable", str(job_file)], capture_output=True, text=True, env=slurm.env,
                         check=True, cwd=tmp_path).stdout
    return out.strip().split(";")[0]


def test_sbatch_eval_template_writes_scores(slurm, tmp_path):
    job = _submit_eval(slurm, tmp_path)
    assert _wait_job(slurm, job, 300) == "COMPLETED", (tmp_path / "eval.out").read_text()
    assert len(json.loads((tmp_path / "e.json").read_text())["scores"]) == 2
    log = (tmp_path / "eval.out").read_text()
    assert "breakout: 2 games" in log and f"evaluation job {job} exited with 0" in log, log
    assert not list(ROOT.glob(f".ba3c-started-{job}"))


def test_sbatch_eval_job_whose_step_fails_to_launch_fails(slurm, tmp_path):
    """The eval template has the training template's launch guard: the same real PMIx launch failure
    (srun exits 0) ends the job FAILED, saying why, not COMPLETED without scores."""
    job = _submit_eval(slurm, tmp_path, extra=["--sbatch=--hold"])
    (slurm.root / "tmp" / f"spmix_appdir_{os.getuid()}_{job}.0").mkdir(parents=True)
    subprocess.run(["scontrol", "release", job], check=True, env=slurm.env)
    assert _wait_job(slurm, job, 120) == "FAILED", (tmp_path / "eval.out").read_text()
    log = (tmp_path / "eval.out").read_text()
    assert "launch failed" in log and "train.py never started" in log and f"job {job} exited with 1" in log, log
    assert not (tmp_path / "e.json").exists() and not list(ROOT.glob(f".ba3c-started-{job}"))


def test_four_ranks_without_batch_flags_print_and_use_the_planned_global_batch(tmp_path):
    """No batch flags on 4 ranks: the plan's global batch (the emulators per rank of the default table,
    14 x 5 steps x 4 ranks; the table itself is unit-tested in test_config) is printed once at start,
    used for the frame count, and written to config.json."""
    from ba3c.batch_plan import plan_batch

    plan = plan_batch(4)
    envs, batch = plan.envs_per_rank, plan.global_batch
    p = run_train(["-e", "Breakout", "--progress", "off", "--total_frames", 2 * batch * 4,
                   "--logdir", tmp_path, "--name", "g"], launcher=[*MPIRUN, "4"], timeout=400)
    assert p.stdout.count(f"global batch {batch:,} (4 rank(s) x {envs} env(s) x 5 steps)") == 1
    cfg = json.loads((tmp_path / "g" / "config.json").read_text())
    assert (cfg["global_batch"], cfg["envs_per_rank"], cfg["lr_scaling"]) == (batch, envs, "none")
    rows = [json.loads(x) for x in (tmp_path / "g" / "progress.jsonl").read_text().splitlines()]
    assert rows[-1]["frames"] == rows[-1]["updates"] * batch * 4


@pytest.mark.slow
def test_below_thread_multiple_the_job_runs_without_threads_that_call_mpi(tmp_path):
    """An MPI that grants MPI_THREAD_SERIALIZED (forced here through mpi4py's request): one line says
    what to set; --overlap is off, gradients go by mpi4py, and the run ends with identical weights.
    A hung rank still ends the job: the watchdog then calls no MPI and each waiting rank ends itself."""
    env = {"MPI4PY_RC_THREAD_LEVEL": "serialized"}
    p = run_train(small("auto") + ["--overlap", "--total_frames", 1600, "--logdir", tmp_path, "--name", "s"],
                  launcher=[*MPIRUN, "2"], env=env)
    assert "MPI granted MPI_THREAD_SERIALIZED, not MPI_THREAD_MULTIPLE" in p.stdout
    assert "--overlap off" in p.stdout and "MPICH_MAX_THREAD_SAFETY=multiple" in p.stdout
    assert "via mpi4py" in p.stdout and "weights identical on all 2 rank(s)" in p.stdout
    p = run_train(small("auto") + ["--comm", "horovod", "--total_frames", 800, "--logdir", tmp_path, "--name", "h"],
                  launcher=[*MPIRUN, "2"], env=env, check=False)
    assert p.returncode == 2 and "--comm horovod needs MPI_THREAD_MULTIPLE" in p.stderr
    t0 = time.time()
    p = run_train(small("auto") + ["--total_frames", 1e8, "--logdir", tmp_path, "--name", "w",
                                   "--collective_timeout", 10],
                  launcher=[*MPIRUN, "2"], env={**env, "BA3C_FAULT_HANG": "1:20"}, check=False, timeout=240)
    assert p.returncode != 0 and time.time() - t0 < 200
    assert "[rank 0] error: waited" in p.stderr and "another rank did not arrive" in p.stderr, p.stderr[-2000:]
