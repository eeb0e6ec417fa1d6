"""A TrueType face read once per process, and per document a subset of just the glyphs used.

Why our own (about 250 lines) rather than fontTools or HarfBuzz: the evidence certificate
needs the CJK face WenQuanYi Zen Hei (Debian ``fonts-wqy-zenhei``, a 16 MB collection of
45,000 glyphs). Subsetting it with the general tools costs tens of milliseconds per
document (WeasyPrint spends ~60 ms writing the certificate, mostly there); this copies the
outlines of the few hundred glyphs a certificate shows, renumbered ``1..n`` in the order the
document first uses them, which takes well under a millisecond. Enough for a PDF
``CIDFontType2`` with ``CIDToGIDMap /Identity``: ``glyf`` outlines (composites followed and
renumbered), metrics, hinting tables copied, a small ``cmap``; no OpenType layout (GSUB/GPOS
are dropped: Chinese and Latin text need no shaping here, only advance widths).

Every character gets its own glyph slot, so the PDF's ToUnicode map gives back exactly the text
that was written, even for characters the face lacks: those are drawn with the face's "□"
(or its .notdef outline copied into the slot -- PDF/A forbids showing glyph 0 itself).
"""

from __future__ import annotations

import hashlib
import struct
import threading
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FontError", "FontSubset", "TrueTypeFace", "load_face"]

#: Tables a subset keeps (copied as they are, or rebuilt); GSUB/GPOS/BDF/vmtx... are dropped.
_COPIED = ("OS/2", "cvt ", "fpgm", "prep", "gasp", "name")
_MISSING_SUBSTITUTE = "□"


class FontError(ValueError):
    """The font file cannot be used (not TrueType outlines, damaged, no such face)."""


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF


@dataclass
class TrueTypeFace:
    """One face of a .ttf/.ttc: metrics and character map for layout, raw tables for subsets."""

    path: Path
    postscript_name: str
    units_per_em: int
    ascent: int
    descent: int
    bbox: tuple[int, int, int, int]
    italic_angle: float
    _tables: dict[str, bytes] = field(repr=False)
    _cmap: dict[int, int] = field(repr=False)
    _advances: array[int] = field(repr=False)
    _lsbs: array[int] = field(repr=False)
    _loca: array[int] = field(repr=False)
    #: PDF glyph-space widths (1/1000 em) by glyph id, as the PDF's /W array states them.
    _widths: array[int] = field(repr=False)

    def glyph(self, char: str) -> int:
        """The glyph id of ``char`` (0 when the face lacks it)."""
        return self._cmap.get(ord(char), 0)

    def has(self, char: str) -> bool:
        return ord(char) in self._cmap

    def width(self, char: str) -> int:
        """Advance of ``char`` in 1/1000 em (the face's substitute for a missing one)."""
        gid = self._cmap.get(ord(char))
        if gid is None:
            gid = self._cmap.get(ord(_MISSING_SUBSTITUTE), 0)
        return int(self._widths[gid])

    def subset(self, chars: Sequence[str]) -> FontSubset:
        """A font program whose glyph ``i`` (1-based) draws ``chars[i-1]``."""
        return _subset(self, chars)


@dataclass(frozen=True)
class FontSubset:
    #: The TrueType font program (for ``/FontFile2``).
    data: bytes
    #: ``ABCDEF+PostScriptName``: the tag is derived from the characters, as PDF asks.
    base_font: str
    #: Widths of glyphs 1..n in 1/1000 em.
    widths: tuple[int, ...]


