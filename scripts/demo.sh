#!/usr/bin/env bash
# The main job on the bundled sample: installs what is missing, builds Kestrel (release),
# embeds a text and an image, indexes samples/images, searches it by text and labels it zero-shot.
#
# The bundled model (Tests/Fixtures/models/hf-tiny) has RANDOM weights: it shows every step
# working, but its rankings and labels are meaningless. Point MODEL at a real CLIP folder
# (Hugging Face or OpenCLIP layout) for real results:  MODEL=/path/to/clip scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-Tests/Fixtures/models/hf-tiny}
INDEX=${INDEX:-Indexes/samples}

scripts/install-deps.sh
echo "==> building (release; the first build takes a few minutes)"
swift build -c release --product kestrel
kestrel=.build/release/kestrel

echo "==> kestrel info --model $MODEL"
$kestrel info --model "$MODEL"

echo "==> kestrel embed --model $MODEL --text 'a red circle' --image samples/images/circles/red_circle.png"
$kestrel embed --model "$MODEL" --text "a red circle" --image samples/images/circles/red_circle.png | cut -c1-160

echo "==> kestrel index add --index $INDEX --model $MODEL samples/images"
$kestrel index add --index "$INDEX" --model "$MODEL" samples/images

echo "==> kestrel index stats --index $INDEX --json"
$kestrel index stats --index "$INDEX" --json

echo "==> kestrel search --index $INDEX --text 'a blue square' -k 3 --json"
$kestrel search --index "$INDEX" --text "a blue square" -k 3 --json

echo "==> kestrel label --model $MODEL --labels 'circle,square,triangle' samples/images --csv"
$kestrel label --model "$MODEL" --labels "circle,square,triangle" samples/images --csv
