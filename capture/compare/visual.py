"""The visual diff of two full-page screenshots: aligned, changed regions highlighted, and
the share of changed pixels.

Why align first: when a merchant removes one line of a listing, everything below it moves
up; comparing pixel (x, y) with pixel (x, y) would call the whole rest of the page changed.
The rows of both screenshots are matched as sequences (:class:`difflib.SequenceMatcher` on
each pixel row's hash), so rows that only moved are matched with their counterpart. Rows
with no counterpart (inserted or removed content) count by what is drawn on them (their
pixels that differ from the page's background colour, so blank space that moved to the end
of the page is not a change), and matched rows that differ count by their differing pixels.
Small differences (anti-aliasing) under :data:`TOLERANCE` per channel do not count.

The share is changed pixels / all pixels of the aligned canvas (row pairs, then the rows
left over on either side, each as wide as the wider screenshot).
"""

from __future__ import annotations

import difflib
import hashlib
import io
from collections import deque
from dataclasses import dataclass
from typing import Any

__all__ = ["TOLERANCE", "Region", "VisualDiff", "visual_diff"]

#: A channel must differ by more than this (0..255) for a pixel to count as changed.
TOLERANCE = 24
#: Regions are found on a grid of cells this many pixels square.
CELL = 8
MAX_REGIONS = 60
MAX_PIXELS = 60_000_000
_REMOVED = (220, 30, 30)
_ADDED = (20, 150, 40)


