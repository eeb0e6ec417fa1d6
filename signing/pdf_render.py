"""HTML -> PDF with WeasyPrint, as PDF/A-3b where possible, with embedded attachments.

Why these choices:

* PDF/A-3b (ISO 19005-3): the archival profile that allows attachments, so a certificate can
  carry its machine-readable facts (``certificate.json``) inside the signed PDF. Attachments
  get an ``AFRelationship`` (``Data`` by default), as PDF/A-3 requires.
* Fonts are named, never fetched: the HTML asks for e.g. "WenQuanYi Zen Hei" (Debian
  ``fonts-wqy-zenhei``), fontconfig finds it, WeasyPrint embeds the subset used. Without a
  CJK font Chinese text would render as empty boxes; :func:`embedded_fonts` lets callers check.
* Nothing is fetched over the network while rendering: only ``data:`` URIs are allowed (the
  documents show untrusted text such as captured page titles; a stray URL must not make the
  renderer call out). Give images as data URIs.
* One ``FontConfiguration`` per process: building it costs tens of milliseconds.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from .errors import SigningError

__all__ = ["Attachment", "RenderError", "embedded_fonts", "render_pdf"]

PDF_VARIANT = "pdf/a-3b"


class RenderError(SigningError):
    """The document could not be rendered to PDF."""


@dataclass(frozen=True)
class Attachment:
    """A file embedded in the PDF (``AFRelationship`` as in ISO 32000-2 §7.11.3)."""

    name: str
    data: bytes
    description: str | None = None
    relationship: str = "Data"


_FONT_CONFIG: Any = None
_FONT_LOCK = threading.Lock()


def _font_config() -> Any:
    global _FONT_CONFIG
    with _FONT_LOCK:
        if _FONT_CONFIG is None:
            from weasyprint.text.fonts import FontConfiguration

            _FONT_CONFIG = FontConfiguration()
        return _FONT_CONFIG


def render_pdf(
    html: str,
    output: Path | BinaryIO | None = None,
    *,
    attachments: Sequence[Attachment] = (),
    pdf_variant: str | None = PDF_VARIANT,
    created: datetime | None = None,
) -> bytes:
    """Render ``html`` to PDF (PDF/A-3b unless ``pdf_variant=None``); returns the bytes and
    also writes them to ``output`` if given."""
    try:
        from weasyprint import HTML
        from weasyprint import Attachment as WpAttachment
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:  # OSError: Pango/HarfBuzz libraries missing
        raise RenderError(
            f"WeasyPrint cannot be used here ({exc}); install the weasyprint package and the "
            "Pango libraries (Debian: libpango-1.0-0 libpangoft2-1.0-0)"
        ) from None
    fetcher = URLFetcher(allowed_protocols=["data"])
    wp_attachments = [
        WpAttachment(
            string=a.data,
            name=a.name,
            description=a.description,
            relationship=a.relationship,
            created=created,
            modified=created,
            url_fetcher=fetcher,
        )
        for a in attachments
    ]
    try:
        document = HTML(string=html, url_fetcher=fetcher, base_url="data:,")
        data = document.write_pdf(
            attachments=wp_attachments or None,
            pdf_variant=pdf_variant,
            font_config=_font_config(),
        )
    except (ValueError, OSError, KeyError) as exc:  # KeyError: unknown pdf_variant
        raise RenderError(f"the document could not be rendered to PDF: {exc!r}") from exc
    assert isinstance(data, bytes)
    if output is not None:
        if isinstance(output, Path | str):
            Path(output).write_bytes(data)
        else:
            output.write(data)
    return data


def _entry(dictionary: Any, key: str) -> Any:
    """``dictionary[key]`` dereferenced (pyHanko's ``.get`` returns indirect references)."""
    try:
        return dictionary[key]
    except KeyError:
        return {}


def embedded_fonts(pdf: bytes) -> set[str]:
    """Names of the fonts embedded in ``pdf``'s pages (subset prefix removed), e.g. to check
    that a CJK font was found rather than silently replaced."""
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    names: set[str] = set()

    def walk(node: Any) -> None:
        if "/Kids" in node:
            for kid in node["/Kids"]:
                walk(kid.get_object())
            return
        fonts = _entry(_entry(node, "/Resources"), "/Font")
        for key in fonts:
            font = fonts[key]
            name = str(font.get("/BaseFont", ""))[1:]
            if "/FontDescriptor" not in font and "/DescendantFonts" in font:
                font = font["/DescendantFonts"][0].get_object()
            embedded = "/FontDescriptor" in font and any(
                k in font["/FontDescriptor"] for k in ("/FontFile", "/FontFile2", "/FontFile3")
            )
            if embedded:
                names.add(name.split("+", 1)[1] if "+" in name[:7] else name)

    walk(reader.root["/Pages"])
    return names