def _parse(path: Path, index: int) -> TrueTypeFace:
    raw = path.read_bytes()
    start = 0
    if raw[:4] == b"ttcf":
        count = struct.unpack_from(">I", raw, 8)[0]
        if not 0 <= index < count:
            raise FontError(f"{path} has {count} faces; face {index} does not exist")
        start = struct.unpack_from(">I", raw, 12 + 4 * index)[0]
    elif index:
        raise FontError(f"{path} is a single font; face {index} does not exist")
    version, num_tables = struct.unpack_from(">IH", raw, start)
    if version not in (0x00010000, 0x74727565):  # 'true'
        raise FontError(f"{path} has no TrueType outlines (CFF fonts are not supported)")
    tables: dict[str, bytes] = {}
    for i in range(num_tables):
        tag, _sum, offset, length = struct.unpack_from(">4sIII", raw, start + 12 + 16 * i)
        tables[tag.decode("latin-1")] = raw[offset : offset + length]
    for needed in ("head", "hhea", "maxp", "hmtx", "loca", "glyf", "cmap"):
        if needed not in tables:
            raise FontError(f"{path} face {index} lacks the {needed!r} table")
    head = tables["head"]
    upem = struct.unpack_from(">H", head, 18)[0]
    bbox = struct.unpack_from(">hhhh", head, 36)
    long_loca = struct.unpack_from(">h", head, 50)[0] == 1
    num_glyphs = struct.unpack_from(">H", tables["maxp"], 4)[0]
    ascent, descent = struct.unpack_from(">hh", tables["hhea"], 4)
    num_metrics = struct.unpack_from(">H", tables["hhea"], 34)[0]

    metrics = array("h", tables["hmtx"][: 4 * num_metrics])
    metrics.byteswap()
    advances = array("H", metrics[0::2].tobytes())
    lsbs = array("h", metrics[1::2])
    extra = array(
        "h", tables["hmtx"][4 * num_metrics : 4 * num_metrics + 2 * (num_glyphs - num_metrics)]
    )
    extra.byteswap()
    advances.extend([advances[-1]] * (num_glyphs - num_metrics))
    lsbs.extend(extra)

    loca = array(
        "I" if long_loca else "H", tables["loca"][: (num_glyphs + 1) * (4 if long_loca else 2)]
    )
    loca.byteswap()
    if not long_loca:
        loca = array("I", (2 * x for x in loca))
    elif loca.itemsize != 4:  # platforms whose "I" is not 32 bits
        loca = array("L", loca)
    widths = array("H", (round(a * 1000 / upem) for a in advances))
    italic = struct.unpack_from(">i", tables["post"], 4)[0] / 65536 if "post" in tables else 0.0
    return TrueTypeFace(
        path=path,
        postscript_name=_postscript_name(tables.get("name", b"")) or path.stem,
        units_per_em=upem,
        ascent=ascent,
        descent=descent,
        bbox=(bbox[0], bbox[1], bbox[2], bbox[3]),
        italic_angle=italic,
        _tables=tables,
        _cmap=_read_cmap(tables["cmap"]),
        _advances=advances,
        _lsbs=lsbs,
        _loca=loca,
        _widths=widths,
    )


def _postscript_name(name: bytes) -> str | None:
    if len(name) < 6:
        return None
    count, strings = struct.unpack_from(">2xHH", name, 0)
    for i in range(count):
        pid, _eid, _lang, nid, length, offset = struct.unpack_from(">6H", name, 6 + 12 * i)
        if nid != 6:
            continue
        text = name[strings + offset : strings + offset + length]
        decoded = text.decode("utf-16-be" if pid in (0, 3) else "latin-1", "replace")
        cleaned = "".join(c for c in decoded if 33 <= ord(c) <= 126 and c not in "[](){}<>/%")
        if cleaned:
            return cleaned
    return None


