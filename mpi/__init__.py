"""The only package that imports mpi4py or Horovod. See mpi/comm.py."""
from mpi.comm import Comm, env_rank, init_comm

__all__ = ["Comm", "env_rank", "init_comm"]
