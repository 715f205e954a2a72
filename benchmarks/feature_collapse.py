#!/usr/bin/env python
"""Has the network's torso collapsed? For each checkpoint, feed the same states (random play of the
game, fixed seeds) through the network and report how much its 512 ReLU features, its value and its
policy still depend on the state. A collapsed torso (every feature dead or constant) gives every
state the same value and policy; no gradient reaches the dead units, so such a run cannot recover.

    python benchmarks/feature_collapse.py -e Boxing benchmarks/runs/<run>/checkpoints/*.ba3c
    python benchmarks/feature_collapse.py -e Boxing --init      # the untrained network, for scale

Prints a table and appends one JSON line per checkpoint to benchmarks/results/feature_collapse.jsonl.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import machine, record, table  # noqa: E402


def feature_stats(features: np.ndarray, logits: np.ndarray, values: np.ndarray) -> dict[str, float]:
    """features (S, F) >= 0, logits (S, A), values (S,) over S states:
    alive       fraction of features positive on at least one state (a dead ReLU is 0 on all);
    varying     fraction of features whose value differs between states (std > 1e-6);
    mean_abs    mean feature activation;
    value_mean, value_std   mean and std over states of the value;
    logit_std   std over states of each logit, averaged;
    entropy     mean policy entropy (nats)."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return {"alive": float((features.max(axis=0) > 0).mean()),
            "varying": float((features.std(axis=0) > 1e-6).mean()),
            "mean_abs": float(np.abs(features).mean()),
            "value_mean": float(values.mean()),
            "value_std": float(values.std()),
            "logit_std": float(logits.std(axis=0).mean()),
            "entropy": float(-(np.exp(logp) * logp).sum(axis=1).mean())}


def random_play_states(game: str, n_envs: int, steps: int, seed: int) -> np.ndarray:
    """(n_envs * steps, 4, 84, 84) observations of uniformly random play, the same for every call."""
    from ba3c.envs import AtariEnvs

    envs = AtariEnvs(game, n_envs, seed=seed, threads=1)
    rng = np.random.default_rng(seed)
    obs = []
    for _ in range(steps):
        envs.step(rng.integers(0, envs.n_actions, n_envs))
        obs.append(envs.obs.copy())
    envs.close()
    return np.concatenate(obs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-e", "--env", required=True, help="the game the checkpoints were trained on")
    p.add_argument("models", nargs="*", help="training checkpoints (.ba3c) or exported models (.npz)")
    p.add_argument("--init", action="store_true", help="also the untrained network (default flags, --seed)")
    p.add_argument("--seed", type=int, default=0, help="model seed for --init (a run's --seed)")
    p.add_argument("--states", type=int, default=2000, help="states of random play to measure on")
    a = p.parse_args()
    from ba3c.errors import UserError
    from ba3c.quiet import quiet_stderr

    rows = []
    try:
        with quiet_stderr():  # TensorFlow's and ALE's start-up chatter
            from ba3c.config import parse_config
            from ba3c.games import action_meanings, resolve_game
            from ba3c.model import PolicyValueNet
            from ba3c.model_file import build_model

            game = resolve_game(a.env)
            if not a.models and not a.init:
                raise UserError("give checkpoints or models to measure, or --init")
            nets: list[tuple[str, Any, dict[str, Any]]] = []
            if a.init:  # built as the trainer builds it, from the flags' defaults
                cfg = parse_config(["--seed", str(a.seed)])[0].finalize()
                nets.append(("init", PolicyValueNet.from_config(cfg, len(action_meanings(game))),
                             {"counters": {"frames": 0}}))
            nets += [(path, *build_model(path, game)) for path in a.models]
            obs = random_play_states(game, 4, max(1, a.states // 4), seed=3)
            for path, model, meta in nets:
                feats = model.features(obs).numpy()
                logits, values = (t.numpy() for t in model(obs))
                m = re.search(r"ckpt-0*(\d+)", path)
                rows.append({"model": path, "frames": (meta.get("counters") or {}).get("frames"),
                             "updates": int(m.group(1)) if m else None, **feature_stats(feats, logits, values)})
    except UserError as e:
        sys.exit(f"error: {e}")
    print(table(rows, ["model", "frames", "alive", "varying", "mean_abs", "value_mean", "value_std", "logit_std",
                      "entropy"]))
    record("feature_collapse", rows, {"game": game, "states": len(obs), "machine": machine()})


if __name__ == "__main__":
    main()
