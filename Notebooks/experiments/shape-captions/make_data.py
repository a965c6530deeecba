#!/usr/bin/env python3
"""Shape-caption experiment (session 17): a copy of `kestrel data build`'s folder whose
single-object training scenes get factorised captions, half of them naming the shape alone.

    python3 Notebooks/experiments/shape-captions/make_data.py data/default data/shape-captions

Pictures are linked, not copied; only manifest.jsonl is rewritten (deterministic: same input,
same output). Each single-object training scene's captions become
["a {shape}", "a photo of a {shape}", "a {shape}", "a {colour} {shape}",
 "a photo of a {colour} {shape}", "a {colour} shape"] (with "an" before a vowel), so the
soft-label targets (identical captions are positives) join every colour's triangles under
"a triangle". Nothing else changes; held-out data and eval lists are the same files.
"""
import json
import os
import sys


def article(word):
    return "an" if word[0] in "aeiou" else "a"


def main(src, dst):
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        if name == "manifest.jsonl":
            continue
        link = os.path.join(dst, name)
        if not os.path.lexists(link):
            os.symlink(os.path.abspath(os.path.join(src, name)), link)
    changed = 0
    with open(os.path.join(src, "manifest.jsonl")) as f, open(os.path.join(dst, "manifest.jsonl"), "w") as g:
        for line in f:
            e = json.loads(line)
            a = e.get("attributes") or {}
            if e.get("source") == "scenes" and e.get("split") == "train" and a.get("count") == "1" and "shape" in a:
                s, c = a["shape"], a["colour"]
                e["captions"] = [f"{article(s)} {s}", f"a photo of {article(s)} {s}", f"{article(s)} {s}",
                                 f"{article(c)} {c} {s}", f"a photo of {article(c)} {c} {s}", f"{article(c)} {c} shape"]
                changed += 1
            g.write(json.dumps(e, separators=(",", ":"), sort_keys=True) + "\n")
    print("rewrote the captions of %d single-object training scenes into %s" % (changed, dst))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
