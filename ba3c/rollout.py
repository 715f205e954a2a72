"""One rollout of T steps from N emulators: the value the learner takes, and the one owner of its
shapes (the learner compiles its train step from `Rollout.spec`)."""
from __future__ import annotations

import time
from typing import Callable, NamedTuple

import numpy as np

from ba3c.sampling import sample_actions

OBS_SHAPE = (4, 84, 84)  # frame stack, height, width; uint8 from the emulator


class Rollout(NamedTuple):
    obs: np.ndarray  # (T, N, 4, 84, 84) uint8: what the agent saw before each step
    last_obs: np.ndarray  # (N, 4, 84, 84) uint8: the observation after the last step (bootstrap)
    actions: np.ndarray  # (T, N) int32: actions the emulators really took (forced FIRE included)
    rewards: np.ndarray  # (T, N) float32: clipped rewards
    dones: np.ndarray  # (T, N) float32: 1 where the step ended a life or a game (frame cap included)
    truncated: np.ndarray  # (T, N) float32: 1 where the game was cut at the frame cap (bootstrapped)
    policy_mask: np.ndarray  # (T, N) float32: 1 where the agent chose the action and it counted
    value_mask: np.ndarray  # (T, N) float32: 1 where the step was a real step (not an emulator reset)

    @staticmethod
    def layout(n_step: int, n_envs: int) -> dict[str, tuple[tuple[int, ...], type]]:
        """Field -> (shape, dtype): the single definition every buffer and signature is built from."""
        T, N = n_step, n_envs
        return {"obs": ((T, N, *OBS_SHAPE), np.uint8), "last_obs": ((N, *OBS_SHAPE), np.uint8),
                "actions": ((T, N), np.int32), "rewards": ((T, N), np.float32), "dones": ((T, N), np.float32),
                "truncated": ((T, N), np.float32),
                "policy_mask": ((T, N), np.float32), "value_mask": ((T, N), np.float32)}

    @classmethod
    def empty(cls, n_step: int, n_envs: int) -> "Rollout":
        return cls(**{k: np.empty(shape, dtype) for k, (shape, dtype) in cls.layout(n_step, n_envs).items()})

    @classmethod
    def spec(cls, n_step: int, n_envs: int) -> "Rollout":
        """The same fields as tf.TensorSpecs, for tf.function input signatures."""
        import tensorflow as tf

        return cls(**{k: tf.TensorSpec(shape, tf.as_dtype(dtype))
                      for k, (shape, dtype) in cls.layout(n_step, n_envs).items()})

    @property
    def n_step(self) -> int:
        return int(self.actions.shape[0])

    @property
    def n_envs(self) -> int:
        return int(self.actions.shape[1])

    def envs(self, sl: slice) -> "Rollout":
        """The rollout of a subset of the emulators (all steps): what one rank of K would hold."""
        return Rollout(**{k: v[sl] if k == "last_obs" else v[:, sl] for k, v in self._asdict().items()})


class Timing(NamedTuple):
    env: float  # seconds stepping emulators
    act: float  # seconds in the policy's forward pass and action sampling


def collect(envs, act: Callable[[np.ndarray], np.ndarray], rng: np.random.Generator, into: Rollout) -> Timing:
    """Step `envs` for into.n_step steps, acting with `act` (uint8 obs -> logits), filling `into` in
    place (buffers are reused every update)."""
    t_act = 0.0
    t0 = time.perf_counter()
    obs = envs.obs
    for t in range(into.n_step):
        ta = time.perf_counter()
        actions = sample_actions(act(obs), rng)
        t_act += time.perf_counter() - ta
        into.obs[t] = obs
        res = envs.step(actions)
        into.actions[t] = res.actions
        into.rewards[t] = envs.clip(res.rewards)
        into.dones[t] = res.dones
        into.truncated[t] = res.truncated
        into.value_mask[t] = res.valid
        into.policy_mask[t] = res.valid & ~res.forced
        obs = res.obs
    into.last_obs[...] = obs
    return Timing(env=time.perf_counter() - t0 - t_act, act=t_act)
