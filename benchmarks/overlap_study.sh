#!/usr/bin/env bash
# The learning cost of --overlap (docs/scaling.md): frames to Breakout score(100) 20 with and without
# it, today's defaults, one process, 3M frames per run: 3 seeds per arm at global batch 80 and 2 per
# arm at 1,280. The synchronous runs share their folders with the scale study (make scale-study: the
# same flags), so a synchronous run either study has trained is reused, not repeated: its first 3M
# frames are the arm's. Resumable like the scale study; each finished run goes to
# benchmarks/results/overlap.jsonl.
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
run 80 3  # the third synchronous seed at 80; seeds 1-2 at 80 and 1-2 at 1,280 come from the scale study
