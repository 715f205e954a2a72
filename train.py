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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ba3c.config import Config, parse_config
from ba3c.errors import UserError
from ba3c.games import FRAMESKIP
from ba3c.quiet import quiet_stderr
from ba3c.run import Stopwatch
from ba3c.startup import StartupClock
from mpi.comm import Comm, LaunchError, env_rank, init_comm

if TYPE_CHECKING:  # imported where used: they start TensorFlow or the emulators
    import numpy as np

    from ba3c.batch_plan import BatchPlan
    from ba3c.checkpointer import Checkpointer
    from ba3c.envs import AtariEnvs
    from ba3c.faults import Faults
    from ba3c.grow import Growth
    from ba3c.learner import Learner
    from ba3c.meter import Meter, ScoreTarget
    from ba3c.noise_scale import NoiseScale
    from ba3c.rollout import Rollout
    from ba3c.run import Every, NullCheckpointer, NullLog, NullSideWork, Pipeline, RunState
    from ba3c.runlog import RunLog
    from ba3c.screen_mean import MeanScreenMeter
    from ba3c.side import SideWork

# What a checkpoint carries besides weights and counters so that a resumed loop goes on as if never
# stopped: the noise-scale estimator's averages and the last 100 games' scores (without them the
# score(100) of a resumed run restarts from the first games to end, the shortest and lowest).
# Checkpoint key -> the Run attribute whose state() it holds.
# A growing run's emulators per rank too (--grow_envs), so it resumes at its grown size.
LOOP_MEMORY = {"noise_scale": "noise", "recent_scores": "meter", "growth": "growth"}
# Say so (once) when the global batch exceeds the measured noise scale by this factor: by McCandlish
# et al.'s model such a run needs ~(1 + B/B_noise) times the frames of a small-batch run.
BATCH_WARN_RATIO = 4
# ...but not before this many frames: the noise scale starts small and grows as the agent learns.
BATCH_WARN_AFTER_FRAMES = 1_000_000
# A resumed run's emulator seeds are drawn below this bound (the emulator adds its env index, and the
# seed must stay a 32-bit int); the user's --seed has its own bound, ba3c/config.py's MAX_SEED.
RESUMED_SEED_BOUND = 2**31 - 1 - 100_000


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

    from ba3c.envs import threads_per_rank

    threads = threads_per_rank(cfg)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    except RuntimeError:  # TensorFlow already running in this process (main() called in-process twice)
        pass
    return threads


def restore_or_init(cfg: Config, comm: Comm, learner, run_dir: Path, want: dict) -> tuple[dict, dict]:
    """Rank 0 finds and checks a checkpoint; the verdict and the weights go to every rank, so all
    ranks fail together (no abort needed) or start from identical state. Returns the counters and
    the loop's saved memory ({} on a new run; LOOP_MEMORY's keys that the checkpoint has). want: the
    run's checkpoint identity."""
    from ba3c import checkpoint
    from ba3c.run import COUNTERS
    from ba3c.screen_mean import with_mean_screen

    counters = dict.fromkeys(COUNTERS, 0)
    counters["wall_time"] = 0.0
    error, memory, source, warm, changed = None, {}, None, None, []
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
                memory = {k: meta[k] for k in LOOP_MEMORY if meta.get(k) is not None}
                changed = checkpoint.changed_settings(meta.get("config", {}), cfg.to_dict())
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
    error, counters, memory, source, warm = comm.broadcast_object(
        (error, counters, memory, str(source) if source else None, warm))
    if error:
        raise UserError(error)
    learner.set_state(comm.broadcast(learner.get_state()))
    if source:
        say(comm, f"resumed from {source} at {counters['frames']:,} frames, update {counters['updates']:,}")
        if changed:  # rank 0's list; only rank 0 says it
            say(comm, "settings changed since that checkpoint, training goes on with the new ones: "
                      f"{', '.join(changed)} (pass the old values as flags to keep them)")
    elif warm:
        say(comm, f"new run warm-started with the weights of {warm}")
    return counters, memory


