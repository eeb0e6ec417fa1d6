"""WARC record digests, checked while the WARC streams out of the ZIP (no second read).

warcio parses the records and checks ``WARC-Block-Digest`` / ``WARC-Payload-Digest`` (any
algorithm hashlib knows; base32, hex or base64 values), as ``warcio check`` does. Around it:

* gzip is inflated here, not by warcio: warcio inflates a whole input block at once, so a
  small gzip member of zeros inside a WARC could expand to gigabytes in memory. Here every
  read returns at most what was asked for, and members are followed one by one;
* lines are capped and header lines counted, so a record header that never ends (or one huge
  line) cannot exhaust memory either;
* warcio writes its complaints about bad record lengths to stderr; they are collected instead.

The block digest is warcio's (it covers the stored bytes: a mismatch is an alteration). The
payload digest is checked here, against every form recorders compute it in (``payload.py``:
the body as stored, de-chunked as WARC 1.1 defines it, de-chunked and content-decoded); the
form that matched is reported. When the block digest verified, a payload digest that matches
no form is the recorder's disagreement with a body the block digest protects -- reported, not
an alteration. Without a block digest nothing else speaks for the record, so it stays a
mismatch.

For ``resource`` records with a ``urn:`` target (the screenshot, PDF and provenance copies),
the SHA-256 of the block is kept so the package check can compare them with ``files/``.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader
from warcio.exceptions import ArchiveLoadFailed

from .payload import DecodeBudget, PayloadDigests, parse_digest

__all__ = ["WarcResult", "check_warc"]

READ = 256 * 1024
#: zlib inflates 256 KiB inputs several times faster than 1 MiB ones (output buffer growth).
INFLATE = 256 * 1024
MAX_LINE = 64 * 1024
MAX_HEADER_LINES = 10_000
MAX_RESOURCES = 10_000
MAX_LISTED = 20


class _Source(Protocol):
    def read(self, n: int = ...) -> bytes: ...


class WarcFormatError(Exception):
    pass


class _Gunzip:
    """Multi-member gzip (one member per record, as WARC.gz is) -> plain bytes, bounded."""

    def __init__(self, source: _Source) -> None:
        self.source = source
        self.d = zlib.decompressobj(31)
        self.members = 0
        self.pending = b""
        self.finished = False
        self.started = False

    def read(self, n: int = READ) -> bytes:
        if n is None or n < 0:
            n = READ
        while not self.finished:
            n = min(n, INFLATE)
            if self.d.unconsumed_tail:
                out = self.d.decompress(self.d.unconsumed_tail, n)
            else:
                data = self.pending or self.source.read(INFLATE)
                self.pending = b""
                if not data:
                    if self.started and not self.d.eof:
                        raise WarcFormatError("the last gzip member is cut short")
                    self.finished = True
                    return b""
                self.started = True
                out = self.d.decompress(data, n)
            if self.d.eof:
                self.members += 1
                # (after the end, CPython may leave a stale copy in unconsumed_tail)
                rest = self.d.unused_data
                self.d = zlib.decompressobj(31)
                self.started = False
                self.pending = rest  # the next member (zlib rejects anything else)
            if out:
                return out
        return b""


class _LineCappedReader(BufferedReader):
    """warcio's buffered reader without decompression, with bounded lines."""

    def __init__(self, stream: _Source) -> None:
        super().__init__(stream, block_size=READ)
        self.lines = 0

    def readline(self, length: int | None = None) -> bytes:
        self.lines += 1
        if self.lines > MAX_HEADER_LINES:
            raise WarcFormatError("a record header has too many lines (not a WARC?)")
        if length is None or length > MAX_LINE:
            length = MAX_LINE
        return bytes(super().readline(length))

    def read(self, length: int | None = None) -> bytes:
        self.lines = 0
        return bytes(super().read(length))


class _Iterator(ArchiveIterator):
    def __init__(self, source: _Source) -> None:
        super().__init__(source, check_digests=True, block_size=READ)
        self.reader = _LineCappedReader(self.fh)
        self.length_warnings = 0

    def _consume_blanklines(self) -> tuple[bytes | None, int]:
        empty_size = 0
        first_line = True
        while True:
            line = self.reader.readline()
            if len(line) == 0:
                return None, empty_size
            stripped = line.rstrip()
            if len(stripped) == 0 or first_line:
                empty_size += len(line)
                if len(stripped) != 0:
                    self.length_warnings += 1  # the previous record's length was wrong
                first_line = False
                continue
            return line, empty_size


@dataclass
class WarcResult:
    records: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    digests_checked: int = 0
    no_digest: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    failure_count: int = 0
    error: str | None = None
    length_warnings: int = 0
    gzip_members: int = 0
    #: target URI -> {"sha256", "content_type", "length", "record_id"} of urn: resource records
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: form ("stored" | "dechunked" | "decoded") -> records whose payload digest is over it
    payload_forms: dict[str, int] = field(default_factory=dict)
    #: Records with more than one form, or whose digest is not over the WARC 1.1 form
    #: (capped): {"record_id", "uri", "form", "spec_form", "spec", "unavailable"}.
    payload_records: list[dict[str, Any]] = field(default_factory=list)
    #: Records whose payload digest matches no form although their block digest verified
    #: (capped): a recorder's disagreement, not an alteration.
    payload_disagreements: list[dict[str, str]] = field(default_factory=list)
    payload_disagreement_count: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failure_count and not self.length_warnings


