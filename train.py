#!/usr/bin/env python
"""Batch-A3C trainer for Atari 2600 games.

    python train.py -e Breakout                      # one process
    mpirun -np 4 python train.py -e Breakout         # a workstation
    srun --mpi=pmix -n 1500 python train.py ...      # a Slurm cluster

Reads top to bottom: set up, then for each update: rollout, returns, gradients, allreduce, apply,
log, checkpoint. See README.md for the flags and what a run writes.
"""
from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from collections import deque
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ba3c.config import Config, parse_config  # noqa: E402
from ba3c.errors import UserError  # noqa: E402
from ba3c.quiet import quiet_stderr  # noqa: E402
from mpi.comm import Comm, env_rank, init_comm  # noqa: E402

FRAMESKIP = 4


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


def restore_or_init(cfg: Config, comm: Comm, learner, run_dir: Path) -> dict:
    """Rank 0 finds and checks a checkpoint; the verdict and the weights go to every rank, so all
    ranks fail together (no abort needed) or start from identical state."""
    from ba3c import checkpoint

    counters = {"frames": 0, "updates": 0, "games": 0, "wall_time": 0.0, "skipped_updates": 0}
    error, meta, source, warm = None, None, None, None
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
                check_compatible(cfg, meta, learner.model.n_actions, source)
                learner.set_state([arrays[n] for n in learner.state_names()])
                counters.update({k: meta["counters"][k] for k in counters if k in meta["counters"]})
            elif cfg.load:
                from ba3c.policy import read_model_file

                weights, meta = read_model_file(cfg.load)
                check_compatible(cfg, {**meta, "optimizer": cfg.optimizer}, learner.model.n_actions, cfg.load)
                learner.model.set_weights([weights[f"model/{n}"] for n in learner.model.names])
                warm = cfg.load
        except UserError as e:
            error = str(e)
        except KeyError as e:
            error = f"checkpoint {source} lacks {e}; it was written by another version"
    error, counters, source, warm = comm.broadcast_object((error, counters, str(source) if source else None, warm))
    if error:
        raise UserError(error)
    learner.set_state(comm.broadcast(learner.get_state()))
    if source:
        say(comm, f"resumed from {source} at {counters['frames']:,} frames, update {counters['updates']:,}")
    elif warm:
        say(comm, f"new run warm-started with the weights of {warm}")
    return counters


def check_compatible(cfg: Config, meta: dict, n_actions: int, source) -> None:
    want = {"game": cfg.env, "arch": cfg.arch, "fc_neurons": cfg.fc_neurons, "n_actions": n_actions,
            "optimizer": cfg.optimizer}
    diffs = [f"{k} {meta.get(k)!r} (here {v!r})" for k, v in want.items() if meta.get(k) != v]
    if diffs:
        raise UserError(f"checkpoint {source} does not fit this run: it has " + ", ".join(diffs)
                        + "; use matching flags or another --name")


