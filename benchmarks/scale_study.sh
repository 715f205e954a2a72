#!/usr/bin/env bash
# The long runs of the scale study (frames and updates to Breakout score(100) 20 ... 300 per global
# batch, with the current defaults), one after another. Each run resumes its own folder
# (benchmarks/runs/), so rerunning this script continues where it stopped; a finished run ends at
# once. While a run trains, its curve so far is rewritten to benchmarks/results/batch-partial/ every
# 10 minutes; a finished run is appended to benchmarks/results/scale.jsonl.
# Batch 5,120 is run only after the fit of the smaller batches has predicted it (docs/large-batches.md).
set -euo pipefail
cd "$(dirname "$0")"
PY=../.venv/bin/python
run() {  # global batch, seed, frame budget, score(100) to stop at
  $PY bench_batch.py --global_batch "$1" --seed "$2" --frames "$3" --stop_at_score "$4" --results scale
}
run 80 1 4e7 300
run 1280 1 4e7 300
run 320 1 4e7 300
run 80 2 4e7 300
run 1280 2 4e7 300
