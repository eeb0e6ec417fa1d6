"""What a comparison needs from one sealed package (WACZ), read straight from its files.

Why from the package and nothing else: a comparison is evidence about two packages, so every
fact it states must be re-readable from those packages by anyone holding them. Read here:

* identity: the package's SHA-256, the capture manifest (``files/manifest.json``: capture id,
  URLs, HTTP status, local start time) and the trusted time its RFC 3161 token states
  (``files/manifest.tsr``; the token is *read* here, the verifier checks it);
* the visible text: the text Chromium laid out when it printed the page
  (``files/page.pdf``, the DOM as rendered, scripts' changes included; the PDF's text layer,
  not OCR), one line per laid-out line; a package without a PDF falls back to the main HTML
  document's text from the WARC (what the server sent, before scripts ran);
* the images: every ``image/*`` response in the WARC, by the SHA-256 of its payload;
* the screenshot (``files/screenshot.png``);
* the main document's HTML (for the fields, :mod:`capture.compare.fields`).
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator

__all__ = ["ImageRef", "PackageContent", "PackageError", "read_package"]

WARC_MEMBER = "archive/data.warc.gz"
MANIFEST = "files/manifest.json"
MANIFEST_TSR = "files/manifest.tsr"
SCREENSHOT = "files/screenshot.png"
PAGE_PDF = "files/page.pdf"
DATAPACKAGE = "datapackage.json"
MAX_HTML = 8 * 1024 * 1024
MAX_IMAGE = 64 * 1024 * 1024
MAX_SCREENSHOT = 256 * 1024 * 1024
MAX_JSON = 4 * 1024 * 1024
_BLOCK = 1024 * 1024
_BLOCK_TAGS = (
    "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "br", "section", "article",
    "header", "footer", "td", "th", "dt", "dd", "pre", "blockquote", "table", "ul", "ol", "form",
)  # fmt: skip
_DROP = ("script", "style", "noscript", "template", "svg", "head")


class PackageError(ValueError):
    """The file is not a sealed package this comparison can read; the message says which
    file and what is wrong with it."""


@dataclass(frozen=True)
class ImageRef:
    """An image the page loaded: its payload's SHA-256 and the URL(s) it came from."""

    sha256: str
    urls: tuple[str, ...]
    content_type: str


@dataclass(frozen=True)
class PackageContent:
    """One package as the comparison sees it."""

    name: str
    sha256: str
    size: int
    capture_id: str
    requested_url: str
    final_url: str
    http_status: int | None
    title: str
    capture_started: str | None
    manifest_sha256: str | None
    #: genTime of ``files/manifest.tsr`` (ISO 8601 UTC), its TSA and serial; None when the
    #: package has no manifest token (not one of ours).
    trusted_time: str | None
    tsa: str | None
    tsa_serial: str | None
    #: Visible text, one line per laid-out line, whitespace collapsed, empty lines dropped.
    text_lines: tuple[str, ...]
    #: Where the text came from: "page.pdf" (rendered) or "warc-html" (as served).
    text_source: str
    images: tuple[ImageRef, ...]
    #: The main document's HTML (decoded) and the screenshot's bytes (PNG), if present.
    main_html: str
    screenshot: bytes | None


def _sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def _read(zf: zipfile.ZipFile, name: str, limit: int) -> bytes | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > limit:
        raise PackageError(f"{name} in the package is larger than {limit // (1024 * 1024)} MiB")
    return zf.read(info)