def emulator_seed(cfg: Config, rank: int, updates: int) -> int:
    """seed + 1000 * rank on a new run; a resumed run must not replay the games of its first
    segment, so it draws a fresh seed from (seed, rank, update)."""
    import numpy as np

    if not updates:
        return cfg.seed + 1000 * rank
    return int(np.random.SeedSequence([cfg.seed, rank, updates]).generate_state(1)[0] % RESUMED_SEED_BOUND)


def check_run_dir(comm: Comm, run_dir: Path) -> None:
    from ba3c.runlog import check_writable, hold_run_lock

    error = None
    if comm.rank == 0:
        try:
            check_writable(run_dir / "checkpoints")
            hold_run_lock(run_dir)
        except UserError as e:
            error = str(e)
    error = comm.broadcast_object(error)  # all ranks
    if error:
        raise UserError(error)


def report_startup(run: Run) -> None:
    """After the first update: every rank's start-up phases to rank 0, which prints and records them."""
    from ba3c.startup import describe, summarize

    run.clock.mark("first_update")
    per_rank = run.comm.gather(run.clock.seconds)  # all ranks
    if per_rank is not None:
        summary = summarize(per_rank)
        say(run.comm, describe(summary, run.comm.size))
        run.log.write_json("metadata.json", {**run.metadata, "startup": {"summary": summary, "per_rank": per_rank}})


@dataclass
class Run:
    """Everything one training run holds, built by set_up(); the loop reads and updates it."""
    cfg: Config
    comm: Comm
    clock: StartupClock
    plan: BatchPlan
    learner: Learner
    state: RunState
    envs: AtariEnvs | None  # None for a run already at its budget
    rollout: Rollout  # the buffers every update refills
    rng: np.random.Generator  # action sampling
    screen: MeanScreenMeter
    noise: NoiseScale
    meter: Meter
    faults: Faults
    stop: StopRequest
    pipeline: Pipeline
    lr_at: Callable[[float], float]
    beta_at: Callable[[float], float]
    log_timer: Every  # never due on other ranks than 0
    save_timer: Every
    log: RunLog | NullLog
    side: SideWork | NullSideWork
    checkpointer: Checkpointer | NullCheckpointer
    progress: Progress  # the log line's gather and rank 0's row
    growth: Growth | None  # --grow_envs: the emulators per one-core rank, and when to double them
    time_model: dict[int, float]  # --grow_envs, rank 0: seconds of one update at e emulators per one-core rank
    metadata: dict = field(default_factory=dict)
    t_start: float = 0.0  # wall clock, minus the wall time of earlier segments
    update_seconds: deque = field(default_factory=lambda: deque(maxlen=100))  # for the automatic deadline

    @property
    def frames_per_update(self) -> int:
        return self.plan.global_batch * FRAMESKIP

    def save_checkpoint(self, wait: bool = False) -> bool:
        self.state.counters["wall_time"] = time.time() - self.t_start
        state = dict(zip(self.learner.state_names(), self.learner.get_state()))
        memory = {key: None if getattr(self, owner) is None else getattr(self, owner).state()
                  for key, owner in LOOP_MEMORY.items()}
        return self.checkpointer.save(state, self.state.counters,
                                      {**memory, "weights_checksum": self.learner.weights_checksum()}, wait)

    def update_time(self, envs: int) -> float:
        """Seconds of one update at `envs` emulators per one-core rank, for --grow_envs (rank 0): the
        live time of the recent updates plus the model's difference; with --virtual_ranks the live time is
        not a one-core rank's, and the model alone answers."""
        if self.cfg.virtual_ranks > 1 or not self.update_seconds:
            return self.time_model[envs]
        import numpy as np

        return float(np.median(self.update_seconds)) + self.time_model[envs] - self.time_model[self.growth.envs]


