"""The one configuration dataclass: every flag, its help text, validation and derived values."""
from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from ba3c.errors import UserError

if TYPE_CHECKING:
    from ba3c.batch_plan import BatchPlan

from ba3c.batch_plan import DEFAULT_ENVS_PER_RANK, DEFAULT_N_STEP, REFERENCE_BATCH, derive_rank_batch

# Initialisers: "orthogonal", "glorot_uniform", "he_normal" as usual; "normal", "uniform" and "xavier"
# mean what they meant in Distributed-BA3C (see ba3c/model.py), so its published commands run as written.
INITS = ("orthogonal", "glorot_uniform", "he_normal", "normal", "uniform", "xavier")


VALUE_COEF_DEFAULT = 1.0  # 0.5 (R-V)^2 at weight 1, as tensorpack and Distributed-BA3C; measured better (README)
MAX_RANKS = 100_000
MAX_SEED = 2**31 - 1 - 1000 * MAX_RANKS


def _f(default: Any, help: str, *flags: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, "flags": flags, **kw})


@dataclass
class Config:
    # What to do and on what.
    task: str = _f("train", "train; eval (play --episodes full games with --load and report scores); "
                   "play (watch in a window); record (one game to --output .gif/.mp4); export (--load "
                   "checkpoint to --output .npz)", choices=("train", "eval", "play", "record", "export"))
    plan: int = _f(0, "print, without training, the batch plan these flags give N one-core ranks and its "
                   "projected updates, frames and minutes to score(100) 20/100/300 from the recorded scale "
                   "study (docs/scaling.md), then exit", "--plan")
    env: str = _f("Breakout", "Atari game. A gymnasium id keeps its registered protocol: 'ALE/Breakout-v5' "
                  "trains with its sticky actions (0.25); 'Breakout-v0' with its sticky actions and a fixed "
                  "frameskip of 4 for gym's random one; 'BreakoutNoFrameskip-v4' and bare names ('Breakout', "
                  "'breakout') with frameskip 4 and no sticky actions. Read as the ROM id after start-up",
                  "-e", "--env")
    env_id: str | None = _f(None, "the game as typed (set from --env)", internal=True)
    arch: str = _f("nature", "network: 'nature' (Nature-CNN, default: learns faster per hour on CPU) "
                   "or 'ba3c' (Distributed-BA3C conv5-pool stack)", choices=("nature", "ba3c"))
    # Batch per rank = envs_per_rank x n_step (give any two, the third is derived), or --global_batch.
    batch_size: int | None = _f(None, "samples per update per rank = envs_per_rank x n_step; given alone, "
                                "n_step is the largest <= 5 dividing it (default "
                                f"{DEFAULT_ENVS_PER_RANK * DEFAULT_N_STEP} on one rank; on many ranks, see "
                                "--global_batch)", "-b", "--batch_size")
    envs_per_rank: int | None = _f(None, f"emulators stepped by each rank (default {DEFAULT_ENVS_PER_RANK}, "
                                   "fewer on many ranks: the fewest minutes to a score by the scale study's fit, "
                                   "make plan-defaults)")
    n_step: int | None = _f(None, f"steps per rollout, i.e. n of the n-step return (default {DEFAULT_N_STEP})")
    global_batch: int | None = _f(None, "samples per update over all ranks; envs per rank = global_batch / "
                                  "(ranks x n_step). Default: the emulators per rank of make plan-defaults "
                                  "(docs/large-batches.md)")
    grow_envs: bool = _f(False, "double the emulators per rank during the run while the live gradient noise "
                         "scale says the bigger batch saves more updates than its longer update costs (McCandlish "
                         "et al.'s model with the update-time model of `make plan`; docs/large-batches.md, Growing the "
                         "batch). "
                         "Starts from the batch the other flags give")
    virtual_ranks: int = _f(1, "with --grow_envs: each process stands for this many one-core ranks (its "
                            "emulators are theirs together), so one process can study how a job of many ranks "
                            "would grow; the rule then uses the update-time model alone")
    # Optimisation.
    optimizer: str = _f("adam", "adam or rmsprop", "-o", "--optimizer", choices=("adam", "rmsprop"))
    # Adam with its usual memory at half Distributed-BA3C's rate: the robust-defaults screen's choice
    # (models/README.md); Distributed-BA3C's beta1 0.8 / beta2 0.75 / 1e-3 did not learn Boxing.
    learning_rate: float = _f(5e-4, "learning rate (before --lr_scaling)", "-l", "--learning_rate")
    beta1: float = _f(0.9, "Adam beta1")
    beta2: float = _f(0.99, "Adam beta2")
    epsilon: float = _f(1e-8, "Adam/RMSProp epsilon (see --rms_form for where RMSProp adds it)")
    rms_decay: float = _f(0.99, "RMSProp decay of the squared-gradient average")
    rms_form: str = _f("torch", "RMSProp form: torch (g / (sqrt(v) + eps), v from 0, as PyTorch/SB3) or tf1 "
                       "(g / sqrt(v + eps), v from 1, as TF1's RMSPropOptimizer)", choices=("torch", "tf1"))
    lr_schedule: str = _f("constant", "'constant', 'linear' (to 0 at --total_frames) or piecewise "
                          "'FRAMES=VALUE,...' e.g. '40e6=3e-4,80e6=1e-4'")
    lr_scaling: str = _f("auto", "scale the learning rate (and any --lr_schedule values) with the global "
                         f"batch B: none, linear (x B/{REFERENCE_BATCH}) or sqrt (x sqrt(B/{REFERENCE_BATCH})); "
                         "auto = the rule the large-batch study chose", choices=("auto", "none", "linear", "sqrt"))
    lr_warmup: float = _f(0.0, "frames over which the learning rate ramps linearly from -l to its scaled "
                          "value (Goyal et al. 2017); 0 = no warm-up")
    gamma: float = _f(0.99, "discount factor")
    entropy_beta: float = _f(0.01, "entropy bonus weight")
    entropy_schedule: str = _f("constant", "schedule for --entropy_beta, same forms as --lr_schedule")
    value_coef: float = _f(VALUE_COEF_DEFAULT, "weight of the value loss mean 0.5*(R-V)^2 relative to the "
                           "policy loss (1.0 = tensorpack / Distributed-BA3C / SB3's 0.5*mean (R-V)^2)")
    grad_clip: float = _f(0.1, "gradient clip threshold; 0 disables")
    clip_mode: str = _f("avg_norm", "avg_norm: clip each tensor's L2 norm / size (as the source "
                        "projects); global_norm: clip the norm of all gradients together",
                        choices=("avg_norm", "global_norm"))
    reward_clip: float = _f(1.0, "clip training rewards to [-x, x]; 0 disables (game score is never clipped)")
    max_bad_updates: int = _f(10, "stop (with a checkpoint of the last good weights) after this many updates "
                              "in a row had non-finite loss or gradients; such updates are skipped")
    # Network.
    fc_neurons: int | None = _f(None, "width of the fully connected layer (default 512 for nature, 128 for ba3c)")
    fc_init: str = _f("orthogonal", "initialiser of the fully connected layers; normal and uniform as in "
                      "Distributed-BA3C", choices=INITS)
    conv_init: str = _f("orthogonal", "initialiser of the conv layers; normal, uniform and xavier as in "
                        "Distributed-BA3C", choices=INITS)
    obs_mean_updates: int = _f(25, "subtract from every input the per-pixel mean screen of the run's first N "
                               "rollouts (rank 0's, broadcast; then fixed and saved with the weights; a run that ends "
                               "sooner keeps the raw screen); 0 = feed the raw screen, as runs before 2026-11-25 "
                               "did (ba3c/screen_mean.py)")
    # Environment protocol.
    noop_max: int = _f(30, "at the start of every game the emulator draws d in [0, noop_max) and plays d "
                       "single-frame NOOPs (ale-py's reset, not agent steps); in games with FIRE pressed at the "
                       "start, the FIRE frame takes the place of one of them (max(d - 1, 0) NOOPs)")
    sticky_actions: float | None = _f(None, "probability of repeating the previous action (0.25 = Machado et al. "
                                      "2018); default: the --env id's registered value (0 for a bare name; "
                                      "--task eval/record: the model's training protocol)")
    max_episode_frames: int = _f(108_000, "frame cap of one game (108k = 30 minutes of play)")
    fire_on_life_loss: bool = _f(True, "press FIRE at the start of a game and after a lost life in games that "
                                 "have FIRE (the usual Atari wrappers do this in training; those steps are not "
                                 "trained on). It applies to evaluation too: --no-fire_on_life_loss is the strict "
                                 "protocol, where the agent must press FIRE itself")
    # Run length, seeds, outputs.
    total_frames: int = _f(40_000_000, "stop after this many emulator frames (all ranks, frameskip included)")
    stop_at_score: float | None = _f(None, "also stop, as a finished run (checkpoint, final evaluation, exit 0), "
                                     "once score(100), the mean game score of the last 100 games, reaches this; "
                                     "after a resume it waits until every emulator has finished 2 games since "
                                     "(a resume restarts them all at once, which biases the first ones)")
    seed: int = _f(0, "seed; rank r seeds its emulators with seed + 1000 * r on a new run (a resumed run "
                   "draws fresh emulator seeds from seed, rank and update, so it does not replay its start)")
    logdir: str = _f("runs", "folder holding one sub-folder per run")
    name: str | None = _f(None, "run name, i.e. the folder under --logdir (default: the game id)", "--name")
    resume: str = _f("auto", "auto: continue the run folder's latest checkpoint if any; no: refuse to "
                     "reuse a run folder that has checkpoints; or a checkpoint path to start from")
    save_every: float = _f(300.0, "seconds between checkpoints (also written on exit and on SIGTERM/SIGUSR1)")
    keep_checkpoints: int = _f(3, "checkpoints kept in the run folder (older ones are deleted)")
    log_every: float = _f(10.0, "seconds between progress log lines and TensorBoard points")
    progress: str = _f("auto", "progress bar: auto (only on a terminal), on or off", choices=("auto", "on", "off"))
    load: str | None = _f(None, "model to use: a checkpoint (.ba3c) or an exported .npz; for --task train it "
                          "warm-starts the weights of a new run")
    output: str | None = _f(None, "output file: .npz for export, .gif/.mp4 for record, .json for eval")
    episodes: int = _f(30, "--task eval: number of full games")
    video_seconds: float = _f(0.0, "--task record: stop the video after this many seconds of play (0 = the "
                              "whole game; a long game at 15 frames/s is about 1 MB of GIF per minute)")
    export_dtype: str = _f("float32", "--task export: weight precision of the .npz (float16 halves the file; "
                           "weights are widened back to float32 on load)", choices=("float32", "float16"))
    # Evaluation and videos during training.
    eval_node: bool = _f(False, "evaluate during training: a dedicated MPI rank (the last) plays --eval_games "
                         "full games with weights it gets every --eval_every updates; in one process, "
                         "the same runs in-process")
    record_node: bool = _f(False, "record a video of one game every --record_every minutes into "
                           "<run>/videos/ (a dedicated MPI rank, or in-process in a one-process run)")
    eval_every: int = _f(500, "updates between weight deliveries to the eval/record ranks (and in-process evals)")
    eval_games: int = _f(8, "games per evaluation round during training")
    record_every: float = _f(15.0, "minutes between videos recorded during training")
    # Parallelism.
    comm: str = _f("auto", "gradient averaging: auto (horovod if importable, else mpi4py), horovod, "
                   "mpi4py, or none (one process)", choices=("auto", "horovod", "mpi4py", "none"))
    grad_compression: str = _f("none", "how gradients travel in the allreduce: none (float32) or fp16 (16-bit "
                               "floats, half the bytes; each rank's gradient is scaled by 1/ranks before the "
                               "cast so the sum cannot overflow; loss stats and control flags stay float32). "
                               "Experimental: on many ranks most gradient elements underflow (README, Scaling)",
                               choices=("none", "fp16"))
    overlap: bool = _f(False, "average update k's gradients in the background while the emulators play "
                       "update k+1, and apply them one update late (each gradient is one update stale; the "
                       "first is computed on the starting weights). Hides the allreduce behind the rollout; "
                       "its speed and learning cost are in the README (Scaling)")
    collective_timeout: float = _f(0.0, "seconds a rank may wait in one gradient allreduce (or other collective) "
                                   "before the job is aborted, naming the ranks that did not arrive (a hung "
                                   "or stopped rank); 0 = auto: 600 while the run starts, then 20x the slowest "
                                   "recent update, at least 60")
    threads: int = _f(0, "CPU threads per rank for emulators and TensorFlow; 0 = the cores this process "
                      "may use (Slurm cpus-per-task / CPU affinity)")

    def finalize(self) -> "Config":
        """Validate and fill derived values in place; raise UserError with one line on bad input. The
        batch is checked here and sized at start-up, once the world size is known (ba3c/batch_plan.py)."""
        self.batch_size, self.envs_per_rank, self.n_step = derive_rank_batch(
            self.batch_size, self.envs_per_rank, self.n_step)
        self._check_numbers()
        self._resolve()
        return self

    def _check_numbers(self) -> None:
        if self.global_batch is not None and self.global_batch <= 0:
            raise UserError(f"--global_batch must be a positive integer, got {self.global_batch}")
        if self.global_batch is not None and self.batch_size is not None:
            raise UserError("give either --global_batch or the per-rank -b/--envs_per_rank, not both")
        positive = {"learning_rate": self.learning_rate, "gamma": self.gamma, "total_frames": self.total_frames,
                    "save_every": self.save_every, "log_every": self.log_every,
                    "keep_checkpoints": self.keep_checkpoints,
                    "max_bad_updates": self.max_bad_updates, "episodes": self.episodes,
                    "eval_every": self.eval_every, "eval_games": self.eval_games, "record_every": self.record_every,
                    "max_episode_frames": self.max_episode_frames}
        for k, v in positive.items():
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise UserError(f"--{k} must be a positive number, got {v}")
        nonneg = {"entropy_beta": self.entropy_beta, "value_coef": self.value_coef, "grad_clip": self.grad_clip,
                  "reward_clip": self.reward_clip, "epsilon": self.epsilon, "noop_max": self.noop_max,
                  "threads": self.threads, "seed": self.seed, "collective_timeout": self.collective_timeout,
                  "obs_mean_updates": self.obs_mean_updates}
        for k, v in nonneg.items():
            if not (math.isfinite(v) and v >= 0):
                raise UserError(f"--{k} must be >= 0, got {v}")
        if self.gamma > 1:
            raise UserError(f"--gamma must be in (0, 1], got {self.gamma}")
        for k in ("beta1", "beta2", "rms_decay"):
            v = getattr(self, k)
            if not (0 <= v < 1):
                raise UserError(f"--{k} must be in [0, 1), got {v}")
        if self.seed > MAX_SEED:
            raise UserError(f"--seed must be at most {MAX_SEED:,} (the emulator takes a 32-bit int seed and rank "
                            f"r adds 1000 * r, for up to {MAX_RANKS:,} ranks), got {self.seed}")
        if self.stop_at_score is not None and not math.isfinite(self.stop_at_score):
            raise UserError(f"--stop_at_score must be a finite game score, got {self.stop_at_score}")
        if self.virtual_ranks < 1:
            raise UserError(f"--virtual_ranks must be a positive integer, got {self.virtual_ranks}")
        if self.virtual_ranks > 1 and not self.grow_envs:
            raise UserError("--virtual_ranks only tells --grow_envs how many one-core ranks a process stands for; "
                            "add --grow_envs, or drop --virtual_ranks")
        if self.grow_envs and self.overlap:
            raise UserError("--grow_envs does not combine with --overlap (an update in flight would be counted "
                            "at the new batch); drop one of them")
        if self.lr_warmup < 0:
            raise UserError(f"--lr_warmup must be >= 0 frames, got {self.lr_warmup}")
        if self.video_seconds < 0:
            raise UserError(f"--video_seconds must be >= 0 (0 = the whole game), got {self.video_seconds}")

    def _resolve(self) -> None:
        """The game id's protocol, the width, the schedules, the run name and what each task needs."""
        from ba3c.games import resolve_game_id
        from ba3c.schedules import parse_schedule

        game = resolve_game_id(self.env)
        self.env, self.env_id = game.rom, game.env_id
        if self.sticky_actions is None:
            self.sticky_actions = game.sticky_actions  # None for a bare name: see protocol()
        if self.sticky_actions is not None and not (0 <= self.sticky_actions <= 1):
            raise UserError(f"--sticky_actions must be a probability in [0, 1], got {self.sticky_actions}")
        if self.fc_neurons is None:
            self.fc_neurons = 512 if self.arch == "nature" else 128
        if self.fc_neurons <= 0:
            raise UserError(f"--fc_neurons must be positive, got {self.fc_neurons}")
        parse_schedule(self.lr_schedule, self.learning_rate, self.total_frames, "--lr_schedule")
        parse_schedule(self.entropy_schedule, self.entropy_beta, self.total_frames, "--entropy_schedule")
        if self.name is None:
            self.name = self.env
        if not self.name or "/" in self.name or self.name in (".", ".."):
            raise UserError(f"--name must be a plain folder name, got {self.name!r}")
        if self.task == "export" and (not self.load or not self.output):
            raise UserError("--task export needs --load CHECKPOINT and --output FILE.npz")
        if self.task in ("eval", "play", "record") and not self.load:
            raise UserError(f"--task {self.task} needs --load MODEL (a checkpoint .ba3c or an exported .npz)")
        if self.task == "record":
            if not self.output:
                raise UserError("--task record needs --output FILE.gif or FILE.mp4")
            from ba3c.video import check_video_path

            check_video_path(self.output)

    def sized(self, plan: "BatchPlan") -> "Config":
        """A copy with the batch fields and the learning-rate rule the plan chose for this world."""
        return dataclasses.replace(self, batch_size=plan.rank_batch, envs_per_rank=plan.envs_per_rank,
                                   n_step=plan.n_step, global_batch=plan.global_batch, lr_scaling=plan.lr_scaling)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def protocol(self, trained: dict[str, Any] | None = None) -> dict[str, Any]:
        """The emulator protocol shared by training, evaluation and videos, as keyword arguments. Sticky
        actions: the flag, else the --env id's, else (a bare name) those of `trained` (the protocol a
        model file records), else none."""
        sticky = self.sticky_actions
        if sticky is None:
            sticky = float((trained or {}).get("sticky_actions", 0.0))
        return {"noop_max": self.noop_max, "sticky_actions": sticky,
                "max_episode_frames": self.max_episode_frames, "fire_on_life_loss": self.fire_on_life_loss}

    def describe_protocol(self, trained: dict[str, Any] | None = None) -> str:
        """One line for the start of a run or an evaluation: which protocol is in force."""
        from ba3c.games import FRAMESKIP, resolve_game_id

        p = self.protocol(trained)
        note = resolve_game_id(self.env_id).note if self.env_id else None
        fire = "FIRE at start and after a lost life" if p["fire_on_life_loss"] else "no FIRE pressed for the agent"
        line = (f"protocol: {self.env_id or self.env} -> ROM {self.env}, frameskip {FRAMESKIP} (last 2 frames "
                f"max-pooled), sticky actions {p['sticky_actions']:g}, d in 0-{max(self.noop_max - 1, 0)} no-op frames "
                f"at start (d - 1 after a start FIRE), {fire}, {p['max_episode_frames']:,}-frame cap")
        return line + (f". Note: {note}" if note else "")

    def side_roles(self) -> tuple[str, ...]:
        """Side work asked for, in the order side ranks are assigned (the last world ranks)."""
        return tuple(r for r, on in (("eval", self.eval_node), ("record", self.record_node)) if on)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage and exit; we want one line
        raise UserError(f"{message} (see python train.py --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="train.py", description="Batch-A3C trainer for Atari 2600 games, data-parallel over "
                "MPI ranks (mpirun/srun) or in one process.",
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--list-games", action="store_true", help="print the ALE game ids and exit")
    for f in dataclasses.fields(Config):
        meta = f.metadata
        if meta.get("internal"):
            continue
        flags = meta.get("flags") or (f"--{f.name}",)
        kw: dict[str, Any] = {"help": meta["help"], "dest": f.name, "default": f.default}
        if "choices" in meta:
            kw["choices"] = meta["choices"]
        if f.type == "bool":
            kw["action"] = argparse.BooleanOptionalAction
        elif f.type in ("int", "int | None"):
            kw["type"] = _int
            kw["metavar"] = "N"
        elif f.type in ("float", "float | None"):
            kw["type"] = _float
            kw["metavar"] = "X"
        p.add_argument(*flags, **kw)
    return p


def _int(s: str) -> int:
    try:
        v = float(s)  # accept 1e6
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {s!r}") from None
    if not math.isfinite(v) or v != int(v):
        raise argparse.ArgumentTypeError(f"expected an integer, got {s!r}")
    return int(v)


def _float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {s!r}")
    return v


def parse_config(argv: Sequence[str] | None = None) -> tuple[Config, argparse.Namespace]:
    ns = build_parser().parse_args(argv)
    values = {f.name: getattr(ns, f.name) for f in dataclasses.fields(Config) if not f.metadata.get("internal")}
    return Config(**values), ns
