"""McCandlish et al.'s updates-samples trade-off: the fit against points made from known parameters,
and against the two recorded batches of the large-batch study the scale issue quotes."""
import sys

import numpy as np
import pytest

from ba3c.critical_batch import TradeOff, bootstrap_tradeoff, fit_tradeoff, try_fit_medians
from conftest import ROOT


def test_fit_recovers_known_parameters_and_e_is_b_times_s():
    true = TradeOff(s_min=1000.0, b_crit=500.0)
    fit = fit_tradeoff([(b, true.updates(b)) for b in (80, 320, 1280, 5120)])
    assert fit.s_min == pytest.approx(1000.0) and fit.b_crit == pytest.approx(500.0)
    assert fit.e_min == pytest.approx(5e5)
    assert fit.samples(80) == pytest.approx(80 * fit.updates(80))
    assert fit.samples(80) == pytest.approx(fit.e_min * (1 + 80 / 500))  # E = E_min (1 + B / B_crit)


def test_two_recorded_batches_give_the_quoted_fit():
    """benchmarks/results/batch.jsonl, Breakout to score(100) 20: batch 80 after 6,519 updates, batch
    640 after 1,669 (value_coef 0.5, raw screen). B_crit ~ 450, S_min ~ 980, and batch 2,560 is
    predicted at ~1,150 updates, ~11.8M frames."""
    fit = fit_tradeoff([(80, 6519), (640, 1669)])
    assert 440 < fit.b_crit < 470 and 960 < fit.s_min < 990
    assert fit.updates(2560) == pytest.approx(1150, rel=0.01)
    assert 4 * fit.samples(2560) == pytest.approx(11.8e6, rel=0.01)


def test_points_that_do_not_fit_the_model_are_refused():
    with pytest.raises(ValueError, match="two global batches"):
        fit_tradeoff([(80, 100), (80, 120)])
    with pytest.raises(ValueError, match="do not fall as the batch grows"):
        fit_tradeoff([(80, 100), (640, 900)])  # more updates at the larger batch
    # The scale study to score(100) 200: batch 80 took 32,704 updates, batch 320 6,310, 5.2x for a 4x
    # batch: fewer samples at the larger batch too, which S_min (1 + B_crit / B) cannot give (<= 4x).
    with pytest.raises(ValueError, match="fall faster than 1 / batch"):
        fit_tradeoff([(80, 32704), (320, 6310)])
    fit, why = try_fit_medians({80: [32704.0], 320: [6310.0]})
    assert fit is None and "do not fit" in str(why) and why.label == "the updates fall faster than the model allows"
    assert try_fit_medians({80: [6519.0], 640: [1669.0]})[0] is not None