class Progress:
    """The log line: every rank's finished games to rank 0 (a gather), which adds them to its Meter,
    writes the row and says once what the row's warnings call for."""

    def __init__(self, comm: Comm, cfg: Config, plan, target: ScoreTarget) -> None:
        from ba3c.collapse import CollapseWatch

        self.comm, self.cfg, self.plan, self.target = comm, cfg, plan, target
        self.collapse = CollapseWatch()
        self.warned_batch = False
        self.target_reached = False  # rank 0's; it reaches the other ranks in the next allreduce
        self.grow_asked = False  # rank 0's, likewise (--grow_envs)
        self.last_row: dict | None = None

    def record(self, run: Run) -> None:
        my_scores, _, my_lives, _ = run.envs.pop_finished()
        gathered = self.comm.gather((my_scores, my_lives))  # all ranks
        if gathered is None:
            return
        counters = run.state.counters
        for scores, lives in gathered:
            run.meter.add_games(scores, lives)
            counters["games"] += len(scores)
        frames = counters["frames"]
        self.last_row = {**run.meter.row(counters, time.time() - run.t_start, run.lr_at(frames), run.beta_at(frames),
                                         run.side.latest_eval["mean"] if run.side.latest_eval else None),
                         "global_batch": self.plan.global_batch}
        run.log.log(self.last_row)
        self.target_reached = self.target_reached or self.target.reached(run.meter.recent_scores, counters["games"])
        if run.growth is not None and not self.grow_asked:
            self.grow_asked = run.growth.observe(counters["updates"], run.noise.value, run.update_time)
        self._warn(frames, self.last_row, run.noise.value, run.noise.relative_error())

    def _warn(self, frames: int, row: dict, b_noise: float | None, b_noise_error: float | None) -> None:
        from ba3c.collapse import COLLAPSE_VALUE_STD
        from ba3c.noise_scale import settled

        if self.collapse.update(frames, row.get("value_std")):
            warn(self.comm, f"warning: since frame {self.collapse.since:,} the value has differed by less than "
                            f"{COLLAPSE_VALUE_STD:g} between states (value_std in progress.jsonl): the network's "
                            f"features have collapsed, and no run measured here learned after that "
                            f"(models/README.md, 'Why Adam fails on Boxing')")
        batch = self.plan.global_batch
        # Only a settled estimate: right after a resume every emulator restarts its game at once, and
        # the estimate of those synchronised games reads low for a few dozen updates.
        if (not self.warned_batch and b_noise and settled(b_noise, b_noise_error)
                and frames >= BATCH_WARN_AFTER_FRAMES and batch > BATCH_WARN_RATIO * b_noise):
            self.warned_batch = True
            warn(self.comm, f"note: the global batch {batch:,} is {batch / b_noise:.0f}x the measured gradient noise "
                            f"scale (~{b_noise:,.0f}): each update averages far more samples than it can use. "
                            f"Learning per frame will be slower; use --global_batch near {b_noise:,.0f} (or fewer "
                            f"ranks / --envs_per_rank) to spend frames better")


