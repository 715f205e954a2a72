"""A real one-node Slurm cluster for the tests: munged, slurmctld and slurmd started from a private
slurm.conf under a temporary folder, stopped by pid afterwards. Usable from a shell too:

    python tests/slurm_cluster.py start /tmp/slurm   # prints `export SLURM_CONF=...`
    python tests/slurm_cluster.py stop /tmp/slurm
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _munged_running() -> bool:
    return subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode == 0


class LocalSlurm:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.conf = self.root / "slurm.conf"
        self.started: list[Path] = []  # pid files of the daemons we started

    @staticmethod
    def available() -> str | None:
        """None if the binaries are here, else why not."""
        for b in ("munged", "slurmctld", "slurmd", "srun", "sbatch", "scontrol"):
            if not shutil.which(b) and not Path(f"/usr/sbin/{b}").exists():
                return f"{b} not installed (make install)"
        if os.geteuid() != 0:
            return "the local Slurm cluster needs root"
        return None

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def start(self) -> "LocalSlurm":
        self.root.mkdir(parents=True, exist_ok=True)
        for d in ("state", "spool", "tmp"):
            (self.root / d).mkdir(exist_ok=True)
        if not _munged_running():
            if not Path("/etc/munge/munge.key").exists():
                subprocess.run(["mungekey", "-c"], check=True)
                shutil.chown("/etc/munge/munge.key", "munge", "munge")
            Path("/run/munge").mkdir(parents=True, exist_ok=True)
            shutil.chown("/run/munge", "munge", "munge")
            subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged", "--force"], check=True)
            self._record_pid("munged", "/run/munge/munged.pid")
        host = socket.gethostname().split(".")[0]
        cpus = os.cpu_count() or 1
        self.conf.write_text(f"""\
ClusterName=ba3ctest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=pmix
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
StateSaveLocation={self.root}/state
SlurmdSpoolDir={self.root}/spool
TmpFS={self.root}/tmp
SlurmctldPidFile={self.root}/slurmctld.pid
SlurmdPidFile={self.root}/slurmd.pid
SlurmctldLogFile={self.root}/slurmctld.log
SlurmdLogFile={self.root}/slurmd.log
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
KillWait=10
MinJobAge=300
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
""")
        # TmpFS is per cluster because the PMIx plugin puts each step's spmix_appdir_<uid>_<job>.<step>
        # there, and job ids restart at 1 with every fresh cluster: a folder left in /tmp by a killed
        # earlier cluster makes step 1.0 fail to launch (and srun 22.05 still exits 0).
        env = dict(os.environ, SLURM_CONF=str(self.conf))
        subprocess.run(["/usr/sbin/slurmctld", "-f", str(self.conf), "-i"], check=True, env=env)
        self.started.append(self.root / "slurmctld.pid")
        subprocess.run(["/usr/sbin/slurmd", "-f", str(self.conf)], check=True, env=env)
        self.started.append(self.root / "slurmd.pid")
        deadline = time.time() + 60
        while time.time() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=env).stdout
            if out.strip() in ("idle", "mixed", "allocated"):
                return self
            time.sleep(0.5)
        raise RuntimeError(f"local slurm did not come up; see {self.root}/slurmctld.log and slurmd.log")

    def _record_pid(self, name: str, pidfile: str) -> None:
        for _ in range(50):
            if Path(pidfile).exists():
                self.started.append(Path(pidfile))
                return
            time.sleep(0.1)

    def stop(self) -> None:
        env = dict(os.environ, SLURM_CONF=str(self.conf))
        subprocess.run(["scancel", "--full", "-u", "root"], capture_output=True, env=env)
        for pidfile in reversed(self.started):
            try:
                pid = int(pidfile.read_text().split()[0])
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.1)
            except (FileNotFoundError, ValueError, ProcessLookupError):
                pass
        self.started.clear()


if __name__ == "__main__":
    cluster = LocalSlurm(Path(sys.argv[2]))
    if sys.argv[1] == "start":
        cluster.start()
        pids = [str(p) for p in cluster.started]
        (cluster.root / "started").write_text("\n".join(pids))
        print(f"export SLURM_CONF={cluster.conf}")
    else:
        started = (cluster.root / "started")
        cluster.started = [Path(p) for p in started.read_text().split()] if started.exists() else []
        cluster.stop()
