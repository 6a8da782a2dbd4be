#!/usr/bin/env bash
# scripts/cv_variant.sh OUT [--model simple_cnn|vgg16] [--folds K] [--seed S] [TRAINER FLAGS...]
#   Trains one model with a recipe variant (the trainer flags) on the cross-validated folds that
#   `./run compare` uses with the same --folds and --seed (defaults 5 and 42), into
#   OUT/repeat1/fold<k>/<model>/, then prints `paired_folds` against BASE when BASE is set
#   (BASE=runs/compare-X scripts/cv_variant.sh ...). A killed run continues: finished folds
#   (metrics.json) are kept. VGG16 variants take each fold's split from BASE's SimpleCNN, so
#   BASE is needed for them.
# Example: BASE=runs/compare-X scripts/cv_variant.sh runs/cv-precise-bn --precise-bn on
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,9p' "$0"; exit 2; }
out=$1; shift
model=simple_cnn folds=5 seed=42
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=$2; shift 2 ;;
    --folds) folds=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) break ;;
  esac
done
bin=${BUSI_TOOLS:-$(cd "$(dirname "$0")/.." && pwd)/build/tools}
for tool in train_simple finetune_vgg paired_folds; do
  [ -x "$bin/$tool" ] || { echo "cv_variant: $bin/$tool missing: build first (./run tests, or BUSI_TOOLS=DIR)" >&2; exit 1; }
done
for k in $(seq 1 "$folds"); do
  dir=$out/repeat1/fold$k/$model
  [ -f "$dir/metrics.json" ] && continue
  resume=()
  [ -f "$dir/last.safetensors" ] && resume=(--resume "$dir/last.safetensors")
  echo "== cv_variant: fold $k of $folds, $model $*"
  if [ "$model" = simple_cnn ]; then
    "$bin/train_simple" --out "$dir" --seed "$seed" --folds "$folds" --fold "$k" "${resume[@]}" "$@"
  else
    [ -n "${BASE:-}" ] || { echo "cv_variant: VGG16 variants need BASE (its folds' split.csv)" >&2; exit 1; }
    "$bin/finetune_vgg" --out "$dir" --seed "$seed" \
      --split-csv "$BASE/repeat1/fold$k/simple_cnn/split.csv" "${resume[@]}" "$@"
  fi
done
if [ -n "${BASE:-}" ]; then "$bin/paired_folds" --model "$model" "$BASE" "$out"; fi