def set_up(cfg: Config, comm: Comm, clock: StartupClock) -> Run:
    """Batch plan, network, restored or fresh state (broadcast from rank 0), emulators, run folder."""
    import numpy as np

    from ba3c import checkpoint
    from ba3c.batch_plan import plan_batch
    from ba3c.envs import threads_per_rank
    from ba3c.faults import Faults
    from ba3c.games import action_meanings
    from ba3c.learner import Learner
    from ba3c.meter import ScoreTarget
    from ba3c.run import RunState

    run_dir = Path(cfg.logdir) / cfg.name
    check_run_dir(comm, run_dir)
    plan = plan_batch(comm.size, cfg.batch_size, cfg.envs_per_rank, cfg.n_step, cfg.global_batch, cfg.lr_scaling)
    cfg = safe_for_thread_level(cfg.sized(plan), comm)
    with quiet_stderr():
        n_actions = len(action_meanings(cfg.env))
        learner = Learner(cfg, n_actions, plan.n_step, plan.envs_per_rank, comm.size)
    identity = checkpoint.identity(cfg.env, cfg.arch, cfg.fc_neurons, n_actions, cfg.optimizer)
    counters, memory = restore_or_init(cfg, comm, learner, run_dir, identity)
    growth, time_model = None, {}
    if cfg.grow_envs:
        growth, time_model = start_growth(cfg, comm, plan, memory.get("growth"))
        if growth.envs * cfg.virtual_ranks != plan.envs_per_rank:  # a grown run resumed
            plan = grown_plan(plan, growth.envs * cfg.virtual_ranks)
            cfg = cfg.sized(plan)
            learner.resize(plan.n_step, plan.envs_per_rank)
    elif memory.get("growth"):
        say(comm, f"note: this run grew to {memory['growth']['envs']} emulators per one-core rank under --grow_envs; "
                  f"without it it goes on at the batch its flags give")
    state = RunState(counters)
    env_seed = emulator_seed(cfg, comm.rank, counters["updates"])
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, comm.rank, counters["updates"]]))
    target = ScoreTarget(cfg.stop_at_score, counters["games"], counters["frames"] > 0, plan.ranks * plan.envs_per_rank)
    done = already_done(cfg, counters, target, memory.get("recent_scores", ()))  # the same verdict on every rank
    if done:
        say(comm, done[0])
        state.stopping, state.reason = done[1] == "target", done[1]
    envs = None if done else make_envs(cfg, plan.envs_per_rank, env_seed)  # none: nothing to play
    faults = Faults(comm.rank)
    run = Run(cfg=cfg, comm=comm, clock=clock, plan=plan, learner=learner, state=state, envs=envs, rng=rng,
              faults=faults, growth=growth, time_model=time_model,
              **loop_parts(cfg, comm, plan, learner, counters, memory, target),
              **rank0_parts(cfg, comm, run_dir, learner, identity, faults))
    run.t_start = time.time() - counters["wall_time"]
    run.metadata = announce(run, threads_per_rank(cfg), env_seed)
    run.side.step(counters["updates"], counters["frames"])  # side ranks start with this run's starting weights
    return run


def safe_for_thread_level(cfg: Config, comm: Comm) -> Config:
    """Below MPI_THREAD_MULTIPLE no thread but the main one may call MPI: no --overlap worker."""
    if comm.thread_multiple:
        return cfg
    from mpi.comm import THREAD_LEVEL_FIX, thread_level_name

    say(comm, f"warning: MPI granted {thread_level_name()}, not MPI_THREAD_MULTIPLE: running without threads "
              f"that call MPI ({'--overlap off, ' if cfg.overlap else ''}gradients by mpi4py, a watchdog that "
              f"cannot name a hung rank). For all of them, {THREAD_LEVEL_FIX}")
    return dataclasses.replace(cfg, overlap=False)


def already_done(cfg: Config, counters: dict, target: ScoreTarget, recent_scores) -> tuple[str, str] | None:
    """Why a resumed run has nothing left to train and the reason it ends with, or None."""
    import numpy as np

    if counters["frames"] >= cfg.total_frames:
        return (f"already trained {counters['frames']:,} frames (--total_frames {cfg.total_frames:,.0f}); "
                "raise --total_frames to train on"), "done"
    if target.met_by(recent_scores):
        return (f"score(100) {np.mean(recent_scores):.1f} already reached --stop_at_score {cfg.stop_at_score:g} "
                f"at {counters['frames']:,} frames; raise it to train on"), "target"
    return None


def make_envs(cfg: Config, n_envs: int, seed: int):
    """n_envs emulators for this rank."""
    from ba3c.envs import AtariEnvs, threads_per_rank

    with quiet_stderr():
        return AtariEnvs(cfg.env, n_envs, seed=seed, threads=threads_per_rank(cfg), reward_clip=cfg.reward_clip,
                         **cfg.protocol())


