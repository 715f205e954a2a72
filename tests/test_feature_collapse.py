"""The feature-collapse statistics against plain loops, and on networks known to be alive or dead."""
import math
import sys

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from feature_collapse import feature_stats  # noqa: E402


def _loops(features, logits, values):
    S, F = features.shape
    alive = sum(any(features[s, f] > 0 for s in range(S)) for f in range(F)) / F
    varying = sum(np.std([features[s, f] for s in range(S)]) > 1e-6 for f in range(F)) / F
    ent = 0.0
    for s in range(S):
        z = [math.exp(x) for x in logits[s]]
        p = [x / sum(z) for x in z]
        ent += -sum(q * math.log(q) for q in p) / S
    logit_std = np.mean([np.std([logits[s, a] for s in range(S)]) for a in range(logits.shape[1])])
    return {"alive": alive, "varying": varying, "mean_abs": float(np.mean(np.abs(features))),
            "value_mean": float(np.mean(values)), "value_std": float(np.std(values)),
            "logit_std": float(logit_std), "entropy": ent}


def test_stats_equal_plain_loops():
    rng = np.random.default_rng(0)
    feats = np.maximum(rng.normal(size=(30, 12)), 0)
    feats[:, 3] = 0.0  # dead
    feats[:, 5] = 0.7  # alive, constant
    logits, values = rng.normal(size=(30, 6)) * 3, rng.normal(size=30)
    got, want = feature_stats(feats, logits, values), _loops(feats, logits, values)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-9, abs=1e-12), k
    assert got["alive"] == pytest.approx(11 / 12) and got["varying"] == pytest.approx(10 / 12)


def test_untrained_network_is_alive_and_zeroed_torso_is_collapsed():
    from ba3c.model import PolicyValueNet

    obs = np.random.default_rng(1).integers(0, 256, size=(64, 4, 84, 84), dtype=np.uint8)
    net = PolicyValueNet("nature", 6, 512, seed=0)
    s = feature_stats(net.features(obs).numpy(), *(t.numpy() for t in net(obs)))
    assert s["alive"] > 0.5 and s["varying"] > 0.5 and s["value_std"] > 0
    assert s["entropy"] == pytest.approx(math.log(6), abs=0.01)  # policy head starts near uniform
    fc_bias = net.names.index("fc_b")
    net.vars[fc_bias].assign(np.full(512, -1e3, np.float32))  # every fc unit below zero on every state
    s = feature_stats(net.features(obs).numpy(), *(t.numpy() for t in net(obs)))
    assert s["alive"] == 0 and s["varying"] == 0 and s["value_std"] == 0 and s["logit_std"] == 0
