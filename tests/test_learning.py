"""The trainer really learns: on real Breakout, a short run's policy beats the random policy by a
wide margin.

Budget: at most 0.8M frames on one thread (`--threads 1`): `make test` runs a second pytest worker
beside it on a 2-core machine, and two TensorFlow threads fighting that worker for the cores cost
more CPU per update than one (a 16 x 5 update takes ~223 core-ms on one thread, ~308 on two; `make
bench-update`). Even so this test was over half of the suite's CPU time (1,474 s of a 1,851-s
fresh-clone `make test` on one worker, 2026-12-05), so the run stops as soon as its score(100)
reaches 2.5x the random score (`--stop_at_score`), and passes at 2x. Breakout's random policy scores
~1.3 per game (all five lives, FIRE pressed after a lost life, as in training). With today's defaults
(mean screen) this very run (seed 0, one thread) read 3.2 / 6.6 / 7.9 / 10.9 / 13.3 at 0.5 / 0.6 /
0.7 / 0.8 / 1.0M frames in a fresh-clone run of 2026-12-04, so it stops near 0.5M; other seeds and
thread counts read 9.9, 5.7 and 5.6 at 0.8M (benchmarks/runs: learncheck-b80-s1,
breakout-b80-none-s1-overlap, and breakout-b80-none-s1 on the code before 5deed6f) but only 3.4-7.5 at
0.7M, which is why the budget stays 0.8M. 2x the random score measured in this same test is under
half of the lowest of those at 0.8M, and still a gap many standard errors wide (random-policy game
scores have std ~1.2, so the mean of 100 games has a standard error of ~0.12).

The timeout guards against a hang, not against a slow host: on a 2-core AVX2-only EPYC of
2026-12-04 (`make bench-model`: 523 learning samples/s, against 637-917 on the machine above and
2,022 on an AVX-512 one) this run had not finished after 1,800 s. 3,600 s allows 222 frames/s."""
import json

import numpy as np
import pytest

from ba3c.evaluate import play_games
from conftest import run_train

pytestmark = pytest.mark.slow
FRAMES = 800_000


def test_breakout_beats_random_policy(tmp_path):
    random_scores, _ = play_games(lambda obs: np.zeros((len(obs), 4), np.float32), "breakout", 60, seed=11)
    random_mean = float(np.mean(random_scores))
    run_train(["-e", "Breakout", "--total_frames", FRAMES, "--stop_at_score", round(2.5 * random_mean, 3),
               "--logdir", tmp_path, "--name", "l", "--progress", "off", "--log_every", 20, "--comm", "none",
               "--threads", 1], timeout=3600)
    rows = [json.loads(x) for x in (tmp_path / "l" / "progress.jsonl").read_text().splitlines()]
    trained = rows[-1]["score_mean100"]
    print(f"random policy {random_mean:.2f} over 60 games; trained {trained:.2f} (last 100 games) "
          f"at {rows[-1]['frames']:,} frames")
    assert random_mean < 3.0
    assert trained >= 2 * random_mean, (trained, random_mean)
    # Each row's per-life return is the mean over the lives lost in its interval, few in a row, and the
    # last row can be one update after the row that reached the target (none lost: None; one: often 0.0,
    # as in a fresh-clone run of 2026-12-05): compare the means of the first and the last five readings.
    life_returns = [r["train_life_return"] for r in rows if r["train_life_return"] is not None]
    assert np.mean(life_returns[-5:]) > np.mean(life_returns[:5]), life_returns
