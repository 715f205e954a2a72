"""The training loop's decisions, in-process with a world of one: seconds, not minutes, so a change
to train() is caught before the slow end-to-end tests run. The decisions themselves (RunState,
Pipeline, Every) are pure and tested first; then train() itself on a tiny run."""
import os
import signal
import threading

import numpy as np
import pytest

from ba3c.run import Every, Pipeline, RunState
from mpi.comm import Comm


def test_a_stop_request_ends_the_run_after_what_is_in_flight():
    s = RunState()
    assert s.wants_rollout(0, 80, 1000)
    assert s.count(applied=True, stop_asked=True, frames_per_update=80, max_bad_updates=10) is None
    assert s.stopping and s.reason == "signal" and not s.wants_rollout(0, 80, 1000)
    assert not s.is_last(in_flight=1, total_frames=1000) and s.is_last(in_flight=0, total_frames=1000)
    assert s.counters["updates"] == 1 and s.counters["frames"] == 80


def test_a_reached_score_target_ends_the_run_as_finished_and_a_signal_as_stopped():
    s = RunState()
    s.count(applied=True, stop_asked=False, frames_per_update=80, max_bad_updates=10, target_reached=True)
    assert s.stopping and s.reason == "target" and not s.wants_rollout(0, 80, 1000)
    s = RunState()
    s.count(applied=True, stop_asked=True, frames_per_update=80, max_bad_updates=10, target_reached=True)
    assert s.reason == "signal"  # a signal asks to resume later; it must not read as finished


def test_the_score_target_needs_a_full_window_and_after_a_resume_settled_games():
    from ba3c.meter import SCORE_WINDOW, ScoreTarget

    new = ScoreTarget(5.0, games_at_start=0, resumed=False, emulators=16)
    assert not new.reached([9.0] * (SCORE_WINDOW - 1), games=99)  # a few lucky first games are not score(100)
    assert new.reached([5.0] * SCORE_WINDOW, games=100) and not new.reached([4.9] * SCORE_WINDOW, games=100)
    resumed = ScoreTarget(5.0, games_at_start=1000, resumed=True, emulators=16)
    assert not resumed.reached([9.0] * SCORE_WINDOW, games=1000 + 31)  # 2 games per emulator: 32
    assert resumed.reached([9.0] * SCORE_WINDOW, games=1000 + 32)
    assert resumed.met_by([9.0] * SCORE_WINDOW) and not ScoreTarget(None, 0, False, 16).met_by([9.0] * 100)


def test_non_finite_updates_are_skipped_counted_and_stop_the_run_after_n_in_a_row():
    s = RunState()
    warning = s.count(applied=False, stop_asked=False, frames_per_update=80, max_bad_updates=3)
    assert "update skipped on all ranks (1 in a row)" in warning and not s.stopping
    s.count(applied=True, stop_asked=False, frames_per_update=80, max_bad_updates=3)
    assert s.bad_in_row == 0
    for _ in range(3):
        s.count(applied=False, stop_asked=True, frames_per_update=80, max_bad_updates=3)
    assert s.stopping and s.reason == "nonfinite" and s.counters["skipped_updates"] == 4


def test_frames_in_flight_count_against_the_budget():
    s = RunState()
    s.counters["frames"] = 800
    assert s.wants_rollout(in_flight=0, frames_per_update=100, total_frames=1000)
    assert s.wants_rollout(in_flight=1, frames_per_update=100, total_frames=1000)
    assert not s.wants_rollout(in_flight=2, frames_per_update=100, total_frames=1000)


@pytest.mark.parametrize("lag", [0, 1])
def test_the_pipeline_applies_updates_in_order_lag_late(lag):
    p = Pipeline(Comm(), lag)
    p.start(np.array([1.0], np.float32), "t0", 0.0)
    assert p.ready() == (lag == 0)
    p.start(np.array([2.0], np.float32), "t1", 0.0)
    assert p.ready()
    first = p.pop()
    assert first.timing == "t0" and first.pending.wait()[0] == 1.0
    assert len(p) == 1  # the last one stays in flight until the loop drains it


def test_every_has_one_clock_and_never_fires_where_it_is_not_owned():
    e = Every(10.0, now=0.0)
    assert not e.ask(5.0) and e.ask(10.0) and not e.ask(15.0) and e.ask(20.0)
    assert not Every(None, now=0.0).ask(1e9)


