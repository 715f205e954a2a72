import dataclasses
import re
import sys

import pytest

from ba3c.batch_plan import derive_rank_batch, plan_batch
from ba3c.config import MAX_SEED, Config, build_parser, parse_config
from ba3c.errors import UserError
from conftest import ROOT


def finalize(args):
    cfg, _ = parse_config(args)
    return cfg.finalize()


@pytest.mark.parametrize("given,want", [
    ((None, None, None), (None, None, None)),
    ((None, 16, None), (80, 16, 5)),
    ((64, None, 8), (64, 8, 8)),
    ((64, 8, None), (64, 8, 8)),
    ((None, 4, 20), (80, 4, 20)),
    ((40, None, None), (40, 8, 5)),
    ((30, 5, 6), (30, 5, 6)),
    ((32, None, None), (32, 8, 4)),
])
def test_batch_trio_is_derived(given, want):
    assert derive_rank_batch(*given) == want


@pytest.mark.parametrize("args,msg", [
    (["-b", "10", "--envs_per_rank", "3", "--n_step", "3"], "-b 10 != --envs_per_rank 3 x --n_step 3"),
    (["-b", "63", "--n_step", "5"], "not a multiple of --n_step 5"),
    (["-b", "0"], "must be a positive integer"),
    (["-l", "-1"], "--learning_rate must be a positive number"),
    (["-o", "sgd"], "invalid choice: 'sgd'"),
    (["--gamma", "1.5"], "--gamma must be in (0, 1]"),
    (["--beta1", "1"], "--beta1 must be in [0, 1)"),
    (["-l", "nan"], "expected a finite number"),
    (["--total_frames", "ten"], "expected an integer"),
    (["--lr_schedule", "sometimes"], "--lr_schedule 'sometimes' is not"),
    (["-e", "Breakot"], "close matches: breakout"),
    (["--name", "a/b"], "plain folder name"),
    (["--seed", str(2**31 - 1)], "--seed must be at most"),
    (["--global_batch", "640", "-b", "80"], "either --global_batch or the per-rank"),
    (["--lr_warmup", "-5"], "--lr_warmup must be >= 0"),
])
def test_nonsense_gives_one_line_user_error(args, msg):
    with pytest.raises(UserError) as e:
        finalize(args)
    assert msg in str(e.value)
    assert "\n" not in str(e.value)


def test_help_lists_every_flag_with_default():
    text = build_parser().format_help()
    for f in dataclasses.fields(Config):
        flags = f.metadata.get("flags") or (f"--{f.name}",)
        assert (flags[-1] in text) != bool(f.metadata.get("internal")), f.name  # derived fields are no flags
    for short in ("-e", "-l", "-b", "-o"):
        assert re.search(rf"\s{short}\s", text)
    assert "(default: 0.0005)" in text  # -l, the learning rate


def test_source_project_flag_names_kept():
    cfg = finalize(["-e", "ALE/Pong-v5", "-l", "3e-4", "-b", "32", "--n_step", "4", "-o", "rmsprop",
                    "--beta1", "0.9", "--beta2", "0.99", "--epsilon", "1e-3", "--fc_neurons", "256",
                    "--fc_init", "glorot_uniform", "--conv_init", "he_normal", "--save_every", "60", "--name", "x"])
    assert (cfg.env, cfg.batch_size, cfg.envs_per_rank, cfg.n_step) == ("pong", 32, 8, 4)
    assert cfg.fc_neurons == 256 and cfg.optimizer == "rmsprop" and cfg.name == "x"


def test_seed_projects_best_results_command_parses_as_written():
    """Distributed-BA3C's README command, minus its launcher flags (-n -g -c --use_sync --ps
    --simulator_procs --fc_splits), including its initialiser names."""
    cfg = finalize("-o adam --name neptune_job_name -l 0.001 -b 32 --fc_neurons 128 --fc_init uniform "
                   "--conv_init normal --epsilon 1e-8 --beta1 0.8 --beta2 0.75 -e Breakout-v0 --eval_node "
                   "--record_node --save_every 1000".split())
    assert (cfg.env, cfg.batch_size, cfg.fc_init, cfg.conv_init) == ("breakout", 32, "uniform", "normal")
    assert (cfg.envs_per_rank, cfg.n_step) == (8, 4)
    assert cfg.eval_node and cfg.record_node


