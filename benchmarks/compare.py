"""Screenshot diff benchmark (not a test): the aligned visual diff of ``capture.compare``
against a plain pixel-by-pixel difference of the same two images, measured in the same run.

    .venv/bin/python benchmarks/compare.py [--heights 2000,8000,20000] [--runs 3]

For each height it draws a listing-like full-page screenshot (1280 px wide: text lines,
product images, blank space) and a second one where one line near the top was removed (so
everything below moves up 40 px, as when a merchant deletes a claim) and a price changed.
It prints, best of ``--runs``: the time of ``visual_diff`` (row alignment, masks, regions,
two highlighted PNGs) and of the baseline (``ImageChops.difference`` + a pixel count, no
alignment, no output images), and the changed-pixel share each reports: the baseline calls
most of the page changed after the shift, the aligned diff only what changed.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageChops, ImageDraw  # noqa: E402

from capture.compare.visual import TOLERANCE, visual_diff  # noqa: E402

WIDTH = 1280
LINE = 40


def _page(height: int, *, removed: int | None, price: str) -> bytes:
    rng = random.Random(7)
    img = Image.new("RGB", (WIDTH, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    y, n = 20, 0
    while y < height - LINE:
        n += 1
        colour = (rng.randrange(256), 90, 60)
        text = price if n == 3 else " ".join(f"word{rng.randrange(1000)}" for _ in range(12))
        if n == removed:
            continue  # the line the merchant removed: what follows moves up
        if n % 25 == 0:
            draw.rectangle((40, y, 340, y + 4 * LINE - 10), fill=colour)
            y += 4 * LINE
            continue
        draw.text((40, y), text, fill=(20, 20, 20))
        y += LINE
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _baseline(a: bytes, b: bytes) -> float:
    ia, ib = Image.open(io.BytesIO(a)).convert("RGB"), Image.open(io.BytesIO(b)).convert("RGB")
    diff = ImageChops.difference(ia, ib.resize(ia.size) if ib.size != ia.size else ib)
    mask = diff.convert("L").point(lambda v: 255 if v > TOLERANCE else 0)
    return mask.histogram()[255] / (ia.width * ia.height)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heights", default="2000,8000,20000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'height':>7} {'aligned s':>10} {'baseline s':>11} {'ratio':>6} "
          f"{'aligned share':>14} {'baseline share':>15}")  # fmt: skip
    for height in (int(h) for h in args.heights.split(",")):
        a = _page(height, removed=None, price="Price: 199.00")
        b = _page(height, removed=5, price="Price: 259.00")
        best_aligned = best_base = float("inf")
        share = base_share = 0.0
        for _ in range(args.runs):
            started = time.perf_counter()
            share = visual_diff(a, b).share
            best_aligned = min(best_aligned, time.perf_counter() - started)
            started = time.perf_counter()
            base_share = _baseline(a, b)
            best_base = min(best_base, time.perf_counter() - started)
        print(
            f"{height:>7} {best_aligned:>10.3f} {best_base:>11.3f} "
            f"{best_aligned / best_base:>6.1f} {share * 100:>13.2f}% {base_share * 100:>14.2f}%"
        )


if __name__ == "__main__":
    main()
