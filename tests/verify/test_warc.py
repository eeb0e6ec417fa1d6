"""WARC records streamed out of the package: digests in every encoding warcio accepts, bad
digests named by record, and hostile WARCs that must not exhaust memory."""

from __future__ import annotations

import gzip
import io
import tracemalloc
import zlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from capture.types import CaptureResult
from capture.wacz import build_wacz
from signing.verify import Indication, Status, Sub
from signing.verify.warc import WarcResult, _Gunzip, check_warc
from tests.verify.conftest import Verify
from tests.verify.sealing import Authorities
from tests.verify.zipcraft import zeros_bomb
from tests.wacz.conftest import PNG


def _members(data: bytes) -> list[bytes]:
    out = []
    while data:
        d = zlib.decompressobj(31)
        out.append(d.decompress(data))
        data = d.unused_data
    return out


def _rewrite_warc(src: Path, dst: Path, change: bytes, into: bytes) -> None:
    """Change bytes inside one record and re-gzip record by record (a consistent WARC.gz
    whose record digest no longer matches)."""
    members = _members(src.read_bytes())
    with dst.open("wb") as fh:
        for m in members:
            if change in m:
                m = m.replace(change, into, 1)
            fh.write(gzip.compress(m))


def _package(capture: CaptureResult, auth: Authorities, out: Path) -> Path:
    build_wacz(capture, out, sign=auth.signer.sign)
    return out


def test_altered_record_payload_is_named(
    capture: CaptureResult, auth: Authorities, verify: Verify, tmp_path: Path
) -> None:
    warc = Path(capture.warc_path)
    altered = tmp_path / "altered.warc.gz"
    _rewrite_warc(warc, altered, "原价 ¥199".encode(), "原价 ¥19 ".encode())
    warc.write_bytes(altered.read_bytes())
    report = verify(_package(capture, auth, tmp_path / "p.wacz"))
    # the package is consistently signed over the altered WARC; only the records know
    assert report.check("package.resources").status is Status.PASSED
    assert report.indication_line() == "TOTAL-FAILED HASH_FAILURE"
    check = report.check("warc.records")
    assert check.status is Status.FAILED and "item/42" in check.reason.en
    failures = check.facts["archive/data.warc.gz"]["digest_failures"]
    assert failures and "digest" in failures[0]["problem"]


def _warcio_sha1_warc(path: Path, *, gz: bool) -> None:
    """warcio's default writer: sha1 digests in base32 (what many crawlers write)."""
    with path.open("wb") as fh:
        w = WARCWriter(fh, gzip=gz, warc_version="1.1")
        for i in range(3):
            body = f"<html>page {i}</html>".encode()
            head = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            w.write_record(
                w.create_warc_record(
                    f"https://shop.example.com/{i}",
                    "response",
                    payload=io.BytesIO(body),
                    length=len(body),
                    http_headers=head,
                )
            )


def test_sha1_base32_digests_and_plain_warc(tmp_path: Path) -> None:
    for gz in (True, False):
        path = tmp_path / f"w{gz}.warc"
        _warcio_sha1_warc(path, gz=gz)
        assert b"sha1:" in (gzip.decompress(path.read_bytes()) if gz else path.read_bytes())
        result = WarcResult()
        with path.open("rb") as fh:
            check_warc(fh, result)
        assert result.ok and result.records == 3 and result.digests_checked == 3, result


def test_hex_digest_mismatch_found_directly(tmp_path: Path) -> None:
    record = (
        b"WARC/1.1\r\nWARC-Type: resource\r\nWARC-Target-URI: urn:test:x\r\n"
        b"WARC-Record-ID: <urn:uuid:1>\r\nContent-Type: text/plain\r\n"
        b"WARC-Block-Digest: sha256:" + b"00" * 32 + b"\r\nContent-Length: 5\r\n\r\nhello\r\n\r\n"
    )
    result = WarcResult()
    check_warc(io.BytesIO(gzip.compress(record)), result)
    assert result.failure_count == 1 and not result.ok
    assert (
        result.resources["urn:test:x"]["sha256"]
        == __import__("hashlib").sha256(b"hello").hexdigest()
    )


def test_gzip_bomb_inside_a_record_is_bounded(tmp_path: Path) -> None:
    header = (
        b"WARC/1.1\r\nWARC-Type: resource\r\nWARC-Target-URI: urn:test:x\r\n"
        b"WARC-Record-ID: <urn:uuid:1>\r\nContent-Length: 10\r\n\r\n0123456789"
    )
    zeros = zeros_bomb(256 << 20)
    # one gzip member: the header, then 256 MiB of zeros
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(b"\x00" * (256 << 20), zlib.crc32(header))
    member = (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
        + head
        + zeros
        + crc.to_bytes(4, "little")
        + ((len(header) + (256 << 20)) & 0xFFFFFFFF).to_bytes(4, "little")
    )
    tracemalloc.start()
    result = WarcResult()
    check_warc(io.BytesIO(member), result)
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert not result.ok and result.error is not None
    assert peak < 32 * 1024 * 1024, peak


def test_endless_record_header_is_bounded() -> None:
    data = b"WARC/1.1\r\n" + b"X-Header: value\r\n" * 200_000
    tracemalloc.start()
    result = WarcResult()
    check_warc(io.BytesIO(data), result)
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.error is not None and "too many lines" in result.error
    assert peak < 32 * 1024 * 1024


def test_not_a_warc(tmp_path: Path) -> None:
    for data in (
        b"hello world\n" * 100,
        gzip.compress(b"not a warc at all\r\n" * 10),
        b"\x1f\x8b" + b"\x00" * 100,
    ):
        result = WarcResult()
        check_warc(io.BytesIO(data), result)
        assert not result.ok and (result.records == 0 or result.error is not None)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.binary(min_size=0, max_size=3000), min_size=1, max_size=6),
    read_size=st.integers(min_value=1, max_value=70_000),
    feed=st.integers(min_value=1, max_value=5000),
)
def test_gunzip_reader_matches_zlib(parts: list[bytes], read_size: int, feed: int) -> None:
    """Any member sizes, any read size, any input chunking: the same bytes as gzip.decompress
    (a regression test: CPython leaves a stale unconsumed_tail after a member's end)."""
    data = b"".join(gzip.compress(p, compresslevel=1) for p in parts)

    class Chunked:
        def __init__(self) -> None:
            self.pos = 0

        def read(self, n: int = -1) -> bytes:
            chunk = data[self.pos : self.pos + min(n, feed)]
            self.pos += len(chunk)
            return chunk

    reader = _Gunzip(Chunked())
    out = bytearray()
    while chunk := reader.read(read_size):
        assert len(chunk) <= read_size
        out += chunk
    assert bytes(out) == b"".join(parts)
    assert reader.members == len(parts)


def test_truncated_gzip_member_is_reported() -> None:
    data = gzip.compress(b"WARC/1.1\r\n" + PNG)[:-20]
    result = WarcResult()
    check_warc(io.BytesIO(data), result)
    assert result.error is not None


def test_warc_report_sub_indications(
    capture: CaptureResult, auth: Authorities, verify: Verify, tmp_path: Path
) -> None:
    Path(capture.warc_path).write_bytes(b"this is not a WARC file\r\n" * 10)
    report = verify(_package(capture, auth, tmp_path / "p.wacz"))
    check = report.check("warc.records")
    assert (check.status, check.sub_indication) == (Status.FAILED, Sub.FORMAT_FAILURE)
    assert report.indication is Indication.TOTAL_FAILED
