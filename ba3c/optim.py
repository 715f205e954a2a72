"""Adam and RMSProp on plain tf.Variables, with their state exposed for checkpoints and broadcast.

Written out rather than taken from Keras so the update is the one asked for: Adam as TF1/Keras
(epsilon outside the square root); RMSProp in PyTorch's form (epsilon outside, average from zero) or
TF1's (epsilon inside, average from ones), chosen by --rms_form."""
from __future__ import annotations

import numpy as np
import tensorflow as tf


class Optimizer(tf.Module):
    """state: slot variables plus the step counter, in a fixed order."""

    def __init__(self, kind: str, variables: list[tf.Variable], beta1: float, beta2: float,
                 epsilon: float, rms_decay: float, rms_form: str = "torch") -> None:
        super().__init__(name=f"{kind}_optimizer")
        self.kind, self.beta1, self.beta2, self.epsilon, self.rms_decay = kind, beta1, beta2, epsilon, rms_decay
        self.rms_form = rms_form
        self.step = tf.Variable(0.0, dtype=tf.float32, name="step")  # float32 keeps state one dtype
        n_slots = 2 if kind == "adam" else 1
        start = tf.ones_like if kind == "rmsprop" and rms_form == "tf1" else tf.zeros_like
        self.slots = [[tf.Variable(start(v), name=f"slot{k}_{i}") for i, v in enumerate(variables)]
                      for k in range(n_slots)]

    @classmethod
    def from_config(cls, cfg, variables: list[tf.Variable]) -> "Optimizer":
        """The optimizer the flags ask for (-o, --beta1, --beta2, --epsilon, --rms_decay, --rms_form)."""
        return cls(cfg.optimizer, variables, cfg.beta1, cfg.beta2, cfg.epsilon, cfg.rms_decay, cfg.rms_form)

    @property
    def state(self) -> list[tf.Variable]:
        return [self.step] + [v for slot in self.slots for v in slot]

    def apply(self, grads: list[tf.Tensor], variables: list[tf.Variable], lr: tf.Tensor) -> None:
        """Adam:    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
                    w -= lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)   (as Keras/TF1 Adam)
        RMSProp:    v = rho v + (1-rho) g^2;  w -= lr * g / (sqrt(v) + eps)   (torch form, v_0 = 0)
                                              w -= lr * g / sqrt(v + eps)     (tf1 form, v_0 = 1)"""
        t = self.step.assign_add(1.0)
        if self.kind == "adam":
            # TensorFlow's fused kernel: the same update (its documented formula is the one above) in
            # one pass over w, m, v and g per tensor instead of ten elementwise ops with temporaries.
            b1, b2 = tf.constant(self.beta1), tf.constant(self.beta2)
            b1_t, b2_t, eps = tf.pow(b1, t), tf.pow(b2, t), tf.constant(self.epsilon)
            for g, w, m, v in zip(grads, variables, self.slots[0], self.slots[1]):
                tf.raw_ops.ResourceApplyAdam(var=w.handle, m=m.handle, v=v.handle, beta1_power=b1_t,
                                             beta2_power=b2_t, lr=lr, beta1=b1, beta2=b2, epsilon=eps, grad=g)
        else:
            rho = self.rms_decay
            for g, w, v in zip(grads, variables, self.slots[0]):
                v.assign(rho * v + (1.0 - rho) * tf.square(g))
                if self.rms_form == "tf1":
                    w.assign_sub(lr * g / tf.sqrt(v + self.epsilon))
                else:
                    w.assign_sub(lr * g / (tf.sqrt(v) + self.epsilon))

    def get_state(self) -> list[np.ndarray]:
        return [v.numpy() for v in self.state]

    def set_state(self, values: list[np.ndarray]) -> None:
        for v, x in zip(self.state, values, strict=True):
            v.assign(x)
