"""The network, its optimizer and the compiled acting / gradient / update steps of one rank.

A train step is split in two compiled halves around the cross-rank averaging, so the same code runs
with Horovod, mpi4py or no MPI at all:  gradients() -> flat float32 vector -> comm.allreduce_mean
-> apply().
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from ba3c.config import Config
from ba3c.losses import a3c_loss, clip_gradients
from ba3c.model import OBS_SHAPE, PolicyValueNet
from ba3c.optim import Optimizer

STAT_NAMES = ("loss", "policy_loss", "value_loss", "entropy", "advantage")


class Learner:
    def __init__(self, cfg: Config, n_actions: int) -> None:
        self.cfg = cfg
        self.model = PolicyValueNet(cfg.arch, n_actions, cfg.fc_neurons, cfg.conv_init, cfg.fc_init, seed=cfg.seed)
        self.optimizer = Optimizer(cfg.optimizer, self.model.vars, cfg.beta1, cfg.beta2, cfg.epsilon, cfg.rms_decay)
        self.shapes = [tuple(v.shape) for v in self.model.vars]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.num_params = sum(self.sizes)
        obs_spec = tf.TensorSpec((None, *OBS_SHAPE), tf.uint8)
        batch = cfg.batch_size
        self.act = tf.function(self._act, input_signature=[obs_spec], jit_compile=False)
        self.gradients = tf.function(self._gradients, input_signature=[
            tf.TensorSpec((batch, *OBS_SHAPE), tf.uint8), tf.TensorSpec((batch,), tf.int32),
            tf.TensorSpec((batch,), tf.float32), tf.TensorSpec((batch,), tf.float32),
            tf.TensorSpec((batch,), tf.float32), tf.TensorSpec((), tf.float32)])
        self.apply = tf.function(self._apply, input_signature=[
            tf.TensorSpec((self.num_params,), tf.float32), tf.TensorSpec((), tf.float32)])

    def _act(self, obs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return self.model(obs)

    def _gradients(self, obs, actions, returns, policy_mask, value_mask, entropy_beta) -> tf.Tensor:
        """Flat vector [all gradients..., loss stats...] ready for one fused allreduce."""
        with tf.GradientTape() as tape:
            logits, values = self.model(obs)
            loss, stats = a3c_loss(logits, values, actions, returns, policy_mask, value_mask,
                                   entropy_beta, self.cfg.value_coef)
        grads = tape.gradient(loss, self.model.vars)
        flat = [tf.reshape(g, (-1,)) for g in grads]
        return tf.concat(flat + [tf.stack([stats[k] for k in STAT_NAMES])], axis=0)

    def _apply(self, flat_grads: tf.Tensor, lr: tf.Tensor) -> tf.Tensor:
        grads = [tf.reshape(g, s) for g, s in zip(tf.split(flat_grads, self.sizes), self.shapes)]
        clipped, norm = clip_gradients(grads, self.cfg.grad_clip, self.cfg.clip_mode)
        self.optimizer.apply(clipped, self.model.vars, lr)
        return norm

    # Full state as NumPy arrays, in a fixed order: what checkpoints hold and rank 0 broadcasts.
    def get_state(self) -> list[np.ndarray]:
        return self.model.get_weights() + self.optimizer.get_state()

    def set_state(self, state: list[np.ndarray]) -> None:
        n = len(self.model.vars)
        self.model.set_weights(state[:n])
        self.optimizer.set_state(state[n:])

    def state_names(self) -> list[str]:
        return [f"model/{n}" for n in self.model.names] + [f"optimizer/{i}" for i in range(len(self.optimizer.state))]

    def weights_checksum(self) -> str:
        import hashlib

        h = hashlib.sha256()
        for w in self.model.get_weights():
            h.update(np.ascontiguousarray(w).tobytes())
        return h.hexdigest()[:16]


def sample_actions(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row drawn from softmax(logits) by inverse CDF (NumPy RNG: reproducible)."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    cdf = np.cumsum(p, axis=1)
    u = rng.random(len(logits))[:, None] * cdf[:, -1:]
    return np.minimum((cdf < u).sum(axis=1), logits.shape[1] - 1)
