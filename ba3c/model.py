"""Policy/value networks as a tf.Module of plain tf.Variables (Horovod and checkpoints handle these
directly; Keras 3 variables trip Horovod, see platform notes). Weights are initialised in NumPy from
a seed so the same seed gives the same network on any thread count."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from ba3c.rollout import OBS_SHAPE
from ba3c.screen_mean import SHAPE as SCREEN_MEAN_SHAPE


def _truncated_normal(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    """TF1's truncated_normal: N(0, std^2) redrawn beyond two standard deviations."""
    x = rng.standard_normal(shape)
    bad = np.abs(x) > 2
    while bad.any():
        x[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(x) > 2
    return std * x


def _init(kind: str, shape: tuple[int, ...], gain: float, rng: np.random.Generator, layer: str) -> np.ndarray:
    """Initial weights. orthogonal / glorot_uniform / he_normal take the layer's gain (sqrt 2 for
    ReLU layers, 0.01 for the policy head, 1 for the value head). normal / uniform / xavier are
    Distributed-BA3C's and mean what they meant there, gain ignored (it had none):
    conv normal = truncated normal std 0.03, conv uniform = U(-0.05, 0.05), xavier = Glorot uniform;
    fc normal = truncated normal std 1/sqrt(fan_in), fc uniform = TF1 uniform_unit_scaling(1.43),
    i.e. U(+-1.43 sqrt(3 / fan_in))."""
    fan_in = int(np.prod(shape[:-1]))
    fan_out = shape[-1]
    if kind == "orthogonal":
        flat = rng.standard_normal((max(fan_in, fan_out), min(fan_in, fan_out)))
        q, r = np.linalg.qr(flat)
        q = q * np.sign(np.diag(r))
        q = q if fan_in >= fan_out else q.T
        return (gain * q[:fan_in, :fan_out]).reshape(shape).astype(np.float32)
    if kind == "glorot_uniform":
        lim = np.sqrt(6.0 / (fan_in + fan_out))
        return (gain * rng.uniform(-lim, lim, shape)).astype(np.float32)
    if kind == "he_normal":
        return (gain / np.sqrt(2.0) * rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    if kind == "xavier":  # tf.contrib xavier_initializer_conv2d (uniform): fans include the receptive field
        rf = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        lim = np.sqrt(6.0 / (fan_in + shape[-1] * rf))
        return rng.uniform(-lim, lim, shape).astype(np.float32)
    if kind == "normal":
        std = 0.03 if layer == "conv" else 1.0 / np.sqrt(fan_in)
        return _truncated_normal(rng, shape, std).astype(np.float32)
    if kind == "uniform":
        lim = 0.05 if layer == "conv" else 1.43 * np.sqrt(3.0 / fan_in)
        return rng.uniform(-lim, lim, shape).astype(np.float32)
    raise ValueError(kind)


class Arch(NamedTuple):
    layers: list[tuple[str, int, int, int, int, bool]]  # (name, kernel h, kernel w, out channels, stride, pool after)
    conv_bias: bool


# Both VALID padding; pooling is 2x2 VALID max-pooling. "ba3c" is Distributed-BA3C's network
# (src/OpenAIGym/train.py): convolutions without biases, 84 -> 80 -> 40 -> 36 -> 18 -> 14 -> 7 -> 5,
# so its fc layer reads 5 x 5 x 64 = 1,600 features.
ARCHS = {
    "nature": Arch([("conv1", 8, 8, 32, 4, False), ("conv2", 4, 4, 64, 2, False), ("conv3", 3, 3, 64, 1, False)],
                   conv_bias=True),
    "ba3c": Arch([("conv1", 5, 5, 32, 1, True), ("conv2", 5, 5, 32, 1, True), ("conv3", 5, 5, 64, 1, True),
                  ("conv4", 3, 3, 64, 1, False)], conv_bias=False),
}


def feature_shapes(arch: str, before_pool: bool = False) -> list[tuple[int, int, int]]:
    """(height, width, channels) after each conv layer (and its pooling, unless before_pool) of an
    arch, from 84x84x4."""
    channels, h, w = OBS_SHAPE[0], OBS_SHAPE[1], OBS_SHAPE[2]
    out = []
    for _name, kh, kw, channels, stride, pool in ARCHS[arch].layers:
        h, w = (h - kh) // stride + 1, (w - kw) // stride + 1
        conv = (h, w, channels)
        if pool:
            h, w = h // 2, w // 2
        out.append(conv if before_pool else (h, w, channels))
    return out


@tf.custom_gradient
def dense(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor):
    """x @ w + b, with the input gradient taken as (w @ dy^T)^T: TensorFlow's CPU matmul against a
    transposed right operand (dy @ w^T, what its own gradient does) costs ~12 ms for the 3,136 x 512
    fc layer at batch 5-80 on one core here, the form below 1-5 ms (docs/performance.md)."""
    def grad(dy: tf.Tensor):
        return (tf.transpose(tf.matmul(w, dy, transpose_b=True)), tf.matmul(x, dy, transpose_a=True),
                tf.reduce_sum(dy, axis=0))

    return x @ w + b, grad


class PolicyValueNet(tf.Module):
    """obs uint8 (B, 4, 84, 84) -> (policy logits (B, A), value (B,))."""

    def __init__(self, arch: str, n_actions: int, fc_neurons: int, conv_init: str = "orthogonal",
                 fc_init: str = "orthogonal", seed: int = 0) -> None:
        super().__init__(name="policy_value_net")
        self.n_actions = n_actions
        rng = np.random.default_rng(seed)
        self.arch = ARCHS[arch]
        relu_gain = float(np.sqrt(2.0))
        self.vars: list[tf.Variable] = []
        self.conv: list[tuple[tf.Variable, tf.Variable | None, int, bool]] = []  # (kernel, bias, stride, pool)
        channels = OBS_SHAPE[0]
        for name, kh, kw, out, stride, pool in self.arch.layers:
            kernel = self._add(f"{name}/w", _init(conv_init, (kh, kw, channels, out), relu_gain, rng, "conv"))
            bias = self._add(f"{name}/b", np.zeros(out, np.float32)) if self.arch.conv_bias else None
            self.conv.append((kernel, bias, stride, pool))
            channels = out
        h, w, channels = feature_shapes(arch)[-1]
        flat = h * w * channels
        self._add("fc/w", _init(fc_init, (flat, fc_neurons), relu_gain, rng, "fc"))
        self._add("fc/b", np.zeros(fc_neurons, np.float32))
        self._add("policy/w", _init(fc_init, (fc_neurons, n_actions), 0.01, rng, "fc"))
        self._add("policy/b", np.zeros(n_actions, np.float32))
        self._add("value/w", _init(fc_init, (fc_neurons, 1), 1.0, rng, "fc"))
        self._add("value/b", np.zeros(1, np.float32))
        # Not trained: measured once at the start of a run (ba3c/screen_mean.py); zeros = the raw screen.
        self.obs_mean = tf.Variable(np.zeros(SCREEN_MEAN_SHAPE, np.float32), trainable=False, name="obs_mean")

    @classmethod
    def from_config(cls, cfg, n_actions: int) -> PolicyValueNet:
        """The untrained network a run with these flags starts from (arch, width, initialisers, seed)."""
        return cls(cfg.arch, n_actions, cfg.fc_neurons, cfg.conv_init, cfg.fc_init, seed=cfg.seed)

    def _add(self, name: str, value: np.ndarray) -> tf.Variable:
        self.vars.append(tf.Variable(value, name=name.replace("/", "_")))
        return self.vars[-1]

    @property
    def state(self) -> list[tf.Variable]:
        """Everything a model file holds: the trained variables, then the mean screen."""
        return [*self.vars, self.obs_mean]

    @property
    def names(self) -> list[str]:
        return [v.name.split(":")[0] for v in self.state]

    def features(self, obs: tf.Tensor) -> tf.Tensor:
        """The torso's output (B, fc_neurons): the ReLU features both heads read."""
        # uint8 NCHW from the emulator -> float NHWC, which TF's CPU convolutions want.
        x = tf.transpose(tf.cast(obs, tf.float32) * (1.0 / 255.0), (0, 2, 3, 1)) - self.obs_mean
        for kernel, bias, stride, pool in self.conv:
            x = tf.nn.conv2d(x, kernel, stride, "VALID")
            x = tf.nn.relu(x + bias if bias is not None else x)
            if pool:
                x = tf.nn.max_pool2d(x, 2, 2, "VALID")
        x = tf.reshape(x, (tf.shape(x)[0], -1))
        fw, fb = self.vars[-6:-4]
        return tf.nn.relu(dense(x, fw, fb))

    def __call__(self, obs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = self.features(obs)
        pw, pb, vw, vb = self.vars[-4:]
        return x @ pw + pb, tf.squeeze(x @ vw + vb, axis=1)

    def get_weights(self) -> list[np.ndarray]:
        return [v.numpy() for v in self.state]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        for v, w in zip(self.state, weights, strict=True):
            v.assign(w)

    def num_params(self) -> int:
        return int(sum(np.prod(v.shape) for v in self.vars))
