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
from ba3c.quiet import quiet_stderr  # noqa: E402
from ba3c.errors import UserError  # noqa: E402
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
        print(msg, flush=True)


def warn(comm: Comm, msg: str) -> None:
    prefix = "" if comm.rank == 0 else f"[rank {comm.rank}] "
    print(f"{prefix}{msg}", file=sys.stderr, flush=True)


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
    error, meta, source = None, None, None
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
        except UserError as e:
            error = str(e)
        except KeyError as e:
            error = f"checkpoint {source} lacks {e}; it was written by another version"
    error, counters, source = comm.broadcast_object((error, counters, str(source) if source else None))
    if error:
        raise UserError(error)
    learner.set_state(comm.broadcast(learner.get_state()))
    if source:
        say(comm, f"resumed from {source} at {counters['frames']:,} frames, update {counters['updates']:,}")
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
    from ba3c.envs import AtariEnvs
    from ba3c.learner import STAT_NAMES, Learner, sample_actions
    from ba3c.runlog import RunLog, check_writable, metadata
    from ba3c.schedules import parse_schedule

    from ba3c.envs import available_cores

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
        envs = AtariEnvs(cfg.env, cfg.envs_per_rank, seed=env_seed, threads=threads, noop_max=cfg.noop_max,
                         sticky_actions=cfg.sticky_actions, max_episode_frames=cfg.max_episode_frames,
                         fire_on_life_loss=cfg.fire_on_life_loss, reward_clip=cfg.reward_clip)

    T, N, B = cfg.n_step, cfg.envs_per_rank, cfg.batch_size
    frames_per_update = B * comm.size * FRAMESKIP
    log = None
    if comm.rank == 0:
        log = RunLog(run_dir, cfg.total_frames, cfg.progress)
        world = {"size": comm.size, "backend": comm.backend, "threads_per_rank": threads,
                 "global_batch": B * comm.size, "lr_effective": cfg.learning_rate * lr_factor,
                 "env_seed_rank0": env_seed, "model_params": learner.num_params}
        log.write_json("config.json", cfg.to_dict())
        log.write_json("metadata.json", metadata(cfg.to_dict(), world))
        say(comm, f"BA3C {cfg.env} ({envs.n_actions} actions) | {comm.size} rank(s) via {comm.backend} | "
                  f"{N} envs x {T} steps = batch {B}/rank, global {B * comm.size} | {cfg.arch} net "
                  f"{learner.num_params:,} params | lr {cfg.learning_rate * lr_factor:g} | "
                  f"{threads} thread(s)/rank | seeds env {cfg.seed}+1000*rank | run folder {run_dir}")

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
    # Fault injection for tests of the non-finite path: BA3C_FAULT_NAN="<rank>:<update>".
    fault = os.environ.get("BA3C_FAULT_NAN", "")
    fault_nan_update = int(fault.split(":")[1]) if fault.startswith(f"{comm.rank}:") else -1
    t_start = time.time() - counters["wall_time"]
    t_last_log = t_last_save = time.time()
    frames_at_log = counters["frames"]
    t_prev_log = time.time()
    bad_in_row = 0
    last_row = None

    def save() -> None:
        counters["wall_time"] = time.time() - t_start
        meta = {"game": cfg.env, "arch": cfg.arch, "fc_neurons": cfg.fc_neurons, "n_actions": envs.n_actions,
                "optimizer": cfg.optimizer, "counters": dict(counters), "config": cfg.to_dict(),
                "world_size": comm.size}
        path = checkpoint.save(run_dir / "checkpoints", counters["updates"],
                               dict(zip(learner.state_names(), learner.get_state())), meta, cfg.keep_checkpoints)
        say(comm, f"checkpoint {path} ({counters['frames']:,} frames)")

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
        if fault_nan_update == counters["updates"]:
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
            gathered = comm.gather(envs.pop_finished())
            if comm.rank == 0:
                for scores, _lengths, lives in gathered:
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
                       "skipped_updates": counters["skipped_updates"]}
                row.update({k: v / max(n_applied if k in STAT_NAMES or k == "grad_norm" else n_since_log, 1)
                            for k, v in sums.items()})
                log.log(row)
                last_row = row
                frames_at_log, t_prev_log, t_last_log = counters["frames"], now, now
                life_returns = []
            sums = {k: 0.0 for k in sums}
            n_since_log = n_applied = 0
        if comm.rank == 0:
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

    # Every rank must end with the same weights; say so (or loudly not) once per run.
    checksums = comm.gather(learner.weights_checksum())
    if comm.rank == 0:
        if len(set(checksums)) == 1:
            say(comm, f"weights identical on all {comm.size} rank(s): checksum {checksums[0]}")
        else:
            warn(comm, f"warning: ranks' weights diverged: {checksums}")
        save()
        log.close()
        if reason == "signal":
            say(comm, f"stopped by {stop.signal_name or 'a signal on another rank'}; run the same command to resume")
    envs.close()
    if reason == "nonfinite":
        raise UserError(f"{cfg.max_bad_updates} updates in a row had non-finite loss or gradients; stopped "
                        "with the last good weights checkpointed. Lower -l/--learning_rate or check --grad_clip")
    return 0


def export(cfg: Config) -> int:
    import json

    import numpy as np

    from ba3c import checkpoint

    arrays, meta = checkpoint.load(Path(cfg.load))
    weights = {k: v for k, v in arrays.items() if k.startswith("model/")}
    out = Path(cfg.output)
    if out.suffix != ".npz":
        raise UserError(f"--output {out} must end in .npz")
    import io

    buf = io.BytesIO()
    np.savez(buf, **weights, __meta__=np.array(json.dumps({k: meta[k] for k in
                                                        ("game", "arch", "fc_neurons", "n_actions")})))
    checkpoint.write_atomic(out, buf.getvalue())
    print(f"wrote {out}: {len(weights)} arrays for {meta['game']} ({meta['arch']})")
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
        comm = init_comm(cfg.comm)
        if cfg.task == "export":
            return export(cfg) if comm.rank == 0 else 0
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
