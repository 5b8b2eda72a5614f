"""Draw ``docs/_static/example.jpg``: a small scene used by the README's first command.

A drawing rather than a photograph, so that the repository ships no third-party image:
a red house with a door and windows, a tree, green hills, a yellow sun and a blue sky.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw


def draw(size: int = 448) -> Image.Image:
    """Return the scene as an RGB image of ``size`` x ``size`` pixels."""
    s = size / 448
    img = Image.new("RGB", (size, size))
    d = ImageDraw.Draw(img)
    for y in range(size):  # sky gradient
        t = y / size
        d.line([(0, y), (size, y)], fill=(int(90 + 100 * t), int(160 + 60 * t), 250))
    d.ellipse([340 * s, 40 * s, 410 * s, 110 * s], fill=(255, 214, 60))
    d.ellipse([-120 * s, 280 * s, 300 * s, 600 * s], fill=(86, 160, 70))
    d.ellipse([150 * s, 300 * s, 600 * s, 620 * s], fill=(70, 140, 60))
    d.rectangle([150 * s, 230 * s, 300 * s, 350 * s], fill=(196, 40, 36))  # house
    d.polygon([(135 * s, 235 * s), (225 * s, 160 * s), (315 * s, 235 * s)], fill=(90, 50, 40))
    d.rectangle([205 * s, 290 * s, 240 * s, 350 * s], fill=(110, 70, 40))  # door
    for x0 in (165, 255):
        d.rectangle([x0 * s, 255 * s, (x0 + 30) * s, 280 * s], fill=(230, 240, 255))
    d.rectangle([355 * s, 260 * s, 372 * s, 360 * s], fill=(100, 70, 40))  # tree
    d.ellipse([320 * s, 190 * s, 410 * s, 285 * s], fill=(40, 120, 50))
    return img


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "_static"
    out.mkdir(parents=True, exist_ok=True)
    draw().save(out / "example.jpg", quality=90)