@pytest.fixture
def run_train_in_process(tmp_path, monkeypatch):
    """train.main() in this process; signal handlers and the environment restored afterwards."""
    import train
    from ba3c.runlog import release_run_locks

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    monkeypatch.chdir(tmp_path)

    def run(*flags, env=None):
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        argv = ["-e", "Breakout", "--envs_per_rank", "2", "--n_step", "5", "--log_every", "1e-6", "--progress",
                "off", "--comm", "none", "--logdir", str(tmp_path), "--obs_mean_updates", "0", *map(str, flags)]
        try:
            return train.main(argv)
        finally:
            release_run_locks()  # as the process's exit would

    yield run
    for s, h in handlers.items():
        signal.signal(s, h)


def progress_rows(path):
    import json

    return [json.loads(x) for x in path.read_text().splitlines()]


def test_overlap_applies_the_last_update_in_flight(run_train_in_process, tmp_path):
    """--overlap with a budget of 6 updates: all 6 are applied (the last one drained), the last
    row says so."""
    assert run_train_in_process("--overlap", "--total_frames", 240, "--name", "o") == 0
    rows = progress_rows(tmp_path / "o" / "progress.jsonl")
    assert rows[-1]["updates"] == 6 and rows[-1]["frames"] == 240


def test_a_signal_mid_run_checkpoints_and_ends_cleanly(run_train_in_process, tmp_path):
    from ba3c import checkpoint

    def signal_once_training():  # not before: SIGUSR1's default action ends the process
        progress = tmp_path / "s" / "progress.jsonl"
        while not (progress.exists() and progress.read_text().count("\n") >= 2):
            if done.wait(0.1):
                return
        os.kill(os.getpid(), signal.SIGUSR1)

    done = threading.Event()
    sender = threading.Thread(target=signal_once_training)
    sender.start()
    try:
        assert run_train_in_process("--total_frames", 10**9, "--name", "s") == 0
    finally:
        done.set()
        sender.join()
    latest = checkpoint.load_latest(tmp_path / "s" / "checkpoints")
    assert latest is not None and 0 < latest[2]["counters"]["frames"] < 10**9


def test_stop_at_score_ends_a_run_as_done_and_a_rerun_trains_no_further(run_train_in_process, tmp_path, capsys,
                                                                        monkeypatch):
    """The wiring, on a score window of 8 games (the rule itself, on 100, is tested above): games cut at
    100 frames (25 agent steps) fill it in one round of 8 emulators' games; any score reaches -100. The
    run stops long before its budget, checkpointed; the same command again says so and trains nothing."""
    from ba3c import checkpoint, meter

    monkeypatch.setattr(meter, "SCORE_WINDOW", 8)
    flags = ("--envs_per_rank", 8, "--max_episode_frames", 100, "--stop_at_score", -100, "--total_frames", 10**7,
             "--name", "t")
    assert run_train_in_process(*flags) == 0
    out = capsys.readouterr().out
    assert "reached --stop_at_score -100 at" in out and "done" in out
    rows = progress_rows(tmp_path / "t" / "progress.jsonl")
    meta = checkpoint.load_latest(tmp_path / "t" / "checkpoints")[2]
    assert rows[-1]["games"] >= 8 and meta["counters"]["frames"] == rows[-1]["frames"] < 10**5
    assert len(meta["recent_scores"]) == 8
    assert run_train_in_process(*flags) == 0
    assert "already reached --stop_at_score -100" in capsys.readouterr().out
    assert checkpoint.load_latest(tmp_path / "t" / "checkpoints")[2]["counters"]["frames"] == meta["counters"]["frames"]


def test_non_finite_updates_stop_the_run_with_the_last_good_weights(run_train_in_process, tmp_path, capsys):
    from ba3c import checkpoint

    code = run_train_in_process("--total_frames", 10**6, "--name", "n", "--max_bad_updates", 3,
                                env={"BA3C_FAULT_NAN": "0:4-1000"})
    assert code == 2 and "3 updates in a row had non-finite" in capsys.readouterr().err
    meta = checkpoint.load_latest(tmp_path / "n" / "checkpoints")[2]
    assert meta["counters"]["updates"] == 7 and meta["counters"]["skipped_updates"] == 3
