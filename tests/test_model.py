"""The networks' shapes, layer by layer, against the source projects."""
import numpy as np
import tensorflow as tf

from ba3c.model import PolicyValueNet, feature_shapes


def layer_outputs(model, obs):
    x = tf.transpose(tf.cast(obs, tf.float32) / 255.0, (0, 2, 3, 1))
    shapes = []
    for kernel, bias, stride, pool in model.conv:
        x = tf.nn.relu(tf.nn.conv2d(x, kernel, stride, "VALID") + (0 if bias is None else bias))
        if pool:
            x = tf.nn.max_pool2d(x, 2, 2, "VALID")
        shapes.append(tuple(x.shape[1:]))
    return shapes


def test_ba3c_arch_is_distributed_ba3cs_network():
    """deepsense-ai/Distributed-BA3C src/OpenAIGym/train.py: conv5x5x32, pool, conv5x5x32, pool,
    conv5x5x64, pool, conv3x3x64, all VALID and without biases; 2x2 VALID max-pooling; then the fc layer
    of fc_neurons (with a bias) reads 5 x 5 x 64 = 1,600 features."""
    model = PolicyValueNet("ba3c", 4, 128)
    want = [(40, 40, 32), (18, 18, 32), (7, 7, 64), (5, 5, 64)]
    assert feature_shapes("ba3c") == want
    assert layer_outputs(model, np.zeros((2, 4, 84, 84), np.uint8)) == want
    assert all(bias is None for _, bias, _, _ in model.conv)
    assert [n for n in model.names if n.startswith("conv")] == ["conv1_w", "conv2_w", "conv3_w", "conv4_w"]
    fc = model.vars[len(model.conv)]
    assert tuple(fc.shape) == (1600, 128)
    assert model.num_params() == 5 * 5 * 4 * 32 + 5 * 5 * 32 * 32 + 5 * 5 * 32 * 64 + 3 * 3 * 64 * 64 \
        + 1600 * 128 + 128 + 128 * 4 + 4 + 128 + 1
    logits, value = model(np.zeros((3, 4, 84, 84), np.uint8))
    assert logits.shape == (3, 4) and value.shape == (3,)


def test_nature_arch_is_the_nature_cnn():
    model = PolicyValueNet("nature", 4, 512)
    assert feature_shapes("nature") == [(20, 20, 32), (9, 9, 64), (7, 7, 64)]
    assert layer_outputs(model, np.zeros((1, 4, 84, 84), np.uint8)) == feature_shapes("nature")
    assert model.num_params() == 1_686_693


def test_dense_gradients_equal_tensorflows_own():
    """The fc layer's hand-written gradient (a faster matmul form) against autodiff of x @ w + b."""
    from ba3c.model import dense

    rng = np.random.default_rng(0)
    for batch in (1, 5, 80):
        x, w, b = (tf.constant(rng.normal(size=s).astype(np.float32)) for s in ((batch, 300), (300, 40), (40,)))
        dy = tf.constant(rng.normal(size=(batch, 40)).astype(np.float32))
        grads = []
        for f in (dense, lambda x, w, b: x @ w + b):
            with tf.GradientTape() as tape:
                tape.watch([x, w, b])
                y = f(x, w, b)
            grads.append(tape.gradient(y, [x, w, b], output_gradients=dy))
        np.testing.assert_allclose(dense(x, w, b).numpy(), (x @ w + b).numpy(), rtol=1e-6)
        for mine, theirs in zip(*grads):
            np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-4)
