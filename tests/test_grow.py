"""--grow_envs: the doubling rule against a brute-force search, rank 0's window of noise-scale
readings, the emulator group that grows under a running rank, and a run that grows and resumes grown."""
import math

import numpy as np
import pytest

from ba3c import grow
from ba3c.grow import Growth, best_doubling, doubling_pays


def seconds_to_target(envs, ranks, n_step, b_crit, t):
    """S(B) t(b) up to S_min: McCandlish et al.'s updates to a target times one update's time."""
    return (1 + b_crit / (ranks * envs * n_step)) * t(envs)


@pytest.mark.parametrize("seed", range(20))
def test_repeated_doubling_stops_at_the_fastest_power_of_two(seed):
    """With t(b) = t0 + t1 b, S(B) t(b) is convex in b: doubling while it pays ends at the fastest of
    1, 2, 4, ... (a plain search over them), within 2x of the analytic sqrt(B_crit t0 / (N n t1))."""
    rng = np.random.default_rng(seed)
    ranks, n_step = int(rng.choice([1, 8, 64, 256, 1536])), 5
    b_crit, t0, t1 = 10 ** rng.uniform(1.5, 4.5), rng.uniform(0.005, 0.1), rng.uniform(1e-4, 1e-2)

    def t(e):
        return t0 + t1 * e

    got = best_doubling(1, ranks, n_step, b_crit, t, max_envs=1024)
    powers = [2 ** k for k in range(11)]
    assert got == min(powers, key=lambda e: seconds_to_target(e, ranks, n_step, b_crit, t))
    analytic = math.sqrt(b_crit * t0 / (ranks * n_step * t1))
    assert got == 1 and analytic < 2 or analytic / 2 <= got <= 2 * analytic


def test_doubling_pays_only_while_the_saved_updates_outweigh_the_longer_update():
    flat = lambda e: 1.0  # noqa: E731  an update costs the same at any batch: doubling always saves updates
    assert doubling_pays(1, 64, 5, 1000.0, flat)
    proportional = lambda e: float(e)  # noqa: E731  twice the batch, twice the time: never pays
    assert not doubling_pays(1, 64, 5, 1e9, proportional)
    assert best_doubling(2, 64, 5, 1e9, flat, max_envs=16) == 16  # capped


def readings(growth, updates, value, seconds=lambda e: 1.0):
    return [growth.observe(u, value(u) if callable(value) else value, seconds) for u in updates]


def test_growth_waits_for_a_window_of_readings_then_uses_their_median(monkeypatch):
    monkeypatch.setattr(grow, "WINDOW_UPDATES", 100)
    monkeypatch.setattr(grow, "MIN_READINGS", 5)
    t = lambda e: 0.05 + 0.01 * e  # noqa: E731  at 64 ranks x 5 steps: doubling 1 -> 2 pays above B_crit ~107
    g = Growth(envs=1, ranks=64, n_step=5)
    # Readings of 1,000 (doubling pays), but spanning under half the window: not yet.
    assert not any(readings(g, range(10, 50, 10), 1000.0, t))
    assert readings(g, [60], 1000.0, t) == [True]  # 5 readings over 50 updates
    # One huge reading among small ones moves the median nowhere.
    g = Growth(envs=1, ranks=64, n_step=5)
    assert not any(readings(g, range(10, 300, 10), lambda u: 1e6 if u == 150 else 50.0, t))
    assert g.b_crit() == 50.0 and len(g.readings) < 29  # only the last 100 updates' readings are kept
    g.doubled()
    assert g.envs == 2 and g.readings == [] and g.state() == {"envs": 2}
    assert Growth(envs=1, ranks=64, n_step=5, state={"envs": 4}).envs == 4  # a resumed run keeps its size
    # At the cap it never asks.
    capped = Growth(envs=4, ranks=64, n_step=5, max_envs=4)
    assert not any(readings(capped, range(0, 300, 10), 1e9, t))


