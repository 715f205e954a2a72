import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ba3c.returns import n_step_returns


def loop_returns(rewards, dones, bootstrap, gamma, truncated=None, next_values=None):
    T, N = len(rewards), len(rewards[0])
    out = [[0.0] * N for _ in range(T)]
    for n in range(N):
        R = float(bootstrap[n])
        for t in reversed(range(T)):
            if truncated is not None and truncated[t][n]:
                R = float(next_values[t][n])  # cut at the frame cap: the game would have gone on
            elif dones[t][n]:
                R = 0.0
            R = float(rewards[t][n]) + gamma * R
            out[t][n] = R
    return np.array(out)


def test_bootstrap_and_episode_end_mid_rollout():
    rewards = np.array([[1.0], [0.0], [1.0], [0.0], [0.0]], np.float32)
    dones = np.array([[0], [1], [0], [0], [0]], np.float32)
    got = n_step_returns(rewards, dones, np.array([10.0]), 0.5)
    # steps 2..4 bootstrap from V=10; steps 0..1 stop at the episode end after step 1
    assert np.allclose(got[:, 0], [1.0, 0.0, 1 + 0.5 * 0 + 0.25 * 0 + 0.125 * 10, 2.5, 5.0])


def test_autoreset_step_does_not_leak_into_previous_episode():
    # step 1 ends a game (done); step 2 is the emulator's autoreset step (masked out of the loss);
    # the return of step 1 must be its own reward only, whatever comes after.
    rewards = np.array([[2.0], [3.0], [0.0], [7.0]], np.float32)
    dones = np.array([[0], [1], [0], [0]], np.float32)
    got = n_step_returns(rewards, dones, np.array([100.0]), 0.9)
    assert got[1, 0] == 3.0
    assert np.isclose(got[0, 0], 2.0 + 0.9 * 3.0)


def test_a_game_cut_at_the_frame_cap_bootstraps_from_the_state_after_the_cut():
    # step 1 reached the frame cap: done (the next step is the emulator's reset) but truncated, so its
    # return is r_1 + gamma V(s_2), not r_1; step 3 is an ordinary step bootstrapped from V(s_T).
    rewards = np.array([[1.0], [1.0], [0.0], [0.0]], np.float32)
    dones = np.array([[0], [1], [0], [0]], np.float32)
    truncated = np.array([[0], [1], [0], [0]], np.float32)
    next_values = np.array([[9.0], [4.0], [9.0], [10.0]], np.float32)
    got = n_step_returns(rewards, dones, np.array([10.0]), 0.5, truncated, next_values)
    assert got[1, 0] == 1.0 + 0.5 * 4.0
    assert got[0, 0] == 1.0 + 0.5 * got[1, 0]
    assert np.allclose(got[2:, 0], [2.5, 5.0])


@settings(max_examples=120, deadline=None)
@given(T=st.integers(1, 8), N=st.integers(1, 5), gamma=st.floats(0.0, 1.0), seed=st.integers(0, 10_000),
       cut=st.booleans())
def test_matches_plain_loop(T, N, gamma, seed, cut):
    """With cut: some games end at the frame cap (truncated, and done too), bootstrapped from V(s_t+1)."""
    rng = np.random.default_rng(seed)
    rewards = rng.normal(size=(T, N)).astype(np.float32)
    dones = (rng.random((T, N)) < 0.3).astype(np.float32)
    bootstrap = rng.normal(size=N).astype(np.float32)
    extra = ()
    if cut:
        truncated = (rng.random((T, N)) < 0.2).astype(np.float32)
        dones = np.maximum(dones, truncated)  # a cut game is done too
        extra = (truncated, rng.normal(size=(T, N)).astype(np.float32))
    got = n_step_returns(rewards, dones, bootstrap, gamma, *extra)
    assert got.dtype == np.float32 and got.shape == (T, N)
    assert np.allclose(got, loop_returns(rewards, dones, bootstrap, gamma, *extra), atol=1e-4)


def test_tensorflow_returns_match_numpy():
    import tensorflow as tf

    from ba3c.returns import n_step_returns_tf

    rng = np.random.default_rng(7)
    rewards = rng.normal(size=(5, 3)).astype(np.float32)
    dones = (rng.random((5, 3)) < 0.4).astype(np.float32)
    boot = rng.normal(size=3).astype(np.float32)
    trunc = dones * (rng.random((5, 3)) < 0.5)
    nxt = rng.normal(size=(5, 3)).astype(np.float32)
    got = n_step_returns_tf(*map(tf.constant, (rewards, dones, boot)), 0.99, tf.constant(trunc), tf.constant(nxt))
    assert np.allclose(got.numpy(), n_step_returns(rewards, dones, boot, 0.99, trunc, nxt), atol=1e-5)
    # nothing truncated: bit-identical to the recursion without the cut term
    plain = n_step_returns_tf(*map(tf.constant, (rewards, dones, boot)), 0.99, tf.zeros((5, 3)), tf.constant(nxt))
    want = []
    running = tf.constant(boot)
    for t in range(4, -1, -1):
        running = rewards[t] + 0.99 * (1.0 - dones[t]) * running
        want.append(running)
    assert np.array_equal(plain.numpy(), tf.stack(want[::-1]).numpy())
