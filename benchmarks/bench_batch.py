#!/usr/bin/env python
"""Large-batch study: train one game at one global batch for a frame budget, then append the
score-vs-frames curve and the gradient-noise-scale trace to benchmarks/results/batch.jsonl.

K ranks with N envs each compute the same averaged gradient as one process with K*N envs (tested
in tests/test_distributed.py), so a big job's global batch is studied here as one process.

    python benchmarks/bench_batch.py --global_batch 2560 --frames 5e6 [--lr_scaling sqrt] [--lr_warmup 1e6]

--ranks K trains under `mpirun -np K` instead (one thread per rank), for what only several ranks
have: e.g. `--ranks 2 --results compression -- --grad_compression fp16` measures the learning cost of
16-bit gradients. The run folder is benchmarks/runs/<game>-b<batch>-<rule>[-w<warmup>]-s<seed>
[-r<K>][-fp16][-overlap][-<tag>]; the trainer resumes it, so an interrupted study continues where it stopped.
--record-only records what a folder holds now. --carry keeps the run's newest checkpoint and curve in
benchmarks/carry/<run>/ (to commit) and restores it where the run folder is gone (benchmarks/carry.py).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import carry

from common import ROOT, SCALE_TARGETS, crossing, load, machine, record

sys.path.insert(0, str(ROOT))
from ba3c.runlog import read_progress  # noqa: E402

RUNS = ROOT / "benchmarks" / "runs"


def run_name(game: str, batch: int, rule: str, warmup: float, seed: int, ranks: int = 1,
             compression: str = "none", overlap: bool = False, tag: str = "") -> str:
    return (f"{game.lower()}-b{batch}-{rule}" + (f"-w{warmup:g}" if warmup else "") + f"-s{seed}"
            + (f"-r{ranks}" if ranks > 1 else "") + ("" if compression == "none" else f"-{compression}")
            + ("-overlap" if overlap else "") + (f"-{tag}" if tag else ""))


OPTIMIZER_KEYS = ("optimizer", "learning_rate", "beta1", "beta2", "epsilon", "lr_schedule", "clip_mode", "grad_clip")


def summarize(folder: Path) -> dict:
    rows = read_progress(folder)
    cfg = json.loads((folder / "config.json").read_text())
    meta = json.loads((folder / "metadata.json").read_text())
    last = rows[-1]
    fps = [r["fps"] for r in rows if r.get("fps")]
    # Folders written before --global_batch existed hold a one-process run: global batch = -b.
    out = {"game": cfg["env"], "global_batch": cfg.get("global_batch") or cfg["batch_size"],
           "lr_scaling": cfg["lr_scaling"], "lr_warmup": cfg.get("lr_warmup", 0.0),
           "learning_rate": cfg["learning_rate"], "seed": cfg["seed"],
           "value_coef": cfg["value_coef"], "frame_budget": cfg.get("total_frames"),
           "frames": last["frames"], "updates": last["updates"],
           "wall_time": last["wall_time"], "score_mean100": last["score_mean100"],
           "noise_scale": last.get("noise_scale"), "run_folder": str(folder),
           "ranks": meta.get("world", {}).get("size", 1),
           "grad_compression": cfg.get("grad_compression", "none"), "overlap": cfg.get("overlap", False),
           "entropy": last.get("entropy"), "value_std": last.get("value_std"),
           # the median of the logged rows: a row that spans a SIGSTOP pause is one slow outlier
           "median_fps": statistics.median(fps) if fps else None,
           # the optimizer as trained, so a study's points survive a change of the defaults (None: not recorded)
           "optimizer": {k: cfg.get(k) for k in OPTIMIZER_KEYS}}
    for t in SCALE_TARGETS:
        f, censored_after = crossing(((r["frames"], r.get("score_mean100"), None, r.get("score_mean100_unsettled"))
                                      for r in rows), t)
        out[f"frames_to_{t}"] = f
        if censored_after is not None:  # reached somewhere in (censored_after, f]: see common.crossing
            out[f"frames_to_{t}_censored_after"] = censored_after
        at = next((r for r in rows if r["frames"] == f), None)
        out[f"noise_scale_at_{t}"] = at.get("noise_scale") if at else None
        out[f"updates_to_{t}"] = at.get("updates") if at else None
    out["git_commit"], out["argv"] = meta.get("git_commit"), meta.get("argv")
    # Which code trained which frames, when a run was resumed on newer code: (first frame, commit).
    out["code_history"] = [(s.get("frames_at_start"), s.get("git_commit"))
                           for s in (*meta.get("earlier_starts", []), meta)]
    # a withheld score's biased reading as a fourth item (common.crossing reads it)
    # A run that grew its batch (--grow_envs): (frames, updates, global batch) where each batch began (the
    # trainer logs a row at the update it grows after, so the start of each batch is exact).
    if len({r.get("global_batch") for r in rows if r.get("global_batch")}) > 1:
        out["batch_changes"] = [(prev.get("frames", 0), prev.get("updates", 0), r["global_batch"])
                                for prev, r in zip([{}] + rows, rows)
                                if r.get("global_batch") and prev.get("global_batch") != r["global_batch"]]
    out["curve"] = [(r["frames"], r["score_mean100"], r.get("noise_scale"))
                    + ((r["score_mean100_unsettled"],) if r.get("score_mean100_unsettled") is not None else ())
                    for r in rows]
    return out


def last_row(folder: Path) -> dict | None:
    rows = read_progress(folder)
    return rows[-1] if rows else None


def train_until(cmd: list[str], folder: Path, snapshot_minutes: float, labels: dict | None = None,
                keep_carry: bool = False) -> int:
    """Run the trainer (its own --stop_at_score ends it at the study's score); every snapshot_minutes
    record its curve so far (with `labels`) and, with `keep_carry`, refresh its carry (benchmarks/carry.py)."""
    import time

    from common import partial_record

    proc = subprocess.Popen(cmd, cwd=ROOT)
    next_snapshot = time.time() + 60 * snapshot_minutes
    while proc.poll() is None:
        time.sleep(10)
        if time.time() >= next_snapshot and last_row(folder):
            partial_record("batch-partial", folder.name, {**summarize(folder), **(labels or {})},
                           {"machine": machine()})
            if keep_carry:
                carry.save(folder)
            next_snapshot = time.time() + 60 * snapshot_minutes
    if keep_carry:  # the checkpoint written on exit
        carry.save(folder)
    return proc.returncode


def recorded_finished(results: str, name: str, frames: int, stop_at_score: float | None = None) -> dict | None:
    """The newest record of run `name` in results/<results>.jsonl that finished: reached `frames`, or
    a score(100) of `stop_at_score` on its curve. The proof that a run whose folder is gone (a new
    machine) need not be trained again."""
    def finished(r: dict) -> bool:
        return r.get("frames", 0) >= frames or (stop_at_score is not None and any(
            c[1] is not None and c[1] >= stop_at_score for c in r.get("curve", [])))

    done = [r for r in load(results) if Path(r.get("run_folder", "")).name == name and finished(r)]
    return done[-1] if done else None


def evaluate_last(folder: Path, game: str, games: int) -> dict:
    """The standard protocol's `games`-game evaluation of the folder's last checkpoint (train.py
    --task eval), written beside the run as eval-<checkpoint>.json; returns its summary."""
    from ba3c.checkpoint import list_checkpoints, load

    ckpts = list_checkpoints(folder / "checkpoints")
    if not ckpts:
        sys.exit(f"{folder} has no checkpoint to evaluate")
    out = folder / f"eval-{ckpts[-1].stem}.json"
    if not out.exists():  # a rerun reuses the evaluation of the same checkpoint
        subprocess.run([sys.executable, str(ROOT / "train.py"), "--task", "eval", "--load", str(ckpts[-1]), "-e", game,
                        "--episodes", str(games), "--output", str(out)], cwd=ROOT, check=True)
    e = json.loads(out.read_text())
    frames = load(ckpts[-1])[1]["counters"]["frames"]
    return {"eval_checkpoint": ckpts[-1].name, "eval_frames": frames, "eval_games": e["games"], "eval_mean": e["mean"],
            "eval_std": e["std"], "eval_median": e["median"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--game", default="Breakout")
    p.add_argument("--global_batch", type=int, default=80)
    p.add_argument("--frames", type=float, default=5e6)
    p.add_argument("--lr_scaling", default="none", choices=("none", "sqrt", "linear"))
    p.add_argument("--lr_warmup", type=float, default=0.0, help="frames of learning-rate warm-up")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="per rank; 0 = all cores for one rank, 1 with --ranks")
    p.add_argument("--ranks", type=int, default=1, help="train under mpirun -np RANKS")
    p.add_argument("--results", default="batch", help="append to benchmarks/results/<RESULTS>.jsonl")
    p.add_argument("--tag", default="", help="a name for the extra train.py flags after --: it ends the run "
                   "folder's name and is kept in the record (e.g. a candidate of the defaults screen)")
    p.add_argument("--record-only", action="store_true", help="record the run folder as it is; do not train")
    p.add_argument("--folder", default=None, help="with --record-only: a run folder made elsewhere")
    p.add_argument("--stop_at_score", type=float, default=None,
                   help="train.py's --stop_at_score: the run ends, as finished, once its score(100) reaches this")
    p.add_argument("--snapshot_minutes", type=float, default=10.0,
                   help="while training, write the curve so far to benchmarks/results/batch-partial/ this often")
    p.add_argument("--partial", action="store_true",
                   help="with --record-only: write the run's curve so far to benchmarks/results/batch-partial/"
                        "<run>.json (replaced each time), for runs still going")
    p.add_argument("--skip_recorded", action="store_true",
                   help="do nothing if --results already holds this run finished (at its frame budget or "
                        "--stop_at_score; its folder may be gone: a study restarted on a new machine retrains only "
                        "what it has not recorded)")
    p.add_argument("--eval_games", type=int, default=0,
                   help="once the run is finished, evaluate its last checkpoint over this many games (standard "
                        "protocol) and put the result in its record; 0 = none")
    p.add_argument("--carry", action="store_true",
                   help="keep the run's newest checkpoint and curve in benchmarks/carry/<run>/ (refreshed with every "
                        "partial curve; commit it) and restore it into a run folder that has none, so a run longer "
                        "than one machine's life continues on the next")
    a, extra = p.parse_known_args()
    extra = [x for x in extra if x != "--"]
    compression = extra[extra.index("--grad_compression") + 1] if "--grad_compression" in extra else "none"
    folder = Path(a.folder).resolve() if a.folder else RUNS / run_name(a.game, a.global_batch, a.lr_scaling,
                                                                         a.lr_warmup, a.seed, a.ranks, compression,
                                                                         "--overlap" in extra, a.tag)
    labels = {"tag": a.tag, "flags": extra} if a.tag else {}
    if a.skip_recorded and not a.record_only:
        done = recorded_finished(a.results, folder.name, int(a.frames), a.stop_at_score)
        if done is not None:
            print(f"{folder.name}: already in results/{a.results}.jsonl at {done['frames']:,} frames "
                  f"(recorded {done.get('time', '?')}); not retrained")
            return
    if not a.record_only:
        threads = a.threads or (1 if a.ranks > 1 else 0)
        launcher = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(a.ranks)] if a.ranks > 1 else []
        cmd = [*launcher, sys.executable, str(ROOT / "train.py"), "-e", a.game, "--global_batch", str(a.global_batch),
               "--total_frames", str(int(a.frames)), "--lr_scaling", a.lr_scaling, "--lr_warmup", str(a.lr_warmup),
               "--seed", str(a.seed), "--threads", str(threads), "--logdir", str(RUNS), "--name", folder.name,
               "--progress", "off", "--log_every", "30", "--comm", "auto" if a.ranks > 1 else "none",
               *(["--stop_at_score", f"{a.stop_at_score:g}"] if a.stop_at_score is not None else []), *extra]
        if a.carry:
            restored = carry.restore(folder)
            if restored is not None:
                print(f"{folder.name}: restored {restored.name} from {carry.carry_dir(folder).relative_to(ROOT)}",
                      flush=True)
        print("running:", " ".join(cmd), flush=True)
        code = train_until(cmd, folder, a.snapshot_minutes, labels, a.carry)
        if code != 0:
            sys.exit(f"trainer exited {code}; rerun the same command to resume")
    out = {**summarize(folder), **labels}
    print(f"{out['game']} global batch {out['global_batch']:,} rule {out['lr_scaling']} warm-up {out['lr_warmup']:g} "
          f"on {out['ranks']} rank(s), gradients {out['grad_compression']}{', overlap' if out['overlap'] else ''}: "
          f"{out['frames']:,} frames, score(100) {out['score_mean100']}, noise scale {out['noise_scale']}, "
          f"frames to 20/50/100: {out['frames_to_20']}/{out['frames_to_50']}/{out['frames_to_100']}")
    # A run the trainer left early (Ctrl-C, SIGTERM from a scheduler: it checkpoints and exits 0) is
    # not finished: keep it as a partial curve and let the rerun resume it.
    finished = out["frames"] >= int(a.frames) or (a.stop_at_score is not None and any(
        s is not None and s >= a.stop_at_score for _, s, *_ in out["curve"]))
    if a.partial or (not a.record_only and not finished):
        from common import partial_record

        print(f"wrote {partial_record('batch-partial', folder.name, out, {'machine': machine()})}")
        if not a.partial:
            sys.exit(f"the run stopped at {out['frames']:,} frames, before its budget or score; rerun to resume")
        return
    if a.eval_games:
        out.update(evaluate_last(folder, a.game, a.eval_games))
        print(f"evaluation of {out['eval_checkpoint']}: mean {out['eval_mean']:.1f} (std {out['eval_std']:.1f}) "
              f"over {out['eval_games']} games")
    record(a.results, [out], {"machine": machine()})


if __name__ == "__main__":
    main()
