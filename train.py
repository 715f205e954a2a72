#!/usr/bin/env python
"""Batch-A3C trainer for Atari 2600 games.

    python train.py -e Breakout                      # one process
    mpirun -np 4 python train.py -e Breakout         # a workstation
    srun --mpi=pmix -n 1500 python train.py ...      # a Slurm cluster

train() reads top to bottom: set up, then for each update: collect a rollout, gradients, allreduce,
apply, then the periodic jobs (log, side work, checkpoint). See README.md for the flags and what a
run writes.
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import signal
import sys
import time
import traceback
from collections import deque
from pathlib import Path
from typing import Any, NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ba3c.collapse import COLLAPSE_VALUE_STD, CollapseWatch  # noqa: E402
from ba3c.config import Config, parse_config  # noqa: E402
from ba3c.errors import UserError  # noqa: E402
from ba3c.quiet import quiet_stderr  # noqa: E402
from ba3c.startup import StartupClock  # noqa: E402
from mpi.comm import Comm, LaunchError, PendingMean, env_rank, init_comm  # noqa: E402

FRAMESKIP = 4
# Say so (once) when the global batch exceeds the measured noise scale by this factor: by McCandlish
# et al.'s model such a run needs ~(1 + B/B_noise) times the frames of a small-batch run.
BATCH_WARN_RATIO = 4
# ...but not before this many frames: the noise scale starts small and grows as the agent learns.
BATCH_WARN_AFTER_FRAMES = 1_000_000
MAX_SEED = 2**31 - 1 - 100_000  # a fresh emulator seed on resume; the emulator adds its env index


class StopRequest:
    """SIGINT / SIGTERM / SIGUSR1 ask for a checkpoint and a clean exit at the next update boundary;
    a second SIGINT stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
            signal.signal(s, self._handle)

    def _handle(self, signum: int, _frame) -> None:
        if self.requested and signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            raise KeyboardInterrupt
        self.requested = True
        self.signal_name = signal.Signals(signum).name


def say(comm: Comm, msg: str) -> None:
    if comm.rank == 0:
        from ba3c.runlog import print_line

        print_line(msg)


def warn(comm: Comm, msg: str) -> None:
    from ba3c.runlog import print_line

    prefix = "" if comm.rank == 0 else f"[rank {comm.rank}] "
    print_line(f"{prefix}{msg}", file=sys.stderr)


def configure_threads(cfg: Config) -> int:
    with quiet_stderr():
        import tensorflow as tf

    from ba3c.envs import available_cores

    threads = cfg.threads or available_cores()
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    return threads


def restore_or_init(cfg: Config, comm: Comm, learner, run_dir: Path) -> tuple[dict, dict | None]:
    """Rank 0 finds and checks a checkpoint; the verdict and the weights go to every rank, so all
    ranks fail together (no abort needed) or start from identical state. Returns the counters and
    the saved noise-scale state (None on a new run)."""
    from ba3c import checkpoint
    from ba3c.screen_mean import with_mean_screen

    counters = {"frames": 0, "updates": 0, "games": 0, "wall_time": 0.0, "skipped_updates": 0}
    want = checkpoint.identity(cfg.env, cfg.arch, cfg.fc_neurons, learner.model.n_actions, cfg.optimizer)
    error, noise, source, warm = None, None, None, None
    if comm.rank == 0:
        try:
            found = None
            if cfg.resume == "auto":
                found = checkpoint.load_latest(run_dir / "checkpoints", warn=lambda m: warn(comm, m))
            elif cfg.resume == "no":
                if checkpoint.list_checkpoints(run_dir / "checkpoints"):
                    raise UserError(f"{run_dir} already has checkpoints; use --resume auto to continue it, "
                                    "or another --name")
            else:
                arrays, m = checkpoint.load(Path(cfg.resume))
                found = (Path(cfg.resume), arrays, m)
            if found is not None:
                source, arrays, meta = found
                arrays = with_mean_screen(arrays)
                checkpoint.check_compatible(want, meta, f"checkpoint {source}")
                learner.set_state([arrays[n] for n in learner.state_names()])
                counters.update({k: meta["counters"][k] for k in counters if k in meta["counters"]})
                noise = meta.get("noise_scale")
            elif cfg.load:
                from ba3c.model_file import read_model_file

                weights, meta = read_model_file(cfg.load)
                checkpoint.check_compatible(want, meta, cfg.load, keys=checkpoint.MODEL_KEYS)
                learner.model.set_weights([weights[f"model/{n}"] for n in learner.model.names])
                warm = cfg.load
        except UserError as e:
            error = str(e)
        except KeyError as e:
            error = f"checkpoint {source} lacks {e}; it was written by another version"
    error, counters, noise, source, warm = comm.broadcast_object(
        (error, counters, noise, str(source) if source else None, warm))
    if error:
        raise UserError(error)
    learner.set_state(comm.broadcast(learner.get_state()))
    if source:
        say(comm, f"resumed from {source} at {counters['frames']:,} frames, update {counters['updates']:,}")
    elif warm:
        say(comm, f"new run warm-started with the weights of {warm}")
    return counters, noise