def _json(zf: zipfile.ZipFile, name: str, label: str) -> dict[str, Any] | None:
    raw = _read(zf, name, MAX_JSON)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise PackageError(f"{label}: {name} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PackageError(f"{label}: {name} is not a JSON object")
    return data


def _token_facts(der: bytes | None) -> tuple[str | None, str | None, str | None]:
    """genTime, TSA name and serial of a TimeStampResp (read, not verified)."""
    if not der:
        return None, None, None
    from asn1crypto import tsp

    try:
        resp = tsp.TimeStampResp.load(der)
        signed = resp["time_stamp_token"]["content"]
        info = signed["encap_content_info"]["content"].parsed
        gen_time = info["gen_time"].native
        serial = str(info["serial_number"].native)
        tsa_name = info["tsa"]
        tsa: str | None = None
        if tsa_name.native is not None:
            tsa = tsa_name.chosen.human_friendly
        if not tsa:
            for cert in signed["certificates"] or []:
                tsa = cert.chosen.subject.human_friendly
                break
    except Exception:  # a damaged token: the verifier says what is wrong with it
        return None, None, None
    when = gen_time.isoformat().replace("+00:00", "Z")
    return when, tsa, serial


_SPACE = re.compile(r"\s+")


def _clean_lines(text: str) -> tuple[str, ...]:
    out = []
    for line in text.splitlines():
        line = _SPACE.sub(" ", line).strip()
        if line:
            out.append(line)
    return tuple(out)


def _pdf_lines(pdf: bytes) -> tuple[str, ...] | None:
    """The PDF's text layer, page by page (pdfium: Chromium's own PDF library)."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError:
        return None
    try:
        parts = []
        for index in range(len(doc)):
            page = doc[index]
            textpage = page.get_textpage()
            parts.append(textpage.get_text_range())
            textpage.close()
            page.close()
    finally:
        doc.close()
    return _clean_lines("\n".join(parts))


def _html_lines(html: str) -> tuple[str, ...]:
    import lxml.html
    from lxml.etree import ParserError

    try:
        root = lxml.html.fromstring(html)
    except (ParserError, ValueError):
        return ()
    for bad in list(root.iter(*_DROP)):
        bad.drop_tree()
    for el in root.iter(*_BLOCK_TAGS):
        el.tail = "\n" + (el.tail or "")
        if el.tag != "br":
            el.text = "\n" + (el.text or "")
    return _clean_lines(root.text_content())


_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset=([A-Za-z0-9_-]+)", re.IGNORECASE)


def _decode(body: bytes, content_type: str) -> str:
    named = _HEADER_CHARSET.search(content_type)
    meta = _META_CHARSET.search(body[:4096])
    charset = (named.group(1) if named else meta.group(1).decode() if meta else "utf-8").lower()
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _records(fh: IO[bytes]) -> Iterator[tuple[str, str, bytes | None]]:
    """(target URI, content type, payload) of each response record; payload None if too big."""
    for record in ArchiveIterator(fh, check_digests=False):
        if record.rec_type != "response" or record.http_headers is None:
            continue
        kind = (record.http_headers.get_header("Content-Type") or "").strip()
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        major = kind.lower().split(";")[0].strip()
        if "html" in major or major.startswith("image/"):
            limit = MAX_HTML if "html" in major else MAX_IMAGE
            body = record.content_stream().read(limit + 1)
            yield uri, kind, body if len(body) <= limit else None
        else:
            yield uri, kind, None


def _warc_content(
    zf: zipfile.ZipFile, final_url: str, requested_url: str
) -> tuple[str, tuple[ImageRef, ...]]:
    main: str | None = None
    first_html: str | None = None
    images: dict[str, tuple[list[str], str]] = {}
    try:
        with zf.open(WARC_MEMBER) as fh:
            for uri, kind, body in _records(fh):
                if body is None:
                    continue
                major = kind.lower().split(";")[0].strip()
                if major.startswith("image/"):
                    digest = hashlib.sha256(body).hexdigest()
                    urls, _ = images.setdefault(digest, ([], major))
                    if uri not in urls:
                        urls.append(uri)
                elif "html" in major:
                    text = _decode(body, kind)
                    if first_html is None:
                        first_html = text
                    if main is None and uri in (final_url, requested_url) and body.strip():
                        main = text
    except KeyError:
        raise PackageError(
            f"the package has no {WARC_MEMBER}: it is not a sealed capture"
        ) from None
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise PackageError(f"{WARC_MEMBER} in the package cannot be read: {exc}") from None
    refs = tuple(ImageRef(sha, tuple(urls), kind) for sha, (urls, kind) in sorted(images.items()))
    return main if main is not None else (first_html or ""), refs


def read_package(path: Path | str) -> PackageContent:
    """Read the package at ``path`` (raises :class:`PackageError` with the reason)."""
    path = Path(path)
    label = path.name
    if not path.is_file():
        raise PackageError(f"{path}: no such file")
    sha, size = _sha256_file(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageError(f"{label} is not a WACZ package (not a ZIP file: {exc})") from None
    with zf:
        manifest = _json(zf, MANIFEST, label)
        datapackage = _json(zf, DATAPACKAGE, label) or {}
        if manifest is None and not datapackage:
            raise PackageError(
                f"{label} has neither files/manifest.json nor datapackage.json: it is not a "
                "sealed capture"
            )
        manifest = manifest or {}
        manifest_raw = _read(zf, MANIFEST, MAX_JSON)
        final_url = str(manifest.get("final_url") or datapackage.get("mainPageURL") or "")
        requested_url = str(manifest.get("requested_url") or final_url)
        title = ""
        pages = _read(zf, "pages/pages.jsonl", MAX_JSON)
        if pages:
            for line in pages.decode("utf-8", errors="replace").splitlines()[1:2]:
                try:
                    title = str(json.loads(line).get("title") or "")
                except ValueError:
                    title = ""
        if not title:
            title = str(datapackage.get("title") or "")
        gen_time, tsa, serial = _token_facts(_read(zf, MANIFEST_TSR, MAX_JSON))
        main_html, images = _warc_content(zf, final_url, requested_url)
        pdf = _read(zf, PAGE_PDF, MAX_SCREENSHOT)
        lines = _pdf_lines(pdf) if pdf else None
        source = "page.pdf"
        if lines is None:
            lines, source = _html_lines(main_html), "warc-html"
        screenshot = _read(zf, SCREENSHOT, MAX_SCREENSHOT)
    status = manifest.get("http_status")
    return PackageContent(
        name=label,
        sha256=sha,
        size=size,
        capture_id=str(manifest.get("capture_id") or ""),
        requested_url=requested_url,
        final_url=final_url,
        http_status=int(status) if isinstance(status, int) else None,
        title=title,
        capture_started=manifest.get("capture_started"),
        manifest_sha256=hashlib.sha256(manifest_raw).hexdigest() if manifest_raw else None,
        trusted_time=gen_time,
        tsa=tsa,
        tsa_serial=serial,
        text_lines=lines,
        text_source=source,
        images=images,
        main_html=main_html,
        screenshot=screenshot,
    )