def _read_cmap(cmap: bytes) -> dict[int, int]:
    """Unicode -> glyph id, from the best Unicode subtable (format 12, else format 4)."""
    count = struct.unpack_from(">H", cmap, 2)[0]
    best: tuple[int, int] | None = None
    for i in range(count):
        pid, eid, offset = struct.unpack_from(">HHI", cmap, 4 + 8 * i)
        fmt = struct.unpack_from(">H", cmap, offset)[0]
        rank = {(3, 10, 12): 0, (0, 4, 12): 1, (3, 1, 4): 2, (0, 3, 4): 3}.get((pid, eid, fmt))
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, offset)
    if best is None:
        raise FontError("the font has no Unicode character map (cmap format 4 or 12)")
    offset = best[1]
    mapping: dict[int, int] = {}
    if struct.unpack_from(">H", cmap, offset)[0] == 12:
        groups = struct.unpack_from(">I", cmap, offset + 12)[0]
        for g in range(groups):
            first, last, gid = struct.unpack_from(">III", cmap, offset + 16 + 12 * g)
            for code in range(first, last + 1):
                mapping[code] = gid + code - first
        return {c: g for c, g in mapping.items() if g}
    segs = struct.unpack_from(">H", cmap, offset + 6)[0] // 2
    ends = struct.unpack_from(f">{segs}H", cmap, offset + 14)
    starts = struct.unpack_from(f">{segs}H", cmap, offset + 16 + 2 * segs)
    deltas = struct.unpack_from(f">{segs}h", cmap, offset + 16 + 4 * segs)
    range_base = offset + 16 + 6 * segs
    ranges = struct.unpack_from(f">{segs}H", cmap, range_base)
    for s in range(segs):
        for code in range(starts[s], ends[s] + 1):
            if code == 0xFFFF:
                continue
            if ranges[s] == 0:
                gid = (code + deltas[s]) & 0xFFFF
            else:
                at = range_base + 2 * s + ranges[s] + 2 * (code - starts[s])
                gid = struct.unpack_from(">H", cmap, at)[0]
                gid = (gid + deltas[s]) & 0xFFFF if gid else 0
            if gid:
                mapping[code] = gid
    return mapping


# -- subsetting ---------------------------------------------------------------------------------

_ARGS_ARE_WORDS, _HAVE_SCALE, _MORE, _XY_SCALE, _TWO_BY_TWO = 0x1, 0x8, 0x20, 0x40, 0x80


def _glyph_data(face: TrueTypeFace, gid: int) -> bytes:
    return face._tables["glyf"][face._loca[gid] : face._loca[gid + 1]]


def _components(data: bytes) -> list[tuple[int, int]]:
    """(offset of the glyph index, glyph index) of each component of a composite glyph."""
    if len(data) < 10 or struct.unpack_from(">h", data, 0)[0] >= 0:
        return []
    out = []
    at = 10
    while True:
        flags, gid = struct.unpack_from(">HH", data, at)
        out.append((at + 2, gid))
        at += 4 + (4 if flags & _ARGS_ARE_WORDS else 2)
        at += (
            2
            if flags & _HAVE_SCALE
            else 4
            if flags & _XY_SCALE
            else 8
            if flags & _TWO_BY_TWO
            else 0
        )
        if not flags & _MORE:
            return out


def _subset(face: TrueTypeFace, chars: Sequence[str]) -> FontSubset:
    substitute = face._cmap.get(ord(_MISSING_SUBSTITUTE), 0)
    sources = [0] + [face._cmap.get(ord(c), substitute) for c in chars]
    # Components of composite glyphs get slots after the characters' glyphs.
    slot_of: dict[int, int] = {}
    queue = list(sources)
    component_slots: list[int] = []
    for gid in queue:
        for _at, comp in _components(_glyph_data(face, gid)):
            if comp not in slot_of and comp not in component_slots:
                component_slots.append(comp)
                queue.append(comp)
    order = sources + component_slots
    for slot, gid in enumerate(order):
        slot_of.setdefault(gid, slot)

    glyf = bytearray()
    loca = array("I", [0])
    hmtx = array("h")
    for gid in order:
        data = _glyph_data(face, gid)
        comps = _components(data)
        if comps:
            patched = bytearray(data)
            for at, comp in comps:
                struct.pack_into(">H", patched, at, slot_of[comp])
            data = bytes(patched)
        glyf += data
        glyf += b"\0" * (-len(glyf) % 4)
        loca.append(len(glyf))
        hmtx.append(face._advances[gid] if face._advances[gid] < 0x8000 else 0x7FFF)
        hmtx.append(face._lsbs[gid])
    loca.byteswap()
    hmtx.byteswap()
    n = len(order)
    t = face._tables
    tables: dict[str, bytes] = {
        "head": t["head"][:8] + b"\0\0\0\0" + t["head"][12:50] + b"\0\x01" + t["head"][52:],
        "hhea": t["hhea"][:34] + struct.pack(">H", n) + t["hhea"][36:],
        "maxp": t["maxp"][:4] + struct.pack(">H", n) + t["maxp"][6:],
        "hmtx": hmtx.tobytes(),
        "loca": loca.tobytes(),
        "glyf": bytes(glyf),
        "post": struct.pack(">I", 0x00030000) + t["post"][4:32] if "post" in t else b"",
        "cmap": _cmap_table(chars, face),
    }
    for tag in _COPIED:
        if tag in t:
            tables[tag] = t[tag]
    tables = {k: v for k, v in tables.items() if v}
    data = _assemble(tables)
    tag = "".join(
        chr(65 + b % 26)
        for b in hashlib.sha256("".join(chars).encode("utf-8", "replace")).digest()[:6]
    )
    return FontSubset(
        data=data,
        base_font=f"{tag}+{face.postscript_name}",
        widths=tuple(int(face._widths[g]) for g in sources[1:]),
    )


