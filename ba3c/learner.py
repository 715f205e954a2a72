"""The network, its optimizer and the compiled acting / gradient / update steps of one rank.

A train step is split in two compiled halves around the cross-rank averaging, so the same code runs
with Horovod, mpi4py or no MPI at all:

    gradients(rollout) -> one flat float32 buffer -> comm.allreduce_mean -> apply() -> UpdateResult

The buffer's layout is defined here, once (BUFFER_TAIL), next to the code that packs and unpacks it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from ba3c.config import Config
from ba3c.losses import a3c_loss, clip_gradients
from ba3c.model import PolicyValueNet
from ba3c.noise_scale import NoiseSample, split_halves
from ba3c.optim import Optimizer
from ba3c.returns import n_step_returns_tf
from ba3c.rollout import OBS_SHAPE, Rollout

STAT_NAMES = ("loss", "policy_loss", "value_loss", "entropy", "advantage", "value_std")


class Control(NamedTuple):
    """Decisions any rank can ask for; they ride in the gradient buffer, so every rank learns them
    from the one allreduce and acts on them at the same update (a value > 0 after averaging)."""
    stop: bool = False
    log: bool = False
    save: bool = False
    target: bool = False  # rank 0's score(100) reached --stop_at_score: stop as a finished run
    grow: bool = False  # --grow_envs: rank 0 found that doubling the emulators per rank pays


# After the P gradient entries, in this order: loss stats, the squared norm of this rank's own
# (small-batch) gradient for the noise scale, then the control flags. All are averaged over ranks.
BUFFER_TAIL = (*STAT_NAMES, "local_grad_sq", *(f"control_{f}" for f in Control._fields))


class UpdateResult(NamedTuple):
    applied: bool  # False when anything was non-finite on any rank: every rank skipped the step
    grad_norm: float  # global L2 norm of the averaged gradient before clipping
    stats: dict[str, float]  # STAT_NAMES, averaged over ranks
    noise: NoiseSample  # squared gradient norms at two batch sizes, for the noise scale
    control: Control


class Learner:
    def __init__(self, cfg: Config, n_actions: int, n_step: int, n_envs: int, n_ranks: int) -> None:
        self.cfg = cfg
        self.model = PolicyValueNet.from_config(cfg, n_actions)
        self.optimizer = Optimizer.from_config(cfg, self.model.vars)
        self.shapes = [tuple(v.shape) for v in self.model.vars]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.num_params = sum(self.sizes)
        self.buffer_size = self.num_params + len(BUFFER_TAIL)
        self.n_ranks = n_ranks
        self._logits_tf = _compiled(lambda obs: self.model(obs)[0], tf.TensorSpec((None, *OBS_SHAPE), tf.uint8))
        self.resize(n_step, n_envs)
        self._apply_tf = _compiled(self._apply, tf.TensorSpec((self.buffer_size,), tf.float32),
                                   tf.TensorSpec((), tf.float32))

    def resize(self, n_step: int, n_envs: int) -> None:
        """(Re)trace the gradient step for rollouts of n_step x n_envs (--grow_envs doubles n_envs)."""
        self.rank_batch = n_step * n_envs
        # One process has no other rank's gradient to compare with: it splits its own emulators in two
        # halves (steps of one emulator are correlated, so never split by time) for the small batch.
        self.halves = self.n_ranks == 1 and n_envs >= 2
        n1 = n_envs // 2
        self.split = split_halves(n_step * n1, n_step * (n_envs - n1))
        self._gradients_tf = _compiled(self._gradients, Rollout.spec(n_step, n_envs), tf.TensorSpec((), tf.float32),
                                       tf.TensorSpec((len(Control._fields),), tf.float32))

    # ---- public steps ------------------------------------------------------------------------------
    def logits(self, obs: np.ndarray) -> np.ndarray:
        """Policy logits of a batch of frame stacks (uint8, (B, 4, 84, 84)), for acting."""
        return self._logits_tf(obs).numpy()

    def gradients(self, rollout: Rollout, entropy_beta: float, control: Control = Control()) -> tf.Tensor:
        """One rollout -> this rank's flat buffer [gradients..., BUFFER_TAIL...], ready to allreduce."""
        return self._gradients_tf(rollout, np.float32(entropy_beta), np.array(control, np.float32))

    def apply(self, averaged, lr: float) -> UpdateResult:
        """Averaged buffer -> clip and optimizer step (skipped on every rank alike when non-finite)."""
        out = self._apply_tf(averaged, np.float32(lr)).numpy()
        applied, norm, tail = out[0] > 0, float(out[1]), dict(zip(BUFFER_TAIL, out[2:].tolist()))
        b_small = self.split.b_small if self.halves else self.rank_batch
        noise = NoiseSample(g2_small=tail["local_grad_sq"], b_small=b_small, g2_big=norm * norm,
                            b_big=self.rank_batch * self.n_ranks)
        control = Control(*(tail[f"control_{f}"] > 0 for f in Control._fields))
        return UpdateResult(bool(applied), norm, {k: tail[k] for k in STAT_NAMES}, noise, control)

    # ---- compiled bodies ---------------------------------------------------------------------------
    def _loss_gradients(self, r: Rollout, entropy_beta) -> tuple[list[tf.Tensor], tf.Tensor]:
        """Gradients of the A3C loss on one rollout, and its stats as a vector. The bootstrap V(s_T)
        is a separate forward pass outside the tape (a batched backward of those rows costs more)."""
        T, N = r.actions.shape[0], r.actions.shape[1]
        _, bootstrap = self.model(r.last_obs)
        with tf.GradientTape() as tape:
            logits, values = self.model(tf.reshape(r.obs, (T * N, *OBS_SHAPE)))
            # V(s_{t+1}) of every step, for games cut at the frame cap (a constant, like the bootstrap).
            v = tf.stop_gradient(tf.reshape(values, (T, N)))
            next_values = tf.concat([v[1:], bootstrap[None]], axis=0)
            returns = n_step_returns_tf(r.rewards, r.dones, bootstrap, self.cfg.gamma, r.truncated, next_values)
            loss, stats = a3c_loss(logits, values, tf.reshape(r.actions, (-1,)), tf.reshape(returns, (-1,)),
                                   tf.reshape(r.policy_mask, (-1,)), tf.reshape(r.value_mask, (-1,)), entropy_beta,
                                   self.cfg.value_coef)
        grads = tape.gradient(loss, self.model.vars)
        return grads, tf.stack([stats[k] for k in STAT_NAMES])

    def _gradients(self, r: Rollout, entropy_beta, control) -> tf.Tensor:
        if self.halves:
            n1 = r.actions.shape[1] // 2
            ga, sa = self._loss_gradients(r.envs(slice(0, n1)), entropy_beta)
            gb, sb = self._loss_gradients(r.envs(slice(n1, None)), entropy_beta)
            # Weighted by size: the batch mean (equal halves: what two ranks holding them would average).
            w1, w2 = self.split.w1, self.split.w2
            grads = [a * w1 + b * w2 for a, b in zip(ga, gb)]
            stats = sa * w1 + sb * w2
            local_sq = _sq_norm(ga) * w1 + _sq_norm(gb) * w2
        else:
            grads, stats = self._loss_gradients(r, entropy_beta)
            local_sq = _sq_norm(grads)
        flat = [tf.reshape(g, (-1,)) for g in grads]
        return tf.concat(flat + [stats, [local_sq], control], axis=0)

    def _apply(self, averaged: tf.Tensor, lr: tf.Tensor) -> tf.Tensor:
        """-> [applied, grad_norm, BUFFER_TAIL...]. Every rank holds the same averaged buffer, so a
        non-finite value anywhere makes every rank skip alike."""
        *flat_grads, tail = tf.split(averaged, [*self.sizes, len(BUFFER_TAIL)])
        grads = [tf.reshape(g, s) for g, s in zip(flat_grads, self.shapes)]
        clipped, norm = clip_gradients(grads, self.cfg.grad_clip, self.cfg.clip_mode)
        # A NaN or inf anywhere in the gradient makes its norm NaN or inf (so does a norm beyond float32's
        # range): checking the norm covers every entry without another pass over the buffer.
        finite = tf.math.is_finite(norm) & tf.reduce_all(tf.math.is_finite(tail[:len(STAT_NAMES) + 1]))

        def step() -> tf.Tensor:
            self.optimizer.apply(clipped, self.model.vars, lr)
            return norm

        norm = tf.cond(finite, step, lambda: tf.constant(float("nan")))
        return tf.concat([tf.stack([tf.cast(finite, tf.float32), norm]), tail], axis=0)

    # ---- state: NumPy arrays in a fixed order (what checkpoints hold and rank 0 broadcasts) ---------
    def get_state(self) -> list[np.ndarray]:
        return self.model.get_weights() + self.optimizer.get_state()

    def set_state(self, state: list[np.ndarray]) -> None:
        n = len(self.model.state)
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


def _compiled(fn, *signature):
    """Fixed shapes: each step is traced once, and called as a concrete function: that skips
    tf.function's argument matching, ~0.25 ms of each ~1 ms batch-1 acting step on one core here.
    autograph=False: the bodies branch only on Python values (tf.cond is explicit), so the graph is the
    same (same weights checksum), and tracing skips autograph's source rewrite, ~1-3 s of every rank's
    start-up."""
    return tf.function(fn, autograph=False, input_signature=list(signature)).get_concrete_function()


def _sq_norm(grads: list[tf.Tensor]) -> tf.Tensor:
    return tf.add_n([tf.reduce_sum(tf.square(g)) for g in grads])
