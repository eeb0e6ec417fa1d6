"""A small PDF writer for fixed-layout documents: pages of vector drawing, text in one
embedded (subset) TrueType face, JPEG images, an attachment, PDF/A-3b identification.

Why not a general library: the evidence certificate is one fixed layout made per capture, on
the path between a finished page load and a sealed package. WeasyPrint (HTML/CSS layout) took
~200 ms for it, ReportLab's platypus ~45 ms; writing the few objects it needs directly takes a
few milliseconds. What a court and the tools need is kept: the CJK face embedded as a subset
with a ToUnicode map (copy and search give the real text; ``pdftotext`` reads it), the
machine-readable facts attached with an ``AFRelationship``, and PDF/A-3b's requirements met
where this kind of content touches them -- XMP metadata matching the document information,
an sRGB output intent for the DeviceRGB colours, every font embedded, no glyph 0 shown, no
transparency, no encryption, a file identifier.

Coordinates are PDF points with the origin at the top left (``y`` grows downwards); the writer
flips them. Nothing here knows about certificates.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from evidence_service.sealing.pdf.truetype import FontSubset, TrueTypeFace, unique_chars

__all__ = ["Color", "JpegImage", "Page", "PdfDocument", "jpeg_image"]

Color = tuple[float, float, float]
#: Streams below this many bytes are not worth compressing.
_MIN_COMPRESS = 256
_COMPRESS_LEVEL = 4


def _num(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _color(c: Color) -> str:
    return f"{_num(c[0])} {_num(c[1])} {_num(c[2])}"


def _text_string(text: str) -> bytes:
    """A PDF text string: PDFDocEncoding-safe ASCII as a literal, anything else UTF-16BE."""
    if all(32 <= ord(c) < 127 for c in text):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return f"({escaped})".encode("ascii")
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def _pdf_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")


def _xmp_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class _Raw:
    """Already serialised PDF syntax (names, references, numbers)."""

    __slots__ = ("data",)

    def __init__(self, data: str | bytes) -> None:
        self.data = data.encode("latin-1") if isinstance(data, str) else data


def _ser(value: Any) -> bytes:
    if isinstance(value, _Raw):
        return value.data
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int | float):
        return _num(value).encode("ascii")
    if isinstance(value, str):  # a name
        return b"/" + value.encode("ascii")
    if isinstance(value, bytes):  # an already encoded string
        return value
    if isinstance(value, dict):
        return (
            b"<<"
            + b"".join(b"/" + k.encode("ascii") + b" " + _ser(v) for k, v in value.items())
            + b">>"
        )
    if isinstance(value, list | tuple):
        return b"[" + b" ".join(_ser(v) for v in value) + b"]"
    raise TypeError(f"cannot write {type(value).__name__} into a PDF")


def _ref(num: int) -> _Raw:
    return _Raw(f"{num} 0 R")


@dataclass(frozen=True)
class JpegImage:
    data: bytes
    width: int
    height: int
    components: int


def jpeg_image(data: bytes) -> JpegImage:
    """Size and colour components read from the JPEG's frame header (embedded as it is)."""
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            raise ValueError("not a JPEG file")
        marker = data[at + 1]
        length = struct.unpack_from(">H", data, at + 2)[0]
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack_from(">HH", data, at + 5)
            return JpegImage(data, width, height, data[at + 9])
        at += 2 + length
    raise ValueError("no frame header in the JPEG file")


