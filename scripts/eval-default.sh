#!/usr/bin/env bash
# Every figure of the default model's card, from `kestrel eval` over the held-out data that
# `kestrel data build` wrote (data/default/eval/*.csv) and the held-out grounding scenes. JSON reports and plots go to OUT.
#
#   scripts/eval-default.sh [MODEL_DIR] [OUT_DIR]    (defaults: the shipped model, runs/eval-default)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-}
OUT=${2:-runs/eval-default}
EVAL=data/default/eval
kestrel=.build/release/kestrel
[ -x "$kestrel" ] || swift build -c release --product kestrel
[ -f "$EVAL/fashion-mnist-test.csv" ] || { echo "error: no $EVAL: run \`kestrel data build --out data/default\` first" >&2; exit 1; }
model=(); [ -n "$MODEL" ] && model=(--model "$MODEL")
mkdir -p "$OUT"
shapes=circle,square,triangle,star,hexagon,diamond
colours=red,green,blue,yellow,orange,purple,brown,black
categories=$(ls /usr/share/openclipart/png | tr "_" " " | paste -sd, -)

run() {  # name, then the eval arguments
    local name=$1; shift
    echo "==> kestrel eval $*"
    $kestrel eval "$@" "${model[@]}" --json > "$OUT/$name.json"
    $kestrel eval "$@" "${model[@]}" --resamples 1000 | tee "$OUT/$name.txt"
}
run fashion-mnist zero-shot --csv "$EVAL/fashion-mnist-test.csv" --plots "$OUT/fashion-mnist"
run scenes-shape zero-shot --csv "$EVAL/scenes-heldout-shape.csv" --labels "$shapes" --plots "$OUT/scenes-shape"
run scenes-colour zero-shot --csv "$EVAL/scenes-heldout-colour.csv" --labels "$colours" --plots "$OUT/scenes-colour"
run scenes-captions retrieval --captions "$EVAL/scenes-heldout-captions.csv"
run emoji-names retrieval --captions "$EVAL/emoji-heldout-captions.csv"
run grounding grounding   # 500 held-out scenes rendered on the fly (seed 0), MaskCLIP heat maps
run openclipart-category zero-shot --csv "$EVAL/openclipart-heldout-category.csv" --labels "$categories" --plots "$OUT/openclipart-category"
echo "reports in $OUT"
