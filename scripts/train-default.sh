#!/usr/bin/env bash
# The default model's whole recipe on this machine: installs what is missing, builds Kestrel
# (release), builds the training data from Debian packages, trains with recipes/default.json
# (stage 1, from scratch), recipes/default-stage2.json (stage 2, fine-tunes stage 1's model
# towards the evaluated sources) then recipes/default-stage3.json, -stage4.json and -stage5.json (stages 3 to 5: the
# region-phrase loss on the rendered scenes' boxes teaches the patch features where things are,
# for `kestrel ground`),
# evaluates the result (scripts/eval-default.sh) and prints how to ship it. Times every stage.
#
#   scripts/train-default.sh      (runs in runs/default and runs/default-stage{2,3,4,5}; rerun to resume after a stop)
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
train recipes/default.json runs/default                 # stage 1: from scratch
train recipes/default-stage2.json runs/default-stage2   # stage 2: from runs/default/model
train recipes/default-stage3.json runs/default-stage3   # stage 3: from runs/default-stage2/model, region-phrase loss
train recipes/default-stage4.json runs/default-stage4   # stage 4: from runs/default-stage3/model, more grounding scenes
train recipes/default-stage5.json runs/default-stage5   # stage 5: from runs/default-stage4/model, heavier region loss, earlier sources rehearsed
RUN=runs/default-stage5
echo "recipe total (data build + five training stages): $(( $(date +%s) - start )) s"

scripts/eval-default.sh "$RUN/model" "$RUN/eval"
echo "==> to ship it: cp $RUN/model/* Sources/KestrelDefaultModel/kestrel-default/ (keep its README.md model card) and update the card's figures from $RUN/eval"