@dataclass
class Page:
    """One page's drawing operations (top-left origin, points)."""

    width: float
    height: float
    ops: list[bytes] = field(default_factory=list)
    texts: list[tuple[float, float, float, Color, str, float]] = field(default_factory=list)
    images: list[tuple[int, float, float, float, float]] = field(default_factory=list)

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        *,
        fill: Color | None = None,
        stroke: Color | None = None,
        line_width: float = 0.5,
    ) -> None:
        parts = []
        if fill is not None:
            parts.append(f"{_color(fill)} rg")
        if stroke is not None:
            parts.append(f"{_color(stroke)} RG {_num(line_width)} w")
        parts.append(f"{_num(x)} {_num(self.height - y - h)} {_num(w)} {_num(h)} re")
        parts.append(
            "B" if fill is not None and stroke is not None else "f" if fill is not None else "S"
        )
        self.ops.append(" ".join(parts).encode("ascii"))

    def line(self, x1: float, y1: float, x2: float, y2: float, color: Color, width: float) -> None:
        self.ops.append(
            f"{_color(color)} RG {_num(width)} w "
            f"{_num(x1)} {_num(self.height - y1)} m {_num(x2)} {_num(self.height - y2)} l S".encode(
                "ascii"
            )
        )

    def squares(self, cells: Sequence[tuple[float, float, float, float]], color: Color) -> None:
        """Filled rectangles in one path (a QR code's modules)."""
        h = self.height
        body = " ".join([f"{x:.2f} {h - y - s:.2f} {w:.2f} {s:.2f} re" for x, y, w, s in cells])
        self.ops.append(f"{_color(color)} rg {body} f".encode("ascii"))

    def text(
        self, x: float, baseline: float, size: float, color: Color, text: str, spacing: float = 0.0
    ) -> None:
        """``text`` at ``x`` on ``baseline``; its glyphs are numbered when the PDF is written."""
        if text:
            self.texts.append((x, baseline, size, color, text, spacing))
            self.ops.append(b"\0%d" % (len(self.texts) - 1))

    def image(self, index: int, x: float, y: float, w: float, h: float) -> None:
        self.ops.append(b"\1%d" % len(self.images))
        self.images.append((index, x, y, w, h))