def emulator_seed(cfg: Config, rank: int, updates: int) -> int:
    """seed + 1000 * rank on a new run; a resumed run must not replay the games of its first
    segment, so it draws a fresh seed from (seed, rank, update)."""
    import numpy as np

    if not updates:
        return cfg.seed + 1000 * rank
    return int(np.random.SeedSequence([cfg.seed, rank, updates]).generate_state(1)[0] % MAX_SEED)


class InFlight(NamedTuple):
    """One update between its gradients and their application (--overlap keeps one waiting)."""
    pending: PendingMean
    timing: Any  # the rollout's Timing (ba3c.rollout, imported with TensorFlow)
    t_gradients: float  # seconds
    t_start: float  # seconds to start the allreduce (all of it, when synchronous)


def check_run_dir(comm: Comm, run_dir: Path) -> None:
    from ba3c.runlog import check_writable, hold_run_lock

    error = None
    if comm.rank == 0:
        try:
            check_writable(run_dir / "checkpoints")
            hold_run_lock(run_dir)
        except UserError as e:
            error = str(e)
    error = comm.broadcast_object(error)
    if error:
        raise UserError(error)


def report_startup(comm: Comm, clock: StartupClock, log, run_metadata: dict | None) -> None:
    """After the first update: every rank's start-up phases to rank 0, which prints and records them."""
    from ba3c.startup import describe, summarize

    clock.mark("first_update")
    per_rank = comm.gather(clock.seconds)
    if comm.rank == 0:
        summary = summarize(per_rank)
        say(comm, describe(summary, comm.size))
        log.write_json("metadata.json", {**run_metadata, "startup": {"summary": summary, "per_rank": per_rank}})


