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
from ba3c.returns import n_step_returns_tf

STAT_NAMES = ("loss", "policy_loss", "value_loss", "entropy", "advantage")
N_CONTROL = 3  # stop, log, save flags riding in the gradient buffer (see train.py)


class Learner:
    def __init__(self, cfg: Config, n_actions: int) -> None:
        self.cfg = cfg
        self.model = PolicyValueNet(cfg.arch, n_actions, cfg.fc_neurons, cfg.conv_init, cfg.fc_init, seed=cfg.seed)
        self.optimizer = Optimizer(cfg.optimizer, self.model.vars, cfg.beta1, cfg.beta2, cfg.epsilon, cfg.rms_decay)
        self.shapes = [tuple(v.shape) for v in self.model.vars]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.num_params = sum(self.sizes)
        # Fixed shapes: each step is traced once. XLA (jit_compile) was measured slower on CPU here.
        T, N = cfg.n_step, cfg.envs_per_rank
        self.act = tf.function(self._act, input_signature=[tf.TensorSpec((None, *OBS_SHAPE), tf.uint8)])
        self.gradients = tf.function(self._gradients, input_signature=[
            tf.TensorSpec((T, N, *OBS_SHAPE), tf.uint8), tf.TensorSpec((N, *OBS_SHAPE), tf.uint8),
            tf.TensorSpec((T, N), tf.int32), tf.TensorSpec((T, N), tf.float32), tf.TensorSpec((T, N), tf.float32),
            tf.TensorSpec((T, N), tf.float32), tf.TensorSpec((T, N), tf.float32), tf.TensorSpec((), tf.float32),
            tf.TensorSpec((N_CONTROL,), tf.float32)])
        self.apply = tf.function(self._apply, input_signature=[
            tf.TensorSpec((self.num_params + len(STAT_NAMES) + N_CONTROL,), tf.float32),
            tf.TensorSpec((), tf.float32)])

    def _act(self, obs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return self.model(obs)

    def _gradients(self, obs, obs_last, actions, rewards, dones, policy_mask, value_mask, entropy_beta,
                   control) -> tf.Tensor:
        """One rollout (T steps x N envs) -> flat [gradients..., loss stats..., control...], the one
        buffer every rank allreduces. The bootstrap V(s_T) comes from the same forward pass."""
        T, N = self.cfg.n_step, self.cfg.envs_per_rank
        _, bootstrap = self.model(obs_last)  # outside the tape: a batched backward of these rows costs more
        returns = n_step_returns_tf(rewards, dones, bootstrap, self.cfg.gamma)
        with tf.GradientTape() as tape:
            logits, values = self.model(tf.reshape(obs, (T * N, *OBS_SHAPE)))
            loss, stats = a3c_loss(logits, values, tf.reshape(actions, (-1,)), tf.reshape(returns, (-1,)),
                                   tf.reshape(policy_mask, (-1,)), tf.reshape(value_mask, (-1,)), entropy_beta,
                                   self.cfg.value_coef)
        grads = tape.gradient(loss, self.model.vars)
        flat = [tf.reshape(g, (-1,)) for g in grads]
        return tf.concat(flat + [tf.stack([stats[k] for k in STAT_NAMES]), control], axis=0)

    def _apply(self, averaged: tf.Tensor, lr: tf.Tensor) -> tf.Tensor:
        """Averaged buffer -> clip and step, unless anything is non-finite (then every rank skips
        alike: they all hold the same averaged buffer). Returns [applied, grad_norm, stats..., control...]."""
        P = self.num_params
        flat_grads, rest = averaged[:P], averaged[P:]
        finite = tf.reduce_all(tf.math.is_finite(averaged[:P + len(STAT_NAMES)]))

        def step() -> tf.Tensor:
            grads = [tf.reshape(g, s) for g, s in zip(tf.split(flat_grads, self.sizes), self.shapes)]
            clipped, norm = clip_gradients(grads, self.cfg.grad_clip, self.cfg.clip_mode)
            self.optimizer.apply(clipped, self.model.vars, lr)
            return norm

        norm = tf.cond(finite, step, lambda: tf.constant(float("nan")))
        return tf.concat([tf.stack([tf.cast(finite, tf.float32), norm]), rest], axis=0)

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