def test_an_env_group_steps_its_parts_as_one_and_numbers_their_games():
    from ba3c.envs import AtariEnvs, EnvGroup

    a = AtariEnvs("breakout", 2, seed=1, threads=1, max_episode_frames=40)
    b = AtariEnvs("breakout", 3, seed=7, threads=1, max_episode_frames=40)
    group = EnvGroup([a])
    group.add(b)
    assert group.num_envs == 5 and group.obs.shape == (5, 4, 84, 84)
    ids = []
    for _ in range(30):  # 40-frame games: each emulator finishes a few
        res = group.step(np.zeros(5, np.int64))
        assert res.obs.shape == (5, 4, 84, 84) and res.dones.shape == (5,)
        ids += group.pop_finished()[3]
    assert set(ids) == set(range(5))
    np.testing.assert_array_equal(group.obs[2:], b.obs)
    group.close()


def frames_by_batch(rows):
    """4 x the samples of each logged row's updates at that row's batch (rows logged every update, or
    at least at each batch's last update, as the trainer does)."""
    return sum(4 * r["global_batch"] * (r["updates"] - prev["updates"])
               for prev, r in zip([{"updates": 0}] + rows, rows))


def test_a_growing_run_doubles_its_emulators_and_resumes_at_its_grown_size(tmp_path, monkeypatch, capsys):
    """The wiring, with the rule made to say yes (it is tested purely above) and a window of a few
    updates: 2 emulators -> 4 (the cap) at one update on one rank; frames count each update at its own
    batch; the checkpoint keeps the size and a rerun goes on at it."""
    import signal

    import train
    from ba3c import checkpoint
    from ba3c.runlog import release_run_locks

    monkeypatch.setattr(grow, "doubling_pays", lambda *a: True)
    monkeypatch.setattr(grow, "WINDOW_UPDATES", 4)
    monkeypatch.setattr(grow, "MIN_READINGS", 1)
    monkeypatch.setattr(grow, "MAX_ENVS", 4)
    monkeypatch.setattr("ba3c.noise_scale.MIN_UPDATES", 1)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}

    def run(total_frames):
        argv = ["-e", "Breakout", "--envs_per_rank", "2", "--n_step", "5", "--log_every", "1e-6", "--progress", "off",
                "--comm", "none", "--logdir", str(tmp_path), "--obs_mean_updates", "0", "--name", "g", "--grow_envs",
                "--total_frames", str(total_frames)]
        try:
            return train.main(argv)
        finally:
            release_run_locks()

    try:
        assert run(800) == 0
        out = capsys.readouterr().out
        assert "--grow_envs: at update" in out and "2 -> 4 (global batch 10 -> 20)" in out
        rows = [__import__("json").loads(x) for x in (tmp_path / "g" / "progress.jsonl").read_text().splitlines()]
        batches = [r["global_batch"] for r in rows]
        assert batches[0] == 10 and batches[-1] == 20 and batches == sorted(batches)
        assert frames_by_batch(rows) == rows[-1]["frames"]  # every update counted at its own batch
        meta = checkpoint.load_latest(tmp_path / "g" / "checkpoints")[2]
        assert meta["growth"] == {"envs": 4}
        assert run(rows[-1]["frames"] + 400) == 0
        assert "global batch 20 (1 rank(s) x 4 env(s) x 5 steps)" in capsys.readouterr().out
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)


def test_the_comparison_counts_each_update_of_a_grown_run_at_its_own_batch(monkeypatch):
    """benchmarks/grow_compare.py: updates and modelled seconds to a frame count, phase by phase,
    against a plain loop over the updates."""
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import grow_compare

    monkeypatch.setattr(grow_compare, "update_seconds", lambda ranks, rank_batch, overlap, network: 0.1 + rank_batch)
    grown = {"global_batch": 320, "batch_changes": [(0, 0, 320), (12_800, 10, 640), (38_400, 20, 1280)]}
    fixed = {"global_batch": 320}
    # A plain loop: 10 updates of 1,280 frames, 10 of 2,560, then 5,120 each.
    frames, updates, seconds = 0, 0, 0.0
    while frames < 64_000:
        batch = 320 if updates < 10 else 640 if updates < 20 else 1280
        frames, updates, seconds = frames + 4 * batch, updates + 1, seconds + 0.1 + batch // 64
    assert frames == 64_000
    assert grow_compare.updates_at(grown, 64_000) == updates == 25
    assert grow_compare.seconds_to(grown, 64_000, 64, "any") == pytest.approx(seconds)
    assert grow_compare.updates_at(fixed, 64_000) == 50
    assert grow_compare.seconds_to(fixed, 64_000, 64, "any") == pytest.approx(50 * 5.1)