def _cmap_table(chars: Sequence[str], face: TrueTypeFace) -> bytes:
    """A (3,1) format 4 map of the subset's BMP characters the face really has."""
    pairs = sorted(
        {ord(c): i + 1 for i, c in enumerate(chars) if ord(c) < 0xFFFF and face.has(c)}.items()
    )
    segments: list[tuple[int, int, int]] = []  # start, end, delta
    for code, slot in pairs:
        if segments and segments[-1][1] == code - 1 and (code + segments[-1][2]) & 0xFFFF == slot:
            segments[-1] = (segments[-1][0], code, segments[-1][2])
        else:
            segments.append((code, code, (slot - code) & 0xFFFF))
    segments.append((0xFFFF, 0xFFFF, 1))
    count = len(segments)
    search = 2 ** (count.bit_length() - 1) * 2
    body = struct.pack(
        ">HHHHHHH", 4, 0, 0, count * 2, search, search.bit_length() - 2, count * 2 - search
    )
    body += struct.pack(f">{count}H", *(s[1] for s in segments)) + b"\0\0"
    body += struct.pack(f">{count}H", *(s[0] for s in segments))
    body += struct.pack(f">{count}H", *(s[2] for s in segments))
    body += struct.pack(f">{count}H", *([0] * count))
    body = body[:2] + struct.pack(">H", len(body)) + body[4:]
    return struct.pack(">HHHHI", 0, 1, 3, 1, 12) + body


def _assemble(tables: dict[str, bytes]) -> bytes:
    tags = sorted(tables)
    count = len(tags)
    search = 2 ** (count.bit_length() - 1) * 16
    header = struct.pack(
        ">IHHHH", 0x00010000, count, search, search.bit_length() - 5, count * 16 - search
    )
    offset = 12 + 16 * count
    directory = b""
    body = b""
    for tag in tags:
        data = tables[tag]
        directory += struct.pack(
            ">4sIII", tag.encode("latin-1"), _checksum(data), offset, len(data)
        )
        padded = data + b"\0" * (-len(data) % 4)
        body += padded
        offset += len(padded)
    font = bytearray(header + directory + body)
    head_at = (
        12
        + 16 * count
        + sum(len(tables[t]) + (-len(tables[t]) % 4) for t in tags[: tags.index("head")])
    )
    adjustment = (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF
    struct.pack_into(">I", font, head_at + 8, adjustment)
    return bytes(font)


# -- the process-wide cache ---------------------------------------------------------------------

_FACES: dict[tuple[str, int], TrueTypeFace] = {}
_LOCK = threading.Lock()


def load_face(path: Path | str, index: int = 0) -> TrueTypeFace:
    """The face ``index`` of ``path``, parsed once per process (about 0.3 s for the WQY
    collection; warm it up before the first certificate)."""
    key = (str(path), index)
    with _LOCK:
        face = _FACES.get(key)
        if face is None:
            try:
                face = _parse(Path(path), index)
            except (OSError, struct.error, IndexError) as exc:
                raise FontError(f"cannot read the font {path}: {exc}") from exc
            _FACES[key] = face
        return face


def unique_chars(texts: Iterable[str]) -> list[str]:
    """The distinct characters of ``texts`` in first-use order."""
    seen: dict[str, None] = {}
    for text in texts:
        for c in text:
            seen.setdefault(c, None)
    return list(seen)
