"""Checkpoints: one self-checking file per save, written atomically, the last few kept.

File layout: MAGIC, 8-byte little-endian header length, JSON header (meta + sha256 of the
payload), payload (an .npz of the arrays). A torn or bit-flipped file fails the checksum and is
reported; loading then falls back to the previous checkpoint.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ba3c.errors import UserError

MAGIC = b"BA3C-CKPT-1\n"
# What a network file must match to be loaded into a run: the model keys for weights alone (warm
# start, evaluation, exports), plus the optimizer for a full training state (resume).
MODEL_KEYS = ("game", "arch", "fc_neurons", "n_actions")
IDENTITY_KEYS = (*MODEL_KEYS, "optimizer")


# The settings that shape the updates: a resume may change them (that is how a run is retuned), but
# says so, since a changed default would otherwise change a resumed run unnoticed.
TRAINING_KEYS = ("learning_rate", "beta1", "beta2", "epsilon", "rms_decay", "rms_form", "lr_schedule", "clip_mode",
                 "grad_clip", "entropy_beta", "entropy_schedule", "value_coef", "gamma", "n_step", "reward_clip",
                 "lr_scaling")


def changed_settings(trained: dict[str, Any], now: dict[str, Any], keys: tuple[str, ...] = TRAINING_KEYS) -> list[str]:
    """'key old -> new' for each of `keys` the checkpoint's config (`trained`) has with another value."""
    return [f"{k} {trained[k]} -> {now.get(k)}" for k in keys if k in trained and trained[k] != now.get(k)]


def identity(game: str, arch: str, fc_neurons: int, n_actions: int, optimizer: str) -> dict[str, Any]:
    return dict(zip(IDENTITY_KEYS, (game, arch, fc_neurons, n_actions, optimizer)))


def check_compatible(want: dict[str, Any], meta: dict[str, Any], source: Any,
                     keys: tuple[str, ...] = IDENTITY_KEYS) -> None:
    """Refuse, in one line, a file whose identity differs from this run's on any of `keys`."""
    diffs = [f"{k} {meta.get(k)!r} (here {want[k]!r})" for k in keys if meta.get(k) != want[k]]
    if diffs:
        raise UserError(f"{source} does not fit this run: it has " + ", ".join(diffs)
                        + "; use matching flags or another --name")
_NAME = re.compile(r"^ckpt-(\d{12})\.ba3c$")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, fsync, rename over path, fsync the folder."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Indented JSON, written atomically (see write_atomic)."""
    write_atomic(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def encode(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    payload = buf.getvalue()
    header = json.dumps({"meta": meta, "sha256": hashlib.sha256(payload).hexdigest(),
                         "payload_bytes": len(payload)}).encode()
    return MAGIC + len(header).to_bytes(8, "little") + header + payload


def decode(data: bytes, where: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    if not data.startswith(MAGIC):
        raise UserError(f"{where} is not a BA3C checkpoint (bad magic bytes)")
    n = int.from_bytes(data[len(MAGIC):len(MAGIC) + 8], "little")
    start = len(MAGIC) + 8
    try:
        header = json.loads(data[start:start + n])
    except ValueError:
        raise UserError(f"{where} is corrupt (unreadable header)") from None
    payload = data[start + n:]
    if len(payload) != header.get("payload_bytes") or hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise UserError(f"{where} is corrupt or truncated (checksum mismatch)")
    with np.load(io.BytesIO(payload)) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, header["meta"]


def save(folder: Path, step: int, arrays: dict[str, np.ndarray], meta: dict[str, Any], keep: int) -> Path:
    """Write ckpt-<step>.ba3c atomically into folder, then delete all but the newest `keep`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ckpt-{step:012d}.ba3c"
    write_atomic(path, encode(arrays, meta))
    for old in list_checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoint files of a folder, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _NAME.match(p.name))


def load(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"checkpoint {path} does not exist") from None
    except OSError as e:
        raise UserError(f"cannot read checkpoint {path}: {e.strerror}") from None
    return decode(data, str(path))


def load_latest(folder: Path, warn: Any = print) -> tuple[Path, dict[str, np.ndarray], dict[str, Any]] | None:
    """Newest checkpoint of folder that passes its checksum; corrupt ones are reported and skipped."""
    for path in reversed(list_checkpoints(folder)):
        try:
            arrays, meta = load(path)
            return path, arrays, meta
        except UserError as e:
            warn(f"warning: {e}; trying the previous checkpoint")
    return None