@dataclass
class PdfDocument:
    """Pages, one font face, images and attachments; :meth:`write` returns the PDF bytes."""

    face: TrueTypeFace
    title: str
    author: str
    subject: str
    created: datetime
    lang: str = "zh-CN"
    creator: str = "evidence-service"
    producer: str = "evidence-service"
    pages: list[Page] = field(default_factory=list)
    images: list[JpegImage] = field(default_factory=list)
    attachments: list[tuple[str, bytes, str, str, str]] = field(default_factory=list)
    icc_profile: bytes | None = None

    def add_image(self, image: JpegImage) -> int:
        self.images.append(image)
        return len(self.images) - 1

    def attach(
        self, name: str, data: bytes, *, mime: str, description: str, relationship: str = "Data"
    ) -> None:
        self.attachments.append((name, data, mime, description, relationship))

    # -- writing ------------------------------------------------------------------------------

    def write(self) -> bytes:
        chars = unique_chars(t[4] for page in self.pages for t in page.texts)
        chars = [c for c in chars if c not in "\n\r"]
        font = self.face.subset(chars)
        cid = {c: f"{i + 1:04X}" for i, c in enumerate(chars)}
        out = _Objects()
        catalog, pages_ref = out.reserve(), out.reserve()
        font_ref = self._font(out, font, chars)
        image_refs = [
            out.stream(
                img.data,
                {
                    "Type": "XObject",
                    "Subtype": "Image",
                    "Width": img.width,
                    "Height": img.height,
                    "ColorSpace": "DeviceGray" if img.components == 1 else "DeviceRGB",
                    "BitsPerComponent": 8,
                    "Filter": "DCTDecode",
                },
                compress=False,
            )
            for img in self.images
        ]
        resources = {
            "Font": {"F1": _ref(font_ref)},
            **(
                {"XObject": {f"Im{i}": _ref(r) for i, r in enumerate(image_refs)}}
                if image_refs
                else {}
            ),
        }
        page_refs = []
        for page in self.pages:
            content = out.stream(self._content(page, cid), {})
            page_refs.append(
                out.add(
                    {
                        "Type": "Page",
                        "Parent": _ref(pages_ref),
                        "MediaBox": [0, 0, page.width, page.height],
                        "Resources": resources,
                        "Contents": _ref(content),
                    }
                )
            )
        out.set(
            pages_ref,
            {"Type": "Pages", "Kids": [_ref(r) for r in page_refs], "Count": len(page_refs)},
        )
        files = [self._attachment(out, *a) for a in self.attachments]
        info = out.add(
            {
                "Title": _text_string(self.title),
                "Author": _text_string(self.author),
                "Subject": _text_string(self.subject),
                "Creator": _text_string(self.creator),
                "Producer": _text_string(self.producer),
                "CreationDate": _text_string(_pdf_date(self.created)),
                "ModDate": _text_string(_pdf_date(self.created)),
            }
        )
        metadata = out.stream(
            self._xmp().encode("utf-8"), {"Type": "Metadata", "Subtype": "XML"}, compress=False
        )
        cat: dict[str, Any] = {
            "Type": "Catalog",
            "Pages": _ref(pages_ref),
            "Metadata": _ref(metadata),
            "Lang": _text_string(self.lang),
            "ViewerPreferences": {"DisplayDocTitle": True},
        }
        if self.icc_profile:
            profile = out.stream(self.icc_profile, {"N": 3})
            cat["OutputIntents"] = [
                {
                    "Type": "OutputIntent",
                    "S": "GTS_PDFA1",
                    "OutputConditionIdentifier": _text_string("sRGB IEC61966-2.1"),
                    "Info": _text_string("sRGB IEC61966-2.1"),
                    "DestOutputProfile": _ref(profile),
                }
            ]
        if files:
            cat["Names"] = {
                "EmbeddedFiles": {
                    "Names": [
                        x for (name, ref) in sorted(files) for x in (_text_string(name), _ref(ref))
                    ]
                }
            }
            cat["AF"] = [_ref(ref) for _name, ref in files]
        out.set(catalog, cat)
        return out.serialise(catalog, info)

    def _content(self, page: Page, cid: dict[str, str]) -> bytes:
        lines = []
        h = page.height
        char_spacing = 0.0
        for op in page.ops:
            if op[:1] == b"\0":
                x, baseline, size, color, text, spacing = page.texts[int(op[1:])]
                glyphs = "".join([cid[c] for c in text if c in cid])
                # Tc is graphics state: it outlives the text object, so set it back.
                tc = f"{_num(spacing)} Tc " if spacing != char_spacing else ""
                char_spacing = spacing
                lines.append(
                    (
                        f"BT /F1 {_num(size)} Tf {_color(color)} rg {tc}"
                        f"1 0 0 1 {_num(x)} {_num(h - baseline)} Tm <{glyphs}> Tj ET"
                    ).encode("ascii")
                )
            elif op[:1] == b"\1":
                index, x, y, w, ih = page.images[int(op[1:])]
                place = f"{_num(w)} 0 0 {_num(ih)} {_num(x)} {_num(h - y - ih)}"
                lines.append(f"q {place} cm /Im{index} Do Q".encode("ascii"))
            else:
                lines.append(op)
        return b"\n".join(lines)

    def _font(self, out: _Objects, font: FontSubset, chars: Sequence[str]) -> int:
        face = self.face
        scale = 1000 / face.units_per_em
        file_ref = out.stream(font.data, {"Length1": len(font.data)})
        descriptor = out.add(
            {
                "Type": "FontDescriptor",
                "FontName": font.base_font,
                "Flags": 4,
                "FontBBox": [round(v * scale) for v in face.bbox],
                "ItalicAngle": face.italic_angle,
                "Ascent": round(face.ascent * scale),
                "Descent": round(face.descent * scale),
                "CapHeight": round(face.ascent * scale),
                "StemV": 80,
                "FontFile2": _ref(file_ref),
            }
        )
        cidfont = out.add(
            {
                "Type": "Font",
                "Subtype": "CIDFontType2",
                "BaseFont": font.base_font,
                "CIDSystemInfo": {
                    "Registry": b"(Adobe)",
                    "Ordering": b"(Identity)",
                    "Supplement": 0,
                },
                "FontDescriptor": _ref(descriptor),
                "DW": 1000,
                "W": [1, list(font.widths)] if font.widths else [],
                "CIDToGIDMap": "Identity",
            }
        )
        to_unicode = out.stream(_to_unicode(chars), {})
        return out.add(
            {
                "Type": "Font",
                "Subtype": "Type0",
                "BaseFont": font.base_font,
                "Encoding": "Identity-H",
                "DescendantFonts": [_ref(cidfont)],
                "ToUnicode": _ref(to_unicode),
            }
        )

    def _attachment(
        self, out: _Objects, name: str, data: bytes, mime: str, description: str, relationship: str
    ) -> tuple[str, int]:
        stream = out.stream(
            data,
            {
                "Type": "EmbeddedFile",
                "Subtype": mime.replace("/", "#2F"),
                "Params": {
                    "Size": len(data),
                    "CheckSum": _Raw(b"<" + hashlib.md5(data).hexdigest().encode("ascii") + b">"),
                    "CreationDate": _text_string(_pdf_date(self.created)),
                    "ModDate": _text_string(_pdf_date(self.created)),
                },
            },
        )
        spec = out.add(
            {
                "Type": "Filespec",
                "F": _text_string(name),
                "UF": _text_string(name),
                "Desc": _text_string(description),
                "AFRelationship": relationship,
                "EF": {"F": _ref(stream), "UF": _ref(stream)},
            }
        )
        return name, spec

    def _xmp(self) -> str:
        def alt(text: str) -> str:
            return f'<rdf:Alt><rdf:li xml:lang="x-default">{escape(text)}</rdf:li></rdf:Alt>'

        return (
            '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" '
            'pdfaid:part="3" pdfaid:conformance="B"/>'
            '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<dc:format>application/pdf</dc:format><dc:title>{alt(self.title)}</dc:title>"
            f"<dc:creator><rdf:Seq><rdf:li>{escape(self.author)}</rdf:li></rdf:Seq></dc:creator>"
            f"<dc:description>{alt(self.subject)}</dc:description></rdf:Description>"
            '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
            f"<xmp:CreatorTool>{escape(self.creator)}</xmp:CreatorTool>"
            f"<xmp:CreateDate>{_xmp_date(self.created)}</xmp:CreateDate>"
            f"<xmp:ModifyDate>{_xmp_date(self.created)}</xmp:ModifyDate></rdf:Description>"
            '<rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">'
            f"<pdf:Producer>{escape(self.producer)}</pdf:Producer></rdf:Description>"
            "</rdf:RDF></x:xmpmeta>\n"
            '<?xpacket end="w"?>'
        )


