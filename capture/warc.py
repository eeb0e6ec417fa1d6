"""Write the capture as WARC 1.1 (gzip per record) with warcio, streaming record by record.

What the records claim, and why:

* Browser APIs hand over *decoded* bodies (no gzip, no chunking). Storing such a body under
  the original ``Content-Encoding: gzip`` would make raw replay (pywb ``id_``) send a broken
  response. So the original ``Content-Encoding``, ``Transfer-Encoding`` and (when it no longer
  matches) ``Content-Length`` lines are kept, renamed ``X-Orig-...`` (browsertrix-crawler's
  convention), and a correct ``Content-Length`` is appended. The warcinfo record says so.
* For HTTP/1.x the status line and header lines are Chromium's raw header text, in wire order,
  untouched except for those renames and cookie redaction. HTTP/2 has no raw text: the
  headers are written from Chromium's list with an ``HTTP/1.1`` status line and the real
  protocol in ``WARC-Protocol``.
* Digests are SHA-256 (``sha256:`` + hex, as browsertrix-crawler and WACZ tools write them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from .cookies import redact_cookie_header, redact_set_cookie
from .recorder import Exchange

_RENAMED_ALWAYS = ("content-encoding", "transfer-encoding")


class _Sha256Hex:
    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def update(self, buff: bytes) -> None:
        self._h.update(buff)

    def __str__(self) -> str:
        return "sha256:" + self._h.hexdigest()


class _Sha256WARCWriter(WARCWriter):
    @staticmethod
    def _create_digester() -> Any:
        return _Sha256Hex()


class _RawHttpHeaders(StatusAndHeaders):
    """Headers whose serialisation is fixed bytes (the raw text), not rebuilt by warcio."""

    def __init__(
        self,
        statusline: str,
        headers: list[tuple[str, str]],
        raw: bytes,
        *,
        protocol: str,
        is_http_request: bool = False,
    ) -> None:
        super().__init__(statusline, headers, protocol=protocol, is_http_request=is_http_request)
        self.headers_buff = raw

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        return None  # keep the bytes we were given


def warc_date(ts: float | datetime) -> str:
    """WARC-Date with microseconds (WARC/1.1 allows it)."""
    dt = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)
    return str(datetime_to_iso_date(dt.astimezone(UTC).replace(tzinfo=None), use_micros=True))


@dataclass
class WrittenExchange:
    url: str
    response_id: str
    request_id: str


class WarcBuilder:
    """Streams records into an open binary file."""

    def __init__(self, out: BinaryIO, *, secret_cookie_names: frozenset[str]) -> None:
        self._writer = _Sha256WARCWriter(out, gzip=True, warc_version="1.1")
        self._secrets = secret_cookie_names
        self._warcinfo_id: str | None = None
        self.records = 0

    def _common(self, headers: dict[str, str]) -> dict[str, str]:
        if self._warcinfo_id:
            headers["WARC-Warcinfo-ID"] = self._warcinfo_id
        return headers

    def write_warcinfo(self, filename: str, fields: dict[str, str]) -> str:
        record = self._writer.create_warcinfo_record(filename, fields)
        self._writer.write_record(record)
        self.records += 1
        self._warcinfo_id = record.rec_headers.get_header("WARC-Record-ID")
        return str(self._warcinfo_id)

    def write_exchange(self, ex: Exchange) -> WrittenExchange:
        """A response record and its request record (WARC-Concurrent-To the response)."""
        body_len = ex.body_length if ex.body is not None else 0
        _, parsed = response_head(ex, body_len, self._secrets)
        payload: Any = ex.body if ex.body is not None else _BytesReader(b"")
        warc_headers = {"WARC-Date": warc_date(ex.response_wall_time or ex.wall_time or 0.0)}
        if ex.remote_ip:
            warc_headers["WARC-IP-Address"] = ex.remote_ip.strip("[]")
        if ex.protocol:
            warc_headers["WARC-Protocol"] = ex.protocol
        if ex.body_missing and _declared_nonzero(parsed):
            warc_headers["WARC-Truncated"] = "unspecified"
        resp = self._writer.create_warc_record(
            ex.url,
            "response",
            payload=payload,
            length=body_len,
            warc_headers_dict=self._common(warc_headers),
            http_headers=parsed,
        )
        self._writer.write_record(resp)
        response_id = str(resp.rec_headers.get_header("WARC-Record-ID"))

        _, req_parsed, req_body = request_head(ex, self._secrets)
        req_headers = {
            "WARC-Date": warc_date(ex.wall_time or ex.response_wall_time or 0.0),
            "WARC-Concurrent-To": response_id,
        }
        if ex.remote_ip:
            req_headers["WARC-IP-Address"] = ex.remote_ip.strip("[]")
        req = self._writer.create_warc_record(
            ex.url,
            "request",
            payload=_BytesReader(req_body),
            length=len(req_body),
            warc_headers_dict=self._common(req_headers),
            http_headers=req_parsed,
        )
        self._writer.write_record(req)
        self.records += 2
        return WrittenExchange(
            ex.url, response_id, str(req.rec_headers.get_header("WARC-Record-ID"))
        )

    def write_resource(
        self, uri: str, content_type: str, path: Path | None, data: bytes | None, when: datetime
    ) -> str:
        stream: Any
        if path is not None:
            stream = path.open("rb")
            length = path.stat().st_size
        else:
            assert data is not None
            stream = _BytesReader(data)
            length = len(data)
        try:
            record = self._writer.create_warc_record(
                uri,
                "resource",
                payload=stream,
                length=length,
                warc_content_type=content_type,
                warc_headers_dict=self._common({"WARC-Date": warc_date(when)}),
            )
            self._writer.write_record(record)
        finally:
            stream.close()
        self.records += 1
        return str(record.rec_headers.get_header("WARC-Record-ID"))


# ---------------------------------------------------------------------- HTTP heads


def response_head(
    ex: Exchange, body_len: int, secrets: frozenset[str]
) -> tuple[bytes, StatusAndHeaders]:
    """Status line + headers as received, made truthful for the decoded body stored."""
    raw = ex.raw_headers_text
    if raw and raw.startswith("HTTP/") and not ex.protocol.startswith(("h2", "h3")):
        lines = raw.split("\r\n")
        while lines and lines[-1] == "":
            lines.pop()
        status_line, header_lines = lines[0], lines[1:]
    else:
        status = ex.status or 200
        text = ex.status_text or _reason(status)
        status_line = f"HTTP/1.1 {status} {text}".rstrip()
        header_lines = [f"{k}: {v}" for k, v in _header_pairs(ex)]

    names = [_line_name(line) for line in header_lines]
    has_encoding = any(n in _RENAMED_ALWAYS for n in names if n)
    lengths = [
        line.split(":", 1)[1].strip()
        for line, n in zip(header_lines, names, strict=True)
        if n == "content-length"
    ]
    length_ok = len(lengths) == 1 and lengths[0] == str(body_len) and not has_encoding
    out_lines: list[str] = []
    for line, name in zip(header_lines, names, strict=True):
        if name in _RENAMED_ALWAYS or (name == "content-length" and not length_ok):
            out_lines.append("X-Orig-" + line.lstrip())
        elif name == "set-cookie":
            key, sep, value = line.partition(":")
            out_lines.append(
                f"{key}:{' ' if value.startswith(' ') else ''}"
                f"{redact_set_cookie(value.strip(), secrets)}"
                if sep
                else line
            )
        else:
            out_lines.append(line)
    if not length_ok:
        out_lines.append(f"Content-Length: {body_len}")
    head = (status_line + "\r\n" + "".join(f"{line}\r\n" for line in out_lines) + "\r\n").encode(
        "utf-8", "replace"
    )
    protocol, _, rest = status_line.partition(" ")
    parsed = _RawHttpHeaders(rest, _parse_lines(out_lines), head, protocol=protocol)
    return head, parsed


def request_head(ex: Exchange, secrets: frozenset[str]) -> tuple[bytes, StatusAndHeaders, bytes]:
    parts = urlsplit(ex.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = ex.wire_request_headers or ex.page_request_headers or {}
    pairs: list[tuple[str, str]] = []
    authority = None
    for k, v in headers.items():
        if k.startswith(":"):
            if k == ":authority":
                authority = v
            continue
        for part in str(v).split("\n"):
            if k.lower() == "cookie":
                part = redact_cookie_header(part, secrets)
            pairs.append((k, part))
    if not any(k.lower() == "host" for k, _ in pairs):
        pairs.insert(0, ("Host", authority or parts.netloc))
    body = ex.post_data or b""
    lengths = [v.strip() for k, v in pairs if k.lower() == "content-length"]
    if lengths and lengths != [str(len(body))]:
        # the browser did not hand over the whole body: say what was announced, and what is here
        pairs = [("X-Orig-" + k, v) if k.lower() == "content-length" else (k, v) for k, v in pairs]
        pairs.append(("Content-Length", str(len(body))))
    elif body and not lengths:
        pairs.append(("Content-Length", str(len(body))))
    request_line = f"{ex.method} {target} HTTP/1.1"
    head = (request_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode(
        "utf-8", "replace"
    )
    parsed = _RawHttpHeaders(
        f"{target} HTTP/1.1", pairs, head, protocol=ex.method, is_http_request=True
    )
    return head, parsed, body


def _header_pairs(ex: Exchange) -> list[tuple[str, str]]:
    if ex.wire_response_headers:
        out: list[tuple[str, str]] = []
        for k, v in ex.wire_response_headers.items():
            if k.startswith(":"):
                continue
            out.extend((k, part) for part in str(v).split("\n"))
        return out
    return [(k, v) for k, v in (ex.fallback_response_headers or []) if not k.startswith(":")]


def _line_name(line: str) -> str | None:
    if not line or line[0] in " \t" or ":" not in line:
        return None  # obs-fold continuation or junk: kept as is
    return line.split(":", 1)[0].strip().lower()


def _parse_lines(lines: Iterable[str]) -> list[tuple[str, str]]:
    out = []
    for line in lines:
        if ":" in line and line[0] not in " \t":
            k, _, v = line.partition(":")
            out.append((k.strip(), v.strip()))
    return out


def _declared_nonzero(parsed: StatusAndHeaders) -> bool:
    value = parsed.get_header("X-Orig-Content-Length")
    return bool(value and value.strip() not in ("0", ""))


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class _BytesReader:
    """Minimal readable stream over bytes (avoids BytesIO copies of large bodies)."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = len(self._data) - self._pos
        chunk = bytes(self._data[self._pos : self._pos + n])
        self._pos += len(chunk)
        return chunk

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = pos if whence == 0 else (self._pos + pos if whence == 1 else len(self._data))
        return self._pos

    def close(self) -> None:
        pass
