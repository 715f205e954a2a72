"""The evaluation protocol: full games (all lives), up to `noop_max` random no-ops at the start,
a 108,000-frame cap, optional sticky actions; each emulator plays exactly one game so short games
are not over-represented."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ba3c.envs import AtariEnvs
from ba3c.sampling import sample_actions


class Abandoned(Exception):
    """Side work given up because training asked the side rank to stop."""


Policy = Callable[[np.ndarray], np.ndarray]  # uint8 obs (N, 4, 84, 84) -> logits (N, A)


def derived_seed(*keys: int) -> int:
    """A seed for one batch of emulators from (seed, stream, round...). ale-py seeds emulator i with
    seed + i, so consecutive integers would share all but one emulator between rounds; hashing keeps
    rounds, waves and side ranks apart."""
    # The key count first: SeedSequence treats [0, 0] and [0, 0, 0] alike.
    return int(np.random.SeedSequence([len(keys), *map(int, keys)]).generate_state(1)[0] % (2**31 - 10**6))


def model_policy(model) -> Policy:
    import tensorflow as tf

    from ba3c.model import OBS_SHAPE

    fn = tf.function(model.__call__, autograph=False, input_signature=[tf.TensorSpec((None, *OBS_SHAPE), tf.uint8)])
    return lambda obs: fn(obs)[0].numpy()


def play_games(policy: Policy, game: str, episodes: int, seed: int, noop_max: int = 30,
               sticky_actions: float = 0.0, max_episode_frames: int = 108_000, fire_on_life_loss: bool = True,
               threads: int = 0, max_parallel: int = 32,
               should_stop: Callable[[], bool] = lambda: False) -> tuple[list[float], list[int]]:
    """Raw game scores and lengths (agent steps) of `episodes` full games, in env order.
    should_stop is polled every 100 steps; when it answers True the games are abandoned."""
    from ba3c.quiet import quiet_stderr

    rng = np.random.default_rng(seed)
    scores: list[float] = []
    lengths: list[int] = []
    wave = 0
    while len(scores) < episodes:
        n = min(max_parallel, episodes - len(scores))
        with quiet_stderr():
            envs = AtariEnvs(game, n, seed=derived_seed(seed, wave), threads=threads, noop_max=noop_max,
                             sticky_actions=sticky_actions, max_episode_frames=max_episode_frames,
                             fire_on_life_loss=fire_on_life_loss, reward_clip=0.0)
        got: dict[int, tuple[float, int]] = {}
        steps = 0
        while len(got) < n:
            steps += 1
            if steps % 100 == 0 and should_stop():
                envs.close()
                raise Abandoned
            envs.step(sample_actions(policy(envs.obs), rng))
            done_scores, done_lengths, _, done_ids = envs.pop_finished()
            for i, score, length in zip(done_ids, done_scores, done_lengths):
                got.setdefault(i, (score, length))  # first game of each env only
        envs.close()
        scores += [got[i][0] for i in range(n)]
        lengths += [got[i][1] for i in range(n)]
        wave += 1
    return scores, lengths
