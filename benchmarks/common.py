"""Shared helpers: machine description and appending JSON result lines under benchmarks/results/."""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SCALE_TARGETS = (20, 50, 100, 200, 300)  # the score(100) targets the batch studies record frames to
sys.path.insert(0, str(ROOT))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def cpu_model(info: str | None = None) -> dict[str, Any]:
    """The CPU's model name and widest vector extension (from /proc/cpuinfo's text, `info`): machines
    of one kind here train 1-3x apart (AVX2 against AVX-512), so a throughput figure means little
    without them."""
    if info is None:
        try:
            info = Path("/proc/cpuinfo").read_text()
        except OSError:
            return {"cpu": platform.processor() or None, "vector": None}
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), None)
    flags = next((set(line.split(":", 1)[1].split()) for line in info.splitlines() if line.startswith("flags")), set())
    vector = next((v for v in ("avx512f", "avx2", "avx") if v in flags), None)
    return {"cpu": name, "vector": vector.replace("avx512f", "avx512") if vector else None}


def machine() -> dict[str, Any]:
    from ba3c.envs import available_cores

    return {"host": platform.node(), "cores": available_cores(), "cpu_count": os.cpu_count(),
            "python": platform.python_version(), **cpu_model()}


def record(bench: str, rows: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> Path:
    """Append one JSON line per row to benchmarks/results/<bench>.jsonl and echo them."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{bench}.jsonl"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(path, "a") as f:
        for r in rows:
            line = {"bench": bench, "time": stamp, **(extra or {}), **r}
            f.write(json.dumps(line) + "\n")
            print("JSON " + json.dumps(line))
    return path


def load(name: str) -> list[dict[str, Any]]:
    """Every record of benchmarks/results/<name>.jsonl ([] if there is none yet)."""
    path = RESULTS / f"{name}.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def with_partials(name: str) -> list[dict[str, Any]]:
    """Every record of benchmarks/results/<name>.jsonl (finished runs or stages) and every run's curve
    so far in batch-partial/ (runs still going, of any study: filter them); pick each run's record with
    furthest_per_run."""
    partials = [json.loads(p.read_text()) for p in sorted((RESULTS / "batch-partial").glob("*.json"))]
    return load(name) + partials


def partial_record(folder: str, name: str, row: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """Write (replace) benchmarks/results/<folder>/<name>.json: the state so far of a run still going,
    so that an interrupted session keeps its partial curve."""
    out = RESULTS / folder / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"bench": folder, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **(extra or {}), **row})
                   + "\n")
    tmp.replace(out)
    return out


def run_name_of(r: dict[str, Any]) -> str:
    return Path(r["run_folder"]).name


def furthest_per_run(records: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Any] = run_name_of
                     ) -> dict[Any, dict[str, Any]]:
    """Each run's furthest-trained record (most frames; the newest of equals), by `key` (the run
    folder's name). A resumed run is recorded again further on; a run restarted from frame 0 on a new
    machine (its folder and carry gone) writes partial curves behind its recorded stage, which stands
    until the restart passes it."""
    out: dict[Any, dict[str, Any]] = {}
    for r in sorted(records, key=lambda r: (r["frames"], r["time"])):
        out[key(r)] = r
    return out


def table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.3g}"
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(x.rjust(w) for x, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def first_frames(curve: Iterable[tuple[float, float | None]], threshold: float) -> float | None:
    """Frames at the first (frames, score) point whose score reached threshold; None if none did."""
    return next((f for f, score in curve if score is not None and score >= threshold), None)


def crossing(curve: Iterable[tuple], threshold: float) -> tuple[float | None, float | None]:
    """(frames, censored_after) of a study curve's first settled point at or above threshold. Curve
    points are (frames, score, noise scale[, unsettled score]); after a resume the score is withheld
    (None) and its biased reading kept as the fourth item (ba3c/runlog.py, settle_after_resumes).
    censored_after: when such a withheld stretch before the crossing had a reading at or above
    threshold, the frames of the last settled point before it: the run reached the threshold
    somewhere in (censored_after, frames]. None when the crossing is measured."""
    last_settled, high_unsettled = None, False
    for point in curve:
        f, score = point[0], point[1]
        unsettled = point[3] if len(point) > 3 else None
        if score is None:
            high_unsettled = high_unsettled or (unsettled is not None and unsettled >= threshold)
            continue
        if score >= threshold:
            return f, (last_settled if high_unsettled and last_settled is not None else None)
        last_settled, high_unsettled = f, False
    return None, None