def train(cfg: Config, comm: Comm, clock: StartupClock) -> int:
    """Set up; then for each update: collect a rollout, compute gradients, average them over ranks,
    apply; then the periodic jobs (log, side work, checkpoint) the averaged control flags ask for."""
    import numpy as np

    from ba3c.batch_plan import plan_batch
    from ba3c.envs import AtariEnvs, available_cores
    from ba3c.faults import Faults
    from ba3c.games import action_meanings
    from ba3c.learner import Control, Learner
    from ba3c.meter import Meter
    from ba3c.noise_scale import NoiseScale
    from ba3c.rollout import Rollout, collect
    from ba3c.runlog import RunLog, metadata
    from ba3c.schedules import parse_schedule, scaled_lr_schedule
    from ba3c.screen_mean import MeanScreenMeter
    from mpi.watchdog import auto_timeout

    # ---- set up -----------------------------------------------------------------------------------
    run_dir = Path(cfg.logdir) / cfg.name
    check_run_dir(comm, run_dir)
    plan = plan_batch(comm.size, cfg.batch_size, cfg.envs_per_rank, cfg.n_step, cfg.global_batch, cfg.lr_scaling)
    cfg = cfg.sized(plan)
    if not comm.thread_multiple:
        from mpi.comm import THREAD_LEVEL_FIX, thread_level_name

        say(comm, f"warning: MPI granted {thread_level_name()}, not MPI_THREAD_MULTIPLE: running without threads "
                  f"that call MPI ({'--overlap off, ' if cfg.overlap else ''}gradients by mpi4py, a watchdog that "
                  f"cannot name a hung rank). For all of them, {THREAD_LEVEL_FIX}")
        cfg = dataclasses.replace(cfg, overlap=False)
    threads = cfg.threads or available_cores()
    with quiet_stderr():
        n_actions = len(action_meanings(cfg.env))
        learner = Learner(cfg, n_actions, plan.n_step, plan.envs_per_rank, comm.size)
    counters, noise_state = restore_or_init(cfg, comm, learner, run_dir)
    env_seed = emulator_seed(cfg, comm.rank, counters["updates"])
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, comm.rank, counters["updates"]]))
    envs = None  # a finished run, resumed, has nothing to play: skip building its emulators
    if counters["frames"] < cfg.total_frames:
        with quiet_stderr():
            envs = AtariEnvs(cfg.env, plan.envs_per_rank, seed=env_seed, threads=threads,
                             reward_clip=cfg.reward_clip, **cfg.protocol())
    else:
        say(comm, f"already trained {counters['frames']:,} frames (--total_frames {cfg.total_frames:,.0f}); "
                  "raise --total_frames to train on")
    lr_at = scaled_lr_schedule(cfg.lr_schedule, cfg.learning_rate, plan.lr_factor, cfg.lr_warmup, cfg.total_frames)
    beta_at = parse_schedule(cfg.entropy_schedule, cfg.entropy_beta, cfg.total_frames, "--entropy_schedule")
    frames_per_update = plan.global_batch * FRAMESKIP
    fp16_head = learner.num_params if cfg.grad_compression == "fp16" and comm.size > 1 else 0
    if fp16_head:
        import tensorflow as tf

        with quiet_stderr():  # TensorFlow's one-time "oneDNN supports DT_HALF only with AVX-512" line
            tf.cast(tf.zeros(1), tf.float16)
    noise = NoiseScale(state=noise_state)
    meter = Meter(counters["frames"], noise)
    stop = StopRequest()
    faults = Faults(comm.rank)
    from ba3c import checkpoint
    from ba3c.checkpointer import Checkpointer

    protocol = {**cfg.protocol(), "env_id": cfg.env_id}  # travels with checkpoints and exports: eval reuses it
    run_meta = {**checkpoint.identity(cfg.env, cfg.arch, cfg.fc_neurons, n_actions, cfg.optimizer),
                "config": cfg.to_dict(), "world_size": comm.size, "protocol": protocol}
    checkpointer = Checkpointer(run_dir / "checkpoints", cfg.keep_checkpoints, run_meta, lambda m: say(comm, m),
                                lambda m: warn(comm, m), (faults.slow_save, faults.slow_saves))

    def save_checkpoint(wait: bool = False) -> bool:
        counters["wall_time"] = time.time() - t_start
        state = dict(zip(learner.state_names(), learner.get_state()))
        return checkpointer.save(state, counters, {"noise_scale": noise.state(),
                                                   "weights_checksum": learner.weights_checksum()}, wait)
    log, side = None, None
    if comm.rank == 0:
        from ba3c.side import SideWork

        log = RunLog(run_dir, cfg.total_frames, cfg.progress, faults.slow_log)
        world = {"size": comm.size, "world_size": comm.world_size, "side_ranks": comm.side_ranks,
                 "backend": comm.backend, "threads_per_rank": threads, "global_batch": plan.global_batch,
                 "batch_plan": plan.summary(), "lr_effective": lr_at(cfg.lr_warmup or 0),
                 "env_seed_rank0": env_seed, "model_params": learner.num_params,
                 "protocol": {**protocol, "description": cfg.describe_protocol()},
                 "openmpi_mca": {k: v for k, v in os.environ.items() if k.startswith("OMPI_MCA_")}}
        log.write_json("config.json", cfg.to_dict())
        run_metadata = metadata(world)
        log.write_json("metadata.json", run_metadata)
        say(comm, f"BA3C {cfg.env} ({n_actions} actions) | {comm.size} rank(s) via {comm.backend} | {cfg.arch} net "
                  f"{learner.num_params:,} params | {threads} thread(s)/rank | env seeds {env_seed}+1000*rank | "
                  f"run folder {run_dir}")
        say(comm, cfg.describe_protocol())
        say(comm, plan.summary())
        side = SideWork(cfg, comm, run_dir, learner, log)
        side.step(counters["updates"], counters["frames"])  # side ranks start with this run's starting weights
    rollout = Rollout.empty(plan.n_step, plan.envs_per_rank)
    t_start = time.time() - counters["wall_time"]
    t_last_log = t_last_save = time.time()
    last_row, bad_in_row, reason, warned_batch = None, 0, "done", False
    collapse = CollapseWatch()
    # A new run measures its mean screen over its first rollouts; a resumed run has it in its checkpoint
    # (one stopped before the measurement ended measures the rest); a warm start keeps its file's.
    screen = MeanScreenMeter(0 if cfg.load else cfg.obs_mean_updates - counters["updates"])

    def log_progress() -> None:
        nonlocal last_row, t_last_log, warned_batch
        my_scores, _, my_lives, _ = envs.pop_finished()
        gathered = comm.gather((my_scores, my_lives))
        if comm.rank == 0:
            for scores, lives in gathered:
                meter.add_games(scores, lives)
                counters["games"] += len(scores)
            frames = counters["frames"]
            last_row = meter.row(counters, time.time() - t_start, lr_at(frames), beta_at(frames),
                                 side.latest_eval["mean"] if side.latest_eval else None)
            log.log(last_row)
            if collapse.update(frames, last_row.get("value_std")):
                warn(comm, f"warning: since frame {collapse.since:,} the value has differed by less than "
                           f"{COLLAPSE_VALUE_STD:g} between states (value_std in progress.jsonl): the network's "
                           f"features have collapsed, and no run measured here learned after that (models/README.md, "
                           f"'Why Adam fails on Boxing')")
            b_noise = noise.value
            if (not warned_batch and b_noise and frames >= BATCH_WARN_AFTER_FRAMES
                    and plan.global_batch > BATCH_WARN_RATIO * b_noise):
                warned_batch = True
                warn(comm, f"note: the global batch {plan.global_batch:,} is {plan.global_batch / b_noise:.0f}x the "
                           f"measured gradient noise scale (~{b_noise:,.0f}): each update averages far more samples "
                           f"than it can use. Learning per frame will be slower; use --global_batch near "
                           f"{b_noise:,.0f} (or fewer ranks / --envs_per_rank) to spend frames better")
        t_last_log = time.time()

    clock.mark("setup")
    # ---- the loop ---------------------------------------------------------------------------------
    # Each update's gradients go into the allreduce, and its averaged result comes back `lag` updates
    # later (--overlap: 1, the rollout of the next update runs while it is in flight; else 0).
    lag = 1 if cfg.overlap else 0
    in_flight: deque[InFlight] = deque()
    stopping = False
    t_end_prev = time.perf_counter()
    update_seconds: deque[float] = deque(maxlen=100)  # whole iterations, for the automatic hang deadline
    while True:
        t_begin = time.perf_counter()
        t_other = t_begin - t_end_prev  # logging, checkpoints, progress bar of the previous update
        queued_frames = counters["frames"] + len(in_flight) * frames_per_update
        if not stopping and queued_frames < cfg.total_frames:
            timing = collect(envs, learner.logits, rng, rollout)
            if screen.active and (local := screen.add(rollout.obs)) is not None:
                # Rank 0's mean on every rank: a broadcast, because with --overlap a gradient
                # allreduce is in flight here, and the ranks' networks must be the same function.
                learner.model.obs_mean.assign(comm.broadcast([local])[0])
            now = time.time()
            # Set when asked, not when done: with --overlap the answer comes an update later.
            control = Control(stop=stop.requested, log=comm.rank == 0 and now - t_last_log >= cfg.log_every,
                              save=comm.rank == 0 and now - t_last_save >= cfg.save_every)
            t_last_log = now if control.log else t_last_log
            t_last_save = now if control.save else t_last_save
            t1 = time.perf_counter()
            flat = faults.before_allreduce(counters["updates"] + len(in_flight),
                                           learner.gradients(rollout, beta_at(queued_frames), control),
                                           learner.num_params)
            t2 = time.perf_counter()
            pending = comm.start_allreduce_mean(flat, fp16_head) if lag else PendingMean(
                comm, value=comm.allreduce_mean(flat, fp16_head))
            in_flight.append(InFlight(pending, timing, t2 - t1, time.perf_counter() - t2))
            if len(in_flight) <= lag:
                t_end_prev = time.perf_counter()
                continue
        elif not in_flight:
            break
        done = in_flight.popleft()
        t3 = time.perf_counter()
        averaged = done.pending.wait()
        t4 = time.perf_counter()
        result = learner.apply(averaged, lr_at(counters["frames"]))
        faults.after_allreduce(counters["updates"])
        t_end_prev = time.perf_counter()
        meter.add(result, done.timing, done.t_gradients + (t_end_prev - t4), done.t_start + (t4 - t3), t_other)
        counters["updates"] += 1
        counters["frames"] += frames_per_update
        if "first_update" not in clock.seconds:
            report_startup(comm, clock, log, run_metadata if comm.rank == 0 else None)
        if result.applied:
            bad_in_row = 0
        else:
            counters["skipped_updates"] += 1
            bad_in_row += 1
            say(comm, f"warning: non-finite loss or gradients at update {counters['updates'] - 1} on some rank; "
                      f"update skipped on all ranks ({bad_in_row} in a row)")
            if bad_in_row >= cfg.max_bad_updates:
                reason = "nonfinite"
        if (result.control.stop or reason == "nonfinite") and not stopping:
            stopping = True  # no new rollouts; what is in flight is still applied, alike on every rank
            reason = "nonfinite" if reason == "nonfinite" else "signal"
        last = not in_flight and (stopping or counters["frames"] >= cfg.total_frames)
        if result.control.log or last:
            log_progress()
        if comm.rank == 0:
            side.step(counters["updates"], counters["frames"])
            log.bar_update(counters["frames"], last_row)
            if not checkpointer.poll():
                stop.requested = True  # a write failed: all ranks stop at the next update, the last good one kept
        if result.control.save and not stopping:
            if comm.rank == 0:
                save_checkpoint()
            t_last_save = time.time()
        update_seconds.append(time.perf_counter() - t_begin)
        if not cfg.collective_timeout:
            comm.set_collective_timeout(auto_timeout(update_seconds))

    # ---- the end ----------------------------------------------------------------------------------
    if envs is not None:
        envs.close()
    # Every rank must end with the same weights; say so (or loudly not) once per run.
    checksums = comm.gather(learner.weights_checksum())
    if comm.rank == 0:
        if len(set(checksums)) == 1:
            say(comm, f"weights identical on all {comm.size} rank(s): checksum {checksums[0]}")
        else:
            warn(comm, f"warning: ranks' weights diverged: {checksums}")
        saved = save_checkpoint(wait=True)
        side.close(final=reason == "done")
        log.close()
        if not saved:
            raise UserError(checkpointer.error)
        if reason == "signal":
            say(comm, f"stopped by {stop.signal_name or 'a signal on another rank'}; run the same command to resume")
    if reason == "nonfinite":
        raise UserError(f"{cfg.max_bad_updates} updates in a row had non-finite loss or gradients; stopped "
                        "with the last good weights checkpointed. Lower -l/--learning_rate or check --grad_clip")
    return 0


