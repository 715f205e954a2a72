"""progress.jsonl across resumes: the rows a killed start logged after its last checkpoint are not
part of the run's history (the resumed start trains those frames again)."""
import json

from ba3c.runlog import read_progress, surviving_rows, trim_progress


def rows(*frames: int) -> list[dict]:
    return [{"frames": f, "start": i} for i, f in enumerate(frames)]


def test_a_resume_drops_the_rows_its_killed_predecessor_logged_past_the_checkpoint():
    # start 1 logged 10..50 and was killed; start 2 resumed from a checkpoint at 30 and logged 40, 50, 60
    log = rows(10, 20, 30, 40, 50, 40, 50, 60)
    assert [(r["frames"], r["start"]) for r in surviving_rows(log)] == [(10, 0), (20, 1), (30, 2), (40, 5), (50, 6),
                                                                        (60, 7)]
    # a second kill and resume (checkpoint at 50): the same rule again
    assert [r["frames"] for r in surviving_rows(log + rows(55, 70))] == [10, 20, 30, 40, 50, 55, 70]
    assert surviving_rows(rows(10, 20)) == rows(10, 20) and surviving_rows([]) == []


def test_a_start_moves_the_undone_rows_aside_and_keeps_the_rest(tmp_path):
    log = rows(10, 20, 30, 40, 50, 40, 45)  # a resumed start, itself killed after its checkpoint at 40
    (tmp_path / "progress.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    assert read_progress(tmp_path) == surviving_rows(log)  # readers skip the undone rows before any trim
    assert trim_progress(tmp_path, 40) == 3  # 40 and 50 of the first start, 45 of the second
    assert read_progress(tmp_path) == [*log[:3], log[5]]
    undone = [json.loads(x) for x in (tmp_path / "progress-undone.jsonl").read_text().splitlines()]
    assert undone == [log[3], log[4], log[6]]
    assert trim_progress(tmp_path, 40) == 0  # nothing more to move
    assert trim_progress(tmp_path / "new", 0) == 0  # a new run has no log yet


def test_score_is_withheld_after_a_resume_until_the_restarted_games_have_turned_over(tmp_path):
    from ba3c.runlog import SETTLE_GAMES_PER_EMULATOR, settle_after_resumes

    assert SETTLE_GAMES_PER_EMULATOR == 2
    # 4 emulators; a new start at 0 (shared by every run: left alone), a resume at frame 30 (10 games)
    log = [{"frames": f, "games": g, "score_mean100": s} for f, g, s in
           [(10, 0, None), (20, 4, 5.0), (30, 10, 6.0), (40, 12, 2.0), (50, 17, 9.0), (60, 18, 7.0), (70, 19, 7.5)]]
    out = settle_after_resumes(log, [0, 30], emulators=4)
    assert [r["score_mean100"] for r in out] == [None, 5.0, 6.0, None, None, 7.0, 7.5]  # 8 games after 30: shown
    assert [r.get("score_mean100_unsettled") for r in out] == [None, None, None, 2.0, 9.0, None, None]
    assert settle_after_resumes(log, [0], emulators=4) == log
    # read_progress: the folder's own starts (metadata.json) and emulators (global batch / n_step)
    (tmp_path / "progress.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    (tmp_path / "config.json").write_text(json.dumps({"n_step": 5}))
    (tmp_path / "metadata.json").write_text(json.dumps({"frames_at_start": 30, "world": {"global_batch": 20},
                                                        "earlier_starts": [{"frames_at_start": 0}]}))
    assert read_progress(tmp_path) == out
