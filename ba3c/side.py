"""Side work during training: evaluation games and videos of the current policy.

In an MPI run, --eval_node / --record_node dedicate the last world ranks to it (run_side_rank):
they receive fresh weights from trainer rank 0 every --eval_every updates, play or record, and
send results back; rank 0 logs them beside the training curve. In a one-process run, the same
work runs in-process between updates (SideWork.step). A run that ends normally gets one last round
with its final weights (an evaluation and a video; on a side rank cut after FINAL_ROUND_SECONDS so a
long game cannot hold the job); a run stopped by a signal skips it to exit promptly."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from ba3c.config import Config
from ba3c.errors import UserError

FINAL_ROUND_SECONDS = 60.0  # the last round's bound; rank 0 waits this plus a margin for the side ranks


def eval_report(cfg: Config, policy, seed: int, frames: int,
                should_stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """Play --eval_games full games with the policy; the report rank 0 logs."""
    from ba3c.evaluate import play_games
    from ba3c.scores import summarize

    scores, _ = play_games(policy, cfg.env, cfg.eval_games, seed=seed, should_stop=should_stop, **cfg.protocol())
    return {"role": "eval", "frames": frames, "scores": scores, **summarize(cfg.env, scores)}


def video_report(cfg: Config, policy, seed: int, run_dir: Path, frames: int,
                 should_stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """Record one game to <run>/videos/frames-<frames>.mp4; the report rank 0 logs."""
    from ba3c.evaluate import Abandoned
    from ba3c.video import game_frames, record

    def checked_frames():
        for i, item in enumerate(game_frames(policy, cfg.env, seed, **cfg.protocol())):
            if i % 50 == 0 and should_stop():
                raise Abandoned
            yield item

    path = run_dir / "videos" / f"frames-{frames:012d}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    n, score = record(checked_frames(), path)
    return {"role": "record", "frames": frames, "video_frames": n, "score": score, "path": str(path)}


def record_due(cfg: Config, last_video: float) -> bool:
    """Videos follow wall time (--record_every minutes since the last one), not updates."""
    return time.time() - last_video >= cfg.record_every * 60


def play_round(cfg: Config, role: str, policy, seed: int, run_dir: Path, frames: int,
               should_stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """One round of side work for role ("eval" or "record"): the report rank 0 logs."""
    if role == "eval":
        return eval_report(cfg, policy, seed, frames, should_stop=should_stop)
    return video_report(cfg, policy, seed, run_dir, frames, should_stop=should_stop)


def run_side_rank(cfg: Config, comm, run_dir: Path, interrupted: Callable[[], bool]) -> int:
    """Loop of an eval or record rank until trainer rank 0 says stop. interrupted() turns true on
    SIGINT/SIGTERM/SIGUSR1: a launcher (srun, mpirun, the requeue trap) signals every rank, and a
    side rank that died of it would take the job down before rank 0 checkpoints. So it drops the
    round it is playing and idles until rank 0, stopping for the same signal, says stop."""
    from ba3c.evaluate import Abandoned, derived_seed, model_policy
    from ba3c.games import action_meanings
    from ba3c.model import PolicyValueNet
    from mpi.comm import TAG_BYE, TAG_REPORT, TAG_STOP, TAG_WEIGHTS

    model = PolicyValueNet.from_config(cfg, len(action_meanings(cfg.env)))
    policy = model_policy(model)
    # "final": the (frames, weights) that came with the stop at a normal end; None after a signal
    state: dict[str, Any] = {"frames": None, "pending": None, "stop": False, "final": None}

    def pump() -> bool:
        for tag, _src, payload in comm.poll(source=0):
            if tag == TAG_WEIGHTS:
                state["pending"] = payload  # applied between rounds, so a round uses one policy
            elif tag == TAG_STOP:
                state["stop"], state["final"] = True, payload
        return state["stop"]

    def play(frames: int, seed: int, should_stop: Callable[[], bool]) -> dict[str, Any]:
        return play_round(cfg, comm.role, policy, seed, run_dir, frames, should_stop)

    last_video = -float("inf")
    rounds = 0
    done = None  # frames of the weights last played: eval plays one round per delivery
    while not pump():
        if state["pending"] is not None:
            state["frames"], weights = state["pending"]
            state["pending"] = None
            model.set_weights(weights)
        due = (done != state["frames"] if comm.role == "eval"
               else record_due(cfg, last_video))
        if state["frames"] is None or not due or interrupted():
            time.sleep(0.05)
            continue
        rounds += 1
        try:
            report = play(state["frames"], derived_seed(cfg.seed, comm.world_rank, rounds),
                          lambda: pump() or interrupted())
        except Abandoned:
            continue  # stopped or signalled mid-round; a final round below (if any) replaces it
        done, last_video = state["frames"], time.time()
        comm.send(0, TAG_REPORT, report)
    note = None
    if state["final"] is not None and state["final"][0] != done and not interrupted():
        model.set_weights(state["final"][1])
        note = final_round(comm, lambda should_stop: play(state["final"][0], derived_seed(
            cfg.seed, comm.world_rank, rounds + 1), should_stop))
    comm.send(0, TAG_BYE, note)
    comm.drain_sends()
    return 0


def final_round(comm, play: Callable[[Callable[[], bool]], dict[str, Any]]) -> str | None:
    """One last round on the final weights, cut after FINAL_ROUND_SECONDS; a note if it was cut."""
    from ba3c.evaluate import Abandoned
    from mpi.comm import TAG_REPORT

    deadline = time.time() + FINAL_ROUND_SECONDS
    try:
        comm.send(0, TAG_REPORT, {**play(lambda: time.time() > deadline), "final": True})
    except Abandoned:
        return (f"the final {comm.role} round (rank {comm.world_rank}) was cut after "
                f"{FINAL_ROUND_SECONDS:.0f} s: nothing logged for it")
    return None


class SideWork:
    """Trainer rank 0's end: feed side ranks (or do their work in-process) and log their reports."""

    def __init__(self, cfg: Config, comm, run_dir: Path, learner, log) -> None:
        self.cfg, self.comm, self.run_dir, self.learner, self.log = cfg, comm, run_dir, learner, log
        self.roles = cfg.side_roles()
        self.remote = dict(comm.side_ranks)
        self.last_video = -float("inf")
        self.rounds = 0
        self.frames = 0  # of the latest weights seen by step()
        self.played: dict[str, int] = {}  # role -> frames of the weights it last played in-process
        self.latest_eval: dict[str, Any] | None = None
        self._policy = None

    def _local_policy(self):
        if self._policy is None:
            from ba3c.evaluate import model_policy

            self._policy = model_policy(self.learner.model)
        return self._policy

    def step(self, updates: int, frames: int) -> None:
        """Called by trainer rank 0 after every update."""
        self.frames = frames
        if not self.roles:
            return
        if self.remote:
            if updates % self.cfg.eval_every == 0:
                weights = self.learner.model.get_weights()
                for rank in self.remote.values():
                    self.comm.send_weights(rank, weights, frames)
            self._collect()
            return
        if "eval" in self.roles and updates % self.cfg.eval_every == 0:
            self._play_local("eval")
        if "record" in self.roles and record_due(self.cfg, self.last_video):
            self._play_local("record")
            self.last_video = time.time()

    def _play_local(self, role: str, final: bool = False) -> None:
        from ba3c.evaluate import derived_seed

        seed = derived_seed(self.cfg.seed, 0, self.rounds)
        self.rounds += 1
        self.played[role] = self.frames
        report = play_round(self.cfg, role, self._local_policy(), seed, self.run_dir, self.frames)
        self._report({**report, "final": True} if final else report)

    def _collect(self) -> list[int]:
        from ba3c.runlog import print_line
        from mpi.comm import TAG_BYE, TAG_REPORT

        byes = []
        for tag, src, payload in self.comm.poll():
            if tag == TAG_REPORT:
                self._report(payload)
            elif tag == TAG_BYE:
                byes.append(src)
                if payload:
                    print_line(payload)
        return byes

    def _report(self, rep: dict[str, Any]) -> None:
        from ba3c.runlog import print_line

        # "final": the round a normal end plays with the end weights (never after a signal)
        final = "final " if rep.get("final") else ""
        if rep["role"] == "eval":
            self.latest_eval = rep
            print_line(f"{final}eval at {rep['frames']:,} frames: mean {rep['mean']:.1f} median {rep['median']:.1f} "
                       f"over {rep['games']} games")
        else:
            print_line(f"{final}video at {rep['frames']:,} frames: {rep['path']} (score {rep['score']:g})")
        self.log.side_report(rep)

    def close(self, final: bool) -> None:
        """End side work. final (a normal end): one last round with the final weights, unless they were
        played already; otherwise (a signal) side ranks drop what they are doing. Waiting is bounded."""
        if not self.remote:
            for role in self.roles if final else ():
                if self.played.get(role) != self.frames:
                    self._play_local(role, final=True)
            return
        from mpi.comm import TAG_STOP

        payload = (self.frames, self.learner.model.get_weights()) if final else None
        for rank in self.remote.values():
            self.comm.send(rank, TAG_STOP, payload)
        timeout = FINAL_ROUND_SECONDS + 60
        waiting = set(self.remote.values())
        deadline = time.time() + timeout
        while waiting and time.time() < deadline:
            waiting -= set(self._collect())
            time.sleep(0.05)
        if waiting:
            raise UserError(f"side rank(s) {sorted(waiting)} did not answer within {timeout:.0f} s after training "
                            "ended")
        self.comm.drain_sends()