def export(cfg: Config) -> int:
    from ba3c.model_file import export_npz

    out = export_npz(cfg.load, cfg.output, cfg.export_dtype)
    print(f"wrote {out}: {cfg.export_dtype} weights and the config to rebuild the network "
          f"({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def evaluate(cfg: Config) -> int:
    """--task eval: the standard protocol on --episodes full games; prints and writes JSON."""
    from ba3c.checkpoint import write_json_atomic
    from ba3c.evaluate import model_policy, play_games
    from ba3c.model_file import build_model
    from ba3c.scores import summarize

    with quiet_stderr():
        model, meta = build_model(cfg.load, cfg.env)
    out = Path(cfg.output or f"eval-{cfg.env}.json")
    if out.suffix != ".json":
        raise UserError(f"--output {out}: evaluation results are written as .json")
    t0 = time.time()
    protocol = cfg.protocol(meta.get("protocol"))  # the model's training protocol unless a flag or id says
    print(cfg.describe_protocol(meta.get("protocol")))
    scores, lengths = play_games(model_policy(model), cfg.env, cfg.episodes, seed=cfg.seed, **protocol)
    s = summarize(cfg.env, scores)
    result = {"game": cfg.env, "model": str(cfg.load),
              "protocol": {**protocol, "env_id": cfg.env_id, "policy": "sampled", "seed": cfg.seed},
        **s, "scores": scores, "lengths": lengths, "seconds": round(time.time() - t0, 1)}
    hn = s["human_normalized_mean"]
    print(f"{cfg.env}: {s['games']} games  mean {s['mean']:.1f}  median {s['median']:.1f}  std {s['std']:.1f}  "
          f"min {s['min']:g}  max {s['max']:g}  human-normalised mean "
          f"{'n/a (not in the 57-game table)' if hn is None else f'{100 * hn:.1f}%'}")
    write_json_atomic(out, result)
    print(f"wrote {out}")
    return 0


def record_or_play(cfg: Config) -> int:
    from ba3c.evaluate import model_policy
    from ba3c.model_file import build_model
    from ba3c.video import VIDEO_FPS, game_frames, record

    if cfg.task == "play" and not os.environ.get("DISPLAY"):
        raise UserError("--task play needs a display (DISPLAY is not set); use --task record --output game.mp4 "
                        "to get a video instead")
    with quiet_stderr():
        model, meta = build_model(cfg.load, cfg.env)
    frames = game_frames(model_policy(model), cfg.env, cfg.seed, **cfg.protocol(meta.get("protocol")))
    if cfg.task == "record":
        limit = 1 + int(cfg.video_seconds * VIDEO_FPS) if cfg.video_seconds else None  # the start frame + steps
        n, score = record(itertools.islice(frames, limit), cfg.output)
        if limit is not None and n == limit:
            print(f"wrote {cfg.output}: the first {cfg.video_seconds:g} s of a game ({n} frames), "
                  f"score {score:g} by then")
        else:
            print(f"wrote {cfg.output}: {n} frames, game score {score:g}")
        return 0
    from ba3c.video import show

    score = show(frames)
    print(f"game score {score:g}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from ba3c.terminal import keep_running_without_a_terminal

    keep_running_without_a_terminal()  # a closed pipe or terminal must not end the run before its checkpoint
    clock = StartupClock()
    rank = env_rank()
    try:
        cfg, ns = parse_config(argv)
        if ns.list_games:
            from ba3c.games import rom_ids

            print("\n".join(rom_ids()))
            return 0
        cfg.finalize()
        clock.mark("python")
    except UserError as e:
        if rank == 0:
            print(f"error: {e}", file=sys.stderr)
        return 2
    comm: Comm | None = None
    try:
        configure_threads(cfg)  # before anything (Horovod included) starts TensorFlow's runtime
        clock.mark("tensorflow")
        if cfg.task != "train":
            if env_rank() != 0:
                return 0
            return {"export": export, "eval": evaluate, "play": record_or_play, "record": record_or_play}[cfg.task](cfg)
        comm = init_comm(cfg.comm, cfg.side_roles())
        if comm.role != "trainer":
            from ba3c.side import run_side_rank

            stop = StopRequest()
            return run_side_rank(cfg, comm, Path(cfg.logdir) / cfg.name, lambda: stop.requested)
        from mpi.watchdog import START_TIMEOUT

        comm.start_watchdog(cfg.collective_timeout or START_TIMEOUT)
        clock.mark("mpi")
        return train(cfg, comm, clock)
    except (UserError, LaunchError) as e:
        # Raised on every rank alike (verdicts are broadcast), so no abort is needed.
        if (comm.rank if comm else rank) == 0:
            print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"[rank {comm.rank if comm else rank}] interrupted", file=sys.stderr)
        if comm is not None and comm.size > 1:
            comm.abort(130)
        return 130
    except Exception:
        r = comm.rank if comm else rank
        print(f"[rank {r}] crashed:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
        if comm is not None and comm.size > 1:
            warn(comm, f"[rank {r}] aborting the whole job so no rank waits forever")
            comm.abort(1)
        return 1


if __name__ == "__main__":
    sys.exit(main())