def _to_unicode(chars: Sequence[str]) -> bytes:
    lines = [
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
        "1 begincodespacerange <0000> <FFFF> endcodespacerange",
    ]
    for start in range(0, len(chars), 100):
        block = chars[start : start + 100]
        lines.append(f"{len(block)} beginbfchar")
        lines.extend(
            f"<{start + i + 1:04X}> <{c.encode('utf-16-be').hex().upper()}>"
            for i, c in enumerate(block)
        )
        lines.append("endbfchar")
    lines += ["endcmap CMapName currentdict /CMap defineresource pop end end"]
    return "\n".join(lines).encode("ascii")


class _Objects:
    """Numbered indirect objects and the file around them (classic cross-reference table)."""

    def __init__(self) -> None:
        self._objects: list[bytes | None] = []

    def reserve(self) -> int:
        self._objects.append(None)
        return len(self._objects)

    def set(self, num: int, value: Any) -> None:
        self._objects[num - 1] = _ser(value)

    def add(self, value: Any) -> int:
        self._objects.append(_ser(value))
        return len(self._objects)

    def stream(self, data: bytes, extra: dict[str, Any], *, compress: bool = True) -> int:
        entries = dict(extra)
        if compress and len(data) >= _MIN_COMPRESS and "Filter" not in entries:
            data = zlib.compress(data, _COMPRESS_LEVEL)
            entries["Filter"] = "FlateDecode"
        entries["Length"] = len(data)
        self._objects.append(_ser(entries) + b"\nstream\n" + data + b"\nendstream")
        return len(self._objects)

    def serialise(self, root: int, info: int) -> bytes:
        parts = [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"]
        offsets = []
        at = len(parts[0])
        for num, body in enumerate(self._objects, 1):
            if body is None:
                raise ValueError(f"PDF object {num} was reserved but never written")
            chunk = b"%d 0 obj\n" % num + body + b"\nendobj\n"
            offsets.append(at)
            parts.append(chunk)
            at += len(chunk)
        digest = hashlib.md5(b"".join(parts)).hexdigest().encode("ascii")
        xref = [b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)]
        xref += [b"%010d 00000 n \n" % o for o in offsets]
        trailer = _ser(
            {
                "Size": len(offsets) + 1,
                "Root": _ref(root),
                "Info": _ref(info),
                "ID": [_Raw(b"<" + digest + b">"), _Raw(b"<" + digest + b">")],
            }
        )
        parts += xref
        parts.append(b"trailer\n" + trailer + b"\nstartxref\n%d\n%%%%EOF\n" % at)
        return b"".join(parts)
