"""Evaluation protocol, human-normalised scores, export/load, videos, and their error messages."""
import json
import re

import imageio.v2 as imageio
import numpy as np
import pytest

from ba3c import checkpoint
from ba3c.envs import AtariEnvs
from ba3c.evaluate import model_policy, play_games
from ba3c.model import PolicyValueNet
from ba3c.model_file import build_model, export_npz
from ba3c.scores import RANDOM_HUMAN, human_normalized, summarize
from ba3c.video import game_frames, record


def random_policy(n_actions):
    return lambda obs: np.zeros((len(obs), n_actions), np.float32)


def write_checkpoint(tmp_path, game="breakout", n_actions=4, seed=0):
    model = PolicyValueNet("nature", n_actions, 512, seed=seed)
    arrays = {f"model/{n}": w for n, w in zip(model.names, model.get_weights())}
    meta = {"game": game, "arch": "nature", "fc_neurons": 512, "n_actions": n_actions, "optimizer": "adam",
            "counters": {"frames": 0, "updates": 0}}
    return model, checkpoint.save(tmp_path, 1, arrays, meta, keep=3)


def test_noop_starts_are_applied():
    starts = AtariEnvs("breakout", 8, seed=0, noop_max=30).reset_info["episode_frame_number"]
    assert len(set(starts.tolist())) > 1 and max(starts) <= 30 * 4 + 8
    fixed = AtariEnvs("breakout", 8, seed=0, noop_max=0).reset_info["episode_frame_number"]
    assert len(set(fixed.tolist())) == 1


def test_frame_cap_is_respected():
    """Pong under a random policy lasts far longer than 2,000 frames, so every game is cut at the
    cap: 2,000 frames = 500 agent steps (frameskip 4)."""
    scores, lengths = play_games(random_policy(6), "pong", 3, seed=0, noop_max=0, max_episode_frames=2000)
    assert len(scores) == 3
    assert all(450 <= n <= 500 for n in lengths), lengths


def test_breakout_games_are_scored_over_all_lives():
    scores, lengths = play_games(random_policy(4), "breakout", 4, seed=1)
    assert len(scores) == 4 and all(s >= 0 for s in scores)
    # a whole game of 5 lives under a random policy lasts well over one life (~40 steps)
    assert min(lengths) > 100


def test_human_normalized_matches_formula_and_table():
    assert len(RANDOM_HUMAN) == 57
    assert human_normalized("breakout", 30.5) == pytest.approx(1.0)
    assert human_normalized("breakout", 1.7) == pytest.approx(0.0)
    assert human_normalized("pong", 0.0) == pytest.approx((0.0 + 20.7) / (14.6 + 20.7))
    assert human_normalized("tetris", 10.0) is None
    s = summarize("breakout", [1.0, 2.0, 6.0])
    assert s["mean"] == 3.0 and s["median"] == 2.0 and s["min"] == 1.0 and s["max"] == 6.0
    assert s["std"] == pytest.approx(np.std([1.0, 2.0, 6.0]))
    assert s["human_normalized_mean"] == pytest.approx((3.0 - 1.7) / (30.5 - 1.7))


def test_export_then_load_gives_identical_action_probabilities(tmp_path):
    model, ckpt = write_checkpoint(tmp_path, seed=3)
    npz = export_npz(ckpt, tmp_path / "m.npz")
    obs = np.random.default_rng(0).integers(0, 256, (5, 4, 84, 84), dtype=np.uint8)
    want = model(obs)[0].numpy()
    for path in (ckpt, npz):
        loaded, meta = build_model(path, "breakout")
        assert meta["game"] == "breakout"
        assert np.array_equal(loaded(obs)[0].numpy(), want)


def test_float16_export_halves_the_file_and_keeps_the_policy(tmp_path):
    model, ckpt = write_checkpoint(tmp_path, seed=4)
    full = export_npz(ckpt, tmp_path / "full.npz")
    half = export_npz(ckpt, tmp_path / "half.npz", "float16")
    assert half.stat().st_size < 0.6 * full.stat().st_size
    obs = np.random.default_rng(1).integers(0, 256, (5, 4, 84, 84), dtype=np.uint8)
    loaded, meta = build_model(half, "breakout")
    assert meta["frames"] == 0
    assert np.allclose(loaded(obs)[0].numpy(), model(obs)[0].numpy(), atol=2e-3)
    assert all(v.dtype.name == "float32" for v in loaded.vars)


