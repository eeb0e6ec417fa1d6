"""``WARC-Payload-Digest`` as recorders really write it (WARC 1.1 section 5.9 and the variants).

WARC 1.1: the payload of an ``application/http`` record is the entity body *after the transfer
encoding is removed*, so a chunked response's payload digest is over the de-chunked bytes (still
gzip if ``Content-Encoding: gzip``). Other recorders hash the body as stored or fully decoded.
The block digest covers the stored bytes: only its mismatch proves alteration.

Each case writes one HTTP response record by hand (raw bytes: the headers say exactly what the
recorder said), appends it to a capture's WARC and seals the capture as the contract describes.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import itertools
import tracemalloc
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.types import CaptureResult
from signing.verify import Report, Status
from signing.verify.payload import DecodeBudget, PayloadDigests
from signing.verify.warc import READ, WarcResult, check_warc
from tests.verify.conftest import Verify, flip
from tests.verify.sealing import Authorities, TestLog, seal

BODY = (
    "<!doctype html><html><body><h1>Item 42</h1><p>原价 ¥199 现价 ¥99</p>"
    + "<p>库存充足</p>" * 40
    + "</body></html>"
).encode()
WARC_NAME = "archive/data.warc.gz"


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def sha256_hex(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def chunked(data: bytes, sizes: tuple[int, ...] = (7, 100, 1), *, ext: bool = False) -> bytes:
    """``data`` in chunks of the given sizes (the rest in one more), optionally with chunk
    extensions and a trailer section."""
    out, pos, i = bytearray(), 0, 0
    while pos < len(data):
        size = sizes[i] if i < len(sizes) else len(data) - pos
        piece = data[pos : pos + size]
        out += f"{len(piece):x}".encode() + (b";name=val" if ext else b"") + b"\r\n"
        out += piece + b"\r\n"
        pos, i = pos + len(piece), i + 1
    out += b"0" + (b";last" if ext else b"") + b"\r\n"
    if ext:
        out += b"X-Checksum: abc\r\nExpires: 0\r\n"
    out += b"\r\n"
    return bytes(out)


def response_record(
    uri: str,
    http_headers: list[tuple[str, str]],
    stored_body: bytes,
    *,
    payload_digest: str | None,
    block_digest: Callable[[bytes], str] | None = sha1_b32,
    alter: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """One WARC response record, raw: ``alter`` changes the block after its digest was made."""
    head = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in http_headers) + "\r\n"
    block = head.encode() + stored_body
    headers = [
        ("WARC-Type", "response"),
        ("WARC-Target-URI", uri),
        ("WARC-Date", "2024-05-01T08:00:00Z"),
        ("WARC-Record-ID", f"<urn:uuid:{uuid.uuid4()}>"),
        ("Content-Type", "application/http; msgtype=response"),
    ]
    if block_digest is not None:
        headers.append(("WARC-Block-Digest", block_digest(block)))
    if payload_digest is not None:
        headers.append(("WARC-Payload-Digest", payload_digest))
    if alter is not None:
        block = alter(block)
    headers.append(("Content-Length", str(len(block))))
    warc_head = "WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return warc_head.encode() + block + b"\r\n\r\n"


GZ = gzip.compress(BODY, mtime=0)
HTML = [("Content-Type", "text/html; charset=utf-8")]
CHUNKED = [*HTML, ("Transfer-Encoding", "chunked")]
CHUNKED_GZIP = [*HTML, ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")]


@dataclass(frozen=True)
class Case:
    name: str
    record: bytes
    uri: str
    form: str | None  # the form whose digest matched (None: none did)
    spec: bool = True


def _case(
    name: str,
    headers: list[tuple[str, str]],
    stored: bytes,
    *,
    payload_digest: str,
    form: str | None,
    spec: bool = True,
) -> Case:
    uri = f"https://shop.example.com/{name}"
    record = response_record(uri, headers, stored, payload_digest=payload_digest)
    return Case(name, record, uri, form, spec)


CASES = [
    _case("identity", HTML, BODY, payload_digest=sha1_b32(BODY), form="stored"),
    _case("chunked-spec", CHUNKED, chunked(BODY), payload_digest=sha1_b32(BODY), form="dechunked"),
    _case(
        "chunked-raw",
        CHUNKED,
        chunked(BODY),
        payload_digest=sha1_b32(chunked(BODY)),
        form="stored",
        spec=False,
    ),
    _case(
        "chunked-gzip-spec",
        CHUNKED_GZIP,
        chunked(GZ, (10, 3)),
        payload_digest=sha256_hex(GZ),
        form="dechunked",
    ),
    _case(
        "chunked-gzip-decoded",
        CHUNKED_GZIP,
        chunked(GZ, (10, 3)),
        payload_digest=sha1_b32(BODY),
        form="decoded",
        spec=False,
    ),
    _case(
        "chunked-extensions-trailers",
        CHUNKED,
        chunked(BODY, (5, 5, 300), ext=True),
        payload_digest=sha1_b32(BODY),
        form="dechunked",
    ),
    _case(
        "payload-digest-of-nothing",
        CHUNKED,
        chunked(BODY),
        payload_digest=sha1_b32(b"something the recorder never stored"),
        form=None,
        spec=False,
    ),
]


def _package(
    capture: CaptureResult, records: list[bytes], auth: Authorities, log: TestLog, work: Path
) -> Path:
    warc = Path(capture.warc_path)
    with warc.open("ab") as fh:
        for record in records:
            fh.write(gzip.compress(record))
    return seal(capture, work, auth, log).path


def _facts(report: Report) -> dict[str, Any]:
    facts: dict[str, Any] = report.check("warc.records").facts[WARC_NAME]
    return facts


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_genuine_records_pass_and_say_which_form_matched(
    case: Case,
    capture: CaptureResult,
    auth: Authorities,
    log: TestLog,
    verify: Verify,
    tmp_path: Path,
) -> None:
    report = verify(_package(capture, [case.record], auth, log, tmp_path / "work"))
    assert report.indication_line() == "TOTAL-PASSED", report.summary.en
    check = report.check("warc.records")
    assert check.status is Status.PASSED
    facts = _facts(report)
    assert facts["digest_failures"] == []
    listed = {r["uri"]: r for r in facts["payload_digest_records"]}
    disagreements = facts["payload_digest_disagreements"]
    if case.form is None:
        assert [d["uri"] for d in disagreements] == [case.uri]
        assert facts["payload_digest_disagreement_count"] == 1
        text = " ".join(d.en for d in check.details)
        assert "disagrees with the stored body, which the block digest protects" in text
        assert case.uri in text
        assert case.uri not in listed
    else:
        assert disagreements == [] and facts["payload_digest_disagreement_count"] == 0
        assert facts["payload_digest_forms"][case.form] >= 1
        if case.name == "identity":
            assert case.uri not in listed  # nothing to say: one form only, the spec's
        else:
            assert listed[case.uri]["form"] == case.form
            assert listed[case.uri]["spec"] is case.spec
            assert listed[case.uri]["spec_form"] == "dechunked"
        if not case.spec:
            text = " ".join(d.en for d in check.details)
            assert case.uri in text and case.form in text


def test_body_changed_after_recording_is_altered(
    capture: CaptureResult, auth: Authorities, log: TestLog, verify: Verify, tmp_path: Path
) -> None:
    """The block digest covers the stored bytes: a body changed after recording is altered,
    whatever form its payload digest was in (here the spec's, of the original body)."""
    uri = "https://shop.example.com/changed"
    stored = chunked(GZ, (10, 3))
    record = response_record(
        uri,
        CHUNKED_GZIP,
        stored,
        payload_digest=sha1_b32(GZ),
        alter=lambda block: flip(block, len(block) - 20),  # inside the last chunk's data
    )
    report = verify(_package(capture, [record], auth, log, tmp_path / "work"))
    assert report.indication_line() == "TOTAL-FAILED HASH_FAILURE"
    check = report.check("warc.records")
    assert check.status is Status.FAILED and uri in check.reason.en
    failures = _facts(report)["digest_failures"]
    assert [f["uri"] for f in failures] == [uri]
    assert "block digest" in failures[0]["problem"]


def _walk(data: bytes) -> WarcResult:
    result = WarcResult()
    check_warc(io.BytesIO(gzip.compress(data)), result)
    return result


def test_without_a_block_digest_a_payload_mismatch_still_fails() -> None:
    """Nothing but the payload digest speaks for such a record: a payload digest that matches
    no form of the stored body is then a mismatch, as before."""
    bad = response_record(
        "https://shop.example.com/x",
        CHUNKED,
        chunked(BODY),
        payload_digest=sha1_b32(b"other"),
        block_digest=None,
    )
    result = _walk(bad)
    assert result.failure_count == 1 and not result.ok
    assert result.payload_disagreement_count == 0
    good = response_record(
        "https://shop.example.com/y",
        CHUNKED,
        chunked(BODY),
        payload_digest=sha1_b32(BODY),
        block_digest=None,
    )
    result = _walk(good)
    assert result.ok and result.digests_checked == 1 and result.payload_forms == {"dechunked": 1}


def test_malformed_chunking_keeps_the_stored_form() -> None:
    """A body that says chunked but is not: only the stored form can match, and a digest over
    it is accepted (the block digest vouches for the bytes)."""
    stored = b"zz-not-a-size\r\n" + BODY
    result = _walk(
        response_record(
            "https://shop.example.com/m", CHUNKED, stored, payload_digest=sha1_b32(stored)
        )
    )
    assert result.ok and result.payload_forms == {"stored": 1}
    listed = result.payload_records[0]
    assert listed["form"] == "stored" and "dechunked" in listed["unavailable"]


class _Streamed:
    """A plain WARC with one huge chunked+gzip response, produced while it is read (so that
    the test itself holds no copy of it)."""

    def __init__(self, chunks: int, chunk: bytes) -> None:
        self.chunk = chunk
        framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        self.framed = framed
        payload_len = chunks * len(framed) + len(b"0\r\n\r\n")
        dechunked = hashlib.sha1()
        for _ in range(chunks):
            dechunked.update(chunk)
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        block_hash = hashlib.sha1(head)
        for _ in range(chunks):
            block_hash.update(framed)
        block_hash.update(b"0\r\n\r\n")
        warc_head = (
            "WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: https://big.example.com/\r\n"
            "WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
            "Content-Type: application/http; msgtype=response\r\n"
            f"WARC-Block-Digest: sha1:{base64.b32encode(block_hash.digest()).decode()}\r\n"
            f"WARC-Payload-Digest: sha1:{base64.b32encode(dechunked.digest()).decode()}\r\n"
            f"Content-Length: {len(head) + payload_len}\r\n\r\n"
        ).encode()
        self.parts = [warc_head + head, *([framed] * chunks), b"0\r\n\r\n\r\n\r\n"]
        self.total = sum(len(p) for p in self.parts)
        self.index = 0
        self.offset = 0

    def read(self, n: int = READ) -> bytes:
        while self.index < len(self.parts):
            part = self.parts[self.index]
            if self.offset < len(part):
                piece = part[self.offset : self.offset + n]
                self.offset += len(piece)
                return piece
            self.index, self.offset = self.index + 1, 0
        return b""


def test_huge_chunked_record_is_streamed() -> None:
    """A 96 MiB chunked body (its gzip entity inflating many times over) is hashed in every
    form without holding the record in memory."""
    entity = gzip.compress(b"\x00" * (64 << 20), compresslevel=1)  # ~64 KiB, inflates 1000x
    chunk = (entity * (1 + (4 << 20) // len(entity)))[: 4 << 20]  # 4 MiB chunks
    source = _Streamed(24, chunk)
    del entity
    tracemalloc.start()
    result = WarcResult()
    check_warc(source, result)
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.ok, result
    assert result.payload_forms == {"dechunked": 1}
    assert source.total > 96 << 20
    assert peak < 24 * 1024 * 1024, peak


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(min_size=0, max_size=2000),
    sizes=st.lists(st.integers(min_value=1, max_value=300), max_size=8),
    ext=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
)
def test_dechunker_any_split(data: bytes, sizes: list[int], ext: bool, cuts: list[int]) -> None:
    """However the stored body is cut into reads, the de-chunked and decoded forms come out
    the same as decoding it whole."""
    stored = chunked(gzip.compress(data, mtime=0), tuple(sizes), ext=ext)
    forms = PayloadDigests("sha256", "chunked", "gzip", DecodeBudget())
    points = sorted({min(c, len(stored)) for c in cuts} | {0, len(stored)})
    for a, b in itertools.pairwise(points):
        forms.update(stored[a:b])
    assert forms.unavailable == {}
    assert (
        forms.hashes["dechunked"].digest() == hashlib.sha256(gzip.compress(data, mtime=0)).digest()
    )
    assert forms.hashes["decoded"].digest() == hashlib.sha256(data).digest()
    assert forms.hashes["stored"].digest() == hashlib.sha256(stored).digest()


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_digest_over_the_decoded_entity(coding: str) -> None:
    """Not chunked but content-coded, the digest over the decoded entity: accepted, and named
    as not the WARC 1.1 form (which is the body as stored here)."""
    import zlib

    import brotli

    encode = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[coding]
    stored = encode(BODY * 50)
    record = response_record(
        "https://shop.example.com/coded",
        [*HTML, ("Content-Encoding", coding)],
        stored,
        payload_digest=sha1_b32(BODY * 50),
    )
    result = _walk(record)
    assert result.ok and result.payload_forms == {"decoded": 1}, result
    row = result.payload_records[0]
    assert (row["form"], row["spec_form"], row["spec"]) == ("decoded", "stored", False)
