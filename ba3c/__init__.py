"""Batch-A3C (BA3C) trainer for Atari 2600 games, data-parallel over MPI ranks."""
__version__ = "0.1.0"