def start_growth(cfg: Config, comm: Comm, plan, state: dict | None) -> tuple[Growth, dict[int, float]]:
    """--grow_envs: the emulators per one-core rank (from the plan, or a resumed run's grown size)
    and, on rank 0, the update-time model at each size growth may reach (benchmarks/plan.py's:
    the compute fit of `make bench-scaling`, the stragglers of N ranks, OpenMPI's allreduce on 10 GbE)."""
    from ba3c.grow import MAX_ENVS, Growth

    v = cfg.virtual_ranks
    if plan.envs_per_rank % v:
        raise UserError(f"--virtual_ranks {v} does not divide the {plan.envs_per_rank} emulators per process; "
                        f"give a batch of a multiple of {v} emulators per process")
    growth = Growth(plan.envs_per_rank // v, plan.ranks * v, plan.n_step, MAX_ENVS, state)
    model, error = {}, None
    if comm.rank == 0:
        sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))
        try:
            from bench_scaling import NETWORKS
            from plan import update_seconds

            network = next(iter(NETWORKS))
            e = growth.envs
            while e <= MAX_ENVS:
                model[e] = update_seconds(growth.ranks, e * plan.n_step, False, network)
                e *= 2
        except (OSError, IndexError, KeyError, ValueError) as err:
            error = (f"--grow_envs needs the update-time model in benchmarks/results/ (scaling.jsonl, "
                     f"stragglers.jsonl): {type(err).__name__}: {err}; run make bench-scaling bench-stragglers")
    error = comm.broadcast_object(error)  # all ranks
    if error:
        raise UserError(error)
    return growth, model


def grown_plan(plan, envs_per_rank: int):
    from ba3c.batch_plan import BatchPlan

    return BatchPlan(envs_per_rank, plan.n_step, plan.ranks, plan.lr_scaling,
                     f"grown from {plan.envs_per_rank} by --grow_envs ({plan.why})")


def grow(run: Run) -> None:
    """Double every rank's emulators, at the same update on all ranks (the decision came back in the
    allreduce): the new ones start their own games while the others play on."""
    from ba3c.envs import EnvGroup
    from ba3c.rollout import Rollout
    from ba3c.schedules import scaled_lr_schedule

    old, cfg = run.plan, run.cfg
    b_crit = run.growth.b_crit() if run.growth.readings else None
    run.growth.doubled()
    run.plan = run.progress.plan = grown_plan(old, run.growth.envs * cfg.virtual_ranks)
    run.cfg = cfg = cfg.sized(run.plan)
    added = make_envs(cfg, run.plan.envs_per_rank - old.envs_per_rank,
                      emulator_seed(cfg, run.comm.rank, run.state.counters["updates"]))
    run.envs = run.envs if isinstance(run.envs, EnvGroup) else EnvGroup([run.envs])
    run.envs.add(added)
    run.learner.resize(run.plan.n_step, run.plan.envs_per_rank)
    run.rollout = Rollout.empty(run.plan.n_step, run.plan.envs_per_rank)
    run.lr_at = scaled_lr_schedule(cfg.lr_schedule, cfg.learning_rate, run.plan.lr_factor, cfg.lr_warmup,
                                   cfg.total_frames)
    run.progress.grow_asked = False
    c = run.state.counters
    say(run.comm, f"--grow_envs: at update {c['updates']:,} ({c['frames']:,} frames) the emulators per one-core rank "
                  f"double, {old.envs_per_rank // cfg.virtual_ranks} -> {run.growth.envs} (global batch "
                  f"{old.global_batch:,} -> {run.plan.global_batch:,})"
                  + (f": noise scale ~{b_crit:,.0f} (median of the last readings)" if b_crit else ""))


