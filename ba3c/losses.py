"""The A3C loss (policy gradient, value regression, entropy bonus) and gradient clipping."""
from __future__ import annotations

import tensorflow as tf


def a3c_loss(logits: tf.Tensor, values: tf.Tensor, actions: tf.Tensor, returns: tf.Tensor,
             policy_mask: tf.Tensor, value_mask: tf.Tensor, entropy_beta: tf.Tensor,
             value_coef: float) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Masked batch means over the B samples:

        A_i      = R_i - V(s_i)              (no gradient through A)
        policy   = -mean_p[ log pi(a_i|s_i) * A_i ]
        entropy  =  mean_p[ -sum_a pi(a|s_i) log pi(a|s_i) ]
        value    =  mean_v[ 0.5 * (R_i - V(s_i))^2 ]
        loss     = policy - entropy_beta * entropy + value_coef * value

    mean_p averages over samples with policy_mask = 1 (steps the agent chose: not the emulator's
    autoreset step, not a forced FIRE), mean_v over value_mask = 1 (not autoreset steps).

    Also reported, not optimised: value_std = sqrt(mean_v[(V(s_i) - mean_v[V])^2]), how much the value
    differs between the batch's states. Near zero it means the network no longer tells states
    apart: its features have collapsed (models/README.md, "Why Adam fails on Boxing").
    """
    logp_all = tf.nn.log_softmax(logits)
    logp = tf.gather(logp_all, actions, batch_dims=1)
    probs = tf.exp(logp_all)
    adv = tf.stop_gradient(returns - values)
    n_p = tf.maximum(tf.reduce_sum(policy_mask), 1.0)
    n_v = tf.maximum(tf.reduce_sum(value_mask), 1.0)
    policy = -tf.reduce_sum(policy_mask * logp * adv) / n_p
    entropy = tf.reduce_sum(policy_mask * -tf.reduce_sum(probs * logp_all, axis=1)) / n_p
    value = tf.reduce_sum(value_mask * 0.5 * tf.square(returns - values)) / n_v
    loss = policy - entropy_beta * entropy + value_coef * value
    v_mean = tf.reduce_sum(value_mask * values) / n_v
    value_std = tf.sqrt(tf.reduce_sum(value_mask * tf.square(values - v_mean)) / n_v)
    return loss, {"loss": loss, "policy_loss": policy, "value_loss": value, "entropy": entropy,
                  "advantage": tf.reduce_sum(value_mask * adv) / n_v, "value_std": tf.stop_gradient(value_std)}


def clip_gradients(grads: list[tf.Tensor], clip: float, mode: str) -> tuple[list[tf.Tensor], tf.Tensor]:
    """avg_norm: per tensor g * min(1, clip / (||g|| / size(g))), as tf1's clip_by_average_norm used
    by both source projects; global_norm: all tensors scaled by min(1, clip / ||g||_global).
    Returns the clipped gradients and the global norm before clipping."""
    # One pass over each tensor for its squared norm (l2_loss is sum(g^2) / 2 in one kernel); both the
    # global norm and the per-tensor norms come from it.
    sq = [2.0 * tf.nn.l2_loss(g) for g in grads]
    norm = tf.sqrt(tf.add_n(sq))
    if clip <= 0:
        return grads, norm
    if mode == "global_norm":
        scale = clip / tf.maximum(norm, clip)
        return [g * scale for g in grads], norm
    out = []
    for g, s in zip(grads, sq):
        avg = tf.sqrt(s) / tf.cast(tf.size(g), g.dtype)
        out.append(g * tf.minimum(1.0, clip / tf.maximum(avg, 1e-12)))
    return out, norm
