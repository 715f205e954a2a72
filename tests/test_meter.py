"""The log row's score(100) window (ba3c/meter.py) and its round trip through a checkpoint's state."""
from ba3c.meter import Meter
from ba3c.noise_scale import NoiseScale


def test_the_score_window_keeps_the_last_100_games_and_resumes_from_its_state():
    meter = Meter(0, NoiseScale())
    meter.add_games([float(i) for i in range(130)], [])
    assert meter.state() == [float(i) for i in range(30, 130)]
    resumed = Meter(1000, NoiseScale(), meter.state())
    resumed.add_games([200.0], [])
    row = resumed.row({"frames": 2000, "updates": 1, "games": 131, "skipped_updates": 0}, 1.0, 1e-3, 0.01, None)
    assert row["score_mean100"] == sum(range(31, 130), 200) / 100  # not the new game's 200 alone
    fresh = Meter(0, NoiseScale())
    assert fresh.row({"frames": 0, "updates": 0, "games": 0, "skipped_updates": 0}, 1.0, 1e-3, 0.01, None)[
        "score_mean100"] is None
