#!/usr/bin/env bash
# The default model's whole recipe on this machine: installs what is missing, builds Kestrel
# (release), builds the training data from Debian packages (`kestrel data build`), trains with
# recipes/default.json (one run from scratch: the contrastive loss and, on the rendered scenes'
# boxes, the region-phrase loss that teaches the patch features where things are, for
# `kestrel ground`), evaluates the result and prints how to ship it. Times the data build, the
# training and their total (issue 8 allows 90 minutes).
#
#   scripts/train-default.sh      (runs in runs/default; rerun to resume after a stop)
#
# Data goes to data/default (kept between runs; delete it to rebuild). Same recipe, seed and
# thread count on the same machine give the same losses.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=data/default

scripts/install-deps.sh
echo "==> building (release)"
swift build -c release --product kestrel
kestrel=.build/release/kestrel
start=$(date +%s)

if [ -f "$DATA/manifest.jsonl" ]; then
    echo "==> $DATA exists (delete it to rebuild the data)"
else
    echo "==> kestrel data build --out $DATA"
    t=$(date +%s); $kestrel data build --out "$DATA"; echo "data build: $(( $(date +%s) - t )) s"
fi

if ! grep -q '"source":"grounding"' "$DATA/manifest.jsonl"; then
    echo "error: $DATA has no grounding scenes (a folder built before the grounding source was added); delete it and rerun to rebuild" >&2
    exit 1
fi

train() {  # recipe, run folder
    local recipe=$1 run=$2 resume=()
    if [ -f "$run/model/config.json" ]; then echo "==> $run/model exists (delete $run to train again)"; return; fi
    if ls "$run"/checkpoints/*.kcpt >/dev/null 2>&1; then resume=(--resume); fi
    echo "==> kestrel train --recipe $recipe --out $run ${resume[*]:-}"
    local t=$(date +%s); $kestrel train --recipe "$recipe" --out "$run" "${resume[@]}"; echo "train $recipe: $(( $(date +%s) - t )) s"
}
train recipes/default.json runs/default
RUN=runs/default
echo "recipe total (data build + training): $(( $(date +%s) - start )) s"

scripts/eval-default.sh "$RUN/model" "$RUN/eval"
echo "==> to ship it: cp $RUN/model/* $RUN/train.jsonl Sources/KestrelDefaultModel/kestrel-default/ (keep its README.md model card);"
echo "    copy the plots $RUN/eval/{fashion-mnist,scenes-shape,scenes-colour}/confusion.png and fashion-mnist/reliability.png in as <set>-confusion.png / fashion-mnist-reliability.png;"
echo "    $kestrel eval curve --log $RUN/train.jsonl --out Sources/KestrelDefaultModel/kestrel-default/training-curve.png; and update the card's figures from $RUN/eval"
