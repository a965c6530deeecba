"""Draws the bundled sample images (samples/images/): coloured shapes on plain or textured
backgrounds, named after what they show, in JPEG and PNG. Fixed seed; the output is committed.

    ~/refenv/bin/python Notebooks/make_samples.py
"""
import os
import random

from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "samples", "images")
COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (240, 210, 40)}
SHAPES = ["circle", "square", "triangle"]


def draw(shape, colour, size, rng):
    w, h = size
    bg = tuple(rng.randint(200, 255) for _ in range(3))
    img = Image.new("RGB", size, bg)
    d = ImageDraw.Draw(img)
    for _ in range(20):  # light texture
        x, y = rng.randrange(w), rng.randrange(h)
        d.point((x, y), fill=tuple(c - 30 for c in bg))
    s = min(w, h) * rng.uniform(0.45, 0.7)
    cx, cy = w / 2 + rng.uniform(-0.1, 0.1) * w, h / 2 + rng.uniform(-0.1, 0.1) * h
    box = [cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2]
    fill = COLOURS[colour]
    if shape == "circle":
        d.ellipse(box, fill=fill)
    elif shape == "square":
        d.rectangle(box, fill=fill)
    else:
        d.polygon([(cx, box[1]), (box[2], box[3]), (box[0], box[3])], fill=fill)
    return img


def main():
    rng = random.Random(7)
    os.makedirs(OUT, exist_ok=True)
    for i, colour in enumerate(COLOURS):
        for j, shape in enumerate(SHAPES):
            size = (rng.choice([96, 128, 160]), rng.choice([96, 128, 160]))
            img = draw(shape, colour, size, rng)
            folder = os.path.join(OUT, shape + "s")
            os.makedirs(folder, exist_ok=True)
            if (i + j) % 2:
                img.save(os.path.join(folder, f"{colour}_{shape}.jpg"), quality=88)
            else:
                img.save(os.path.join(folder, f"{colour}_{shape}.png"), optimize=True)


if __name__ == "__main__":
    main()
