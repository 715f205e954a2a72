"""Game names: resolve the usual spellings to ALE ROM ids, list close matches for typos."""
from __future__ import annotations

import difflib
import functools
import re
from typing import NamedTuple

from ba3c.errors import UserError


@functools.lru_cache(maxsize=1)
def rom_ids() -> tuple[str, ...]:
    import ale_py.roms

    return tuple(sorted(ale_py.roms.get_all_rom_ids()))


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


FRAMESKIP = 4  # agent step = 4 emulator frames, the last two max-pooled (AtariVectorEnv's fixed skip)


class GameId(NamedTuple):
    """A game as the user named it, and the protocol that name stands for."""
    rom: str  # ALE ROM id, e.g. "breakout"
    env_id: str  # as typed: "ALE/Breakout-v5", "Breakout-v0", or a bare name
    sticky_actions: float | None  # the id's registered repeat_action_probability; None for a bare name
    note: str | None  # what differs from the registered id, said once at start


def resolve_game_id(name: str) -> GameId:
    """Read a gymnasium id's protocol from gymnasium's registry (ale-py registers every id there):
    "ALE/Breakout-v5" -> sticky actions 0.25, frameskip 4; "BreakoutNoFrameskip-v4" -> no sticky
    actions, frameskip 1, which trainers wrap with a 4-frame max-pooled skip, as here; "Breakout-v0"
    and "-v4" -> a random frameskip of 2-4 that AtariVectorEnv cannot play, replaced by a fixed 4.
    A bare name ("Breakout", "breakout", "space_invaders") means this project's protocol (no sticky
    actions). Raises UserError naming close matches when nothing fits."""
    name = name.strip()
    if not re.search(r"-v\d+$", name):
        return GameId(resolve_game(name), name, None, None)
    import gymnasium
    from gymnasium.error import Error as GymError

    _register_ale(gymnasium)
    try:
        kwargs = gymnasium.spec(name).kwargs
    except GymError:
        ids = [k for k in gymnasium.registry if str(gymnasium.registry[k].entry_point).startswith("ale_py")]
        close = difflib.get_close_matches(name, ids, n=4, cutoff=0.6)
        hint = ", ".join(close) if close else "a bare name such as 'Breakout', or see `python train.py --list-games`"
        raise UserError(f"unknown game id {name!r} (not in gymnasium's registry); close matches: {hint}") from None
    rom = kwargs.get("game")
    if kwargs.get("obs_type", "rgb") == "ram" or rom not in rom_ids():
        raise UserError(f"{name!r} is not a screen-image Atari id this trainer can play; use e.g. 'ALE/Breakout-v5'")
    skip = kwargs.get("frameskip", FRAMESKIP)
    note = None
    if isinstance(skip, (tuple, list)):
        note = (f"{name} registers a random frameskip of {skip[0]}-{skip[1] - 1} per step, which the vector "
                f"emulator cannot play: this run uses a fixed frameskip of {FRAMESKIP} (max-pooled) instead, "
                "with the id's sticky actions")
    elif skip not in (1, FRAMESKIP):
        note = f"{name} registers frameskip {skip}; this run uses {FRAMESKIP} (max-pooled)"
    return GameId(rom, name, float(kwargs.get("repeat_action_probability", 0.0)), note)


def _register_ale(gymnasium) -> None:
    import ale_py

    if "ALE/Breakout-v5" not in gymnasium.registry:
        gymnasium.register_envs(ale_py)


def resolve_game(name: str) -> str:
    """The ROM id of a name: "Breakout", "ALE/Breakout-v5", "BreakoutNoFrameskip-v4" or "breakout" ->
    "breakout" (the protocol an id stands for is resolve_game_id's).

    Raises UserError naming close matches when nothing fits.
    """
    base = name.strip()
    base = re.sub(r"^ALE/", "", base)
    base = re.sub(r"-v\d+$", "", base)
    base = re.sub(r"(NoFrameskip|Deterministic)$", "", base)
    wanted = _squash(base)
    by_squash = {_squash(r): r for r in rom_ids()}
    if wanted in by_squash:
        return by_squash[wanted]
    close = difflib.get_close_matches(wanted, list(by_squash), n=4, cutoff=0.6)
    hint = ", ".join(by_squash[c] for c in close) if close else "see `python train.py --list-games`"
    raise UserError(f"unknown game {name!r}; close matches: {hint}")


@functools.lru_cache(maxsize=None)
def action_meanings(game: str) -> tuple[str, ...]:
    """Names of the game's minimal action set, in the order the vector env uses."""
    import ale_py
    import ale_py.roms

    ale = ale_py.ALEInterface()
    ale.setLoggerMode(ale_py.LoggerMode.Error)
    ale.loadROM(ale_py.roms.get_rom_path(game))
    return tuple(a.name for a in ale.getMinimalActionSet())
