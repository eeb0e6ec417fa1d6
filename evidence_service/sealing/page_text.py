"""The text of a case's captured pages, read from their sealed packages: what the legal-basis
suggestions (``workflow.legal.ranking``) search for the words of each catalogue entry.

Why from the package: the text a suggestion cites must be what was sealed (the exact bytes
the browser received, in the package's WARC), not a later look at the page. The captures'
database rows keep only their title, so this reads the main document's HTML response out of
``archive/data.warc.gz`` and drops the markup (scripts, styles). Text that a page draws with
JavaScript after loading is not in that HTML and is not searched; the title always is.

Packages never change once sealed, so the text is cached by the package's SHA-256.
"""

from __future__ import annotations

import logging
import re
import tempfile
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

import lxml.html
from lxml.etree import ParserError
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from evidence_service.services import Services
from storage.errors import StorageError
from storage.models import Capture, CaseEvidence

__all__ = ["MAX_TEXT", "MainPage", "PageUnreadable", "case_page_text", "html_text", "main_page"]

log = logging.getLogger(__name__)
#: At most this many characters of text per package, and per case.
MAX_TEXT = 200_000
MAX_HTML = 8 * 1024 * 1024
WARC_MEMBER = "archive/data.warc.gz"
SPOOL_IN_MEMORY = 32 * 1024 * 1024
_DROP = ("script", "style", "noscript", "template", "svg")


_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset=([A-Za-z0-9_-]+)", re.IGNORECASE)


def _decode(html: bytes, content_type: str) -> str:
    """The document as text: in the charset its HTTP header or its meta tag names (many
    Chinese pages are GBK), else UTF-8."""
    named = _HEADER_CHARSET.search(content_type)
    meta = _META_CHARSET.search(html[:4096])
    charset = (named.group(1) if named else meta.group(1).decode() if meta else "utf-8").lower()
    try:
        return html.decode(charset, errors="replace")
    except LookupError:
        return html.decode("utf-8", errors="replace")


def html_text(html: bytes, content_type: str = "") -> str:
    """The visible text of an HTML document, whitespace collapsed."""
    try:
        root = lxml.html.fromstring(_decode(html, content_type))
    except (ParserError, ValueError):
        return ""
    for bad in root.iter(*_DROP):
        bad.drop_tree()
    return " ".join(root.text_content().split())


def _html_responses(fh: object, wanted: set[str]) -> Iterator[tuple[bool, str]]:
    for record in ArchiveIterator(fh):
        if record.rec_type != "response" or record.http_headers is None:
            continue
        kind = record.http_headers.get_header("Content-Type") or ""
        if "html" not in kind.lower():
            continue
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        yield uri in wanted, html_text(record.content_stream().read(MAX_HTML), kind)


_CACHE: OrderedDict[tuple[str, tuple[str, ...]], str] = OrderedDict()
_CACHE_SIZE = 256


def _package_text(services: Services, key: str, sha256: str, urls: tuple[str, ...]) -> str:
    """The main document's text (else every HTML response's) of the package at ``key``;
    cached by the package's SHA-256 (a sealed package never changes)."""
    found = _CACHE.get((sha256, urls))
    if found is not None:
        _CACHE.move_to_end((sha256, urls))
        return found
    text = _read_package_text(services, key, sha256, urls)
    _CACHE[(sha256, urls)] = text
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return text


def _read_package_text(services: Services, key: str, sha256: str, urls: tuple[str, ...]) -> str:
    main: list[str] = []
    others: list[str] = []
    try:  # a ZIP needs seeking: the store's reader streams (and checks the hash at its end)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as local:
            services.store.copy_to(key, local)  # type: ignore[arg-type]
            local.seek(0)
            with zipfile.ZipFile(local) as zf, zf.open(WARC_MEMBER) as fh:
                for is_main, body in _html_responses(fh, set(urls)):
                    (main if is_main else others).append(body)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError, StorageError) as exc:
        log.warning("could not read the page text of package %s: %s", sha256, exc)
        return ""
    return " ".join(main or others)[:MAX_TEXT]


def case_page_text(services: Services, case_id: str) -> str:
    """The title and text of every sealed capture in the case's evidence, in the order they
    were added (at most :data:`MAX_TEXT` characters)."""
    with services.session() as session:
        rows = session.execute(
            select(
                Capture.title,
                Capture.package_key,
                Capture.package_sha256,
                Capture.final_url,
                Capture.requested_url,
            )
            .join(CaseEvidence, CaseEvidence.capture_id == Capture.id)
            .where(CaseEvidence.case_id == case_id, Capture.status == "stored")
            .order_by(CaseEvidence.id)
        ).all()
    parts = []
    for title, key, sha256, final_url, requested_url in rows:
        if title:
            parts.append(title)
        if key and sha256:
            urls = tuple(u for u in (final_url, requested_url) if u)
            parts.append(_package_text(services, key, sha256, urls))
    return " ".join(p for p in parts if p)[:MAX_TEXT]


# -- the main page of one package, as the browser received it (for watches) ------------------

#: At most this many redirects are followed through the WARC's records.
MAX_REDIRECTS = 10


class PageUnreadable(Exception):
    """The sealed package cannot be read now (store down, damaged package): try again later."""


@dataclass(frozen=True)
class MainPage:
    """What a sealed package's WARC says of its main document: the status of the first
    response (``first_status``: 301/302 when the address redirected), the address and status
    the redirects led to, and the visible text of that final document."""

    first_status: int | None
    final_url: str
    http_status: int | None
    text: str

    @property
    def redirected(self) -> bool:
        return self.first_status is not None and 300 <= self.first_status < 400


def _responses(fh: object) -> dict[str, tuple[int | None, str, str]]:
    """``uri -> (status, Location, text)`` of the WARC's responses (the first of each)."""
    out: dict[str, tuple[int | None, str, str]] = {}
    for record in ArchiveIterator(fh):
        if record.rec_type != "response" or record.http_headers is None:
            continue
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        if uri in out:
            continue
        code = record.http_headers.get_statuscode()
        status = int(code) if code and code.isdigit() else None
        kind = record.http_headers.get_header("Content-Type") or ""
        location = record.http_headers.get_header("Location") or ""
        text = html_text(record.content_stream().read(MAX_HTML), kind) if "html" in kind else ""
        out[uri] = (status, location, text)
    return out


def main_page(services: Services, key: str, sha256: str, requested_url: str) -> MainPage:
    """The main document of the package at ``key``: its first response is the one for
    ``requested_url``, followed through the redirects the WARC recorded. Raises
    :class:`PageUnreadable` when the package cannot be read."""
    try:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as local:
            services.store.copy_to(key, local)  # type: ignore[arg-type]
            local.seek(0)
            with zipfile.ZipFile(local) as zf, zf.open(WARC_MEMBER) as fh:
                responses = _responses(fh)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError, StorageError) as exc:
        raise PageUnreadable(f"the sealed package {sha256} cannot be read: {exc}") from exc
    url = requested_url
    if url not in responses and url.rstrip("/") + "/" in responses:
        url = url.rstrip("/") + "/"
    first = responses.get(url)
    if first is None:
        return MainPage(None, requested_url, None, "")
    status, location, text = first
    for _ in range(MAX_REDIRECTS):
        if status is None or not 300 <= status < 400 or not location:
            break
        target = urljoin(url, location)
        if target not in responses:
            url, status, text = target, None, ""
            break
        url = target
        status, location, text = responses[url]
    return MainPage(first[0], url, status, text[:MAX_TEXT])
