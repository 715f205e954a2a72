#!/usr/bin/env bash
# The learning cost of --overlap (docs/scaling.md): frames to Breakout score(100) 20 with and without
# it, today's defaults, one process, 3M frames per run: 3 seeds per arm at global batch 80 and 2 per
# arm at 1,280. Synchronous runs share their folders with the scale study (same flags): whichever
# study trains a folder first, the other resumes it (a run already past 3M frames ends at once and is
# recorded with its whole curve; the verdict reads frames to 20 and the score at 3M). The synchronous
# seed 1 at batch 80 is the learning check's run of the current code. Resumable like the scale study;
# every run goes to benchmarks/results/overlap.jsonl, and the script ends with the verdict. A run already
# recorded there at 3M frames is not trained again, so a restart on a new machine (run folders gone)
# trains only what is missing.
set -euo pipefail
cd "$(dirname "$0")"
PY=../.venv/bin/python
read -ra STUDY <<< "$($PY scale_runs.py)"  # the scale study's optimizer: its batch-1,280 folders are shared
run() {  # global batch, seed, then extra train.py flags
  local batch=$1 seed=$2; shift 2
  $PY bench_batch.py --global_batch "$batch" --seed "$seed" --frames 3e6 --results overlap --skip_recorded -- "${STUDY[@]}" "$@"
}
for seed in 1 2 3; do
  run 80 $seed --overlap
done
run 80 3
run 80 2
for seed in 1 2; do
  run 1280 $seed  # first: the scale study trains on from the same folder
  run 1280 $seed --overlap
done
if [ -d runs/learncheck-b80-s1 ]; then
  $PY bench_batch.py --record-only --folder runs/learncheck-b80-s1 --results overlap
fi
# The verdict: frames to 20 per arm and seed, where the --overlap mean lies against the synchronous
# seeds' range, and where --overlap still wins in minutes (benchmarks/overlap_decision.py).
$PY overlap_decision.py --json results/overlap-decision.json