@dataclass(frozen=True)
class Region:
    """A changed rectangle in one screenshot's own pixel coordinates."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class VisualDiff:
    changed_pixels: int
    total_pixels: int
    #: changed_pixels / total_pixels (0.0 .. 1.0).
    share: float
    size_a: tuple[int, int]
    size_b: tuple[int, int]
    #: Changed regions in A (what is gone or different) and in B (what is new or different).
    regions_a: tuple[Region, ...]
    regions_b: tuple[Region, ...]
    #: PNGs of A and B with their changed regions tinted and outlined.
    highlighted_a: bytes
    highlighted_b: bytes


def _open(png: bytes, label: str) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(png))
        if img.width * img.height > MAX_PIXELS:
            raise ValueError(f"the screenshot of {label} is larger than {MAX_PIXELS} pixels")
        return img.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"the screenshot of {label} cannot be read: {exc}") from None


def _pad(img: Any, width: int) -> Any:
    from PIL import Image

    if img.width == width:
        return img
    canvas = Image.new("RGB", (width, img.height), (255, 255, 255))
    canvas.paste(img, (0, 0))
    return canvas


def _row_hashes(img: Any) -> list[bytes]:
    raw = img.tobytes()
    stride = img.width * 3
    return [hashlib.blake2b(raw[i : i + stride], digest_size=8).digest()
            for i in range(0, len(raw), stride)]  # fmt: skip


def _regions(mask: Any) -> tuple[Region, ...]:
    """Connected groups of changed grid cells, as bounding boxes (largest first)."""
    from PIL import Image

    w, h = mask.size
    cols, rows = (w + CELL - 1) // CELL, (h + CELL - 1) // CELL
    if cols == 0 or rows == 0:
        return ()
    grid = mask.resize((cols, rows), Image.Resampling.BOX).point(lambda v: 255 if v else 0)
    cells = grid.tobytes()
    seen = bytearray(len(cells))
    boxes: list[Region] = []
    for start, value in enumerate(cells):
        if not value or seen[start]:
            continue
        seen[start] = 1
        queue = deque([start])
        x0 = x1 = start % cols
        y0 = y1 = start // cols
        while queue:
            i = queue.popleft()
            cx, cy = i % cols, i // cols
            x0, x1, y0, y1 = min(x0, cx), max(x1, cx), min(y0, cy), max(y1, cy)
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1)):
                nx, ny = cx + dx, cy + dy
                if 0 <= nx < cols and 0 <= ny < rows:
                    j = ny * cols + nx
                    if cells[j] and not seen[j]:
                        seen[j] = 1
                        queue.append(j)
        x, y = x0 * CELL, y0 * CELL
        boxes.append(Region(x, y, min(w, (x1 + 1) * CELL) - x, min(h, (y1 + 1) * CELL) - y))
    boxes.sort(key=lambda r: r.width * r.height, reverse=True)
    return tuple(boxes[:MAX_REGIONS])


def _highlight(img: Any, mask: Any, regions: tuple[Region, ...], colour: tuple[int, ...]) -> bytes:
    from PIL import Image, ImageDraw

    tint = Image.new("RGB", img.size, colour)
    # widened to 4 px cells (a rank filter costs seconds on a tall page), then made translucent
    w, h = img.size
    cells = mask.resize((max(1, (w + 3) // 4), max(1, (h + 3) // 4)), Image.Resampling.BOX)
    soft = cells.point(lambda v: 110 if v else 0).resize(img.size, Image.Resampling.NEAREST)
    out = Image.composite(tint, img, soft)
    draw = ImageDraw.Draw(out)
    for r in regions:
        draw.rectangle(
            (r.x - 2, r.y - 2, r.x + r.width + 1, r.y + r.height + 1), outline=colour, width=3
        )
    buf = io.BytesIO()
    out.save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def _changed(x: Any, y: Any) -> Any:
    """An L mask: 255 where a channel of ``x`` and ``y`` differs by more than TOLERANCE."""
    from PIL import ImageChops

    diff = ImageChops.difference(x, y)
    channels = [c.point(lambda v: 255 if v > TOLERANCE else 0) for c in diff.split()]
    return ImageChops.lighter(ImageChops.lighter(channels[0], channels[1]), channels[2])


def visual_diff(png_a: bytes, png_b: bytes) -> VisualDiff:
    """Compare two screenshots (PNG bytes); raises ValueError if one cannot be read."""
    from PIL import Image

    a, b = _open(png_a, "A"), _open(png_b, "B")
    size_a, size_b = a.size, b.size
    width = max(a.width, b.width)
    a, b = _pad(a, width), _pad(b, width)
    mask_a = Image.new("L", a.size, 0)
    mask_b = Image.new("L", b.size, 0)
    changed = 0
    aligned_rows = 0
    background = a.getpixel((0, 0)) if a.width and a.height else (255, 255, 255)
    matcher = difflib.SequenceMatcher(None, _row_hashes(a), _row_hashes(b), autojunk=True)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        aligned_rows += max(i2 - i1, j2 - j1)
        if op == "equal":
            continue
        paired = min(i2 - i1, j2 - j1)
        if paired:
            pixel = _changed(
                a.crop((0, i1, width, i1 + paired)), b.crop((0, j1, width, j1 + paired))
            )
            changed += pixel.histogram()[255]
            mask_a.paste(pixel, (0, i1))
            mask_b.paste(pixel, (0, j1))
        for img, mask, start, end in ((a, mask_a, i1 + paired, i2), (b, mask_b, j1 + paired, j2)):
            if end > start:  # rows with no counterpart: what is drawn on them changed
                rows = img.crop((0, start, width, end))
                pixel = _changed(rows, Image.new("RGB", rows.size, background))
                changed += pixel.histogram()[255]
                mask.paste(pixel, (0, start))
    total = aligned_rows * width
    regions_a, regions_b = _regions(mask_a), _regions(mask_b)
    return VisualDiff(
        changed_pixels=changed,
        total_pixels=total,
        share=changed / total if total else 0.0,
        size_a=size_a,
        size_b=size_b,
        regions_a=regions_a,
        regions_b=regions_b,
        highlighted_a=_highlight(a.crop((0, 0, *size_a)), mask_a.crop((0, 0, *size_a)),
                                 regions_a, _REMOVED),
        highlighted_b=_highlight(b.crop((0, 0, *size_b)), mask_b.crop((0, 0, *size_b)),
                                 regions_b, _ADDED),
    )  # fmt: skip
