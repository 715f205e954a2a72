"""n-step discounted returns: pure NumPy, tested against a plain loop."""
from __future__ import annotations

import numpy as np


def n_step_returns(rewards: np.ndarray, dones: np.ndarray, bootstrap: np.ndarray, gamma: float,
                   truncated: np.ndarray | None = None, next_values: np.ndarray | None = None) -> np.ndarray:
    """Discounted returns of a rollout of T steps for N envs.

    R_{T} = bootstrap (the critic's V(s_T)), and for t = T-1 .. 0:
        R_t = r_t + gamma * (1 - done_t) * R_{t+1} + gamma * trunc_t * V(s_{t+1})
    so a return never crosses an episode end (done_t: step t ended a life or a game), and a game cut
    at the frame cap (trunc_t = 1, done_t = 1 too) is not treated as over: its return goes on as the
    critic's value of the state after the cut, which the agent could not tell from a real end.

    rewards, dones, truncated, next_values (V(s_{t+1}) of each step): (T, N); bootstrap: (N,).
    Returns float32 (T, N).
    """
    T = rewards.shape[0]
    out = np.empty(rewards.shape, dtype=np.float32)
    running = bootstrap.astype(np.float32)
    not_done = 1.0 - dones.astype(np.float32)
    cut = np.zeros_like(not_done) if truncated is None else gamma * truncated * next_values
    for t in range(T - 1, -1, -1):
        running = rewards[t] + gamma * not_done[t] * running + cut[t]
        out[t] = running
    return out


def n_step_returns_tf(rewards, dones, bootstrap, gamma, truncated, next_values):
    """The same recursion as n_step_returns, in TensorFlow, for use inside the compiled train step
    (T is static, so the loop unrolls). rewards, dones, truncated, next_values: (T, N) float32;
    bootstrap: (N,). Where nothing is truncated the added term is exactly 0, so the returns are
    bit-identical to the recursion without it."""
    import tensorflow as tf

    out = []
    running = bootstrap
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * (1.0 - dones[t]) * running + gamma * truncated[t] * next_values[t]
        out.append(running)
    return tf.stack(out[::-1])
