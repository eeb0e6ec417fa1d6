"""The unit's seal image (公章-style, drawn with Pillow) and the font of signature stamps.

Why drawn rather than scanned: the service has no scans of real seals, and must not pretend
to. The image only *shows* who sealed; what binds is the unit's certificate and signature. It
is a red round seal: a ring, the unit's name along the upper arc, a five-pointed star in the
middle, an optional line of text under the star -- the layout of GB/T seals for state organs,
drawn from the name alone, so the same unit always gets the same image.

Why a font subset per signer: pyHanko embeds a subset of the stamp's font on every signature,
and subsetting the 17 MB WenQuanYi Zen Hei collection takes about 0.4 s. A tiny font with just
the characters a signer's stamps use (their name, the labels, ASCII) is made once per signer
and cached; pyHanko's own subsetting of it then costs a few milliseconds.

Caches: in memory per process, and on disk in :func:`cache_dir` (``set_cache_dir`` moves it,
e.g. into the service's data folder). Files are written atomically; a corrupt or foreign file
is simply made again.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "CJK_FONT_FAMILY",
    "SealImageError",
    "cache_dir",
    "cjk_font_path",
    "seal_image",
    "seal_png",
    "set_cache_dir",
    "stamp_font",
]

CJK_FONT_FAMILY = "WenQuanYi Zen Hei"
#: Debian's fonts-wqy-zenhei; fontconfig is asked when it is elsewhere.
_KNOWN_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
#: Seal red (close to the cinnabar of real seal ink) and the drawing size in pixels.
SEAL_RED = (214, 24, 31, 235)
SEAL_PIXELS = 420
#: Characters every stamp may use besides the signer's own: ASCII and the stamp labels.
_BASE_CHARS = (
    "".join(chr(c) for c in range(0x20, 0x7F))
    + "签名时间章单位执法人员当事人确认送达于年月日：·（）"
)

_lock = threading.Lock()
_cache_dir: Path | None = None


class SealImageError(RuntimeError):
    """The seal image or stamp font cannot be made (no CJK font installed)."""


def set_cache_dir(path: Path | None) -> None:
    """Keep seal images and stamp fonts under ``path`` (None: a per-user temporary folder)."""
    global _cache_dir
    with _lock:
        _cache_dir = Path(path) if path is not None else None


def cache_dir() -> Path:
    """The on-disk cache folder (created 0700 on first use)."""
    with _lock:
        chosen = _cache_dir
    if chosen is None:
        chosen = Path(tempfile.gettempdir()) / f"evidence-workflow-{os.getuid()}"
    chosen.mkdir(parents=True, exist_ok=True, mode=0o700)
    return chosen


@lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    """The WenQuanYi Zen Hei font collection (Debian fonts-wqy-zenhei)."""
    if _KNOWN_FONT.is_file():
        return _KNOWN_FONT
    exe = shutil.which("fc-match")
    if exe is not None:
        proc = subprocess.run(
            [exe, "-f", "%{file}", CJK_FONT_FAMILY], capture_output=True, text=True, timeout=10
        )
        found = Path(proc.stdout.strip())
        if proc.returncode == 0 and found.is_file() and "wqy" in found.name.lower():
            return found
    raise SealImageError(
        f"the CJK font {CJK_FONT_FAMILY!r} is not installed (Debian: apt-get install "
        "fonts-wqy-zenhei); Chinese text in seals and signature stamps needs it"
    )


def _atomic_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- the seal image ---------------------------------------------------------------------------


def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(str(cjk_font_path()), size=size, index=0)


def _star(draw: Any, cx: float, cy: float, radius: float, fill: tuple[int, ...]) -> None:
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * 0.382
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    draw.polygon(points, fill=fill)


def _draw_seal(name: str, bottom_text: str | None, pixels: int) -> Any:
    from PIL import Image, ImageDraw

    scale = 2  # draw large, shrink once: smooth edges without anti-aliasing tricks
    size = pixels * scale
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    c = size / 2
    ring = size * 0.035
    outer = size / 2 - ring / 2 - 2
    draw.ellipse((c - outer, c - outer, c + outer, c + outer), outline=SEAL_RED, width=int(ring))
    _star(draw, c, c, size * 0.15, SEAL_RED)

    chars = [ch for ch in name if not ch.isspace()]
    n = max(len(chars), 1)
    # The name runs clockwise over the top, centred; longer names take more of the circle.
    span = min(math.radians(250), math.radians(22) * n + math.radians(30))
    text_radius = outer - ring - size * 0.075
    char_px = int(min(size * 0.12, 2 * math.pi * text_radius * (span / (2 * math.pi)) / n * 0.92))
    font = _font(char_px)
    for i, ch in enumerate(chars):
        angle = -span / 2 + span * (i + 0.5) / n  # 0 = straight up, clockwise positive
        x = c + text_radius * math.sin(angle)
        y = c - text_radius * math.cos(angle)
        tile = Image.new("RGBA", (char_px * 2, char_px * 2), (0, 0, 0, 0))
        ImageDraw.Draw(tile).text((char_px, char_px), ch, font=font, fill=SEAL_RED, anchor="mm")
        tile = tile.rotate(-math.degrees(angle), resample=Image.Resampling.BICUBIC)
        img.alpha_composite(tile, (int(x - char_px), int(y - char_px)))
    if bottom_text:
        small = _font(int(size * 0.075))
        draw.text((c, c + size * 0.27), bottom_text, font=small, fill=SEAL_RED, anchor="mm")
    return img.resize((pixels, pixels), Image.Resampling.LANCZOS)


_images: dict[tuple[str, str | None, int], bytes] = {}


def seal_png(name: str, *, bottom_text: str | None = None, pixels: int = SEAL_PIXELS) -> bytes:
    """The PNG of ``name``'s seal (transparent background), cached per unit in memory and
    on disk."""
    name = " ".join(name.split())
    if not name:
        raise SealImageError("a seal needs the unit's name")
    key = (name, bottom_text, pixels)
    with _lock:
        cached = _images.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256(repr(("seal-v1", *key)).encode()).hexdigest()[:32]
    path = cache_dir() / f"seal-{digest}.png"
    data: bytes | None = None
    if path.is_file():
        data = path.read_bytes()
        if not data.startswith(b"\x89PNG"):
            data = None
    if data is None:
        out = io.BytesIO()
        _draw_seal(name, bottom_text, pixels).save(out, format="PNG", optimize=True)
        data = out.getvalue()
        _atomic_bytes(path, data)
    with _lock:
        _images[key] = data
    return data


@lru_cache(maxsize=64)
def seal_image(name: str, bottom_text: str | None = None) -> Any:
    """The seal as a Pillow RGBA image (kept: signatures reuse it)."""
    from PIL import Image

    img = Image.open(io.BytesIO(seal_png(name, bottom_text=bottom_text)))
    img.load()
    return img.convert("RGBA")


# -- the stamp font ---------------------------------------------------------------------------

_fonts: dict[str, Path] = {}


def stamp_font(texts: Iterable[str]) -> Path:
    """A small TrueType font (WenQuanYi Zen Hei, subset) with every character of ``texts``,
    ASCII and the usual stamp labels: what pyHanko embeds in a visible signature."""
    chars = sorted(set(_BASE_CHARS).union(*(set(t) for t in texts)) - {"\n", "\r", "\t"})
    text = "".join(chars)
    digest = hashlib.sha256(("stamp-font-v1:" + text).encode()).hexdigest()[:32]
    with _lock:
        known = _fonts.get(digest)
    if known is not None and known.is_file():
        return known
    path = cache_dir() / f"stamp-{digest}.ttf"
    if not (path.is_file() and path.stat().st_size > 1000):
        from fontTools import subset, ttLib

        font = ttLib.TTFont(str(cjk_font_path()), fontNumber=0)
        options = subset.Options()
        options.name_IDs = ["*"]
        options.notdef_outline = True
        options.drop_tables += ["BDF", "FFTM", "EBDT", "EBLC", "EBSC"]
        subsetter = subset.Subsetter(options=options)
        subsetter.populate(text=text)
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
        _atomic_bytes(path, out.getvalue())
    with _lock:
        _fonts[digest] = path
    return path
