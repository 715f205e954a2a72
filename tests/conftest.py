import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import ba3c  # noqa: E402,F401  (before NumPy: it sets NumPy's BLAS threads)


def run_train(args, timeout=600, env=None, launcher=(), check=True):
    """Run train.py for real in a subprocess; return the CompletedProcess."""
    cmd = [*launcher, sys.executable, str(ROOT / "train.py"), *map(str, args)]
    e = dict(os.environ, **(env or {}))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e, cwd=ROOT)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}\nstdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}")
    return p


@pytest.fixture
def train():
    return run_train


def small(comm: str = "none") -> list[str]:
    """A run of 4 emulators x 5 steps per rank (80 frames per update and rank, a few seconds per run),
    logging every second; comm "none" for one process, "auto" (or a backend) under a launcher."""
    return ["-e", "Breakout", "--envs_per_rank", "4", "--n_step", "5", "--log_every", "1", "--progress", "off",
            "--comm", comm]


@pytest.fixture(scope="session")
def _two_checkpoint_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("two_checkpoints")
    for frames in (400, 800):
        run_train(small() + ["--logdir", base, "--name", "c", "--total_frames", frames])
    return base / "c"


@pytest.fixture
def two_checkpoint_run(_two_checkpoint_run, tmp_path):
    """A copy, in tmp_path/c, of one short run that wrote two checkpoints (400 and 800 frames): the
    tests that damage or refuse a checkpoint share its two train.py start-ups."""
    import shutil

    return Path(shutil.copytree(_two_checkpoint_run, tmp_path / "c"))


MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np"]


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A real local Slurm cluster (munged, slurmctld, slurmd), stopped by pid at the end."""
    from slurm_cluster import LocalSlurm

    why = LocalSlurm.available()
    if why:
        pytest.fail(f"local Slurm cluster unavailable: {why}")
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm")).start()
    yield cluster
    cluster.stop()


def pytest_collection_modifyitems(config, items):
    """For `pytest -n 2 --dist loadgroup` (make test): the tests that share the one local Slurm
    cluster run on one worker, and the long learning run starts first so the rest overlaps it."""
    for item in items:
        if "slurm" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("slurm"))
        elif "two_checkpoint_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("two_checkpoint_run"))  # built once, on one worker
    items.sort(key=lambda item: 0 if "test_learning" in item.nodeid else 1)