def check_warc(source: _Source, result: WarcResult) -> None:
    """Read every record of the WARC in ``source`` (gzip or plain), filling ``result``.

    Never raises for bad input: a parse error ends the walk and is kept in ``result.error``.
    """
    try:
        _walk(source, result)
    except (ArchiveLoadFailed, WarcFormatError, zlib.error, EOFError, ValueError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:500]
    except Exception as exc:  # warcio raises assorted exceptions for garbage
        result.error = f"{type(exc).__name__}: {exc}"[:500]


def _walk(source: _Source, result: WarcResult) -> None:
    head = source.read(2)
    gz = head == b"\x1f\x8b"

    class _Prefixed:
        def __init__(self) -> None:
            self.first = head

        def read(self, n: int = READ) -> bytes:
            if self.first:
                data, self.first = self.first, b""
                return data
            return source.read(n)

    prefixed = _Prefixed()
    gunzip = _Gunzip(prefixed) if gz else None
    stream: _Source = gunzip if gunzip is not None else prefixed
    it = _Iterator(stream)
    budget = DecodeBudget()
    for record in it:
        if record.format != "warc":
            raise WarcFormatError(f"record {result.records + 1} is not a WARC record")
        result.records += 1
        rec_type = record.rec_type or "?"
        result.by_type[rec_type] = result.by_type.get(rec_type, 0) + 1
        headers = record.rec_headers
        uri = headers.get_header("WARC-Target-URI") or ""
        keep = (
            rec_type == "resource"
            and uri.startswith("urn:")
            and len(result.resources) < MAX_RESOURCES
        )
        block_hash = hashlib.sha256() if keep else None
        has_digest = bool(
            headers.get_header("WARC-Block-Digest") or headers.get_header("WARC-Payload-Digest")
        )
        payload = _payload_digests(record, budget)
        raw = record.raw_stream
        while True:
            data = raw.read(READ)
            if not data:
                break
            if block_hash is not None:
                block_hash.update(data)
            if payload is not None:
                payload.update(data)
        it.reader.lines = 0
        if rec_type in ("revisit",) or not has_digest:
            result.no_digest += 1 if not has_digest and rec_type != "revisit" else 0
        else:
            problems = _problems(record, payload, result, uri)
            if problems:
                result.failure_count += 1
                if len(result.failures) < MAX_LISTED:
                    result.failures.append(
                        {
                            "record_id": headers.get_header("WARC-Record-ID") or "",
                            "type": rec_type,
                            "uri": uri[:300],
                            "problem": "; ".join(problems)[:300],
                        }
                    )
            else:
                result.digests_checked += 1
        if block_hash is not None:
            result.resources[uri] = {
                "sha256": block_hash.hexdigest(),
                "content_type": headers.get_header("Content-Type") or "",
                "length": record.length,
                "record_id": headers.get_header("WARC-Record-ID") or "",
            }
    result.length_warnings = it.length_warnings
    if gunzip is not None:
        result.gzip_members = gunzip.members


def _payload_digests(record: Any, budget: DecodeBudget) -> PayloadDigests | None:
    """Hashers for the record's payload digest in each form, or None (no payload digest, a
    revisit, or an algorithm hashlib does not know: warcio reports that one)."""
    if record.rec_type == "revisit":
        return None
    parsed = parse_digest(record.rec_headers.get_header("WARC-Payload-Digest"))
    if parsed is None:
        return None
    http = record.http_headers
    return PayloadDigests(
        parsed[0],
        http.get_header("Transfer-Encoding") if http is not None else None,
        http.get_header("Content-Encoding") if http is not None else None,
        budget,
    )


def _problems(
    record: Any, payload: PayloadDigests | None, result: WarcResult, uri: str
) -> list[str]:
    """The record's digest problems that show alteration; payload findings go to ``result``.

    warcio's own payload check (over the stored body only) is replaced by ``payload``'s."""
    headers = record.rec_headers
    problems = [p for p in record.digest_checker.problems if "payload digest" not in p]
    claimed = headers.get_header("WARC-Payload-Digest")
    if payload is None:
        if claimed and parse_digest(claimed) is None:
            problems.append("unknown hash algorithm name in payload digest")
        return problems
    parsed = parse_digest(claimed)
    assert parsed is not None  # (``payload`` exists only for a parsable payload digest)
    block_verified = bool(headers.get_header("WARC-Block-Digest")) and not problems
    form = payload.match(parsed[1])
    record_id = headers.get_header("WARC-Record-ID") or ""
    if form is None:
        tried = ", ".join(payload.hashes) or "none"
        if not block_verified:
            problems.append(f"payload digest failed ({claimed}; forms tried: {tried})")
            return problems
        result.payload_disagreement_count += 1
        if len(result.payload_disagreements) < MAX_LISTED:
            result.payload_disagreements.append(
                {
                    "record_id": record_id,
                    "uri": uri[:300],
                    "claimed": (claimed or "")[:120],
                    "forms_tried": tried,
                }
            )
        return problems
    result.payload_forms[form] = result.payload_forms.get(form, 0) + 1
    several = len(payload.hashes) > 1 or payload.unavailable
    if (several or form != payload.spec_form) and len(result.payload_records) < MAX_LISTED:
        result.payload_records.append(
            {
                "record_id": record_id,
                "uri": uri[:300],
                "form": form,
                "spec_form": payload.spec_form,
                "spec": form == payload.spec_form,
                "unavailable": dict(payload.unavailable),
            }
        )
    return problems