def train(cfg: Config, comm: Comm) -> int:
    import numpy as np

    from ba3c import checkpoint
    from ba3c.envs import AtariEnvs, available_cores
    from ba3c.learner import STAT_NAMES, Learner
    from ba3c.runlog import RunLog, check_writable, metadata
    from ba3c.sampling import sample_actions
    from ba3c.schedules import parse_schedule

    threads = cfg.threads or available_cores()
    run_dir = Path(cfg.logdir) / cfg.name
    error = None
    if comm.rank == 0:
        try:
            check_writable(run_dir / "checkpoints")
        except UserError as e:
            error = str(e)
    error = comm.broadcast_object(error)
    if error:
        raise UserError(error)

    lr_factor = {"none": 1.0, "linear": float(comm.size), "sqrt": float(np.sqrt(comm.size))}[cfg.lr_scaling]
    lr_at = parse_schedule(cfg.lr_schedule, cfg.learning_rate * lr_factor, cfg.total_frames, "--lr_schedule")
    beta_at = parse_schedule(cfg.entropy_schedule, cfg.entropy_beta, cfg.total_frames, "--entropy_schedule")

    from ba3c.games import action_meanings

    with quiet_stderr():
        learner = Learner(cfg, len(action_meanings(cfg.env)))
    counters = restore_or_init(cfg, comm, learner, run_dir)
    # A resumed run must not replay the games and action draws of its first segment.
    env_seed = cfg.seed + 1000 * comm.rank
    seq = np.random.SeedSequence([cfg.seed, comm.rank, counters["updates"]])
    if counters["updates"]:
        env_seed = int(seq.generate_state(1)[0] % (2**31 - 1))
    rng = np.random.default_rng(seq)
    with quiet_stderr():
        envs = AtariEnvs(cfg.env, cfg.envs_per_rank, seed=env_seed, threads=threads, reward_clip=cfg.reward_clip,
                         **cfg.protocol())

    T, N, B = cfg.n_step, cfg.envs_per_rank, cfg.batch_size
    frames_per_update = B * comm.size * FRAMESKIP
    log = None
    if comm.rank == 0:
        log = RunLog(run_dir, cfg.total_frames, cfg.progress)
        world = {"size": comm.size, "world_size": comm.world_size, "side_ranks": comm.side_ranks,
                 "backend": comm.backend, "threads_per_rank": threads,
                 "global_batch": B * comm.size, "lr_effective": cfg.learning_rate * lr_factor,
                 "env_seed_rank0": env_seed, "model_params": learner.num_params}
        log.write_json("config.json", cfg.to_dict())
        log.write_json("metadata.json", metadata(world))
        say(comm, f"BA3C {cfg.env} ({envs.n_actions} actions) | {comm.size} rank(s) via {comm.backend} | "
                  f"{N} envs x {T} steps = batch {B}/rank, global {B * comm.size} | {cfg.arch} net "
                  f"{learner.num_params:,} params | lr {cfg.learning_rate * lr_factor:g} | "
                  f"{threads} thread(s)/rank | seeds env {cfg.seed}+1000*rank | run folder {run_dir}")

    side = None
    if comm.rank == 0:
        from ba3c.side import SideWork

        side = SideWork(cfg, comm, run_dir, learner, log)
        side.step(counters["updates"], counters["frames"])  # side ranks start with the initial weights
    stop = StopRequest()
    obs_buf = np.empty((T, N, 4, 84, 84), np.uint8)
    act_buf = np.empty((T, N), np.int32)
    rew_buf = np.empty((T, N), np.float32)
    done_buf = np.empty((T, N), np.float32)
    vmask_buf = np.empty((T, N), np.float32)
    pmask_buf = np.empty((T, N), np.float32)
    recent_scores: deque[float] = deque(maxlen=100)
    life_returns: list[float] = []
    sums = {k: 0.0 for k in STAT_NAMES + ("grad_norm", "t_env", "t_act", "t_learn", "t_allreduce", "t_other")}
    n_since_log = n_applied = 0
    # Fault injection for tests of the non-finite path: BA3C_FAULT_NAN="<rank>:<first update>[-<last>]".
    fault = os.environ.get("BA3C_FAULT_NAN", "")
    nan_first = nan_last = -1
    if fault.startswith(f"{comm.rank}:"):
        first, _, last = fault.split(":")[1].partition("-")
        nan_first, nan_last = int(first), int(last or first)
    crash = os.environ.get("BA3C_FAULT_CRASH", "")  # "<rank>:<update>": raise there, for no-hang tests
    crash_at = int(crash.split(":")[1]) if crash.startswith(f"{comm.rank}:") else -1
    t_start = time.time() - counters["wall_time"]
    t_last_log = t_last_save = time.time()
    frames_at_log = counters["frames"]
    t_prev_log = time.time()
    bad_in_row = 0
    last_row = None

    disk_error: list[str] = []

    def save() -> bool:
        """Rank 0 only. A failed write (disk full, folder gone) keeps the previous checkpoints intact
        and asks all ranks to stop at the next update."""
        counters["wall_time"] = time.time() - t_start
        meta = {"game": cfg.env, "arch": cfg.arch, "fc_neurons": cfg.fc_neurons, "n_actions": envs.n_actions,
                "optimizer": cfg.optimizer, "counters": dict(counters), "config": cfg.to_dict(),
                "world_size": comm.size, "weights_checksum": learner.weights_checksum()}
        try:
            path = checkpoint.save(run_dir / "checkpoints", counters["updates"],
                                   dict(zip(learner.state_names(), learner.get_state())), meta, cfg.keep_checkpoints)
        except OSError as e:
            last = checkpoint.list_checkpoints(run_dir / "checkpoints")
            disk_error.append(f"cannot write a checkpoint in {run_dir / 'checkpoints'} ({e.strerror}); the last "
                              f"good one is {last[-1] if last else 'none'}. Free space and run the same command "
                              "to resume")
            warn(comm, f"error: {disk_error[-1]}")
            stop.requested = True
            return False
        say(comm, f"checkpoint {path} ({counters['frames']:,} frames)")
        return True

    reason = "done"
    t_end_prev = time.perf_counter()
    while counters["frames"] < cfg.total_frames:
        t0 = time.perf_counter()
        sums["t_other"] += t0 - t_end_prev  # logging, checkpoints, progress bar of the previous update
        t_act = 0.0
        obs = envs.obs
        for t in range(T):
            ta = time.perf_counter()
            logits, _ = learner.act(obs)
            actions = sample_actions(logits.numpy(), rng)
            t_act += time.perf_counter() - ta
            obs_buf[t] = obs
            res = envs.step(actions)
            act_buf[t] = res.actions
            rew_buf[t] = envs.clip(res.rewards)
            done_buf[t] = res.dones
            vmask_buf[t] = res.valid
            pmask_buf[t] = res.valid & ~res.forced
            obs = res.obs
        t1 = time.perf_counter()

        frames_now = counters["frames"]
        # Control flags ride in the gradient buffer, so all ranks learn them from the one allreduce
        # and take every decision (stop, log, save) at the same update.
        now = time.time()
        control = np.array([stop.requested, comm.rank == 0 and now - t_last_log >= cfg.log_every,
                            comm.rank == 0 and now - t_last_save >= cfg.save_every], np.float32)
        flat = learner.gradients(obs_buf, obs, act_buf, rew_buf, done_buf, pmask_buf, vmask_buf,
                                 np.float32(beta_at(frames_now)), control)
        if counters["updates"] == crash_at:
            raise RuntimeError(f"injected crash at update {crash_at} (BA3C_FAULT_CRASH)")
        if nan_first <= counters["updates"] <= nan_last:
            flat = flat.numpy().copy()
            flat[:learner.num_params] = np.nan
        t2 = time.perf_counter()
        averaged = comm.allreduce_mean(flat)
        t3 = time.perf_counter()
        summary = learner.apply(averaged, np.float32(lr_at(frames_now))).numpy()
        applied, norm, stats, flags = summary[0] > 0, float(summary[1]), summary[2:-3], summary[-3:] > 0
        if applied:
            bad_in_row = 0
        else:
            counters["skipped_updates"] += 1
            bad_in_row += 1
            say(comm, f"warning: non-finite loss or gradients at update {counters['updates']} on some rank; "
                      f"update skipped on all ranks ({bad_in_row} in a row)")
            if bad_in_row >= cfg.max_bad_updates:
                reason = "nonfinite"
        t4 = time.perf_counter()
        counters["updates"] += 1
        counters["frames"] += frames_per_update
        if applied:
            for k, v in zip(STAT_NAMES, stats):
                sums[k] += float(v)
            sums["grad_norm"] += norm
            n_applied += 1
        for k, v in (("t_env", t1 - t0 - t_act), ("t_act", t_act), ("t_learn", (t2 - t1) + (t4 - t3)),
                     ("t_allreduce", t3 - t2)):
            sums[k] += v
        n_since_log += 1

        want_stop = bool(flags[0]) or reason == "nonfinite"
        if flags[1] or want_stop or counters["frames"] >= cfg.total_frames:
            my_scores, _, my_lives, _ = envs.pop_finished()
            gathered = comm.gather((my_scores, my_lives))
            if comm.rank == 0:
                for scores, lives in gathered:
                    recent_scores.extend(scores)
                    life_returns.extend(lives)
                    counters["games"] += len(scores)
                now = time.time()
                row = {"frames": counters["frames"], "updates": counters["updates"],
                       "wall_time": round(now - t_start, 2),
                       "fps": (counters["frames"] - frames_at_log) / max(now - t_prev_log, 1e-9),
                       "games": counters["games"],
                       "score_mean100": float(np.mean(recent_scores)) if recent_scores else None,
                       "train_life_return": float(np.mean(life_returns)) if life_returns else None,
                       "lr": lr_at(frames_now), "entropy_beta": beta_at(frames_now),
                       "skipped_updates": counters["skipped_updates"],
                       "eval_score_mean": side.latest_eval["mean"] if side.latest_eval else None}
                row.update({k: v / max(n_applied if k in STAT_NAMES or k == "grad_norm" else n_since_log, 1)
                            for k, v in sums.items()})
                log.log(row)
                last_row = row
                frames_at_log, t_prev_log, t_last_log = counters["frames"], now, now
                life_returns = []
            sums = {k: 0.0 for k in sums}
            n_since_log = n_applied = 0
        if comm.rank == 0:
            side.step(counters["updates"], counters["frames"])
            log.bar_update(counters["frames"], last_row)
        if flags[2] and not want_stop:
            if comm.rank == 0:
                save()
            t_last_save = time.time()
        if want_stop:
            if reason != "nonfinite":
                reason = "signal"
            break
        t_end_prev = time.perf_counter()

    envs.close()
    # Every rank must end with the same weights; say so (or loudly not) once per run.
    checksums = comm.gather(learner.weights_checksum())
    if comm.rank == 0:
        if len(set(checksums)) == 1:
            say(comm, f"weights identical on all {comm.size} rank(s): checksum {checksums[0]}")
        else:
            warn(comm, f"warning: ranks' weights diverged: {checksums}")
        saved = save()
        side.close()
        log.close()
        if not saved:
            raise UserError(disk_error[-1])
        if reason == "signal":
            say(comm, f"stopped by {stop.signal_name or 'a signal on another rank'}; run the same command to resume")
    if reason == "nonfinite":
        raise UserError(f"{cfg.max_bad_updates} updates in a row had non-finite loss or gradients; stopped "
                        "with the last good weights checkpointed. Lower -l/--learning_rate or check --grad_clip")
    return 0