def test_planner_and_defaults_skip_a_target_whose_runs_do_not_fit_the_model(monkeypatch, capsys):
    """A target reached at two batches whose updates fall faster than 1 / batch gets no projection and
    a reason, and the default plan derives from the furthest target that does fit; no traceback."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import plan

    from ba3c.batch_plan import plan_batch

    truth = TradeOff(1000, 500)
    def run(b, updates_to_300):
        curve = [(0.0, 0.0, None), (4 * b * truth.updates(b), 100.0, None), (4 * b * updates_to_300, 300.0, None)]
        return {"global_batch": b, "run_folder": f"/x/b{b}", "frames": 4 * b * updates_to_300, "curve": curve}

    runs = [run(80, 32704), run(320, 6310)]
    monkeypatch.setattr(plan, "study_runs", lambda game, partials=True: runs)
    assert plan.report(768, "breakout", plan_batch(768), (100.0, 300.0)) == 0
    out = capsys.readouterr().out
    assert "score 300: no fit (reached at batch(es) 80, 320; the updates fall faster than 1 / batch" in out
    assert any(line.split()[:1] == ["100"] for line in out.splitlines())
    target, _, _, rows = plan.derive_default_envs(runs)
    assert target == 100.0 and rows


def test_bootstrap_spreads_with_the_seeds():
    true = TradeOff(1000.0, 500.0)
    rng = np.random.default_rng(1)
    runs = {b: list(true.updates(b) * rng.lognormal(0, 0.1, 3)) for b in (80, 320, 1280)}
    fits = bootstrap_tradeoff(runs, n=300, rng=np.random.default_rng(2))
    lo, hi = np.percentile([f.b_crit for f in fits], [5, 95])
    assert len(fits) > 250 and lo < 500 < hi and hi / lo < 4


def test_planner_reads_updates_per_batch_and_refuses_a_game_without_study_data():
    import subprocess
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scale_runs import is_scale_run, updates_by_batch
    from update_time import update_seconds

    # other studies' runs still going (their snapshots share batch-partial/) stay out of the fit
    assert is_scale_run({"overlap": False, "grad_compression": "none", "lr_scaling": "none", "lr_warmup": 0.0})
    assert not is_scale_run({"overlap": True}) and not is_scale_run({"grad_compression": "fp16"})
    assert not is_scale_run({"lr_scaling": "sqrt"}) and not is_scale_run({"lr_warmup": 5e5})
    # ...and so do runs with another optimizer than the study's, whatever the trainer's defaults are then
    from scale_runs import STUDY_OPTIMIZER

    study = {k: STUDY_OPTIMIZER[k] for k in ("optimizer", "learning_rate", "beta1", "beta2")}
    assert is_scale_run({"optimizer": {**study, "epsilon": 1e-8}, "argv": []})
    assert not is_scale_run({"optimizer": {**study, "beta2": 0.99}})
    assert not is_scale_run({"argv": ["train.py", "-l", "1e-3"]})  # before records kept it: set, so unknown
    assert not is_scale_run({"argv": ["train.py", "--beta2=0.99"]})
    # the study's scripts pin its optimizer through these flags, so its runs resume with it after the defaults move
    from scale_runs import study_flags

    from ba3c.config import parse_config

    pinned, _ = parse_config(study_flags())
    assert {k: getattr(pinned, k) for k in study} == study
    assert all('"${STUDY[@]}"' in (ROOT / "benchmarks" / f).read_text() for f in ("scale_study.sh", "overlap_study.sh"))
    from common import load

    assert all(is_scale_run(r) for r in load("scale") if not r.get("tag"))  # the committed study, all of it

    curve = [(f, s, None) for f, s in [(1e6, 5.0), (2e6, 25.0), (3e6, 60.0)]]
    runs = [{"global_batch": 80, "curve": curve}, {"global_batch": 320, "curve": [(f, s / 2, n) for f, s, n in curve]}]
    # batch 80 reaches 20 at 2M frames (6,250 updates of 320 frames), batch 320 at 3M; only 80 reaches 50
    assert updates_by_batch(runs, 20) == {80: [2e6 / 320], 320: [3e6 / 1280]}
    assert updates_by_batch(runs, 50) == {80: [3e6 / 320]}
    # the recorded compute fit and straggler sample: a 768-rank update takes longer than a 2-rank one
    assert update_seconds(768, 5, False, "10GbE TCP") > update_seconds(2, 5, False, "10GbE TCP") > 0
    p = subprocess.run([sys.executable, "plan.py", "--np", "768", "--game", "Pong"], cwd=ROOT / "benchmarks",
                       capture_output=True, text=True)
    assert p.returncode != 0 and "the scale study has no runs of pong" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    # a plan says when the trainer's defaults are not the optimizer the study trained with
    from plan import optimizer_settings

    p = subprocess.run([sys.executable, "plan.py", "--np", "64"], cwd=ROOT / "benchmarks", capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    assert ("the trainer's defaults are now" in p.stdout) == (optimizer_settings() != STUDY_OPTIMIZER)
    assert optimizer_settings() == {"optimizer": "adam", "learning_rate": 5e-4, "beta1": 0.9, "beta2": 0.99}


def test_no_fit_names_the_runs_that_trained_their_budget_without_reaching_the_target():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from plan import no_fit
    from scale_runs import not_reached

    curve = [(1e6, 150.0, None), (2e6, 261.4, None), (3e6, None, None, 280.0), (4e6, 122.0, None)]
    def run(batch, seed, frames, budget, bench="scale"):
        return {"bench": bench, "global_batch": batch, "seed": seed, "frames": frames, "curve": curve,
                "argv": ["train.py", "--total_frames", str(budget), "--stop_at_score", "300"]}

    runs = [run(80, 1, 4e6, 4e6),  # its whole budget, never at 300: named
            run(320, 1, 3e6, 4e6),  # stopped early (reached its stage's score, or cut): may yet reach it
            run(1280, 1, 4e6, 4e6, bench="batch-partial"),  # still going
            {**run(640, 1, 4e6, 4e6), "argv": ["train.py"]},  # argv does not say its budget
            {**run(2560, 1, 4e6, 9e9), "argv": ["train.py"], "frame_budget": 4e6}]  # a newer record: its field
    assert not_reached(runs, 300) == ["batch 80 seed 1 to 4.0M frames, best score(100) 261",
                                      "batch 2,560 seed 1 to 4.0M frames, best score(100) 261"]
    assert not_reached(runs, 200) == []  # reached at 2M frames
    assert no_fit(300, {}, runs) == ("score 300: no fit (reached at batch(es) none; the model needs two); "
                                     "not reached by batch 80 seed 1 to 4.0M frames, best score(100) 261; "
                                     "batch 2,560 seed 1 to 4.0M frames, best score(100) 261")
    assert no_fit(200, {80: [1.0]}, runs) == "score 200: no fit (reached at batch(es) 80; the model needs two)"


def test_a_target_reached_at_one_batch_bounds_a_larger_plan_from_above():
    """Batch 320 reached 300 in 8,060 updates: a plan at a larger batch gets that as an upper bound (if a
    larger batch needs no more updates), with minutes = updates x its update time; a smaller one none."""
    import re

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import plan
    import scale_runs

    from ba3c.batch_plan import plan_batch

    line = plan.upper_bound(768, plan_batch(768), {320: [8060.0]}, 300.0)
    assert line.startswith("score 300: bound: batch 320 had reached it by 8,060 updates")
    assert "batch 3,840 takes at most 8,060 updates" in line
    tcp = float(re.search(r"([\d.]+) \(10GbE TCP\)", line).group(1))
    assert tcp == pytest.approx(8060 * plan.update_seconds(768, 5, False, "10GbE TCP") / 60, abs=0.06)
    assert plan.upper_bound(1, plan_batch(1), {320: [8060.0]}, 300.0) is None  # batch 80: no bound from 320
    # a crossing hidden by a resume still bounds: the run had reached 300 by its first settled point
    hidden = {"global_batch": 1280, "curve": [(10.7e6, 104.0, None), (12e6, None, None, 250.0),
                                              (14.6e6, None, None, 316.0), (15.44e6, 357.0, None)]}
    assert scale_runs.updates_by_batch([hidden], 300) == {}
    assert scale_runs.updates_by_batch([hidden], 300, censored=True) == {1280: [15.44e6 / 5120]}
    assert "batch 1,280 had reached it by 3,016 updates" in plan.upper_bound(
        768, plan_batch(768), scale_runs.updates_by_batch([hidden], 300, censored=True), 300.0)


def test_train_plan_prints_the_plan_of_its_flags_without_training(tmp_path):
    """`train.py --plan N` with the usual batch flags: the plan those flags give N ranks, the study it
    projects from, a line per target (a projection or why there is none), nothing trained or written."""
    import subprocess
    import sys


    p = subprocess.run([sys.executable, "train.py", "--plan", "768", "--envs_per_rank", "2", "--logdir", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("768 ranks: global batch 7,680 (768 rank(s) x 2 env(s) x 5 steps)")
    assert "study: " in p.stdout and "run(s) of breakout" in p.stdout
    lines = p.stdout.splitlines()
    for target in ("20", "100", "300"):  # a projection row per network and mode, or the reason there is none
        assert (f"score {target}: no fit" in p.stdout) != any(line.split()[:1] == [target] for line in lines)
    assert list(tmp_path.iterdir()) == []  # no run folder: nothing trained
    # the projections are the study optimizer's: a plan of other flags says so and names the study's
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scale_runs import study_flags

    assert f"these flags train with Adam beta1 0.9, beta2 0.99, lr 0.0005: these projections are for the study's " \
           f"optimizer; train with {' '.join(study_flags())}" in p.stdout
    same = subprocess.run([sys.executable, "train.py", "--plan", "768", *study_flags()], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert same.returncode == 0 and "study: " in same.stdout and "these flags train with" not in same.stdout
    bad = subprocess.run([sys.executable, "train.py", "--plan", "768", "-e", "Pong"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "no runs of pong" in bad.stderr


def test_prediction_fits_the_other_batches_and_checks_the_run(monkeypatch, capsys, tmp_path):
    """benchmarks/predict.py: from synthetic runs that follow S(B) = 1000 (1 + 500 / B) exactly at
    batches 80, 320 and 1,280, the prediction for 5,120 is that curve's 1,097.7 updates (the 5,120
    run itself is left out of the fit), and --check calls a measured run within 30% validated."""
    import sys


    sys.path.insert(0, str(ROOT / "benchmarks"))
    import predict

    def run(batch, updates_to_20):  # score 20 reached after updates_to_20, 50 after twice as many
        f20 = 4 * batch * updates_to_20
        return {"global_batch": batch, "run_folder": f"b{batch}", "frames": 3 * f20,
                "curve": [(0.5 * f20, 5.0, None), (f20, 20.0, None), (1.1 * f20, 21.0, batch * 2.0),
                          (2 * f20, 50.0, None), (3 * f20, 60.0, None)]}

    truth = lambda b: 1000 * (1 + 500 / b)  # noqa: E731
    runs = [run(b, truth(b)) for b in (80, 320, 1280)] + [run(5120, 1.2 * truth(5120))]
    monkeypatch.setattr(predict, "study_runs", lambda game: runs)
    pred = predict.predict("breakout", 5120, [20, 50, 100])
    assert pred["targets"]["20"]["updates"] == pytest.approx(truth(5120), rel=1e-6)
    assert pred["targets"]["50"]["updates"] == pytest.approx(2 * truth(5120), rel=1e-6)
    assert pred["targets"]["20"]["b_crit"] == pytest.approx(500, rel=1e-6)
    assert "error" in pred["targets"]["100"]  # nobody reached 100: no fit, said so
    # the noise scale logged next after each run reached 20 (2 x its batch here), median over runs
    assert pred["targets"]["20"]["noise_scale_at_target"] == float(np.median([160, 640, 2560]))
    assert [r["global_batch"] for r in pred["runs_used"]] == [80, 320, 1280]
    import json

    (tmp_path / "p.json").write_text(json.dumps(pred))
    monkeypatch.setattr(predict, "prediction_path", lambda batch: tmp_path / "p.json")
    assert predict.check("breakout", 5120) == 0
    out = capsys.readouterr().out
    assert "validated" in out and "not validated" not in out  # measured 1.2x the prediction: within 30%
    rows = {r["target"]: r for r in json.loads((tmp_path / "prediction-b5120-check.json").read_text())["rows"]}
    # an exact fit has no spread: 1.2x lies outside its 5-95% band
    assert rows["20"]["ratio"] == pytest.approx(1.2, rel=1e-6) and rows["20"]["in_5_95"] is False
    assert rows["100"]["verdict"] == "no prediction"


def test_tradeoff_plot_curve_is_samples_equal_batch_times_updates():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from plot_tradeoff import curve

    fit = TradeOff(s_min=1000.0, b_crit=450.0)
    e, s = curve(fit, np.array([80.0, 450.0, 5120.0]))
    assert np.allclose(s, [fit.updates(80), 2000.0, fit.updates(5120)])  # the knee: S = 2 S_min at B_crit
    assert np.allclose(e, [80 * s[0], 2 * fit.e_min, 5120 * s[2]])


def test_batch_plan_search_trades_updates_against_update_time(monkeypatch, capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import plan

    from ba3c.batch_plan import plan_batch

    tiny, mid, big = (TradeOff(1000.0, b) for b in (1.0, 2000.0, 8000.0))
    assert plan.best_envs(256, tiny, "10GbE TCP")[0] == 1  # nothing to gain from samples: the shortest update
    e_mid, e_big = plan.best_envs(256, mid, "10GbE TCP")[0], plan.best_envs(256, big, "10GbE TCP")[0]
    assert 1 < e_mid < e_big  # a larger critical batch pays for more emulators
    assert plan.best_envs(1536, big, "10GbE TCP")[0] < e_big  # more ranks reach it with fewer each
    e, sec = plan.best_envs(256, mid, "10GbE TCP")
    assert sec == pytest.approx(mid.updates(256 * e * 5) * plan.update_seconds(256, e * 5, False, "10GbE TCP"))

    # report(): a study whose B_crit grows from score 20 to 300 prints the growth of the best plan
    runs = []
    for b in (80, 320, 1280):
        f20, f300 = 4 * b * TradeOff(1000, 500).updates(b), 4 * b * TradeOff(5000, 5000).updates(b)
        runs.append({"global_batch": b, "curve": [(0.0, 0.0, None), (f20, 20.0, None), (f300, 300.0, None)]})
    monkeypatch.setattr(plan, "study_runs", lambda game: runs)
    assert plan.report(256, "breakout", plan_batch(256), (20.0, 300.0)) == 0
    out = capsys.readouterr().out
    assert "fewest minutes" in out and "the best emulators per rank go from" in out
    # rows name the target as the flag spelled it ("20", not "20.0"): four projection rows and two plan rows each
    assert [line.split()[0] for line in out.splitlines()].count("20") == 6
    assert "one run at batch" in out  # one run per batch: the bootstrap has no seed spread to draw from
    # the best plan to 300 (B_crit 5,000) lies past the largest batch run (1,280): the plan says so
    assert "beyond the study's largest (1,280), where the fit is extrapolation only" in out
    growth = [float(line.rsplit("x", 1)[1]) for line in out.splitlines() if "the best emulators per rank go" in line]
    assert growth and all(g >= 2 for g in growth)


def test_plan_at_768_and_1536_ranks_projects_minutes_to_300_with_ranges(monkeypatch, capsys):
    """`make plan NP=768` / `NP=1536`: once two batches (here two seeds each) reach 300, a row per network
    and mode with updates, frames and minutes, each 'median (5%-95%)', the minutes = updates x update."""
    import re

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import plan

    from ba3c.batch_plan import plan_batch

    truth = TradeOff(5000, 5000)
    runs = [{"global_batch": b, "run_folder": f"/x/b{b}-s{s}",
             "curve": [(0.0, 0.0, None), (4 * b * truth.updates(b) * (1 + 0.08 * s), 300.0, None)]}
            for b in (80, 1280) for s in (1, 2)]
    monkeypatch.setattr(plan, "study_runs", lambda game: runs)
    for ranks in (768, 1536):
        assert plan.report(ranks, "breakout", plan_batch(ranks), (300.0,)) == 0
        rows = [line for line in capsys.readouterr().out.splitlines() if line.split()[:1] == ["300"]]
        projections = [r for r in rows if "TCP" in r or "InfiniBand" in r][:4]
        assert len(projections) == 4
        for row in projections:
            (m, lo, hi), = re.findall(r"([\d.]+) \(([\d.]+)-([\d.]+)\)$", row)
            assert float(lo) <= float(m) <= float(hi) and float(lo) < float(hi)
            update_ms, updates = re.search(r"(?:True|False)\s+([\d.]+)\s+([\d,]+) \(", row).groups()
            updates, update_ms = float(updates.replace(",", "")), float(update_ms)
            assert updates * update_ms / 60000 == pytest.approx(float(m), abs=0.06)


def test_sweep_projects_minutes_per_rank_count_records_and_draws(monkeypatch, capsys, tmp_path):
    """plan.py --sweep: minutes to each fitted target at every swept rank count, each with its default
    batch plan; targets without a fit are named; rows recorded and a plot written."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import plan

    from ba3c.batch_plan import plan_batch

    truth = TradeOff(1000, 500)
    runs = [{"global_batch": b, "run_folder": f"/x/b{b}-s{s}", "curve": [(0.0, 0.0, None),
             (4 * b * truth.updates(b) * (1 + 0.05 * s), 20.0, None)]} for b in (80, 1280) for s in (1, 2)]
    rows = []
    monkeypatch.setattr(plan, "study_runs", lambda game: runs)
    monkeypatch.setattr(plan, "record", lambda bench, new, extra: rows.extend(new) if bench == "plan_sweep" else None)
    assert plan.sweep("breakout", (20.0, 300.0), tmp_path / "sweep.png") == 0
    out = capsys.readouterr().out
    assert "score 300: no fit" in out and (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert [r["ranks"] for r in rows] == [n for n in plan.SWEEP_RANKS for _ in plan.NETWORKS]
    for r in rows:
        batch = plan_batch(r["ranks"], None, None, None, None, "auto").global_batch
        t = plan.update_seconds(r["ranks"], batch // r["ranks"], False, r["network"])
        assert r["global_batch"] == batch and r["minutes_5"] <= r["minutes"] <= r["minutes_95"]
        assert r["updates"] * t / 60 == pytest.approx(r["minutes"], rel=0.01)
        # two seeds 5% apart at each batch: the fit lies within ~10% of the generating curve
        assert r["updates"] == pytest.approx(truth.updates(batch), rel=0.1)


def test_noise_proxy_windows_and_the_plan_they_would_pick(capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import plan

    # 3M frames, a reading every 50k: B_simple 100 in the first 1M, 8,000 in the second (one wild
    # reading of 1e6 and a non-positive one among them), too few readings in the third.
    curve = [(f, f / 1e5, 100.0) for f in range(0, 1_000_000, 50_000)]
    curve += [(f, 20.0, 1e6 if f == 1_050_000 else -5.0 if f == 1_100_000 else 8000.0)
              for f in range(1_000_000, 2_000_000, 50_000)]
    curve += [(f, 30.0, 500.0 if f < 2_200_000 else None) for f in range(2_000_000, 3_000_001, 50_000)]
    windows = plan.noise_windows({"curve": curve})
    assert [w[0] for w in windows] == [0.0, 1e6]  # the third has 4 readings: skipped
    assert windows[0][1] == 100.0 and windows[1][1] == 8000.0  # medians: the wild reading does not move it
    assert windows[0][2] == pytest.approx(np.mean([f / 1e5 for f in range(0, 1_000_000, 50_000)]))
    run = {"run_folder": "runs/x", "global_batch": 80, "seed": 1, "curve": curve}
    plan.print_noise_proxy(256, [run])
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("x ")]
    early, late = int(rows[0][4]), int(rows[1][4])  # best emulators per rank on 10 GbE
    assert early == plan.best_envs(256, TradeOff(1.0, 100.0), "10GbE TCP")[0] and late > early


def test_a_run_recorded_finished_is_not_trained_again(monkeypatch, tmp_path):
    """bench_batch.py --skip_recorded: a study restarted where its run folders are gone retrains only
    the runs its results file does not already hold finished (frame budget or stop score)."""
    import json

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_batch

    import common

    rows = [{"run_folder": "/gone/runs/breakout-b80-none-s1", "frames": 3_000_000, "time": "t1", "curve": []},
            {"run_folder": "/gone/runs/breakout-b80-none-s2", "frames": 1_200_000, "time": "t2",
             "curve": [[1_000_000, 60.0, None], [1_200_000, 101.0, None]]}]
    (tmp_path / "study.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    done = bench_batch.recorded_finished
    assert done("study", "breakout-b80-none-s1", 3_000_000)["time"] == "t1"
    assert done("study", "breakout-b80-none-s2", 3_000_000) is None  # cut short, no stop score asked
    assert done("study", "breakout-b80-none-s2", 40_000_000, stop_at_score=100)["time"] == "t2"
    assert done("study", "breakout-b80-none-s2", 40_000_000, stop_at_score=300) is None  # next stage
    assert done("study", "breakout-b80-none-s1-overlap", 3_000_000) is None
    assert done("missing", "breakout-b80-none-s1", 1) is None


def test_a_crossing_inside_a_withheld_stretch_is_censored_and_left_out_of_the_fit():
    """After a resume the study withholds score(100) (None, the biased reading kept as a fourth item):
    a target first seen there was reached somewhere in the stretch, so the fit leaves that run out."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scale_runs import censored_runs, updates_by_batch

    from common import crossing

    # resumed at 3M: readings 6 -> 19 while withheld, 20.4 once settled: measured at 4.6M
    low = [(3.0e6, 9.8, None), (3.3e6, None, None, 6.0), (4.5e6, None, None, 19.4), (4.6e6, 20.4, None)]
    assert crossing(low, 20) == (4.6e6, None)
    # resumed at 6.8M: the withheld stretch read 33 -> 92 -> 167; settled at 10.4M at 178
    high = [(6.8e6, 46.3, None), (8.0e6, None, None, 33.0), (8.9e6, None, None, 92.0),
            (10.2e6, None, None, 167.0), (10.4e6, 178.3, None)]
    assert crossing(high, 50) == (10.4e6, 6.8e6) and crossing(high, 100) == (10.4e6, 6.8e6)
    assert crossing(high, 200) == (None, None) and crossing([(1e6, None, None), (2e6, 25.0, None)], 20) == (2e6, None)
    runs = [{"global_batch": 1280, "run_folder": "/r/b1280-s1", "curve": low + high},
            {"global_batch": 80, "run_folder": "/r/b80-s1", "curve": [(1e6, 10.0, None), (2e6, 60.0, None)]}]
    assert updates_by_batch(runs, 20) == {1280: [4.6e6 / 5120], 80: [2e6 / 320]}
    assert updates_by_batch(runs, 50) == {80: [2e6 / 320]}  # batch 1,280's crossing of 50 is censored
    assert censored_runs(runs, 50) == ["b1280-s1 (6.80-10.40M frames)"]


def test_the_study_table_prints_a_censored_crossing_as_its_interval():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from plot_batch import markdown_table

    run = {"global_batch": 1280, "lr_scaling": "none", "lr_warmup": 0.0, "value_coef": 1.0, "seed": 1,
           "frames": 10_444_800, "curve": [(1e6, 1.4, 379.0), (10_444_800, 176.4, 3496.0)],
           "frames_to_20": 4_618_240, "frames_to_50": 10_434_560, "frames_to_50_censored_after": 6_492_160}
    row = markdown_table([run], (20, 50, 100)).splitlines()[-1].split(" | ")
    assert row[10:13] == ["4.62M", "6.49-10.43M", "-"]


def test_a_censored_crossing_spreads_the_bootstrap_across_its_interval():
    """One measured run per batch gives no spread; a second run known only to lie in an interval (its
    crossing hidden after a resume) spreads the fits over that interval, and no further."""
    measured = {320: [8060.0], 1280: [2700.0]}
    fixed = bootstrap_tradeoff(measured, n=200)
    assert len({round(f.updates(3840)) for f in fixed}) == 1
    spread = bootstrap_tradeoff({320: [8060.0], 1280: [2700.0, (2090.0, 3016.0)]}, n=400)
    at_1280 = np.array([f.updates(1280) for f in spread])
    assert at_1280.min() >= 2090 - 1e-6 and at_1280.max() <= 3016 + 1e-6
    assert np.percentile(at_1280, 95) - np.percentile(at_1280, 5) > 200


def test_plan_keeps_a_censored_run_out_of_the_point_but_in_the_range(monkeypatch, capsys):
    """Two batches measured once each give a projection without spread; a second run at 1,280 whose
    crossing of 300 was withheld after a resume is named, and widens the range without moving the fit."""
    import re

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import plan

    from ba3c.batch_plan import plan_batch

    def run(b, seed, updates, censored_after=None):
        f = 4 * b * updates
        curve = [(0.0, 0.0, None), (f, 300.0, None)]
        if censored_after is not None:  # a resume at censored_after updates, the score withheld until f
            curve = [(0.0, 0.0, None), (4 * b * censored_after, 250.0, None), (f - 1, None, None, 310.0),
                     (f, 305.0, None)]
        return {"global_batch": b, "seed": seed, "run_folder": f"/x/b{b}-s{seed}", "frames": f, "curve": curve}

    measured = [run(320, 1, 8060), run(1280, 1, 2700)]
    ranges = {}
    for name, runs in (("measured", measured), ("with censored", measured + [run(1280, 2, 3016, censored_after=2090)])):
        monkeypatch.setattr(plan, "study_runs", lambda game, runs=runs: runs)
        assert plan.report(768, "breakout", plan_batch(768), (300.0,)) == 0
        out = capsys.readouterr().out
        row = next(line for line in out.splitlines() if line.split()[:2] == ["300", "10GbE"])
        mid, lo, hi = (float(x.replace(",", "")) for x in re.search(r"([\d,]+) \(([\d,]+)-([\d,]+)\)", row).groups())
        ranges[name] = (lo, mid, hi)
        assert ("in the range only, as an interval" in out) == (name == "with censored")
    assert ranges["measured"][0] == ranges["measured"][2]  # one run per batch: no spread
    lo, _, hi = ranges["with censored"]
    # batch 1,280's point now lies anywhere in 2,090-3,016: the fits through its ends bound the range
    ends = sorted(fit_tradeoff([(320, 8060), (1280, u)]).updates(3840) for u in (2090, 3016))
    assert ends[0] - 1 <= lo < hi <= ends[1] + 1


def test_a_higher_target_never_projects_fewer_updates_than_a_lower_one():
    """Fits to 100 and 300 rest on different batches; far beyond the batches of the fit to 300 its
    curve may fall below the fit to 100's, which no run can do (it passes 100 first): the projection
    to 300 is raised to 100's there and says so, and left alone where it is above."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from plan import updates_quantiles

    to_100, to_300 = [TradeOff(861.0, 1491.0)] * 3, [TradeOff(605.0, 3941.0)] * 3
    at_1280 = updates_quantiles({300.0: to_300, 100.0: to_100}, 1280)
    assert at_1280[300.0][1] == pytest.approx(to_300[0].updates(1280)) and at_1280[300.0][3] is None
    at_7680 = updates_quantiles({100.0: to_100, 300.0: to_300}, 7680)
    assert to_300[0].updates(7680) < to_100[0].updates(7680)
    assert at_7680[300.0][:3] == pytest.approx((to_100[0].updates(7680),) * 3) and at_7680[300.0][3] == 100.0
    assert at_7680[100.0][3] is None


def test_the_recorded_study_projects_minutes_to_300_at_768_and_1536_ranks():
    """`make plan NP=768` / `NP=1536` on the committed study (scale.jsonl, finished runs only, so the
    answer does not move while a run trains): a synchronous 10 GbE row to 300 with 'median (5%-95%)'
    updates and minutes with a range that is not empty."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import plan
    import scale_runs

    from ba3c.batch_plan import plan_batch

    runs = scale_runs.study_runs("breakout", partials=False)
    for ranks in (768, 1536):
        found = list(plan.fitted_targets(runs, [100.0, 300.0]))
        assert [t for t, _, _ in found] == [100.0, 300.0], "the study fits 300: make scale-study records it"
        job = plan_batch(ranks)
        lo, mid, hi, _ = plan.updates_quantiles({t: fits for t, _, fits in found}, job.global_batch)[300.0]
        assert 0 < lo < hi and lo <= mid <= hi
        t = plan.update_seconds(ranks, job.rank_batch, False, "10GbE TCP")
        # a sanity bound the fit would break if it went wild: the measured runs took 2,469-8,060 updates
        assert 0 < lo * t / 60 < hi * t / 60 < 60
