"""Policy/value networks as a tf.Module of plain tf.Variables (Horovod and checkpoints handle these
directly; Keras 3 variables trip Horovod, see platform notes). Weights are initialised in NumPy from
a seed so the same seed gives the same network on any thread count."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

OBS_SHAPE = (4, 84, 84)  # frame stack, height, width; uint8


def _init(kind: str, shape: tuple[int, ...], gain: float, rng: np.random.Generator) -> np.ndarray:
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
    if kind == "normal":
        return (gain * 0.01 * rng.standard_normal(shape)).astype(np.float32)
    raise ValueError(kind)


# (name, kernel h, kernel w, out channels, stride, pool after) per conv layer
ARCHS = {
    "nature": [("conv1", 8, 8, 32, 4, False), ("conv2", 4, 4, 64, 2, False), ("conv3", 3, 3, 64, 1, False)],
    "ba3c": [("conv1", 5, 5, 32, 1, True), ("conv2", 5, 5, 32, 1, True), ("conv3", 5, 5, 64, 1, True),
             ("conv4", 3, 3, 64, 1, False)],
}


class PolicyValueNet(tf.Module):
    """obs uint8 (B, 4, 84, 84) -> (policy logits (B, A), value (B,))."""

    def __init__(self, arch: str, n_actions: int, fc_neurons: int, conv_init: str = "orthogonal",
                 fc_init: str = "orthogonal", seed: int = 0) -> None:
        super().__init__(name="policy_value_net")
        self.arch, self.n_actions, self.fc_neurons = arch, n_actions, fc_neurons
        rng = np.random.default_rng(seed)
        self.layers = ARCHS[arch]
        padding = "VALID" if arch == "nature" else "SAME"
        self.padding = padding
        relu_gain = float(np.sqrt(2.0))
        self.vars: list[tf.Variable] = []
        channels, h, w = OBS_SHAPE[0], OBS_SHAPE[1], OBS_SHAPE[2]
        for name, kh, kw, out, stride, pool in self.layers:
            self._add(f"{name}/w", _init(conv_init, (kh, kw, channels, out), relu_gain, rng))
            self._add(f"{name}/b", np.zeros(out, np.float32))
            if padding == "VALID":
                h, w = (h - kh) // stride + 1, (w - kw) // stride + 1
            else:
                h, w = -(-h // stride), -(-w // stride)
            if pool:
                h, w = -(-h // 2), -(-w // 2)
            channels = out
        flat = h * w * channels
        self._add("fc/w", _init(fc_init, (flat, fc_neurons), relu_gain, rng))
        self._add("fc/b", np.zeros(fc_neurons, np.float32))
        self._add("policy/w", _init(fc_init, (fc_neurons, n_actions), 0.01, rng))
        self._add("policy/b", np.zeros(n_actions, np.float32))
        self._add("value/w", _init(fc_init, (fc_neurons, 1), 1.0, rng))
        self._add("value/b", np.zeros(1, np.float32))

    def _add(self, name: str, value: np.ndarray) -> None:
        self.vars.append(tf.Variable(value, name=name.replace("/", "_")))

    @property
    def names(self) -> list[str]:
        return [v.name.split(":")[0] for v in self.vars]

    def __call__(self, obs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # uint8 NCHW from the emulator -> float NHWC, which TF's CPU convolutions want.
        x = tf.transpose(tf.cast(obs, tf.float32) * (1.0 / 255.0), (0, 2, 3, 1))
        i = 0
        for _name, _kh, _kw, _out, stride, pool in self.layers:
            x = tf.nn.relu(tf.nn.conv2d(x, self.vars[i], stride, self.padding) + self.vars[i + 1])
            if pool:
                x = tf.nn.max_pool2d(x, 2, 2, "SAME")
            i += 2
        x = tf.reshape(x, (tf.shape(x)[0], -1))
        x = tf.nn.relu(x @ self.vars[i] + self.vars[i + 1])
        logits = x @ self.vars[i + 2] + self.vars[i + 3]
        value = tf.squeeze(x @ self.vars[i + 4] + self.vars[i + 5], axis=1)
        return logits, value

    def get_weights(self) -> list[np.ndarray]:
        return [v.numpy() for v in self.vars]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        for v, w in zip(self.vars, weights, strict=True):
            v.assign(w)

    def num_params(self) -> int:
        return int(sum(np.prod(v.shape) for v in self.vars))