def loop_parts(cfg: Config, comm: Comm, plan, learner, counters: dict, memory: dict, target: ScoreTarget) -> dict:
    """What every rank's loop uses: buffers, schedules, meters, the pipeline, the periodic jobs."""
    from ba3c.meter import Meter
    from ba3c.noise_scale import NoiseScale
    from ba3c.rollout import Rollout
    from ba3c.run import Every, Pipeline
    from ba3c.schedules import parse_schedule, scaled_lr_schedule
    from ba3c.screen_mean import MeanScreenMeter

    fp16_head = learner.num_params if cfg.grad_compression == "fp16" and comm.size > 1 else 0
    if fp16_head:
        import tensorflow as tf

        with quiet_stderr():  # TensorFlow's one-time "oneDNN supports DT_HALF only with AVX-512" line
            tf.cast(tf.zeros(1), tf.float16)
    noise = NoiseScale(state=memory.get("noise_scale"))
    rank0 = comm.rank == 0  # log and save are rank 0's decisions; they reach the others in the allreduce
    return dict(
        rollout=Rollout.empty(plan.n_step, plan.envs_per_rank), noise=noise,
        meter=Meter(counters["frames"], noise, memory.get("recent_scores", ())),
        # A new run measures its mean screen over its first rollouts; a resumed run has it in its checkpoint
        # (one stopped before the measurement ended measures the rest); a warm start keeps its file's.
        screen=MeanScreenMeter(0 if cfg.load else cfg.obs_mean_updates - counters["updates"]),
        stop=StopRequest(), pipeline=Pipeline(comm, 1 if cfg.overlap else 0, fp16_head),
        lr_at=scaled_lr_schedule(cfg.lr_schedule, cfg.learning_rate, plan.lr_factor, cfg.lr_warmup, cfg.total_frames),
        beta_at=parse_schedule(cfg.entropy_schedule, cfg.entropy_beta, cfg.total_frames, "--entropy_schedule"),
        log_timer=Every(cfg.log_every if rank0 else None), save_timer=Every(cfg.save_every if rank0 else None),
        progress=Progress(comm, cfg, plan, target))


def rank0_parts(cfg: Config, comm: Comm, run_dir: Path, learner, identity: dict, faults) -> dict:
    """Rank 0's side effects (run log, side work, checkpoints); no-op stand-ins on the other ranks."""
    from ba3c.run import NullCheckpointer, NullLog, NullSideWork

    if comm.rank != 0:
        return dict(log=NullLog(), side=NullSideWork(), checkpointer=NullCheckpointer())
    from ba3c.checkpointer import Checkpointer
    from ba3c.runlog import RunLog
    from ba3c.side import SideWork

    log = RunLog(run_dir, cfg.total_frames, cfg.progress, faults.slow_log)
    run_meta = {**identity, "config": cfg.to_dict(), "world_size": comm.size,
                "protocol": {**cfg.protocol(), "env_id": cfg.env_id}}  # eval of an export reuses the protocol
    checkpointer = Checkpointer(run_dir / "checkpoints", cfg.keep_checkpoints, run_meta, lambda m: say(comm, m),
                                lambda m: warn(comm, m), (faults.slow_save, faults.slow_saves))
    return dict(log=log, side=SideWork(cfg, comm, run_dir, learner, log), checkpointer=checkpointer)


