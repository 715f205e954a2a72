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


def test_gymnasium_preprocessing_matches_training_emulator():
    """video.py plays through gymnasium's AtariPreprocessing; its observations must be the ones the
    network was trained on."""
    import ale_py
    import gymnasium as gym
    from ale_py.vector_env import AtariVectorEnv
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    single = FrameStackObservation(AtariPreprocessing(
        ale_py.env.AtariEnv(game="breakout", frameskip=1, repeat_action_probability=0.0), noop_max=0,
        frame_skip=4, screen_size=84, grayscale_obs=True, terminal_on_life_loss=False), 4)
    vec = AtariVectorEnv("breakout", 1, num_threads=1, noop_max=0, use_fire_reset=False, reward_clipping=False)
    single.reset(seed=0)
    vec.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(40):
        a = int(rng.integers(0, 4))
        o1, o2 = single.step(a)[0], vec.step(np.array([a]))[0][0]
    assert np.array_equal(o1, o2)
    del gym


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
