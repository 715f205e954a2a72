import math

import numpy as np
import tensorflow as tf

from ba3c.losses import a3c_loss, clip_gradients


def loop_loss(logits, values, actions, returns, pmask, vmask, beta, value_coef):
    pol, ent, val, n_p, n_v = 0.0, 0.0, 0.0, 0.0, 0.0
    for i in range(len(actions)):
        m = max(logits[i])
        z = sum(math.exp(x - m) for x in logits[i])
        logp = [x - m - math.log(z) for x in logits[i]]
        adv = returns[i] - values[i]
        if pmask[i]:
            pol += -logp[actions[i]] * adv
            ent += -sum(math.exp(lp) * lp for lp in logp)
            n_p += 1
        if vmask[i]:
            val += 0.5 * (returns[i] - values[i]) ** 2
            n_v += 1
    pol, ent, val = pol / max(n_p, 1), ent / max(n_p, 1), val / max(n_v, 1)
    return pol - beta * ent + value_coef * val, pol, ent, val


def test_a3c_loss_matches_loop_with_masks():
    rng = np.random.default_rng(0)
    B, A = 12, 5
    logits = rng.normal(size=(B, A)).astype(np.float32)
    values = rng.normal(size=B).astype(np.float32)
    actions = rng.integers(0, A, B).astype(np.int32)
    returns = rng.normal(size=B).astype(np.float32)
    vmask = np.ones(B, np.float32)
    vmask[[3, 7]] = 0  # autoreset steps
    pmask = vmask.copy()
    pmask[5] = 0  # a forced FIRE
    loss, stats = a3c_loss(tf.constant(logits), tf.constant(values), tf.constant(actions), tf.constant(returns),
                           tf.constant(pmask), tf.constant(vmask), tf.constant(0.01), 0.5)
    want = loop_loss(logits, values, actions, returns, pmask, vmask, 0.01, 0.5)
    assert np.allclose([loss, stats["policy_loss"], stats["entropy"], stats["value_loss"]], want, atol=1e-5)
    kept = [values[i] for i in range(B) if vmask[i]]
    mean = sum(kept) / len(kept)
    assert math.isclose(float(stats["value_std"]), math.sqrt(sum((v - mean) ** 2 for v in kept) / len(kept)),
                        rel_tol=1e-5)


def test_policy_gradient_has_no_gradient_through_advantage():
    logits = tf.Variable(tf.zeros((1, 2)))
    values = tf.Variable(tf.constant([0.5]))
    with tf.GradientTape() as tape:
        loss, stats = a3c_loss(logits, values, tf.constant([0]), tf.constant([1.0]), tf.ones(1), tf.ones(1),
                               tf.constant(0.0), 0.0)
    g_logits, g_values = tape.gradient(loss, [logits, values])
    assert g_values is None or float(tf.reduce_sum(tf.abs(g_values))) == 0.0
    # d/dlogit0 of -log softmax * A with A = 0.5, p = 0.5: -(1 - 0.5) * 0.5
    assert np.allclose(g_logits.numpy(), [[-0.25, 0.25]])


def test_clip_by_average_norm_matches_loop():
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(5,)).astype(np.float32) * 0.01]
    clipped, _ = clip_gradients([tf.constant(g) for g in grads], 0.1, "avg_norm")
    for g, c in zip(grads, clipped):
        avg = math.sqrt(sum(float(x) ** 2 for x in g.ravel())) / g.size
        want = g * (0.1 / avg) if avg > 0.1 else g
        assert np.allclose(c.numpy(), want, atol=1e-6)


def test_clip_by_global_norm():
    grads = [tf.constant([3.0, 4.0]), tf.constant([0.0])]
    clipped, norm = clip_gradients(grads, 1.0, "global_norm")
    assert np.isclose(float(norm), 5.0)
    assert np.allclose(clipped[0].numpy(), [0.6, 0.8])


def test_seed_initialisers_mean_what_they_meant_there():
    """Distributed-BA3C: conv normal = truncated normal std 0.03, conv uniform = U(-0.05, 0.05); fc
    uniform = TF1 uniform_unit_scaling(1.43) = U(+-1.43 sqrt(3/fan_in)), fc normal = truncated normal
    std 1/sqrt(fan_in)."""
    import numpy as np

    from ba3c.model import _init

    rng = np.random.default_rng(0)
    w = _init("normal", (5, 5, 32, 64), 2.0, rng, "conv")
    assert np.abs(w).max() <= 0.06 + 1e-6 and 0.02 < w.std() < 0.03
    w = _init("uniform", (5, 5, 32, 64), 2.0, rng, "conv")
    assert np.abs(w).max() <= 0.05 and abs(w.std() - 0.05 / np.sqrt(3)) < 1e-3
    w = _init("uniform", (3136, 128), 2.0, rng, "fc")
    assert abs(w.std() - 1.43 / np.sqrt(3136)) < 1e-3 and np.abs(w).max() <= 1.43 * np.sqrt(3 / 3136)
    w = _init("normal", (3136, 128), 2.0, rng, "fc")
    assert np.abs(w).max() <= 2 / np.sqrt(3136) + 1e-6
