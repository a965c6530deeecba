#!/usr/bin/env bash
# The three heat-map PNGs in docs/ (docs/grounding-*.png), made by `kestrel ground --heatmap` with
# the default model (or MODEL_DIR) on held-out rendered scenes. Rerun after the model changes.
#
#   scripts/grounding-examples.sh [MODEL_DIR]
#
# Scenes: `kestrel data build --only scenes --scenes 30 --seed 7` into a temporary folder (the
# held-out split: 8 scenes); the queries name objects of three of its multi-object scenes.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-}
kestrel=.build/release/kestrel
[ -x "$kestrel" ] || swift build -c release --product kestrel
model=(); [ -n "$MODEL" ] && model=(--model "$MODEL")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$kestrel data build --out "$work/data" --only scenes --scenes 30 --seed 7 > /dev/null
# scene file, query, output name: objects named in the scenes' manifest boxes (colour and shape).
examples=(
  "scenes/heldout/000001.png|$(python3 - "$work/data" 1 2 <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/manifest.jsonl") if '"heldout"' in l and "scenes/" in l]
row = next(r for r in rows if r["path"].endswith("%06d.png" % int(sys.argv[2])))
b = row["boxes"][int(sys.argv[3])]
print("a %s %s" % (b["colour"], b["shape"]))
PY
)"
  "scenes/heldout/000003.png|$(python3 - "$work/data" 3 0 <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/manifest.jsonl") if '"heldout"' in l and "scenes/" in l]
row = next(r for r in rows if r["path"].endswith("%06d.png" % int(sys.argv[2])))
b = row["boxes"][int(sys.argv[3])]
print("a %s %s" % (b["colour"], b["shape"]))
PY
)"
  "scenes/heldout/000007.png|$(python3 - "$work/data" 7 2 <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/manifest.jsonl") if '"heldout"' in l and "scenes/" in l]
row = next(r for r in rows if r["path"].endswith("%06d.png" % int(sys.argv[2])))
b = row["boxes"][min(int(sys.argv[3]), len(row["boxes"]) - 1)]
print("a %s %s" % (b["colour"], b["shape"]))
PY
)"
)
for e in "${examples[@]}"; do
  file=${e%%|*}; query=${e#*|}
  name=docs/grounding-$(echo "$query" | sed 's/^an\? //; s/ /-/g').png
  echo "==> kestrel ground $file --text \"$query\" --heatmap"
  rm -rf "$work/maps"
  $kestrel ground "$work/data/$file" --text "$query" --heatmap "$work/maps" "${model[@]}"
  cp "$work/maps/"0-*-q0.png "$name"
  echo "    wrote $name"
done