def announce(run: Run, threads: int, env_seed: int) -> dict:
    """The run's first lines, config.json and metadata.json (rank 0); returns the metadata."""
    from ba3c.runlog import metadata, trim_progress

    cfg, comm, plan = run.cfg, run.comm, run.plan
    if comm.rank != 0:
        return {}
    world = {"size": comm.size, "world_size": comm.world_size, "side_ranks": comm.side_ranks,
             "backend": comm.backend, "threads_per_rank": threads, "global_batch": plan.global_batch,
             "batch_plan": plan.summary(), "lr_effective": run.lr_at(cfg.lr_warmup or 0),
             "env_seed_rank0": env_seed, "model_params": run.learner.num_params,
             "protocol": {**cfg.protocol(), "env_id": cfg.env_id, "description": cfg.describe_protocol()},
             "openmpi_mca": {k: v for k, v in os.environ.items() if k.startswith("OMPI_MCA_")}}
    run.log.write_json("config.json", cfg.to_dict())
    if undone := trim_progress(run.log.folder, run.state.counters["frames"]):
        say(comm, f"progress.jsonl: {undone} row(s) logged after the checkpoint, by training this start redoes, "
                  f"moved to progress-undone.jsonl")
    meta = run.log.write_metadata({**metadata(world), "frames_at_start": run.state.counters["frames"]})
    say(comm, f"BA3C {cfg.env} ({run.learner.model.n_actions} actions) | {comm.size} rank(s) via {comm.backend} | "
              f"{cfg.arch} net {run.learner.num_params:,} params | {threads} thread(s)/rank | env seeds "
              f"{env_seed}+1000*rank | run folder {Path(cfg.logdir) / cfg.name}")
    say(comm, cfg.describe_protocol())
    say(comm, plan.summary())
    if run.growth is not None:
        from ba3c.grow import WINDOW_UPDATES

        g = run.growth
        say(comm, f"--grow_envs: the emulators per one-core rank ({g.envs} now, at most {g.max_envs}) double whenever "
                  f"the median noise scale of the last {WINDOW_UPDATES} updates says a job of {g.ranks:,} one-core "
                  f"ranks{' (virtual: ' + str(cfg.virtual_ranks) + ' per process)' if cfg.virtual_ranks > 1 else ''} "
                  f"reaches its score sooner with twice the batch (update time: "
                  f"{'the model' if cfg.virtual_ranks > 1 else 'live, plus the model for the bigger batch'})")
    if cfg.overlap:
        say(comm, "note: --overlap applies each gradient one update late; in the overlap study it learned slower per "
                  "frame at every global batch tried (README, Scaling: where it still pays in minutes)")
    return meta


def train(cfg: Config, comm: Comm, clock: StartupClock) -> int:
    """Set up; then for each update: collect a rollout, compute gradients, average them over ranks,
    apply, record; then the periodic jobs the averaged control flags ask for; then the end."""
    run = set_up(cfg, comm, clock)
    clock.mark("setup")
    state, pipeline, total = run.state, run.pipeline, run.cfg.total_frames
    watch = Stopwatch()
    while True:
        t_other = watch.lap()  # since the previous application: its record and periodic jobs
        t_begin = time.perf_counter()
        if state.wants_rollout(len(pipeline), run.frames_per_update, total):
            timing = collect(run)
            flat, t_gradients = gradients(run)
            pipeline.start(flat, timing, t_gradients)  # all ranks
            if not pipeline.ready():  # --overlap: the first update waits for the next one's rollout
                watch.lap()
                continue
        elif not pipeline:
            break
        done = pipeline.pop()
        result, t_wait, t_apply = apply(run, done)  # waits for the allreduce: all ranks
        watch.lap()
        run.meter.add(result, done.timing, done.t_gradients + t_apply, done.t_start + t_wait, t_other)
        record(run, result)
        periodic_jobs(run, result)
        run.update_seconds.append(time.perf_counter() - t_begin)
    return finish(run)


def collect(run: Run):
    """Play one rollout into run.rollout; feed the mean-screen measurement while it lasts."""
    from ba3c.rollout import collect as collect_rollout

    timing = collect_rollout(run.envs, run.learner.logits, run.rng, run.rollout)
    if run.screen.active and (local := run.screen.add(run.rollout.obs)) is not None:
        # Rank 0's mean on every rank: a broadcast, because with --overlap a gradient allreduce is in
        # flight here, and the ranks' networks must be the same function.
        run.learner.model.obs_mean.assign(run.comm.broadcast([local])[0])  # all ranks
    return timing


def gradients(run: Run):
    """This rank's flat buffer for the allreduce, carrying the control flags asked for now."""
    from ba3c.learner import Control

    now = time.time()
    # Asked now, acted on when the averaged flags come back (with --overlap, an update later).
    control = Control(stop=run.stop.requested, log=run.log_timer.ask(now), save=run.save_timer.ask(now),
                      target=run.progress.target_reached, grow=run.progress.grow_asked)
    watch = Stopwatch()
    update = run.state.counters["updates"] + len(run.pipeline)
    queued_frames = run.state.counters["frames"] + len(run.pipeline) * run.frames_per_update
    flat = run.faults.before_allreduce(update, run.learner.gradients(run.rollout, run.beta_at(queued_frames), control),
                                       run.learner.num_params)
    return flat, watch.lap()


