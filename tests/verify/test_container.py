"""The ZIP container: unsafe shapes are refused with a clean report, ZIP bombs are stopped
before they inflate, and legitimate variants (data descriptors, ZIP64, comments) pass."""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from signing.verify import Indication, Status, Sub
from tests.verify.conftest import Verify
from tests.verify.sealing import Sealed
from tests.verify.zipcraft import Craft, Raw, deflated, stored, zeros_bomb


def _write(tmp_path: Path, data: bytes, name: str = "x.wacz") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _container_failed(report: object, needle: str) -> None:
    check = report.check("zip.container")  # type: ignore[attr-defined]
    text = " ".join([check.reason.en, *(d.en for d in check.details)])
    assert check.status is Status.FAILED and check.sub_indication is Sub.FORMAT_FAILURE, text
    assert needle in text, text
    assert report.indication is Indication.TOTAL_FAILED  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "name",
    [
        "../evil.txt",
        "/etc/passwd",
        "files/../../x",
        "C:/windows/x",
        "files\\x",
        "files//x",
        "a/./b",
        "files/\x01x",
    ],
)
def test_unsafe_names(name: str, verify: Verify, tmp_path: Path) -> None:
    data = Craft([stored("datapackage.json", b"{}"), stored(name, b"payload")]).build()
    _container_failed(verify(_write(tmp_path, data)), "unsafe")


def test_duplicate_names(verify: Verify, tmp_path: Path) -> None:
    data = Craft([stored("files/a.txt", b"one"), stored("files/a.txt", b"two")]).build()
    _container_failed(verify(_write(tmp_path, data)), "more than once")


@pytest.mark.parametrize("flags, method", [(0x01, 0), (0x41, 0), (0x00, 99)])
def test_encrypted_entries_are_refused(
    flags: int, method: int, verify: Verify, tmp_path: Path
) -> None:
    data = Craft([stored("files/secret.bin", b"\x00" * 64, flags=flags, method=method)]).build()
    _container_failed(verify(_write(tmp_path, data)), "encrypted")


def test_unsupported_method(verify: Verify, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_BZIP2) as zf:
        zf.writestr("files/a.txt", b"bzip2 data " * 100)
    _container_failed(verify(_write(tmp_path, buf.getvalue())), "compression method 12")


@pytest.mark.parametrize("honest", [True, False])
def test_zip_bomb_10_gib_of_zeros(honest: bool, verify: Verify, tmp_path: Path) -> None:
    """10 GiB of zeros deflated to 10 MB; declared honestly (refused before inflating) or as
    1 MiB (inflation stops at the declared size). Fast, and with bounded memory."""
    stream = zeros_bomb(10 << 30)
    entry = Raw(
        b"archive/data.warc.gz", stream, method=8, crc=0, size=(10 << 30) if honest else 1 << 20
    )
    path = _write(tmp_path, Craft([entry]).build())
    tracemalloc.start()
    started = time.monotonic()
    report = verify(path)
    elapsed = time.monotonic() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    _container_failed(report, "zip bomb")
    assert elapsed < 10 and peak < 64 * 1024 * 1024, (elapsed, peak)


def test_nested_zip_bomb_is_not_opened(verify: Verify, tmp_path: Path) -> None:
    inner = Craft([Raw(b"zeros.bin", zeros_bomb(1 << 30), method=8, crc=0, size=1 << 30)]).build()
    outer = Craft([stored("files/inner.zip", inner), stored("files/inner2.zip", inner)]).build()
    started = time.monotonic()
    report = verify(_write(tmp_path, outer))
    assert time.monotonic() - started < 10
    assert report.check("zip.container").status is Status.PASSED  # the outer ZIP is sound
    assert report.indication is not Indication.TOTAL_PASSED  # but nothing is signed


def test_overlapping_entries(verify: Verify, tmp_path: Path) -> None:
    craft = Craft([stored("files/a.txt", b"A" * 100), stored("files/b.txt", b"B" * 100)])
    craft.entries.append(stored("files/c.txt", b"A" * 100, offset_override=0))
    _container_failed(verify(_write(tmp_path, craft.build())), "")


def test_local_header_disagrees(verify: Verify, tmp_path: Path) -> None:
    data = bytearray(Craft([stored("files/a.txt", b"data")]).build())
    data[30:41] = b"files/b.txt"  # the local copy of the name
    _container_failed(verify(_write(tmp_path, bytes(data))), "local header")


