"""The overlap study's verdict (benchmarks/overlap_decision.py) on made-up runs: which records
count, frames to the target per arm, and where the --overlap mean lies against the synchronous seeds."""
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from overlap_decision import arms, study_runs, verdict  # noqa: E402


def run(batch, seed, overlap, reach_at, frames=3_000_000, time="2026-12-05T00:00:00", **kw):
    """A record whose score(100) climbs 0 -> 40 linearly to `frames`, crossing 20 at reach_at
    (None: stays at 10)."""
    curve = [(f, (20 * f / reach_at) if reach_at else 10.0, None) for f in range(0, frames + 1, 100_000)]
    return {"game": "breakout", "time": time, "global_batch": batch, "seed": seed, "overlap": overlap,
            "frames": frames, "curve": curve, "run_folder": f"b{batch}-s{seed}-{overlap}", "lr_scaling": "none",
            "lr_warmup": 0.0, "grad_compression": "none", **kw}


def test_only_todays_defaults_and_the_newest_record_of_a_folder_count():
    old = run(80, 1, True, 2.2e6, time="2026-11-24T00:00:00")
    warm = run(80, 2, True, 1.0e6, lr_warmup=1e6)
    first, newer = run(80, 3, True, 2.0e6, time="2026-12-05T00:00:00"), run(80, 3, True, 1.5e6, time="2026-12-06")
    kept = study_runs([old, warm, first, newer])
    assert kept == [newer]


def test_arms_frames_to_target_and_a_run_that_never_reached_it():
    rs = [run(80, 1, False, 1.5e6), run(80, 2, False, 2.0e6), run(80, 1, True, 1.8e6), run(80, 2, True, None)]
    sync, over = arms(rs, 20)
    assert (sync.overlap, over.overlap) == (False, True)
    assert sync.frames_to == (1.5e6, 2.0e6) and sync.reached == (True, True) and not sync.censored
    assert over.frames_to == (1.8e6, 3.0e6) and over.reached == (True, False) and over.censored
    assert over.score_at == (40 * 3 / 3.6, 10.0)  # score(100) at 3M frames: 20 x 3.0 / 1.8, and the flat run


def test_verdict_places_the_overlap_mean_against_the_synchronous_range():
    sync = arms([run(80, s, False, f) for s, f in ((1, 1.4e6), (2, 1.6e6), (3, 2.0e6))], 20)[0]
    for frames, where in ((1.3e6, "below"), (1.9e6, "inside"), (2.1e6, "above")):
        over = arms([run(80, 1, True, frames)], 20)[0]
        cost, got = verdict(over, sync)
        assert got == where and abs(cost - (frames - 1.6666666e6)) < 1e3


def arm(batch, overlap, frames, reached=True):
    from overlap_decision import Arm

    return Arm(batch, overlap, (1,), (frames,), (reached,), (None,))


def test_minutes_table_weighs_the_update_speedup_against_the_frames_cost():
    from overlap_decision import minutes_table

    free = minutes_table({80: {}}, [arm(80, True, 1.5e6), arm(80, False, 1.5e6)], ranks_list=(768,))
    ten_gbe = next(r for r in free if r["network"] == "10GbE TCP")
    assert ten_gbe["speedup"] > 1 and ten_gbe["overlap_wins"] is True  # no frames cost: the faster update wins
    costly = minutes_table({80: {}}, [arm(80, True, 3.0e6), arm(80, False, 1.5e6)], ranks_list=(768,))
    assert all(r["overlap_wins"] is False for r in costly)  # twice the frames: no network hides that much


def test_a_censored_overlap_arm_gives_a_lower_bound_that_can_only_lose():
    from overlap_decision import minutes_table

    # --overlap never reached the target (censored at 3M): its frames ratio 3.0/2.8 is a lower bound
    close = minutes_table({80: {}}, [arm(80, True, 3.0e6, False), arm(80, False, 2.8e6)], ranks_list=(768,))
    ten_gbe, ib = (next(r for r in close if r["network"] == n) for n in ("10GbE TCP", "100Gb InfiniBand EDR"))
    assert ten_gbe["ratio_is"] == "lower bound"
    assert ten_gbe["speedup"] > ten_gbe["frames_ratio"] and ten_gbe["overlap_wins"] is None  # undecided
    assert ib["speedup"] <= ib["frames_ratio"] and ib["overlap_wins"] is False  # loses even at the bound
    far = minutes_table({80: {}}, [arm(80, True, 3.0e6, False), arm(80, False, 1.0e6)], ranks_list=(768,))
    assert all(r["overlap_wins"] is False for r in far)


def test_a_batch_whose_runs_did_not_all_reach_the_target_is_compared_lower():
    from overlap_decision import common_target

    # linear climbs crossing 20 at 4.5M and 6M: at 3M they stand at 13.3 and 10
    rs = [run(1280, 1, False, 4.5e6), run(1280, 1, True, 6.0e6)]
    assert common_target(rs, 20) == 10  # 15 is out of reach for the slower run
    assert common_target([run(80, 1, False, 1.5e6)], 20) == 20
    flat = run(1280, 2, True, None)  # stays at 10: 10 is still common, 15 is not
    assert common_target([*rs, flat], 20) == 10
    assert common_target([run(1280, 1, False, 300e6)], 20) is None  # 0.2 at 3M: not even 3


def test_overlap_runs_below_the_ladder_are_compared_where_the_synchronous_runs_got_censored():
    from overlap_decision import comparison_target

    sync, stuck = run(1280, 1, False, 7.5e6), run(1280, 1, True, 300e6)  # 8 at 3M; 0.2 at 3M
    assert comparison_target([sync, stuck], 20) == (8, "synchronous")
    over = arms([sync, stuck], 8)[1]
    assert over.overlap and over.censored and over.frames_to == (3.0e6,)  # a lower bound
    assert comparison_target([sync, run(1280, 2, True, 6e6)], 20) == (8, "all")  # 10 at 3M
    assert comparison_target([run(1280, 1, False, 300e6), stuck], 20) == (20, "none")


def test_score_verdict_puts_a_lower_overlap_score_below_the_synchronous_range():
    from overlap_decision import score_verdict

    sync = arms([run(80, s, False, f) for s, f in ((1, 1.4e6), (2, 1.6e6))], 20)[0]  # 42.9 and 37.5 at 3M
    behind = arms([run(80, 1, True, 2.0e6)], 20)[0]  # 30 at 3M
    cost, where = score_verdict(behind, sync)
    assert where == "below" and abs(cost - (40.18 - 30.0)) < 0.01
    assert score_verdict(arms([run(80, 1, True, 1.5e6)], 20)[0], sync)[1] == "inside"  # 40 at 3M
