"""n-step discounted returns: pure NumPy, tested against a plain loop."""
from __future__ import annotations

import numpy as np


def n_step_returns(rewards: np.ndarray, dones: np.ndarray, bootstrap: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted returns of a rollout of T steps for N envs.

    R_{T} = bootstrap (the critic's V(s_T)), and for t = T-1 .. 0:
        R_t = r_t + gamma * (1 - done_t) * R_{t+1}
    so a return never crosses an episode end (done_t: step t ended a life or a game).

    rewards, dones: (T, N); bootstrap: (N,). Returns float32 (T, N).
    """
    T = rewards.shape[0]
    out = np.empty(rewards.shape, dtype=np.float32)
    running = bootstrap.astype(np.float32)
    not_done = 1.0 - dones.astype(np.float32)
    for t in range(T - 1, -1, -1):
        running = rewards[t] + gamma * not_done[t] * running
        out[t] = running
    return out


def n_step_returns_tf(rewards, dones, bootstrap, gamma):
    """The same recursion as n_step_returns, in TensorFlow, for use inside the compiled train step
    (T is static, so the loop unrolls). rewards, dones: (T, N) float32; bootstrap: (N,)."""
    import tensorflow as tf

    out = []
    running = bootstrap
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * (1.0 - dones[t]) * running
        out.append(running)
    return tf.stack(out[::-1])
