import numpy as np
import pytest

from ba3c.envs import AtariEnvs
from ba3c.errors import UserError
from ba3c.games import resolve_game


@pytest.mark.parametrize("name,game", [("Breakout", "breakout"), ("ALE/Breakout-v5", "breakout"),
                                       ("BreakoutNoFrameskip-v4", "breakout"), ("breakout", "breakout"),
                                       ("SpaceInvaders", "space_invaders"), ("ALE/Pong-v5", "pong"),
                                       ("MsPacmanNoFrameskip-v4", "ms_pacman")])
def test_name_forms_resolve(name, game):
    assert resolve_game(name) == game


def test_bad_name_lists_close_matches():
    with pytest.raises(UserError, match="close matches: space_invaders"):
        resolve_game("SpaceInvader")


@pytest.mark.parametrize("game,n_actions", [("breakout", 4), ("pong", 6), ("space_invaders", 6), ("seaquest", 18)])
def test_envs_for_several_games(game, n_actions):
    envs = AtariEnvs(game, 2, seed=1, threads=1)
    assert envs.n_actions == n_actions
    assert envs.obs.shape == (2, 4, 84, 84) and envs.obs.dtype == np.uint8
    res = envs.step(np.zeros(2, np.int64))
    assert res.obs.shape == (2, 4, 84, 84)
    envs.close()


def test_game_score_sums_raw_rewards_over_all_lives():
    """Breakout has 5 lives: each finished game's score must equal the raw reward summed over all
    its lives, and a game must contain 5 life endings; autoreset steps are flagged invalid."""
    envs = AtariEnvs("breakout", 4, seed=3, threads=1, reward_clip=1.0)
    rng = np.random.default_rng(0)
    running = np.zeros(4)
    lives_lost = np.zeros(4, int)
    checked = 0
    for _ in range(6000):
        res = envs.step(rng.integers(0, 4, 4))
        running += np.where(res.valid, res.rewards, 0)
        lives_lost += res.dones
        for i in np.flatnonzero(~res.valid):  # autoreset: the previous step ended game i
            assert lives_lost[i] == 5
            running[i] = lives_lost[i] = 0
        scores, lengths, _, _ = envs.pop_finished()
        if scores:
            checked += len(scores)
            assert all(s >= 0 for s in scores)
        if checked >= 6:
            break
    assert checked >= 6


def test_score_per_game_equals_sum_of_rewards():
    envs = AtariEnvs("breakout", 1, seed=5, threads=1)
    rng = np.random.default_rng(1)
    total, seen = 0.0, []
    for _ in range(5000):
        res = envs.step(rng.integers(0, 4, 1))
        if not res.valid[0]:
            seen.append(total)
            total = 0.0
        total += float(res.rewards[0]) if res.valid[0] else 0.0
        if len(seen) == 3:
            break
    assert envs.pop_finished()[0][:3] == seen


def test_fire_is_forced_after_life_loss_and_marked():
    envs = AtariEnvs("breakout", 2, seed=0, threads=1)
    rng = np.random.default_rng(0)
    prev_life_lost = np.zeros(2, bool)
    n_forced = 0
    for _ in range(800):
        res = envs.step(rng.integers(0, 4, 2))
        assert np.array_equal(res.forced, prev_life_lost & res.valid)
        assert (res.actions[res.forced] == 1).all()  # FIRE
        n_forced += res.forced.sum()
        prev_life_lost = res.dones
    assert n_forced > 0


def test_game_ends_where_the_emulator_resets_even_on_a_life_lost_at_the_frame_cap():
    """With a 400-frame cap every game lasts at most ~100 agent steps plus the no-op start. ale-py
    reports a life lost on the step that reaches the cap as terminated with lives > 0 and resets on
    the next step; that game must still close (not merge into the next) and the reset step must be
    flagged invalid."""
    envs = AtariEnvs("breakout", 16, seed=0, threads=1, max_episode_frames=400)
    rng = np.random.default_rng(0)
    invalid = 0
    for _ in range(1000):  # this seed has such games (the guess from lives merged them: length 201)
        res = envs.step(rng.integers(0, 4, 16))
        invalid += int((~res.valid).sum())
    scores, lengths, _, _ = envs.pop_finished()
    assert invalid >= 100 and len(scores) == invalid  # one closed game per emulator reset
    assert max(lengths) <= 400 // 4 + 2


def test_a_rom_whose_lives_never_reach_zero_still_ends_its_games():
    from ba3c.evaluate import play_games

    scores, lengths = play_games(lambda obs: np.zeros((len(obs), 18), np.float32), "adventure", 2, seed=0,
                                 max_episode_frames=2000)
    assert len(scores) == 2 and max(lengths) <= 2000 // 4 + 2


def test_a_game_cut_at_the_frame_cap_is_truncated_not_terminated():
    """Pong under NOOPs outlasts 400 frames: the step that reaches the cap is done and truncated (its
    return is bootstrapped), the next one is the emulator's reset; rollouts carry the flag."""
    from ba3c.rollout import Rollout, collect

    envs = AtariEnvs("pong", 1, seed=0, threads=1, noop_max=0, max_episode_frames=400)
    rollout = Rollout.empty(100, 1)
    collect(envs, lambda obs: np.zeros((len(obs), envs.n_actions), np.float32), np.random.default_rng(0), rollout)
    # 400 frames = 100 agent steps of 4 frames: only the last step is cut, and it is done as well
    assert np.flatnonzero(rollout.truncated[:, 0]).tolist() == [99]
    assert np.flatnonzero(rollout.dones[:, 0]).tolist() == [99]
    res = envs.step(np.zeros(1, np.int64))
    assert not res.valid[0] and not res.truncated[0]  # the reset step after the cut
    envs.close()