def test_two_ranks_double_their_emulators_at_the_same_update_and_stay_identical(tmp_path):
    """mpirun -np 2 (Horovod): rank 0's decision rides in the allreduce, so both ranks grow 2 -> 4
    emulators at one update, log the bigger batch from there, and end with the same weights."""
    import json
    import subprocess
    import sys

    from conftest import MPIRUN, ROOT

    args = ["-e", "Breakout", "--envs_per_rank", 2, "--n_step", 5, "--log_every", "1e-6", "--progress", "off",
            "--comm", "auto", "--threads", 1, "--total_frames", 960, "--logdir", tmp_path, "--name", "m",
            "--obs_mean_updates", 0, "--grow_envs"]
    p = subprocess.run([*MPIRUN, "2", sys.executable, str(ROOT / "tests" / "grow_driver.py"), *map(str, args)],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "weights identical on all 2 rank(s)" in p.stdout
    assert p.stdout.count("--grow_envs: at update") == 1 and "2 -> 4 (global batch 20 -> 40)" in p.stdout
    rows = [json.loads(x) for x in (tmp_path / "m" / "progress.jsonl").read_text().splitlines()]
    assert [r["global_batch"] for r in rows][:4] == [20] * 4 and rows[-1]["global_batch"] == 40
    assert rows[-1]["frames"] == frames_by_batch(rows) >= 960


def test_the_planner_prints_where_each_doubling_starts_to_pay(monkeypatch):
    """benchmarks/plan.py's thresholds for `make plan`: with t(b) = t0 + t1 b a doubling from b pays
    exactly above B_crit = 2 N n t1 b^2 / t0 (the rule's inequality solved for B_crit)."""
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import plan

    t0, t1, ranks, n = 0.06, 0.004, 64, 5
    monkeypatch.setattr(plan, "update_seconds", lambda r, rank_batch, overlap, network: t0 + t1 * rank_batch / n)
    got = plan.grow_thresholds(ranks, "any", n, last=8)
    assert list(got) == [1, 2, 4, 8]
    for b, threshold in got.items():
        assert threshold == pytest.approx(2 * ranks * n * t1 * b * b / t0, rel=1e-6)


def test_the_comparison_has_a_row_per_target_and_plan_and_says_what_was_not_reached(monkeypatch):
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import grow_compare

    monkeypatch.setattr(grow_compare, "update_seconds", lambda ranks, rank_batch, overlap, network: 1.0)
    curve = [[f, s, None] for f, s in ((400_000, 10.0), (800_000, 25.0), (1_200_000, 60.0))]
    fixed320 = {"global_batch": 320, "frames": 1_200_000, "curve": curve}
    fixed640 = {"global_batch": 640, "frames": 800_000, "curve": curve[:2]}
    rows = grow_compare.compare([("fixed 320", fixed320), ("fixed 640", fixed640)], ranks=64)
    by = {(r["target"], r["plan"]): r for r in rows}
    assert by[(20, "fixed 320")]["updates"] == 800_000 // 1280  # 1 s per update in the stub model
    assert by[(20, "fixed 640")]["updates"] == 800_000 // 2560
    assert by[(20, "fixed 640")]["minutes 10GbE TCP"] == round(312.5 / 60, 2)
    assert by[(50, "fixed 320")]["frames_M"] == 1.2 and by[(50, "fixed 640")]["reached_by"] == "not by 0.80M"
