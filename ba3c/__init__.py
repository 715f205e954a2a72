"""Batch-A3C (BA3C) trainer for Atari 2600 games, data-parallel over MPI ranks."""
import os

# NumPy's only BLAS/LAPACK work here is the orthogonal initialisation (one 3,136 x 512 QR). OpenBLAS's
# own thread pool spins against TensorFlow's and the emulators' threads (or other ranks on the node):
# on a busy 2-core machine that QR took ~9 s with its default threads and 0.3 s with one. Set before
# NumPy is first imported; a user's own OPENBLAS_NUM_THREADS wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
