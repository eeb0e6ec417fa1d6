"""The shared pieces: the verifying reader, key parsing, S3 date and retention parsing."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

import pytest

from storage.errors import CorruptObjectError, ObjectNotFoundError
from storage.objects import VerifyingReader, buffered, digest_of_key
from storage.s3 import ObjectRetention, parse_retention_xml, parse_s3_datetime

DATA = bytes(range(256)) * 4000  # ~1 MB
GOOD = hashlib.sha256(DATA).hexdigest()


def reader(
    data: bytes = DATA, expected: str = GOOD, size: int | None = len(DATA)
) -> io.BufferedReader:
    raw = VerifyingReader("k", io.BytesIO(data), expected_sha256=expected, expected_size=size)
    return buffered(raw)  # type: ignore[return-value]


@pytest.mark.parametrize("size", [len(DATA), None])
def test_intact_data_passes(size: int | None) -> None:
    fh = reader(size=size)
    assert fh.read() == DATA
    assert fh.raw.verified  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", [len(DATA), None])
def test_wrong_hash_raises_instead_of_ending_normally(size: int | None) -> None:
    fh = reader(expected="0" * 64, size=size)
    got = b""
    with pytest.raises(CorruptObjectError) as info:
        while chunk := fh.read(4096):
            got += chunk
    if size is not None:  # the size is known: the last piece is withheld as well
        assert len(got) < len(DATA)
    assert (info.value.expected, info.value.actual) == ("0" * 64, GOOD)


def test_exact_size_read_is_verified() -> None:
    with pytest.raises(CorruptObjectError):
        reader(expected="1" * 64).read(len(DATA))


def test_longer_and_shorter_data_are_corrupt() -> None:
    for read in (lambda fh: fh.read(), lambda fh: fh.read(len(DATA))):
        with pytest.raises(CorruptObjectError, match="more than"):
            read(reader(data=DATA + b"!"))
    with pytest.raises(CorruptObjectError, match="only"):
        reader(data=DATA[:-1]).read()


def test_key_forms() -> None:
    assert digest_of_key(GOOD) == GOOD
    assert digest_of_key(f"sha256/{GOOD}") == GOOD
    for bad in ("", GOOD.upper(), GOOD[:-1], f"{GOOD}/x", f"md5/{GOOD}", "../" + GOOD[3:]):
        with pytest.raises(ObjectNotFoundError):
            digest_of_key(bad)


def test_s3_dates_with_any_precision() -> None:
    expected = datetime(2026, 12, 1, 5, 56, 35, 173000, tzinfo=UTC)
    assert parse_s3_datetime("2026-12-01T05:56:35.173000000Z") == expected  # RGW
    assert parse_s3_datetime("2026-12-01T05:56:35.173Z") == expected  # AWS
    assert parse_s3_datetime("2026-12-01T05:56:35Z") == expected.replace(microsecond=0)
    assert parse_s3_datetime("2026-12-01T07:56:35.173+02:00") == expected
    with pytest.raises(ValueError):
        parse_s3_datetime("yesterday")


def test_retention_xml_with_and_without_namespace() -> None:
    rgw = (
        b'<?xml version="1.0" encoding="UTF-8"?><Retention><Mode>COMPLIANCE</Mode>'
        b"<RetainUntilDate>2036-11-26T06:00:00.562240964Z</RetainUntilDate></Retention>"
    )
    aws = (
        b'<Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Mode>GOVERNANCE</Mode>'
        b"<RetainUntilDate>2036-11-26T06:00:00.562Z</RetainUntilDate></Retention>"
    )
    until = datetime(2036, 11, 26, 6, 0, 0, 562240, tzinfo=UTC)
    assert parse_retention_xml(rgw) == ObjectRetention("COMPLIANCE", until)
    assert parse_retention_xml(aws) == ObjectRetention(
        "GOVERNANCE", until.replace(microsecond=562000)
    )
    assert parse_retention_xml(b"<Retention/>") is None
