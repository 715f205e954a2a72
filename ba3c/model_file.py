"""Load a trained network from a training checkpoint (.ba3c) or an exported .npz, with one-line
errors for missing, corrupt or mismatched files; export weights to a plain .npz."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ba3c.checkpoint import MODEL_KEYS as EXPORT_KEYS
from ba3c.errors import UserError
from ba3c.screen_mean import with_mean_screen


def read_model_file(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Model weights {'model/<name>': array} and metadata (game, arch, fc_neurons, n_actions)."""
    from ba3c import checkpoint

    path = Path(path)
    if not path.exists():
        raise UserError(f"model file {path} does not exist")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(str(arrays.pop("__meta__")))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            raise UserError(f"{path} is not a readable BA3C .npz export (corrupt, truncated or another "
                            "program's file)") from None
    elif path.suffix == ".ba3c":
        arrays, meta = checkpoint.load(path)
    else:
        raise UserError(f"{path}: unknown model format {path.suffix!r}; use a checkpoint (.ba3c) or an "
                        "exported .npz")
    missing = [k for k in EXPORT_KEYS if k not in meta]
    if missing:
        raise UserError(f"{path} lacks {', '.join(missing)} in its metadata; re-export it")
    return with_mean_screen({k: v for k, v in arrays.items() if k.startswith("model/")}), meta


def build_model(path: str | Path, game: str | None = None, seed: int = 0):
    """A PolicyValueNet holding the file's weights. When game is given, refuse a model whose
    action count differs from that game's."""
    from ba3c.games import action_meanings
    from ba3c.model import PolicyValueNet

    weights, meta = read_model_file(path)
    if game is not None:
        n = len(action_meanings(game))
        if n != meta["n_actions"]:
            raise UserError(f"{path} was trained on {meta['game']} with {meta['n_actions']} actions, "
                            f"but {game} has {n}; pass -e {meta['game']} or another model")
    model = PolicyValueNet(meta["arch"], int(meta["n_actions"]), int(meta["fc_neurons"]), seed=seed)
    names = [f"model/{n}" for n in model.names]
    if sorted(names) != sorted(weights):
        raise UserError(f"{path} holds weights {sorted(weights)[:3]}... that do not fit a {meta['arch']} "
                        f"network with fc_neurons {meta['fc_neurons']}")
    for name, var in zip(names, model.state):
        if tuple(weights[name].shape) != tuple(var.shape):
            raise UserError(f"{path}: {name} has shape {weights[name].shape}, the network needs {tuple(var.shape)}")
    model.set_weights([weights[n].astype(np.float32) for n in names])
    return model, meta


def export_npz(src: str | Path, out: str | Path, dtype: str = "float32") -> Path:
    """Write the weights (as dtype) and the metadata needed to rebuild the network into a plain .npz;
    the frames the model was trained for travel along when the source records them."""
    from ba3c.checkpoint import write_atomic

    out = Path(out)
    if out.suffix != ".npz":
        raise UserError(f"--output {out}: exports are .npz files")
    weights, meta = read_model_file(src)
    kept = {k: meta[k] for k in EXPORT_KEYS}
    frames = meta.get("frames", meta.get("counters", {}).get("frames"))
    if frames is not None:
        kept["frames"] = int(frames)
    if "protocol" in meta:  # the emulator protocol it was trained under: evaluation reuses it
        kept["protocol"] = meta["protocol"]
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: v.astype(dtype) for k, v in weights.items()},
                        __meta__=np.array(json.dumps(kept)))
    write_atomic(out, buf.getvalue())
    return out