def test_largest_valid_seed_is_accepted():
    assert finalize(["--seed", str(MAX_SEED)]).seed == MAX_SEED


@pytest.mark.parametrize("ranks,want_envs,want_global", [(1, 16, 80), (4, 16, 320), (8, 16, 640), (24, 13, 1560),
                                                          (64, 6, 1920), (128, 5, 3200), (384, 2, 3840),
                                                          (512, 2, 5120), (768, 1, 3840), (1536, 1, 7680)])
def test_default_batch_follows_the_rank_count(ranks, want_envs, want_global):
    plan = plan_batch(ranks)
    assert (plan.envs_per_rank, plan.n_step, plan.global_batch) == (want_envs, 5, want_global)
    assert f"global batch {want_global:,}" in plan.summary()
    if ranks > 1:
        assert "fewest minutes" in plan.why and f"{ranks:,} ranks" in plan.why
    # 384 and 768 ranks fall in steps whose emulators would pass the study's largest batch (5,120)
    assert ("capped at the study's largest global batch" in plan.why) == (ranks in (384, 768))


def test_default_batch_plan_matches_the_recorded_scale_study():
    """ba3c/batch_plan.py's table is what the finished study runs imply (benchmarks/plan.py --defaults):
    when a study stage is recorded that moves the fit, this fails until the table is regenerated."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from plan import derive_default_envs
    from scale_runs import study_runs

    from ba3c.batch_plan import DEFAULT_ENVS_BY_RANKS, DEFAULT_MAX_GLOBAL_BATCH, DEFAULT_PLAN_TARGET

    target, steps, largest, rows = derive_default_envs(study_runs("breakout", partials=False))
    assert (target, steps, largest) == (DEFAULT_PLAN_TARGET, DEFAULT_ENVS_BY_RANKS, DEFAULT_MAX_GLOBAL_BATCH), \
        "make plan-defaults, paste its line"
    assert [r["from_ranks"] for r in rows] == [r for r, _ in steps]
    # never slower than the rule it replaced (global batch <= 640) by the same model
    assert all(r["minutes"] <= r["minutes_cap_640"] + 1e-9 for r in rows)


def test_explicit_batch_flags_win_over_the_default_cap():
    assert plan_batch(1536, envs=16).global_batch == 1536 * 80
    assert plan_batch(1536, batch=32).global_batch == 1536 * 32  # the seed's -b 32 per worker
    assert plan_batch(4, global_batch=640).envs_per_rank == 32
    assert plan_batch(1, global_batch=10240).envs_per_rank == 2048  # one process may hold many


@pytest.mark.parametrize("kw,msg", [(dict(ranks=8, global_batch=100), "not a positive multiple of 8 rank(s)"),
                                    (dict(ranks=1536, global_batch=1536), "not a positive multiple"),
                                    (dict(ranks=2, envs=1001), "at most 1000")])
def test_impossible_batches_are_refused_in_one_line(kw, msg):
    with pytest.raises(UserError, match=re.escape(msg)):
        plan_batch(**kw)


@pytest.mark.parametrize("rule,factor", [("none", 1.0), ("linear", 32.0), ("sqrt", 32 ** 0.5)])
def test_lr_rule_scales_with_global_batch_over_80(rule, factor):
    assert plan_batch(1, global_batch=2560, lr_scaling=rule).lr_factor == pytest.approx(factor)


def test_default_name_is_game_so_rerun_resumes():
    assert finalize(["-e", "BreakoutNoFrameskip-v4"]).name == "breakout"


def test_cli_prints_one_line_and_exits_2(train):
    p = train(["-e", "Breakot"], check=False, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == ["error: unknown game 'Breakot'; close matches: breakout"]
    p = train(["--envs_per_rank", "3", "-b", "10", "--n_step", "3"], check=False, timeout=120)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
