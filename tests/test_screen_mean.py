"""The mean screen (ba3c/screen_mean.py): its maths against plain loops, and the network's use of it."""
import numpy as np
import pytest

from ba3c.screen_mean import KEY, SHAPE, MeanScreenMeter, mean_screen, with_mean_screen


def _plain_mean(rollouts):
    total, n = np.zeros((84, 84)), 0
    for obs in rollouts:
        for step in obs:
            for state in step:
                for frame in state:
                    total += frame / 255.0
                    n += 1
    return total / n


def test_mean_screen_and_meter_match_a_plain_loop():
    rng = np.random.default_rng(0)
    rollouts = [rng.integers(0, 256, (5, 3, 4, 84, 84), dtype=np.uint8) for _ in range(3)]
    assert np.allclose(mean_screen(rollouts[0]), _plain_mean(rollouts[:1]))
    meter = MeanScreenMeter(3)
    assert meter.active
    assert meter.add(rollouts[0]) is None and meter.add(rollouts[1]) is None
    done = meter.add(rollouts[2])
    assert not meter.active and done.shape == SHAPE and done.dtype == np.float32
    assert np.allclose(done[:, :, 0], _plain_mean(rollouts), atol=1e-6)


@pytest.mark.parametrize("rollouts", [0, -5])
def test_meter_with_nothing_to_measure_is_inactive(rollouts):
    assert not MeanScreenMeter(rollouts).active  # --obs_mean_updates 0, or resumed after the measurement


def test_files_without_a_mean_screen_get_zeros():
    old = {"model/fc_w": np.ones(3)}
    filled = with_mean_screen(old)
    assert KEY not in old and filled[KEY].shape == SHAPE and not filled[KEY].any()
    kept = {KEY: np.full(SHAPE, 0.5, np.float32)}
    assert with_mean_screen(kept)[KEY] is kept[KEY]


def test_network_subtracts_the_mean_screen():
    """A screen equal to the mean gives the features a blank screen gives with no mean."""
    from ba3c.model import PolicyValueNet

    net = PolicyValueNet("nature", 4, 64, seed=3)
    blank = np.zeros((2, 4, 84, 84), np.uint8)
    raw = net.features(blank).numpy()
    level = np.full((2, 4, 84, 84), 40, np.uint8)
    assert not np.allclose(net.features(level).numpy(), raw)
    net.obs_mean.assign(np.full(SHAPE, 40 / 255, np.float32))
    assert np.allclose(net.features(level).numpy(), raw, atol=1e-6)
    assert net.names[-1] == "obs_mean" and len(net.get_weights()) == len(net.vars) + 1