def apply(run: Run, done):
    """Wait for the averaged buffer, then clip and step the optimizer (skipped alike on every rank
    when non-finite). Returns the UpdateResult and the seconds waited and applying."""
    watch = Stopwatch()
    averaged = done.pending.wait()  # all ranks
    t_wait = watch.lap()
    result = run.learner.apply(averaged, run.lr_at(run.state.counters["frames"]))
    return result, t_wait, watch.lap()


def record(run: Run, result) -> None:
    """Count the update, decide on stopping, and write the log line when it is due or the last."""
    run.faults.after_allreduce(run.state.counters["updates"])
    warning = run.state.count(result.applied, result.control.stop, run.frames_per_update, run.cfg.max_bad_updates,
                              result.control.target)
    if "first_update" not in run.clock.seconds:
        report_startup(run)  # all ranks
    if warning:
        say(run.comm, warning)
    # A row at the last update of a batch, too, so the log says exactly where each batch began.
    if result.control.log or result.control.grow or run.state.is_last(len(run.pipeline), run.cfg.total_frames):
        run.progress.record(run)  # all ranks
    if result.control.grow and run.growth is not None and not run.state.stopping:
        grow(run)  # all ranks


def periodic_jobs(run: Run, result) -> None:
    """Side work, the progress bar, a checkpoint when asked, and the collective deadline."""
    from mpi.watchdog import auto_timeout

    counters = run.state.counters
    run.side.step(counters["updates"], counters["frames"])
    run.log.bar_update(counters["frames"], run.progress.last_row)
    if not run.checkpointer.poll():
        run.stop.requested = True  # a write failed: all ranks stop at the next update, the last good one kept
    if result.control.save and not run.state.stopping:
        run.save_checkpoint()
    if not run.cfg.collective_timeout:
        run.comm.set_collective_timeout(auto_timeout(run.update_seconds))


def finish(run: Run) -> int:
    """Every rank's weights checked equal, the last checkpoint written, side work and logs closed."""
    comm, state = run.comm, run.state
    if run.envs is not None:
        run.envs.close()
    checksums = comm.gather(run.learner.weights_checksum())  # all ranks
    if checksums is not None:
        if len(set(checksums)) == 1:
            say(comm, f"weights identical on all {comm.size} rank(s): checksum {checksums[0]}")
        else:
            warn(comm, f"warning: ranks' weights diverged: {checksums}")
    saved = run.save_checkpoint(wait=True)
    run.side.close(final=state.reason in ("done", "target"))
    run.log.close()
    if not saved:
        raise UserError(run.checkpointer.error)
    if state.reason == "target":
        say(comm, f"score(100) reached --stop_at_score {run.cfg.stop_at_score:g} at {state.counters['frames']:,} "
                  "frames: done")
    if state.reason == "signal":
        say(comm, f"stopped by {run.stop.signal_name or 'a signal on another rank'}; run the same command to resume")
    if state.reason == "nonfinite":
        raise UserError(f"{run.cfg.max_bad_updates} updates in a row had non-finite loss or gradients; stopped "
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


def print_plan(cfg: Config) -> int:
    """--plan N: the batch plan of these flags at N ranks and its projections (benchmarks/plan.py)."""
    from ba3c.batch_plan import plan_batch

    if cfg.plan < 1:
        raise UserError(f"--plan {cfg.plan}: give the number of one-core ranks to plan for, e.g. --plan 768")
    plan = plan_batch(cfg.plan, cfg.batch_size, cfg.envs_per_rank, cfg.n_step, cfg.global_batch, cfg.lr_scaling)
    sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))
    from plan import report

    return report(cfg.plan, cfg.env, plan, cfg=cfg)


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
        if cfg.plan:
            return print_plan(cfg) if rank == 0 else 0
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
