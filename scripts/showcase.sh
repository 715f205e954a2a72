#!/bin/bash
# Train one showcase game with the trainer's defaults and turn it into what models/ and the README
# show: a float16 .npz, its 30-game evaluation, and GIFs of the first 60 s of a game at 0 frames,
# at the checkpoint nearest half the budget, and at the end. Rerunning resumes the training run.
#   scripts/showcase.sh GAME            (make showcase GAME=Seaquest)
# Environment: FRAMES (1e7), RUNS (benchmarks/runs), NAME (the run folder: <game>-model), OUT (models),
# GIFS (docs/showcase), PY (.venv/bin/python), EPISODES (30: games evaluated), VIDEO_SECONDS (60: of each GIF),
# FLAGS (extra training flags, e.g. FLAGS="--obs_mean_updates 0" for the models trained before the mean screen)
set -euo pipefail
cd "$(dirname "$0")/.."
GAME=${1:?usage: scripts/showcase.sh GAME}
FRAMES=${FRAMES:-1e7}; RUNS=${RUNS:-benchmarks/runs}; OUT=${OUT:-models}; GIFS=${GIFS:-docs/showcase}
PY=${PY:-.venv/bin/python}; EPISODES=${EPISODES:-30}; VIDEO_SECONDS=${VIDEO_SECONDS:-60}
read -r -a flags <<< "${FLAGS:-}"
lower=$(echo "$GAME" | tr '[:upper:]' '[:lower:]')
name=${NAME:-$lower-model}
ckpts=$RUNS/$name/checkpoints
mkdir -p "$OUT" "$GIFS"
# The first command keeps an untrained snapshot for the 0-frames GIF; checkpoints every 5 minutes are kept.
[ -d "$ckpts" ] || "$PY" train.py -e "$GAME" --total_frames 1 --logdir "$RUNS" --name "$name" --keep_checkpoints 1000 \
    ${flags[@]+"${flags[@]}"}
"$PY" train.py -e "$GAME" --total_frames "$FRAMES" --logdir "$RUNS" --name "$name" --keep_checkpoints 1000 \
    ${flags[@]+"${flags[@]}"}
# A stop by signal (Ctrl-C, SIGTERM) ends train.py normally after a checkpoint: only a run that
# reached its budget is exported.
"$PY" -c 'import json, sys
path, budget, name = sys.argv[1:]
frames = json.loads(open(path).read().splitlines()[-1])["frames"]
if frames < float(budget):
    sys.exit(f"error: {name} stopped at {frames} frames, before {budget}; run the same command again to resume it")' \
    "$RUNS/$name/progress.jsonl" "$FRAMES" "$name"
first=$(ls "$ckpts"/ckpt-*.ba3c | head -n 1)
last=$(ls "$ckpts"/ckpt-*.ba3c | tail -n 1)
# Checkpoint names count updates; the one nearest half of the last one is "midway".
half=$(( 10#$(basename "$last" .ba3c | sed 's/ckpt-//') / 2 ))
mid=$(for c in "$ckpts"/ckpt-*.ba3c; do n=$(( 10#$(basename "$c" .ba3c | sed 's/ckpt-//') )); \
      echo "$(( n > half ? n - half : half - n )) $c"; done | sort -n | head -n 1 | cut -d' ' -f2)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" train.py --task export --load "$last" --output "$OUT/$GAME.npz" --export_dtype float16
"$PY" train.py --task eval --load "$OUT/$GAME.npz" -e "$GAME" --episodes "$EPISODES" --output "$OUT/$GAME-eval.json"
for pair in "0M $first" "mid $mid"; do
    set -- $pair
    "$PY" train.py --task export --load "$2" --output "$tmp/$1.npz" --export_dtype float16
    "$PY" train.py --task record --load "$tmp/$1.npz" -e "$GAME" --output "$GIFS/$lower-$1.gif" --video_seconds "$VIDEO_SECONDS"
done
"$PY" train.py --task record --load "$OUT/$GAME.npz" -e "$GAME" --output "$GIFS/$lower-end.gif" --video_seconds "$VIDEO_SECONDS"
echo "midway checkpoint: $mid"
echo "wrote $OUT/$GAME.npz, $OUT/$GAME-eval.json and $GIFS/$lower-{0M,mid,end}.gif"