@pytest.mark.parametrize("game,cap", [("breakout", 108_000), ("ms_pacman", 108_000), ("pong", 300)])
def test_recorder_sees_exactly_what_training_sees_from_the_first_step(game, cap):
    """The recorder's emulator (ba3c/screen_env.py) against the training emulators (AtariEnvs over
    ale-py's C++ vector env) from the reset screen on: observations, rewards, life losses, forced FIRE,
    the frame cap and the reset after a game. Breakout presses FIRE at start, MsPacman has no FIRE;
    Pong with a 300-frame cap is cut. No-op starts are off: their counts come from different generators."""
    kw = dict(noop_max=0, max_episode_frames=cap, reward_clip=0.0)
    train = AtariEnvs(game, 1, seed=3, threads=1, **kw)
    video = AtariEnvs(game, 1, seed=3, screen=True, **kw)
    assert np.array_equal(video.obs, train.obs)
    assert np.count_nonzero(train.obs[0, :3]) == 0  # the reset stack: zeros, then the reset screen
    rng = np.random.default_rng(0)
    resets = 0
    for step in range(400):
        a = rng.integers(0, train.n_actions, 1)
        r1, r2 = train.step(a), video.step(a)
        for field in ("obs", "actions", "rewards", "dones", "truncated", "valid", "forced"):
            assert np.array_equal(getattr(r1, field), getattr(r2, field)), (game, step, field)
        resets += int(not r1.valid[0])
    assert video.env.rgb().shape == (210, 160, 3)
    if game == "pong":
        assert resets >= 4  # cut at 300 frames = 75 steps, then reset, again and again


def test_strict_protocol_presses_no_fire_for_the_agent():
    """--no-fire_on_life_loss: no FIRE at the start of a game either (ale-py's use_fire_reset)."""
    strict = AtariEnvs("breakout", 1, seed=0, noop_max=0, fire_on_life_loss=False)
    usual = AtariEnvs("breakout", 1, seed=0, noop_max=0)
    assert strict.reset_info["episode_frame_number"][0] == 0  # no frame played at reset
    assert usual.reset_info["episode_frame_number"][0] == 1  # the FIRE frame
    assert strict.fire_action is None


@pytest.mark.parametrize("fmt", ["gif", "mp4"])
def test_record_writes_readable_video_with_expected_frames(tmp_path, fmt):
    model, _ = write_checkpoint(tmp_path)
    policy = model_policy(model)
    expected = sum(1 for _ in game_frames(policy, "breakout", seed=4))  # start frame + one per agent step
    n, score = record(game_frames(policy, "breakout", seed=4), tmp_path / f"g.{fmt}")
    assert n == expected and n > 100
    reader = imageio.get_reader(tmp_path / f"g.{fmt}", format="FFMPEG" if fmt == "mp4" else None)
    frames = [f for f in reader]  # list() would trust the reader's length hint (inf for mp4)
    assert len(frames) == n
    assert frames[0].shape[:2] == (210, 160)
    assert frames[0].ndim == 3 and frames[0].shape[2] in (3, 4)  # colour


def test_cli_eval_writes_json(train, tmp_path):
    _, ckpt = write_checkpoint(tmp_path)
    out = tmp_path / "e.json"
    p = train(["--task", "eval", "--load", ckpt, "-e", "Breakout", "--episodes", 3, "--output", out])
    assert re.search(r"breakout: 3 games\s+mean [\d.]+\s+median", p.stdout)
    res = json.loads(out.read_text())
    assert len(res["scores"]) == 3 and res["protocol"]["noop_max"] == 30
    assert res["human_normalized_mean"] == pytest.approx(human_normalized("breakout", res["mean"]))


def test_cli_record_stops_after_video_seconds(train, tmp_path):
    _, ckpt = write_checkpoint(tmp_path)
    out = tmp_path / "short.gif"
    p = train(["--task", "record", "--load", ckpt, "-e", "Breakout", "--output", out, "--video_seconds", 2])
    assert "the first 2 s of a game (31 frames)" in p.stdout, p.stdout
    assert sum(1 for _ in imageio.get_reader(out)) == 31


@pytest.mark.parametrize("case", ["missing", "corrupt_npz", "corrupt_ckpt", "other_game", "bad_format",
                                  "bad_video", "bad_ext"])