@pytest.mark.parametrize("where", ["prefix", "trailing", "gap"])
def test_unaccounted_bytes(where: str, sealed: Sealed, verify: Verify, tmp_path: Path) -> None:
    data = sealed.path.read_bytes()
    if where == "prefix":
        craft = Craft([stored("files/a.txt", b"x")], prefix=b"MZ self-extracting stub")
        _container_failed(verify(_write(tmp_path, craft.build())), "belong")
        return
    if where == "trailing":
        report = verify(_write(tmp_path, data + b"appended after the end"))
        _container_failed(report, "end-of-central-directory")
        return
    craft = Craft([stored("files/a.txt", b"x"), stored("files/b.txt", b"y")])
    built = bytearray(craft.build())
    # shift the second entry (and everything after) by inserting bytes, fixing its offset
    gap = b"hidden"
    second = built.index(b"PK\x03\x04", 1)
    built[second:second] = gap
    cd = built.index(b"PK\x01\x02")
    cd2 = built.index(b"PK\x01\x02", cd + 1)
    struct_offset = cd2 + 42
    old = int.from_bytes(built[struct_offset : struct_offset + 4], "little")
    built[struct_offset : struct_offset + 4] = (old + len(gap)).to_bytes(4, "little")
    eocd = built.rindex(b"PK\x05\x06")
    cd_off = int.from_bytes(built[eocd + 16 : eocd + 20], "little")
    built[eocd + 16 : eocd + 20] = (cd_off + len(gap)).to_bytes(4, "little")
    _container_failed(verify(_write(tmp_path, bytes(built))), "belong to no entry")


def test_crc_mismatch(verify: Verify, tmp_path: Path) -> None:
    entry = deflated("files/a.txt", b"some text " * 100)
    entry.crc = (entry.crc or 0) ^ 1
    _container_failed(verify(_write(tmp_path, Craft([entry]).build())), "CRC")


@pytest.mark.parametrize("cut", [10, 1000, -1, -22, -200])
def test_truncated_packages(cut: int, sealed: Sealed, verify: Verify, tmp_path: Path) -> None:
    data = sealed.path.read_bytes()
    report = verify(_write(tmp_path, data[:cut]))
    assert report.indication is Indication.TOTAL_FAILED
    assert report.check("zip.container").status is Status.FAILED


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_bytes(seed: int, verify: Verify, tmp_path: Path) -> None:
    import random

    rng = random.Random(seed)
    data = bytes(rng.getrandbits(8) for _ in range(5000))
    report = verify(_write(tmp_path, data))
    assert report.indication is Indication.TOTAL_FAILED
    report = verify(_write(tmp_path, b"PK\x03\x04" + data, "y.wacz"))
    assert report.check("zip.container").status is Status.FAILED


def test_empty_zip(verify: Verify, tmp_path: Path) -> None:
    report = verify(_write(tmp_path, Craft([]).build()))
    assert report.check("zip.container").status is Status.PASSED
    assert report.indication_line() == "INDETERMINATE SIGNED_DATA_NOT_FOUND"


class _Unseekable(io.RawIOBase):
    def __init__(self) -> None:
        self.buf = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.buf += b
        return len(b)


def _rezip(
    src: Path, *, force_zip64: bool = False, streaming: bool = False, comment: bytes = b""
) -> bytes:
    sink: _Unseekable | io.BytesIO = _Unseekable() if streaming else io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(sink, "w") as zout:
        zout.comment = comment
        for info in zin.infolist():
            new = zipfile.ZipInfo(info.filename, info.date_time)
            new.compress_type = info.compress_type
            with zout.open(new, "w", force_zip64=force_zip64) as dst:
                dst.write(zin.read(info.filename))
    return bytes(sink.buf) if isinstance(sink, _Unseekable) else sink.getvalue()


@pytest.mark.parametrize("variant", ["streaming", "zip64", "comment"])
def test_legitimate_variants_pass(
    variant: str, sealed: Sealed, verify: Verify, tmp_path: Path
) -> None:
    """Data descriptors (streaming writers such as browsertrix), ZIP64 records and a ZIP
    comment are all legitimate: same contents, TOTAL-PASSED."""
    data = _rezip(
        sealed.path,
        streaming=variant == "streaming",
        force_zip64=variant == "zip64",
        comment=b"written by a test" if variant == "comment" else b"",
    )
    if variant == "streaming":
        assert b"PK\x07\x08" in data
    report = verify(_write(tmp_path, data), proofs=None)
    assert report.indication is Indication.TOTAL_PASSED, [
        (c.id, c.reason.en) for c in report.checks if c.status is not Status.PASSED
    ]
    if variant == "comment":
        assert report.check("zip.container").facts["comment_bytes"] == len(b"written by a test")
