"""Game names: resolve the usual spellings to ALE ROM ids, list close matches for typos."""
from __future__ import annotations

import difflib
import functools
import re

from ba3c.errors import UserError


@functools.lru_cache(maxsize=1)
def rom_ids() -> tuple[str, ...]:
    import ale_py.roms

    return tuple(sorted(ale_py.roms.get_all_rom_ids()))


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def resolve_game(name: str) -> str:
    """Map "Breakout", "ALE/Breakout-v5", "BreakoutNoFrameskip-v4" or "breakout" to "breakout".

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
