#!/usr/bin/env bash
# The long runs of the scale study (frames and updates to Breakout score(100) 20 ... 300 per global
# batch, with the study's optimizer: Distributed BA3C's Adam, pinned by STUDY below whatever the
# defaults are), one after another, in two stages: every run to score 100 first
# (what the fit for 20, 50 and 100, and so the prediction for batch 5,120, needs), then every run on
# to 300. Each run resumes its own folder (benchmarks/runs/), so rerunning this script continues
# where it stopped; a run already at its stage's score ends at once. While a run trains, its curve so
# far is rewritten to benchmarks/results/batch-partial/ every 10 minutes; each finished stage of a run,
# with a 30-game evaluation (standard protocol) of its last checkpoint, is appended to
# benchmarks/results/scale.jsonl. A stage already recorded there is not trained again, so on a new
# machine (run folders gone) the study retrains only what it has not recorded; a run whose folder is
# gone starts its next stage from frame 0 unless its carry (benchmarks/carry/<run>/, refreshed with every
# partial curve: commit it before a machine goes) brings back its newest checkpoint.
# After batch 320 seed 1 reaches 100, the same start growing its emulators per rank (--grow_envs, 64
# virtual ranks; benchmarks/grow_compare.py compares the two), and batch 640 (the default plan at 64
# ranks) to 100, the fixed plan a default --grow_envs would replace.
# Batch 5,120 trains only once benchmarks/results/prediction-b5120.json is committed
# (benchmarks/predict.py, docs/large-batches.md): the prediction is on record before the run.
set -euo pipefail
cd "$(dirname "$0")"
PY=../.venv/bin/python
read -ra STUDY <<< "$($PY scale_runs.py)"  # scale_runs.STUDY_OPTIMIZER as train.py flags
run() {  # global batch, seed, frame budget, score(100) to stop at
  $PY bench_batch.py --global_batch "$1" --seed "$2" --frames "$3" --stop_at_score "$4" --results scale --eval_games 30 \
    --skip_recorded --carry -- "${STUDY[@]}"
}
grow() {  # part 4: 64 one-core ranks (virtual) from 1 emulator each, growing by the noise scale, to 100
  $PY bench_batch.py --global_batch 320 --seed 1 --frames 4e7 --stop_at_score 100 --results scale --eval_games 30 \
    --skip_recorded --carry --tag grow -- --grow_envs --virtual_ranks 64 "${STUDY[@]}"
}
stage_1() {  # every run to score(100) 100: the fit to 20, 50 and 100, and batch 5,120's prediction
  run 80 1 4e7 100
  run 1280 1 4e7 100
  run 320 1 4e7 100
  grow
  run 80 2 4e7 100
  run 1280 2 4e7 100
  run 640 1 4e7 100  # the default plan at 64 ranks then (2 emulators each): --grow_envs' fixed baseline
  if $PY predict.py --global_batch 5120 --committed; then
    run 5120 1 6e7 100
  else
    echo "batch 5,120 waits for its committed prediction: python benchmarks/predict.py --global_batch 5120, commit, rerun"
  fi
}
stage_2() {  # every run on to 300: batch 80 and 320 first (resumed from their stage-1 ends, small enough
  # to resume anywhere), so the fit to 200 and 300 has two batches soonest; then the large batches, each
  # best started at a session's beginning (a resume withholds score(100) for 2 games per emulator: 512
  # games at batch 1,280, which hid seed 2's crossing of 300). Batch 1,280 seed 1 goes before 80 seed 2:
  # from frame 0 it reaches 300 in one session (~15M frames), uncensored.
  run 80 1 4e7 300
  run 320 1 4e7 300
  run 1280 2 4e7 300
  run 1280 1 4e7 300
  run 80 2 4e7 300
}
stage_1
stage_2
