#!/usr/bin/env bash
# The learning cost of --overlap (docs/scaling.md): frames to Breakout score(100) 20 with and without
# it, today's defaults, one process, 3M frames per run: 3 seeds per arm at global batch 80 and 2 per
# arm at 1,280. The synchronous arm is not trained twice: the scale study's runs have the same flags
# (their first 3M frames are the arm's), and they are recorded at the end; only a third seed at batch
# 80 is trained here. Resumable like the scale study; every run goes to benchmarks/results/overlap.jsonl.
set -euo pipefail
cd "$(dirname "$0")"
PY=../.venv/bin/python
run() {  # global batch, seed, then extra train.py flags
  local batch=$1 seed=$2; shift 2
  $PY bench_batch.py --global_batch "$batch" --seed "$seed" --frames 3e6 --results overlap -- "$@"
}
for seed in 1 2 3; do
  run 80 $seed --overlap
done
for seed in 1 2; do
  run 1280 $seed --overlap
done
run 80 3  # the third synchronous seed at 80; the others are recorded below
# The synchronous arm's other runs, recorded beside the overlapped ones: the learning check's seed-1
# run (same flags, the current code from its first frame) and the scale study's batch-80 seed-2 and
# batch-1,280 runs once they exist (rerun this script after the scale study's first stage; finished
# runs end at once).
for f in runs/learncheck-b80-s1 runs/breakout-b80-none-s2 runs/breakout-b1280-none-s1 runs/breakout-b1280-none-s2; do
  if [ -d "$f" ]; then $PY bench_batch.py --record-only --folder "$f" --results overlap; fi
done
# The verdict: frames to 20 per arm and seed, and where the --overlap mean lies against the
# synchronous seeds' range (benchmarks/overlap_decision.py).
$PY overlap_decision.py --json results/overlap-decision.json
