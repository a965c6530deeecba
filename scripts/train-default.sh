#!/usr/bin/env bash
# The default model's whole recipe on this machine: installs what is missing, builds Kestrel
# (release), builds the training data from Debian packages, trains with recipes/default.json,
# evaluates the result (scripts/eval-default.sh) and prints how to ship it. Times every stage.
#
#   scripts/train-default.sh [RUN_DIR]      (default runs/default; rerun to resume after a stop)
#
# Data goes to data/default (kept between runs; delete it to rebuild). Same recipe, seed and
# thread count on the same machine give the same losses.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/default}
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

resume=()
if ls "$RUN"/checkpoints/*.kcpt >/dev/null 2>&1 && [ ! -f "$RUN/model/config.json" ]; then resume=(--resume); fi
if [ -f "$RUN/model/config.json" ]; then
    echo "==> $RUN/model exists (delete $RUN to train again)"
else
    echo "==> kestrel train --recipe recipes/default.json --out $RUN ${resume[*]:-}"
    t=$(date +%s); $kestrel train --recipe recipes/default.json --out "$RUN" "${resume[@]}"; echo "train: $(( $(date +%s) - t )) s"
fi
echo "recipe total (data build + training): $(( $(date +%s) - start )) s"

scripts/eval-default.sh "$RUN/model" "$RUN/eval"
echo "==> to ship it: cp $RUN/model/* Sources/KestrelDefaultModel/kestrel-default/ (keep its README.md model card) and update the card's figures from $RUN/eval"
