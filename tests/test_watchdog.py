"""The pure parts of the cluster-fault machinery: the automatic collective deadline, the message
naming missing ranks, the start-up summary, and the background checkpoint writer (real files). The
real hung-rank, slow-write and start-up runs are in test_faults.py and test_run_folder.py."""
import time

import numpy as np

from ba3c import checkpoint
from ba3c.checkpointer import Checkpointer
from ba3c.startup import StartupClock, describe, summarize
from mpi.watchdog import MIN_TIMEOUT, START_TIMEOUT, TIMEOUT_PER_UPDATE, WARM_UPDATES, auto_timeout, describe_missing


def test_auto_timeout_is_generous_at_start_then_scales_with_the_slowest_update():
    assert auto_timeout([]) == START_TIMEOUT
    assert auto_timeout([0.1] * (WARM_UPDATES - 1)) == START_TIMEOUT
    assert auto_timeout([0.1] * WARM_UPDATES) == MIN_TIMEOUT
    slow = [0.1] * 50 + [9.0]
    assert auto_timeout(slow) == TIMEOUT_PER_UPDATE * 9.0


def test_missing_ranks_are_named_with_host_pid_and_what_they_said():
    where = [("n0", 10), ("n1", 11), ("n2", 12)]
    text = describe_missing([1, 2], where, {2: "busy outside any collective for 70 s after #9"})
    assert text == ("rank 1 (host n1, pid 11: no answer, stopped or dead), "
                    "rank 2 (host n2, pid 12: busy outside any collective for 70 s after #9)")
    many = describe_missing(list(range(1, 20)), [("h", i) for i in range(20)], {}, limit=3)
    assert many.endswith("and 16 more") and many.count("rank ") == 3


def test_startup_summary_takes_median_and_max_per_phase_and_names_the_slowest_rank():
    clock = StartupClock(start=100.0)
    for i, phase in enumerate(("python", "tensorflow", "mpi", "setup", "first_update")):
        clock.mark(phase, now=101.0 + i)
    assert clock.seconds == {"python": 1.0, "tensorflow": 1.0, "mpi": 1.0, "setup": 1.0, "first_update": 1.0}
    slow = {**clock.seconds, "tensorflow": 30.0}
    s = summarize([clock.seconds, slow, clock.seconds])
    assert s["tensorflow"] == {"median": 1.0, "max": 30.0}
    assert s["total"] == {"median": 5.0, "max": 34.0, "slowest_rank": 1}
    assert "TensorFlow import 1.0/30.0" in describe(s, 3) and "slowest: rank 1" in describe(s, 3)


def test_background_writer_skips_while_busy_waits_at_the_end_and_writes_whole_files(tmp_path):
    said = []
    ck = Checkpointer(tmp_path, keep=2, run_meta={"game": "breakout"}, say=said.append, warn=said.append,
                      slow_write=(1.0, 1))
    state = {"w": np.arange(10, dtype=np.float32)}
    assert ck.save(state, {"frames": 100, "updates": 1}, {})
    state["w"][:] = -1  # the snapshot was taken at save time, not at write time
    assert not ck.save(state, {"frames": 200, "updates": 2}, {})  # first write still sleeping: skipped
    assert not ck.save(state, {"frames": 300, "updates": 3}, {})
    assert sum("skipped" in m for m in said) == 1  # said once per slow write
    t0 = time.time()
    assert ck.save(state, {"frames": 400, "updates": 4}, {}, wait=True)  # waits for both
    assert time.time() - t0 > 0.5
    kept = checkpoint.list_checkpoints(tmp_path)
    assert [p.name for p in kept] == ["ckpt-000000000001.ba3c", "ckpt-000000000004.ba3c"]
    first, meta = checkpoint.load(kept[0])
    assert first["w"].tolist() == list(range(10)) and meta["counters"]["frames"] == 100
    assert "2 save(s) skipped meanwhile" in " ".join(said)
    assert checkpoint.load(kept[1])[0]["w"].tolist() == [-1] * 10


def test_background_writer_failure_is_reported_and_sticks(tmp_path):
    (tmp_path / "file").write_text("x")
    said = []
    ck = Checkpointer(tmp_path / "file" / "ck", keep=2, run_meta={}, say=said.append, warn=said.append)
    ck.save({"w": np.zeros(3)}, {"frames": 1, "updates": 1}, {})
    ck.close()
    assert ck.error and "cannot write a checkpoint" in ck.error and "the last good one is none" in ck.error
    assert not ck.poll() and not ck.save({"w": np.zeros(3)}, {"frames": 2, "updates": 2}, {}, wait=True)


def test_background_writer_reports_any_exception_as_a_failed_save(tmp_path):
    """Not only OSError: a writer thread that dies of anything else must not read as success."""
    said = []
    ck = Checkpointer(tmp_path, keep=2, run_meta={}, say=said.append, warn=said.append)
    # An object JSON cannot encode: the write fails with TypeError inside the thread.
    assert not ck.save({"w": np.zeros(3)}, {"frames": 1, "updates": 1}, {"bad": object()}, wait=True)
    assert ck.error and "TypeError" in ck.error and "the last good one is none" in ck.error
    assert not checkpoint.list_checkpoints(tmp_path)


def test_ranks_that_passed_a_rooted_collective_are_not_blamed():
    """Rank 0 waits in gather #7. A rank that left it (non-roots may) and waits in allreduce #8 has
    arrived; one still busy after #6 is the hung one; same number, other name is the order bug."""
    from mpi.watchdog import judge_answer

    assert judge_answer(7, "gather", 8, "allreduce", 30.0) is None
    assert judge_answer(7, "gather", 7, None, 30.0) is None
    assert judge_answer(7, "gather", 7, "gather", 30.0) is None
    assert "busy outside any collective for 30 s after #6" in judge_answer(7, "gather", 6, None, 30.0)
    assert "different orders" in judge_answer(7, "gather", 7, "allreduce", 30.0)
    assert "which rank 0 has left" in judge_answer(7, "gather", 6, "broadcast", 30.0)