def export(cfg: Config) -> int:
    from ba3c.policy import export_npz

    out = export_npz(cfg.load, cfg.output)
    print(f"wrote {out}: weights and the config to rebuild the network")
    return 0


def evaluate(cfg: Config) -> int:
    """--task eval: the standard protocol on --episodes full games; prints and writes JSON."""
    from ba3c.checkpoint import write_json_atomic
    from ba3c.evaluate import model_policy, play_games
    from ba3c.policy import build_model
    from ba3c.scores import summarize

    with quiet_stderr():
        model, meta = build_model(cfg.load, cfg.env)
    out = Path(cfg.output or f"eval-{cfg.env}.json")
    if out.suffix != ".json":
        raise UserError(f"--output {out}: evaluation results are written as .json")
    t0 = time.time()
    scores, lengths = play_games(model_policy(model), cfg.env, cfg.episodes, seed=cfg.seed, **cfg.protocol())
    s = summarize(cfg.env, scores)
    result = {"game": cfg.env, "model": str(cfg.load),
              "protocol": {**cfg.protocol(), "policy": "sampled", "seed": cfg.seed},
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
    from ba3c.policy import build_model
    from ba3c.video import game_frames, record

    if cfg.task == "play" and not os.environ.get("DISPLAY"):
        raise UserError("--task play needs a display (DISPLAY is not set); use --task record --output game.mp4 "
                        "to get a video instead")
    with quiet_stderr():
        model, _ = build_model(cfg.load, cfg.env)
    frames = game_frames(model_policy(model), cfg.env, cfg.seed, **cfg.protocol())
    if cfg.task == "record":
        n, score = record(frames, cfg.output)
        print(f"wrote {cfg.output}: {n} frames, game score {score:g}")
        return 0
    from ba3c.video import show

    score = show(frames)
    print(f"game score {score:g}")
    return 0


def main(argv: list[str] | None = None) -> int:
    rank = env_rank()
    try:
        cfg, ns = parse_config(argv)
        if ns.list_games:
            from ba3c.games import rom_ids

            print("\n".join(rom_ids()))
            return 0
        cfg.finalize()
    except UserError as e:
        if rank == 0:
            print(f"error: {e}", file=sys.stderr)
        return 2
    comm: Comm | None = None
    try:
        configure_threads(cfg)  # before anything (Horovod included) starts TensorFlow's runtime
        if cfg.task != "train":
            if env_rank() != 0:
                return 0
            return {"export": export, "eval": evaluate, "play": record_or_play, "record": record_or_play}[cfg.task](cfg)
        comm = init_comm(cfg.comm, cfg.side_roles())
        if comm.role != "trainer":
            from ba3c.side import run_side_rank

            return run_side_rank(cfg, comm, Path(cfg.logdir) / cfg.name)
        return train(cfg, comm)
    except UserError as e:
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