def test_model_file_errors_are_one_line(train, tmp_path, case):
    _, ckpt = write_checkpoint(tmp_path)
    args = ["--task", "eval", "-e", "Breakout", "--episodes", 1, "--load"]
    if case == "missing":
        args += [tmp_path / "nope.npz"]
        want = "does not exist"
    elif case == "corrupt_npz":
        (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04garbage")
        args += [tmp_path / "bad.npz"]
        want = "not a readable BA3C .npz export"
    elif case == "corrupt_ckpt":
        data = ckpt.read_bytes()
        (tmp_path / "cut.ba3c").write_bytes(data[: len(data) // 2])
        args += [tmp_path / "cut.ba3c"]
        want = "corrupt or truncated"
    elif case == "other_game":
        args = ["--task", "eval", "-e", "Pong", "--load", ckpt]
        want = "trained on breakout with 4 actions, but pong has 6"
    elif case == "bad_format":
        (tmp_path / "m.h5").write_bytes(b"x")
        args += [tmp_path / "m.h5"]
        want = "unknown model format '.h5'"
    elif case == "bad_video":
        args = ["--task", "record", "--load", ckpt, "--output", tmp_path / "g.avi"]
        want = "unknown video format '.avi'"
    else:
        args = ["--task", "export", "--load", ckpt, "--output", tmp_path / "m.pt"]
        want = "exports are .npz files"
    p = train(args, check=False)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and want in lines[0], p.stderr


def test_warm_start_training_from_export(train, tmp_path):
    model, ckpt = write_checkpoint(tmp_path, seed=9)
    npz = export_npz(ckpt, tmp_path / "m.npz")
    p = train(["--load", npz, "--logdir", tmp_path, "--name", "w", "--total_frames", 80, "--envs_per_rank", 4,
               "--progress", "off", "--comm", "none"])
    assert "warm-started with the weights of" in p.stdout


@pytest.mark.slow
def test_in_process_eval_and_record_during_training(train, tmp_path):
    p = train(["--logdir", tmp_path, "--name", "s", "--total_frames", 1600, "--envs_per_rank", 4,
               "--progress", "off", "--comm", "none", "--eval_node", "--record_node", "--eval_every", 10,
               "--eval_games", 2])
    rows = [json.loads(x) for x in (tmp_path / "s" / "eval.jsonl").read_text().splitlines()]
    assert [r["frames"] for r in rows][:2] == [0, 800] and all(r["games"] == 2 for r in rows)
    videos = list((tmp_path / "s" / "videos").glob("frames-*.mp4"))
    assert len(videos) == 2 and "video at 0 frames" in p.stdout and "final video at 1,600 frames" in p.stdout
    assert rows[-1]["frames"] == 1600 and "final eval" not in p.stdout  # evaluated at update 20: not played twice


def test_play_without_display_suggests_record(train, tmp_path):
    _, ckpt = write_checkpoint(tmp_path)
    env = {"DISPLAY": ""}
    p = train(["--task", "play", "--load", ckpt, "-e", "Breakout"], env=env, check=False)
    assert p.returncode == 2 and "use --task record" in p.stderr


@pytest.mark.slow
def test_play_in_a_window_on_a_virtual_display(train, tmp_path):
    import shutil
    import subprocess

    if not shutil.which("Xvfb"):
        pytest.fail("Xvfb missing: make install adds it")
    xvfb = subprocess.Popen(["Xvfb", ":97", "-screen", "0", "640x480x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _, ckpt = write_checkpoint(tmp_path)
        p = train(["--task", "play", "--load", ckpt, "-e", "Breakout", "--max_episode_frames", 2000],
                  env={"DISPLAY": ":97"}, timeout=300)
        assert re.search(r"game score \d+", p.stdout)
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)


def test_evaluation_rounds_do_not_share_emulator_seeds():
    """ale-py seeds emulator i with seed + i: rounds seeded base + k (as before) shared all but one
    emulator with the next round. Derived seeds keep rounds and waves at least 32 emulators apart."""
    from ba3c.evaluate import derived_seed

    seeds = sorted(derived_seed(0, 0, r) for r in range(200)) + sorted(derived_seed(0, w) for w in range(50))
    starts = sorted(seeds)
    assert min(b - a for a, b in zip(starts, starts[1:])) >= 32
