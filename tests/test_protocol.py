"""Game ids keep the protocol gymnasium registers for them (sticky actions, frameskip), and a run
says which protocol is in force."""
import json

import pytest

from ba3c.config import parse_config
from ba3c.errors import UserError
from conftest import small


def finalized(*argv):
    cfg, _ = parse_config(list(argv))
    return cfg.finalize()


@pytest.mark.parametrize("game_id,sticky", [("ALE/Breakout-v5", 0.25), ("Breakout-v0", 0.25),
                                            ("BreakoutNoFrameskip-v4", 0.0), ("Breakout-v4", 0.0),
                                            ("Breakout", 0.0), ("breakout", 0.0)])
def test_game_ids_train_with_their_registered_sticky_actions(game_id, sticky):
    cfg = finalized("-e", game_id)
    assert cfg.env == "breakout" and cfg.env_id == game_id
    assert cfg.protocol()["sticky_actions"] == sticky
    line = cfg.describe_protocol()
    assert f"sticky actions {sticky:g}," in line and "frameskip 4" in line


def test_random_frameskip_ids_say_the_fixed_frameskip_replaces_it():
    line = finalized("-e", "Breakout-v0").describe_protocol()
    assert "random frameskip of 2-4" in line and "fixed frameskip of 4" in line
    assert "Note" not in finalized("-e", "ALE/Breakout-v5").describe_protocol()
    assert "Note" not in finalized("-e", "BreakoutNoFrameskip-v4").describe_protocol()


def test_an_explicit_flag_wins_over_the_id_and_bare_names_take_the_models_protocol():
    assert finalized("-e", "ALE/Breakout-v5", "--sticky_actions", "0").protocol()["sticky_actions"] == 0.0
    bare = finalized("-e", "Breakout")
    assert bare.protocol({"sticky_actions": 0.25})["sticky_actions"] == 0.25  # e.g. --task eval of a v5 model
    assert finalized("-e", "ALE/Breakout-v5").protocol({"sticky_actions": 0.0})["sticky_actions"] == 0.25


def test_unregistered_ids_get_one_line_naming_registered_ones():
    with pytest.raises(UserError, match="not in gymnasium's registry.*BreakoutNoFrameskip-v4"):
        finalized("-e", "BreakoutDeterministic-v4")


def test_run_prints_and_records_its_protocol_and_eval_reuses_it(train, tmp_path):
    """The seeds' published form (-e Breakout-v0) runs; its first lines and metadata.json say sticky
    actions 0.25 and the fixed frameskip; an export evaluated under the bare name keeps 0.25."""
    args = [a for a in small() if a not in ("-e", "Breakout")]
    p = train(args + ["-e", "Breakout-v0", "--logdir", tmp_path, "--name", "v0", "--total_frames", 400])
    first = p.stdout.splitlines()[:4]
    assert any("protocol: Breakout-v0 -> ROM breakout" in x and "sticky actions 0.25" in x
               and "fixed frameskip of 4" in x for x in first), first
    meta = json.loads((tmp_path / "v0" / "metadata.json").read_text())
    assert meta["world"]["protocol"]["sticky_actions"] == 0.25 and meta["world"]["protocol"]["env_id"] == "Breakout-v0"
    ckpt = sorted((tmp_path / "v0" / "checkpoints").glob("*.ba3c"))[-1]
    train(["--task", "export", "--load", ckpt, "--output", tmp_path / "m.npz"])
    out = tmp_path / "e.json"
    p = train(["--task", "eval", "--load", tmp_path / "m.npz", "-e", "Breakout", "--episodes", 2, "--output", out])
    assert "sticky actions 0.25" in p.stdout
    assert json.loads(out.read_text())["protocol"]["sticky_actions"] == 0.25
