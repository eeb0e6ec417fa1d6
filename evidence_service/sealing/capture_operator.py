"""The operator a sealed capture of a shop page shows (room: register), read from the package.

Why from the sealed package: what the register panel puts before the officer as "the page
says the operator is ..." must be what was sealed -- the HTML the browser received, in the
package's WARC -- so the officer can cite the capture and the exact record (its
``WARC-Record-ID`` and offset in ``archive/data.warc.gz``) it came from. The text rules are
``workflow.register.operator``'s (data in ``operator.toml``); this module only finds the HTML
responses (the page's main document first, then frames and other HTML it loaded) and hands
their text lines over. Text drawn by JavaScript after loading is not in the HTML and is not
read; a licence shown only as an image is not read either (the page says so).

Packages never change once sealed, so results are cached by the package's SHA-256."""

from __future__ import annotations

import logging
import tempfile
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from evidence_service.services import Services
from storage.errors import StorageError
from storage.models import Capture, CaseEvidence
from workflow.register.operator import OperatorInfo, extract_operator
from workflow.register.page_text import html_lines

__all__ = ["CaptureOperator", "case_capture_operators", "operator_of_package"]

log = logging.getLogger(__name__)
WARC_MEMBER = "archive/data.warc.gz"
MAX_HTML = 8 * 1024 * 1024
#: HTML responses read per package (a shop page loads few; a crawl would load many).
MAX_PAGES = 40


@dataclass(frozen=True)
class CaptureOperator:
    """The operator information one capture shows, and exactly where it was read."""

    capture_id: str
    package_sha256: str
    target_uri: str
    record_id: str
    offset: int
    info: OperatorInfo

    def as_json(self) -> dict[str, Any]:
        return {
            "capture_id": self.capture_id,
            "package_sha256": self.package_sha256,
            "warc_path": WARC_MEMBER,
            "target_uri": self.target_uri,
            "record_id": self.record_id,
            "offset": self.offset,
            **self.info.as_json(),
        }


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"')
    return None


def _html_records(warc: Any, main_urls: set[str]) -> list[tuple[bool, str, str, int, list[str]]]:
    pages = []
    it = ArchiveIterator(warc)
    for record in it:
        if record.rec_type != "response" or record.http_headers is None:
            continue
        kind = record.http_headers.get_header("Content-Type") or ""
        if "html" not in kind.lower():
            continue
        body = record.content_stream().read(MAX_HTML)
        offset = it.get_record_offset()  # after the body: asking first would consume it
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        record_id = record.rec_headers.get_header("WARC-Record-ID") or ""
        pages.append((uri in main_urls, uri, record_id, offset, html_lines(body, _charset(kind))))
        if len(pages) >= MAX_PAGES:
            break
    pages.sort(key=lambda p: not p[0])  # the main document first
    return pages


#: (capture id, package SHA-256, URLs) -> what was read; a sealed package never changes.
_CACHE: OrderedDict[tuple[str, str, tuple[str, ...]], CaptureOperator | None] = OrderedDict()
_CACHE_SIZE = 256
_LOCK = threading.Lock()


def _read(
    services: Services, capture_id: str, key: str, sha256: str, urls: tuple[str, ...]
) -> CaptureOperator | None:
    cache_key = (capture_id, sha256, urls)
    with _LOCK:
        if cache_key in _CACHE:
            _CACHE.move_to_end(cache_key)
            return _CACHE[cache_key]
    found = _read_package(services, capture_id, key, sha256, urls)
    with _LOCK:
        _CACHE[cache_key] = found
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return found


def _read_package(
    services: Services, capture_id: str, key: str, sha256: str, urls: tuple[str, ...]
) -> CaptureOperator | None:
    with tempfile.TemporaryFile() as tmp:
        try:
            services.store.copy_to(key, tmp)
            tmp.seek(0)
            with zipfile.ZipFile(tmp) as package, package.open(WARC_MEMBER) as warc:
                pages = _html_records(warc, set(urls))
        except (StorageError, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            log.warning("package %s of capture %s unreadable: %s", sha256, capture_id, exc)
            return None
    for _main, uri, record_id, offset, lines in pages:
        info = extract_operator(lines)
        if not info.empty:
            return CaptureOperator(capture_id, sha256, uri, record_id, offset, info)
    return None


def operator_of_package(services: Services, cap: Capture) -> CaptureOperator | None:
    """What the sealed capture ``cap`` shows of its operator, or None (not sealed, nothing
    found)."""
    if cap.status != "stored" or not cap.package_key or not cap.package_sha256:
        return None
    urls = tuple(u for u in (cap.final_url, cap.requested_url) if u)
    return _read(services, cap.id, cap.package_key, cap.package_sha256, urls)


def case_capture_operators(services: Services, case_id: str) -> list[CaptureOperator]:
    """The operator information of every sealed capture in the case's evidence, in the order
    the captures were added."""
    with services.session() as session:
        caps = list(
            session.scalars(
                select(Capture)
                .join(CaseEvidence, CaseEvidence.capture_id == Capture.id)
                .where(CaseEvidence.case_id == case_id, Capture.status == "stored")
                .order_by(CaseEvidence.id)
            )
        )
        session.expunge_all()
    found = (operator_of_package(services, cap) for cap in caps)
    return [f for f in found if f is not None]
