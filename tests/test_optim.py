import math

import numpy as np
import pytest
import tensorflow as tf

from ba3c.optim import Optimizer


def test_adam_matches_loop():
    b1, b2, eps, lr = 0.8, 0.75, 1e-8, 1e-3
    w = tf.Variable([1.0, -2.0, 0.5])
    opt = Optimizer("adam", [w], b1, b2, eps, 0.99)
    ref, m, v = [1.0, -2.0, 0.5], [0.0] * 3, [0.0] * 3
    rng = np.random.default_rng(0)
    for t in range(1, 6):
        g = rng.normal(size=3).astype(np.float32)
        opt.apply([tf.constant(g)], [w], tf.constant(lr))
        lr_t = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for i in range(3):
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2
            ref[i] -= lr_t * m[i] / (math.sqrt(v[i]) + eps)
    assert np.allclose(w.numpy(), ref, atol=1e-6)
    assert opt.get_state()[0] == 5.0


def test_rmsprop_adds_epsilon_outside_the_root():
    w = tf.Variable([0.0])
    opt = Optimizer("rmsprop", [w], 0.9, 0.999, 1e-5, 0.99)
    opt.apply([tf.constant([1e-4])], [w], tf.constant(1.0))
    v = 0.01 * 1e-8
    assert np.isclose(w.numpy()[0], -1e-4 / (math.sqrt(v) + 1e-5), rtol=1e-4)


def test_rmsprop_tf1_form_puts_epsilon_inside_and_starts_at_one():
    w = tf.Variable([0.0])
    opt = Optimizer("rmsprop", [w], 0.9, 0.999, 1e-5, 0.99, rms_form="tf1")
    opt.apply([tf.constant([1e-4])], [w], tf.constant(1.0))
    v = 0.99 * 1.0 + 0.01 * 1e-8
    assert np.isclose(w.numpy()[0], -1e-4 / math.sqrt(v + 1e-5), rtol=1e-4)


def test_scaled_schedule_scales_piecewise_values_and_warms_up():
    from ba3c.schedules import scaled_lr_schedule

    at = scaled_lr_schedule("1000=5e-4", 1e-3, 4.0, 100, 10_000)
    assert at(0) == pytest.approx(1e-3)  # warm-up starts at -l
    assert at(50) == pytest.approx(1e-3 * 2.5)
    assert at(100) == pytest.approx(4e-3)
    assert at(2000) == pytest.approx(4 * 5e-4)  # piecewise values are scaled too
