#!/usr/bin/env bash
# The main job on the bundled sample: installs what is missing, builds Kestrel (release),
# embeds a text and an image, indexes samples/images, searches it by text and labels it zero-shot.
#
# It runs on the model shipped with Kestrel (Sources/KestrelDefaultModel/kestrel-default, trained
# by `kestrel train --recipe recipes/default.json`; see its model card): a small CLIP for drawn
# shapes, clothing photos, clip art and emoji, not for photographs of the wide world. Point MODEL
# at a real CLIP folder (Hugging Face or OpenCLIP layout) for that:  MODEL=/path/to/clip scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-}
model=(); shown=""
if [ -n "$MODEL" ]; then model=(--model "$MODEL"); shown=" --model $MODEL"; fi
INDEX=${INDEX:-Indexes/samples}

scripts/install-deps.sh
echo "==> building (release; the first build takes a few minutes)"
swift build -c release --product kestrel
kestrel=.build/release/kestrel

echo "==> kestrel info$shown"
$kestrel info "${model[@]}"

echo "==> kestrel embed$shown --text 'a red circle' --image samples/images/circles/red_circle.png"
$kestrel embed "${model[@]}" --text "a red circle" --image samples/images/circles/red_circle.png | cut -c1-160

# The demo's own index is made afresh each run (an index keeps the model it was built with).
rm -rf "$INDEX"
echo "==> kestrel index add --index $INDEX$shown samples/images"
$kestrel index add --index "$INDEX" "${model[@]}" samples/images

echo "==> kestrel index stats --index $INDEX --json"
$kestrel index stats --index "$INDEX" --json

echo "==> kestrel search --index $INDEX --text 'a blue square' -k 3 --json"
$kestrel search --index "$INDEX" --text "a blue square" -k 3 --json

echo "==> kestrel label$shown --labels 'circle,square,triangle' samples/images --csv"
$kestrel label "${model[@]}" --labels "circle,square,triangle" samples/images --csv
