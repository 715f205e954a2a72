import dataclasses
import re

import pytest

from ba3c.config import Config, build_parser, derive_batch, parse_config
from ba3c.errors import UserError


def finalize(args):
    cfg, _ = parse_config(args)
    return cfg.finalize()


@pytest.mark.parametrize("given,want", [
    ((None, None, None), (80, 16, 5)),
    ((64, None, 8), (64, 8, 8)),
    ((64, 8, None), (64, 8, 8)),
    ((None, 4, 20), (80, 4, 20)),
    ((40, None, None), (40, 8, 5)),
    ((30, 5, 6), (30, 5, 6)),
])
def test_batch_trio_is_derived(given, want):
    assert derive_batch(*given) == want


@pytest.mark.parametrize("args,msg", [
    (["-b", "10", "--envs_per_rank", "3", "--n_step", "3"], "-b 10 != --envs_per_rank 3 x --n_step 3"),
    (["-b", "63"], "not a multiple of --n_step 5"),
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
        assert flags[-1] in text, f.name
    for short in ("-e", "-l", "-b", "-o"):
        assert re.search(rf"\s{short}\s", text)
    assert "(default: 0.001)" in text


def test_source_project_flag_names_kept():
    cfg = finalize(["-e", "ALE/Pong-v5", "-l", "3e-4", "-b", "32", "--n_step", "4", "-o", "rmsprop",
                    "--beta1", "0.9", "--beta2", "0.99", "--epsilon", "1e-3", "--fc_neurons", "256",
                    "--fc_init", "glorot_uniform", "--conv_init", "he_normal", "--save_every", "60", "--name", "x"])
    assert (cfg.env, cfg.batch_size, cfg.envs_per_rank, cfg.n_step) == ("pong", 32, 8, 4)
    assert cfg.fc_neurons == 256 and cfg.optimizer == "rmsprop" and cfg.name == "x"


def test_default_name_is_game_so_rerun_resumes():
    assert finalize(["-e", "BreakoutNoFrameskip-v4"]).name == "breakout"


def test_cli_prints_one_line_and_exits_2(train):
    p = train(["-e", "Breakot"], check=False, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == ["error: unknown game 'Breakot'; close matches: breakout"]
    p = train(["--envs_per_rank", "3", "-b", "10", "--n_step", "3"], check=False, timeout=120)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
