"""The robust-defaults screen (benchmarks/defaults_screen.py): every candidate is a valid command line,
the per-game threshold and the end score against plain arithmetic, the run order, and the one-line
refusals of its command line."""
import json
import subprocess
import sys

import pytest

from ba3c.config import parse_config
from ba3c.scores import RANDOM_HUMAN
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import defaults_screen as screen  # noqa: E402


@pytest.mark.parametrize("name", list(screen.CANDIDATES))
def test_every_candidate_is_a_command_line_the_trainer_takes(name):
    cfg, _ = parse_config(["-e", "Pong", *screen.CANDIDATES[name]])
    cfg.finalize()
    if name == "adam-ppo":
        assert (cfg.optimizer, cfg.beta2, cfg.learning_rate, cfg.clip_mode) == ("adam", 0.999, 2.5e-4, "global_norm")
    if name == "defaults":  # the screen's reference, the defaults it ran with, kept as they were
        assert (cfg.optimizer, cfg.beta1, cfg.beta2, cfg.learning_rate) == ("adam", 0.8, 0.75, 1e-3)
    if name == "adam-0.99":  # the screen's choice, now the defaults
        default, _ = parse_config(["-e", "Pong"])
        assert (cfg.beta1, cfg.beta2, cfg.learning_rate) == (default.beta1, default.beta2, default.learning_rate)


def test_threshold_is_a_quarter_of_the_way_from_random_to_human():
    for game, key in (("SpaceInvaders", "space_invaders"), ("Pong", "pong"), ("Boxing", "boxing")):
        random, human = RANDOM_HUMAN[key]
        assert screen.game_key(game) == key
        assert screen.threshold(game) == pytest.approx(random + (human - random) / 4)
    with pytest.raises(KeyError):
        screen.game_key("NoSuchGame")


def test_end_score_is_the_mean_over_the_last_tenth_of_the_frames():
    curve = [(f, None if f < 300 else float(f) / 100) for f in range(0, 5001, 100)]
    want = [s for f, s in curve if f >= 4500]
    assert screen.end_score(curve) == pytest.approx(sum(want) / len(want))
    assert screen.end_score([(100, None), (200, None)]) is None and screen.end_score([]) is None


def test_runs_go_seed_then_game_then_candidate_into_their_own_folders():
    order = screen.runs(["a", "b"], ["Boxing", "Pong"], [1, 2])
    assert order[:4] == [("a", "Boxing", 1), ("b", "Boxing", 1), ("a", "Pong", 1), ("b", "Pong", 1)]
    assert len(order) == 8
    names = {screen.folder_name(g, s, c) for c, g, s in order}
    assert len(names) == 8 and "boxing-b80-none-s1-a" in names


@pytest.mark.parametrize("args,message", [
    (["run", "--candidates", "nope"], "unknown candidate(s) nope; the candidates: defaults"),
    (["run", "--games", "NoSuchGame"], "has no random/human scores"),
])
def test_bad_command_lines_stop_in_one_line(args, message):
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "defaults_screen.py"), *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and message in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_a_record_keeps_the_median_frames_per_second_so_a_paused_row_does_not_drag_it(tmp_path):
    """The screen's frames/s column: a row spanning a SIGSTOP pause is one slow outlier, not the mean."""
    import bench_batch

    rows = [{"frames": 1000 * i, "updates": 10 * i, "wall_time": float(i), "fps": fps, "score_mean100": None}
            for i, fps in enumerate([4000.0, 4100.0, 12.0, 3900.0, 4050.0], start=1)]
    (tmp_path / "progress.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "config.json").write_text(json.dumps({
        "env": "pong", "global_batch": 80, "lr_scaling": "none", "learning_rate": 1e-3, "seed": 1,
        "value_coef": 1.0, "total_frames": 5000, "n_step": 5, "optimizer": "adam", "beta2": 0.99}))
    (tmp_path / "metadata.json").write_text(json.dumps({"world": {"size": 1, "global_batch": 80}}))
    record = bench_batch.summarize(tmp_path)
    assert record["median_fps"] == 4000.0 and record["frames"] == 5000
    assert record["optimizer"]["beta2"] == 0.99 and record["optimizer"]["clip_mode"] is None  # as configured
    row = screen.summarize({**record, "tag": "defaults", "status": "finished"})
    assert row["frames_per_s"] == 4000.0 and row["end_score"] is None


def test_make_passes_a_subset_of_candidates_and_games_in_the_order_given():
    def dry_run(*assignments: str) -> str:
        p = subprocess.run(["make", "-n", "defaults-screen", *assignments], cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return " ".join(p.stdout.replace("\\\n", " ").split())  # make -n keeps the line continuation

    assert ("defaults_screen.py run --frames 3e6 --candidates adam-0.99 defaults --games Pong Breakout"
            in dry_run("FRAMES=3e6", "CANDIDATES=adam-0.99 defaults", "GAMES=Pong Breakout"))
    everything = dry_run()
    assert "defaults_screen.py run --frames 5e6" in everything and "--candidates" not in everything
