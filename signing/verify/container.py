"""A strict ZIP reader for evidence: one sequential pass, bounded memory, nothing unaccounted.

Why not ``zipfile``: it trusts the central directory, tolerates bytes nobody checks (a
self-extracting stub before the first entry, gaps and overlaps between entries, trailing
data), decompresses members whole when asked for their bytes, and reads a member a second
time to compare its CRC. A verifier must instead (a) refuse what could hide or duplicate
content -- path traversal, duplicate names, encrypted entries, overlapping entries --, (b)
stop zip bombs before inflating them, and (c) hash the whole file and every member while
reading the file *once*, front to back, so that a 1 GB package costs one read.

So :func:`read_layout` parses the end records and the central directory from the tail of the
file, then :func:`scan` walks the file from byte 0: every local header must sit exactly where
the previous entry ended and agree with its central-directory copy; every member's decoded
bytes are hashed (SHA-256 + CRC-32) on their way to a *consumer* (the WARC checker, a JSON
reader, a spool file) which pulls them through a small reader; the central directory and end
records must follow the last entry and end the file. The whole-file SHA-256 falls out of the
same pass. Bytes this reader does not compare anywhere are the central-directory-only fields
"version made by", internal and external attributes, extra fields other than ZIP64, and
comments: none of them is content.
"""

from __future__ import annotations

import hashlib
import queue
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from .model import Text

__all__ = [
    "CHUNK",
    "Entry",
    "Layout",
    "Limits",
    "MemberReader",
    "ScanResult",
    "read_layout",
    "scan",
]

CHUNK = 1024 * 1024
_EOCD = b"PK\x05\x06"
_Z64_LOCATOR = b"PK\x06\x07"
_Z64_EOCD = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_DESCRIPTOR = b"PK\x07\x08"
_MAX_COMMENT = 0xFFFF
_SAT16 = 0xFFFF
_SAT32 = 0xFFFFFFFF


@dataclass(frozen=True)
class Limits:
    """Refusal thresholds (a real WACZ is far below every one of them)."""

    max_entries: int = 100_000
    max_central_directory: int = 64 * 1024 * 1024
    max_name_bytes: int = 1024
    max_member_size: int = 1 << 40  # 1 TiB declared
    max_total_size: int = 1 << 42
    #: Inflated / deflated, checked for members above ``ratio_floor`` bytes.
    max_ratio: int = 200
    ratio_floor: int = 1024 * 1024


class ZipProblem(Exception):
    """A defect that stops reading the current structure (raised and caught in here)."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text


class BombError(ZipProblem):
    pass


@dataclass
class Entry:
    name: str
    raw_name: bytes
    version_needed: int
    flags: int
    method: int
    dos_time: int
    dos_date: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    zip64: bool
    is_dir: bool = False
    #: Set by :func:`read_layout`: do not decode (encrypted, unsupported, bomb, bad name).
    refused: bool = False
    # -- filled by scan() -----------------------------------------------------------------
    sha256: str | None = None
    decoded: int = 0
    complete: bool = False
    problems: list[Text] = field(default_factory=list)

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & 0x41) or self.method == 99


@dataclass
class Layout:
    size: int
    entries: list[Entry] = field(default_factory=list)
    cd_offset: int = 0
    cd_size: int = 0
    cd_sha256: str = ""
    end_offset: int = 0  # where the ZIP64 end record (or the end record) starts
    comment: bytes = b""
    problems: list[Text] = field(default_factory=list)
    #: The entries could not be enumerated at all.
    fatal: bool = False

    def by_name(self) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        for e in self.entries:
            out.setdefault(e.name, e)
        return out


def _problem(zh: str, en: str) -> Text:
    return Text(zh, en)


def _u16(b: bytes, o: int) -> int:
    return int(struct.unpack_from("<H", b, o)[0])


def _u32(b: bytes, o: int) -> int:
    return int(struct.unpack_from("<I", b, o)[0])


def _u64(b: bytes, o: int) -> int:
    return int(struct.unpack_from("<Q", b, o)[0])


def _zip64_values(extra: bytes, wanted: list[str]) -> dict[str, int] | None:
    """Values of the ZIP64 extended information extra field, in the spec's order."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if len(body) != length:
            return None
        if tag == 0x0001:
            out = {}
            off = 0
            for name in wanted:
                width = 4 if name == "disk" else 8
                if off + width > len(body):
                    return None
                out[name] = _u32(body, off) if width == 4 else _u64(body, off)
                off += width
            return out
        pos += 4 + length
    return {} if not wanted else None


def _check_name(raw: bytes, flags: int, limits: Limits) -> tuple[str, Text | None]:
    if len(raw) > limits.max_name_bytes:
        return raw[:80].decode("latin-1"), _problem(
            "文件名过长。", f"A file name is longer than {limits.max_name_bytes} bytes."
        )
    try:
        name = raw.decode("utf-8") if flags & 0x800 else raw.decode("cp437")
    except UnicodeDecodeError:
        return raw.decode("latin-1"), _problem(
            "文件名编码无效。", "A file name is not valid UTF-8 although it says it is."
        )
    bad = None
    stripped = name[:-1] if name.endswith("/") else name
    parts = stripped.split("/")
    if not name or not stripped:
        bad = "empty name"
    elif "\x00" in name or any(ord(c) < 0x20 for c in name):
        bad = "control character in name"
    elif name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        bad = "absolute path"
    elif "\\" in name:
        bad = "backslash in name"
    elif any(p in ("", ".", "..") for p in parts):
        bad = "'.', '..' or empty path component"
    if bad:
        return name, Text(
            f"文件名“{name}”不安全（{bad}）：可能用于路径穿越攻击。",
            f"The file name {name!r} is unsafe ({bad}): it could escape the folder it is "
            "extracted to (path traversal).",
        )
    return name, None


def read_layout(fh: BinaryIO, size: int, limits: Limits = Limits()) -> Layout:
    """End records and central directory, checked; never raises for bad input."""
    layout = Layout(size=size)
    try:
        _read_layout(fh, layout, limits)
    except ZipProblem as exc:
        layout.problems.append(exc.text)
        layout.fatal = True
    except (struct.error, ValueError, OverflowError, OSError) as exc:
        layout.problems.append(
            Text(
                f"ZIP 目录结构损坏（{type(exc).__name__}）。",
                f"The ZIP directory is damaged ({type(exc).__name__}: {exc}).",
            )
        )
        layout.fatal = True
    return layout


def _fatal(zh: str, en: str) -> ZipProblem:
    return ZipProblem(Text(zh, en))


def _read_layout(fh: BinaryIO, layout: Layout, limits: Limits) -> None:
    size = layout.size
    if size < 22:
        raise _fatal("文件太短，不是 ZIP 文件。", "The file is too short to be a ZIP file.")
    tail_len = min(size, 22 + _MAX_COMMENT)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    pos = tail.rfind(_EOCD)
    eocd_at = -1
    while pos >= 0:
        if pos + 22 <= len(tail) and pos + 22 + _u16(tail, pos + 20) == len(tail):
            eocd_at = pos
            break
        pos = tail.rfind(_EOCD, 0, pos)
    if eocd_at < 0:
        raise _fatal(
            "找不到 ZIP 结束记录：文件不是 ZIP，或已被截断，或末尾附加了数据。",
            "No ZIP end-of-central-directory record: the file is not a ZIP, was truncated, "
            "or has data appended after its end.",
        )
    eocd_abs = size - tail_len + eocd_at
    e = tail[eocd_at : eocd_at + 22]
    disk, cd_disk, n_disk, n_total = struct.unpack_from("<HHHH", e, 4)
    cd_size, cd_offset = struct.unpack_from("<II", e, 12)
    layout.comment = tail[eocd_at + 22 :]
    end_offset = eocd_abs
    locator_at = eocd_abs - 20
    zip64 = False
    if locator_at >= 0:
        fh.seek(locator_at)
        loc = fh.read(20)
        if loc[:4] == _Z64_LOCATOR:
            zip64 = True
            z_disk, z64_offset, total_disks = struct.unpack_from("<IQI", loc, 4)
            if z_disk != 0 or total_disks != 1:
                raise _fatal("分卷 ZIP 不受支持。", "Multi-volume ZIP files are not supported.")
            if z64_offset + 56 > locator_at:
                raise _fatal("ZIP64 结束记录位置无效。", "The ZIP64 end record is misplaced.")
            fh.seek(z64_offset)
            rec = fh.read(56)
            if rec[:4] != _Z64_EOCD:
                raise _fatal("ZIP64 结束记录损坏。", "The ZIP64 end record is damaged.")
            rec_size = _u64(rec, 4)
            if z64_offset + 12 + rec_size != locator_at:
                raise _fatal(
                    "ZIP64 结束记录与定位记录之间有多余数据。",
                    "Unaccounted bytes between the ZIP64 end record and its locator.",
                )
            disk, cd_disk = struct.unpack_from("<II", rec, 16)
            n_disk, n_total, cd_size, cd_offset = struct.unpack_from("<QQQQ", rec, 24)
            end_offset = z64_offset
    saturated = _SAT16 in (n_disk, n_total) or _SAT32 in (cd_size, cd_offset)
    if saturated and not zip64:
        raise _fatal("ZIP64 结束记录缺失。", "The ZIP64 end records are missing.")
    if disk != 0 or cd_disk != 0 or n_disk != n_total:
        raise _fatal("分卷 ZIP 不受支持。", "Multi-volume ZIP files are not supported.")
    if n_total > limits.max_entries:
        raise _fatal(
            f"ZIP 包含 {n_total} 个条目，超过上限 {limits.max_entries}。",
            f"The ZIP claims {n_total} entries, more than the limit of {limits.max_entries}.",
        )
    if cd_size > limits.max_central_directory:
        raise _fatal("ZIP 目录过大。", "The ZIP central directory is implausibly large.")
    if cd_offset + cd_size != end_offset:
        raise _fatal(
            "ZIP 目录的位置或大小与结束记录不符（文件被截断或改动）。",
            "The central directory's offset or size does not match the end record (the file "
            "was truncated or altered).",
        )
    layout.cd_offset, layout.cd_size, layout.end_offset = cd_offset, cd_size, end_offset
    fh.seek(cd_offset)
    cd = fh.read(cd_size)
    if len(cd) != cd_size:
        raise _fatal("ZIP 目录不完整。", "The central directory is incomplete.")
    layout.cd_sha256 = hashlib.sha256(cd).hexdigest()
    _parse_central(cd, n_total, layout, limits)


def _parse_central(cd: bytes, n_total: int, layout: Layout, limits: Limits) -> None:
    pos = 0
    names: set[str] = set()
    total = 0
    for _ in range(n_total):
        if cd[pos : pos + 4] != _CENTRAL or pos + 46 > len(cd):
            raise _fatal("ZIP 目录条目损坏。", "A central directory entry is damaged.")
        (
            _made_by,
            version,
            flags,
            method,
            dos_time,
            dos_date,
            crc,
            csize,
            usize,
            nlen,
            elen,
            clen,
            disk_start,
            _iattr,
            _eattr,
            offset,
        ) = struct.unpack_from("<HHHHHHIIIHHHHHII", cd, pos + 4)
        raw_name = cd[pos + 46 : pos + 46 + nlen]
        extra = cd[pos + 46 + nlen : pos + 46 + nlen + elen]
        if pos + 46 + nlen + elen + clen > len(cd):
            raise _fatal("ZIP 目录条目越界。", "A central directory entry runs past its end.")
        pos += 46 + nlen + elen + clen
        wanted = [
            n
            for n, v, sat in (
                ("usize", usize, _SAT32),
                ("csize", csize, _SAT32),
                ("offset", offset, _SAT32),
                ("disk", disk_start, _SAT16),
            )
            if v == sat
        ]
        z64 = _zip64_values(extra, wanted) if wanted else {}
        if z64 is None:
            raise _fatal("ZIP64 扩展字段损坏。", "A ZIP64 extra field is damaged.")
        usize = z64.get("usize", usize)
        csize = z64.get("csize", csize)
        offset = z64.get("offset", offset)
        disk_start = z64.get("disk", disk_start)
        name, name_problem = _check_name(raw_name, flags, limits)
        entry = Entry(
            name=name,
            raw_name=raw_name,
            version_needed=version,
            flags=flags,
            method=method,
            dos_time=dos_time,
            dos_date=dos_date,
            crc=crc,
            compressed_size=csize,
            size=usize,
            header_offset=offset,
            zip64=bool(wanted),
            is_dir=name.endswith("/"),
        )
        layout.entries.append(entry)
        if name_problem is not None:
            entry.refused = True
            layout.problems.append(name_problem)
        if disk_start != 0:
            raise _fatal("分卷 ZIP 不受支持。", "Multi-volume ZIP files are not supported.")
        if name in names:
            layout.problems.append(
                Text(
                    f"文件名“{name}”在 ZIP 中出现多次：不同工具会读出不同内容。",
                    f"The name {name!r} appears more than once in the ZIP: different tools "
                    "would show different contents.",
                )
            )
            entry.refused = True
        names.add(name)
        if entry.encrypted:
            layout.problems.append(
                Text(
                    f"“{name}”已加密：加密内容无法核验，予以拒绝。",
                    f"{name!r} is encrypted: encrypted entries cannot be verified and are refused.",
                )
            )
            entry.refused = True
        elif method not in (0, 8):
            layout.problems.append(
                Text(
                    f"“{name}”使用不支持的压缩方式 {method}。",
                    f"{name!r} uses compression method {method}, which is not supported.",
                )
            )
            entry.refused = True
        elif method == 0 and csize != usize:
            layout.problems.append(
                Text(
                    f"“{name}”的存储大小不一致。",
                    f"{name!r} is stored uncompressed but its two sizes differ.",
                )
            )
            entry.refused = True
        if usize > limits.max_member_size:
            layout.problems.append(
                Text(
                    f"“{name}”声称大小为 {usize} 字节，超过上限（可能是 ZIP 炸弹）。",
                    f"{name!r} claims {usize} bytes, above the limit (a zip bomb?).",
                )
            )
            entry.refused = True
        elif (
            method == 8 and usize > limits.ratio_floor and usize > limits.max_ratio * max(csize, 1)
        ):
            layout.problems.append(
                Text(
                    f"“{name}”的压缩比为 {usize // max(csize, 1)}:1，超过上限 "
                    f"{limits.max_ratio}:1（可能是 ZIP 炸弹），未解压。",
                    f"{name!r} has a compression ratio of {usize // max(csize, 1)}:1, above the "
                    f"limit of {limits.max_ratio}:1 (a zip bomb?); it was not inflated.",
                )
            )
            entry.refused = True
        total += usize
    if pos != len(cd):
        layout.problems.append(
            Text(
                "ZIP 目录末尾有多余数据。",
                "The central directory holds bytes after its last entry.",
            )
        )
    if total > limits.max_total_size:
        layout.problems.append(
            Text(
                "ZIP 解压后的总大小超过上限（可能是 ZIP 炸弹）。",
                "The ZIP's total uncompressed size is above the limit (a zip bomb?).",
            )
        )
        for entry in layout.entries:
            entry.refused = True


# -- the sequential pass --------------------------------------------------------------------


class _Truncated(ZipProblem):
    pass


class _Digest:
    """SHA-256 and CRC-32 of one member's decoded bytes (filled in the hashing thread)."""

    __slots__ = ("crc", "sha")

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.crc = 0


class _BackgroundHash:
    """Hashing in a second thread, in file order: the whole file's SHA-256 and each member's
    SHA-256/CRC-32. hashlib and zlib release the GIL, so on two cores this work runs beside
    the WARC parsing instead of after it. The queue is bounded (memory) and ordered, and
    :meth:`sync` waits until everything queued so far is hashed."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.queue: queue.Queue[tuple[bytes, _Digest | None, bool] | threading.Event | None] = (
            queue.Queue(maxsize=16)
        )
        self.thread = threading.Thread(target=self._run, name="verify-hash", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()
                continue
            data, digest, whole = item
            if whole:
                self.hash.update(data)
            if digest is not None:
                digest.sha.update(data)
                digest.crc = zlib.crc32(data, digest.crc)

    def update(self, data: bytes, digest: _Digest | None = None, *, whole: bool = True) -> None:
        self.queue.put((data, digest, whole))

    def sync(self) -> None:
        done = threading.Event()
        self.queue.put(done)
        done.wait()

    def hexdigest(self) -> str:
        self.close()
        return self.hash.hexdigest()

    def close(self) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()


class _Cursor:
    """Reads the file front to back, hashing every byte exactly once."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.pos = 0
        self.hash = _BackgroundHash()
        fh.seek(0)

    def read(self, n: int, digest: _Digest | None = None) -> bytes:
        data = self.fh.read(n)
        if data:
            self.hash.update(data, digest)
            self.pos += len(data)
        return data

    def read_exact(self, n: int) -> bytes:
        data = self.read(n)
        if len(data) != n:
            raise _Truncated(Text("文件被截断。", "The file ends early (truncated)."))
        return data

    def skip_to(self, offset: int) -> None:
        while self.pos < offset:
            if not self.read(min(CHUNK, offset - self.pos)):
                raise _Truncated(Text("文件被截断。", "The file ends early (truncated)."))

    def finish(self) -> None:
        while self.read(CHUNK):
            pass


class MemberReader(Protocol):
    """What a consumer gets: the member's decoded bytes, hashed as they pass."""

    entry: Entry

    def read(self, n: int = CHUNK) -> bytes: ...


class _Raw:
    """The stored bytes of one entry. ``digest``: hash them as the member's content too (a
    stored entry's bytes are its content)."""

    def __init__(self, cursor: _Cursor, size: int, digest: _Digest | None = None) -> None:
        self.cursor = cursor
        self.left = size
        self.digest = digest

    def read(self, n: int) -> bytes:
        if self.left <= 0:
            return b""
        data = self.cursor.read(min(n, self.left), self.digest)
        if not data:
            raise _Truncated(Text("文件被截断。", "The file ends early (truncated)."))
        self.left -= len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


class _Inflate:
    def __init__(self, raw: _Raw) -> None:
        self.raw = raw
        self.d = zlib.decompressobj(-15)

    def read(self, n: int) -> bytes:
        while True:
            if self.d.eof:
                return b""
            if self.d.unconsumed_tail:
                out = self.d.decompress(self.d.unconsumed_tail, n)
            else:
                data = self.raw.read(CHUNK)
                if not data:
                    raise ZipProblem(Text("压缩数据不完整。", "The compressed data ends early."))
                out = self.d.decompress(data, n)
            if out:
                return out

    def trailing(self) -> bool:
        return bool(self.d.unused_data) or self.raw.left > 0


class _Member:
    """Decoded bytes of one entry with SHA-256, CRC-32, size and bomb limits."""

    def __init__(self, entry: Entry, raw: _Raw, digest: _Digest, limits: Limits) -> None:
        self.entry = entry
        self.raw = raw
        self.digest = digest
        self.limits = limits
        self.inflate = _Inflate(raw) if entry.method == 8 else None
        self.source: _Raw | _Inflate = self.inflate or raw
        self.count = 0
        self.done = False

    def read(self, n: int = CHUNK) -> bytes:
        if self.done:
            return b""
        if n is None or n < 0:
            n = CHUNK
        data = self.source.read(n)
        if not data:
            self.done = True
            return b""
        self.count += len(data)
        entry = self.entry
        if self.count > entry.size:
            raise BombError(
                Text(
                    f"“{entry.name}”解压后比声明的大小更大（可能是 ZIP 炸弹），已停止。",
                    f"{entry.name!r} inflates to more than its declared size (a zip bomb?); "
                    "stopped.",
                )
            )
        if (
            entry.method == 8
            and self.count > self.limits.ratio_floor
            and self.count > self.limits.max_ratio * (entry.compressed_size - self.raw.left + 1)
        ):
            raise BombError(
                Text(
                    f"“{entry.name}”的实际压缩比超过上限（可能是 ZIP 炸弹），已停止。",
                    f"{entry.name!r} inflates beyond the ratio limit (a zip bomb?); stopped.",
                )
            )
        if self.inflate is not None:  # stored bytes were queued for hashing by _Raw
            self.raw.cursor.hash.update(data, self.digest, whole=False)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


Consumer = Callable[[MemberReader], None]


@dataclass
class ScanResult:
    sha256: str
    bytes_read: int
    problems: list[Text]


def _local_problem(entry: Entry, what: str) -> Text:
    return Text(
        f"“{entry.name}”的本地文件头与 ZIP 目录不一致（{what}）。",
        f"The local header of {entry.name!r} disagrees with the central directory ({what}).",
    )


def _read_local(cursor: _Cursor, entry: Entry) -> bool:
    """Read and compare the local header; False (with problems on the entry) if unusable."""
    head = cursor.read_exact(30)
    if head[:4] != _LOCAL:
        entry.problems.append(_local_problem(entry, "no local header signature"))
        return False
    version, flags, method, dos_time, dos_date, crc, csize, usize, nlen, elen = struct.unpack_from(
        "<HHHHHIIIHH", head, 4
    )
    name = cursor.read_exact(nlen)
    extra = cursor.read_exact(elen)
    if name != entry.raw_name:
        entry.problems.append(_local_problem(entry, "name"))
        return False
    if (flags, method, dos_time, dos_date) != (
        entry.flags,
        entry.method,
        entry.dos_time,
        entry.dos_date,
    ):
        entry.problems.append(_local_problem(entry, "flags, method or time"))
        return False
    local_z64 = csize == _SAT32 or usize == _SAT32
    if version != entry.version_needed and not (
        local_z64 != entry.zip64 and 45 in (version, entry.version_needed)
    ):
        entry.problems.append(_local_problem(entry, "version needed"))
        return False
    if local_z64:
        values = _zip64_values(extra, ["usize", "csize"])
        if values is None:
            entry.problems.append(_local_problem(entry, "ZIP64 extra field"))
            return False
        usize, csize = values["usize"], values["csize"]
    if flags & 0x08:
        if (
            crc not in (0, entry.crc)
            or csize not in (0, entry.compressed_size)
            or usize
            not in (
                0,
                entry.size,
            )
        ):
            entry.problems.append(_local_problem(entry, "CRC or sizes"))
            return False
    elif (crc, csize, usize) != (entry.crc, entry.compressed_size, entry.size):
        entry.problems.append(_local_problem(entry, "CRC or sizes"))
        return False
    return True


def _read_descriptor(cursor: _Cursor, entry: Entry) -> None:
    first = cursor.read_exact(4)
    body = b"" if first == _DESCRIPTOR else first
    wide = entry.zip64
    need = (4 + 16 if wide else 4 + 8) - len(body)
    body += cursor.read_exact(need)
    crc = _u32(body, 0)
    csize, usize = (
        struct.unpack_from("<QQ", body, 4) if wide else struct.unpack_from("<II", body, 4)
    )
    if (crc, csize, usize) != (entry.crc, entry.compressed_size, entry.size):
        entry.problems.append(_local_problem(entry, "data descriptor"))


def scan(
    fh: BinaryIO,
    layout: Layout,
    consumer_for: Callable[[Entry], Consumer | None],
    limits: Limits = Limits(),
) -> ScanResult:
    """The sequential pass. Fills each entry's ``sha256``/``complete``/``problems`` and
    returns the whole file's SHA-256 (always, even when the ZIP is broken)."""
    cursor = _Cursor(fh)
    problems: list[Text] = []
    try:
        try:
            if not layout.fatal:
                _scan_entries(cursor, layout, consumer_for, limits, problems)
        except _Truncated as exc:
            problems.append(exc.text)
        except (OSError, struct.error) as exc:
            problems.append(Text("读取文件失败。", f"Reading the file failed ({exc})."))
        try:
            cursor.finish()
        except OSError as exc:
            problems.append(Text("读取文件失败。", f"Reading the file failed ({exc})."))
    finally:
        digest = cursor.hash.hexdigest()
    if cursor.pos != layout.size:
        problems.append(
            Text(
                "核验期间文件大小发生了变化。",
                "The file changed size while it was being verified.",
            )
        )
    return ScanResult(digest, cursor.pos, problems)


def _scan_entries(
    cursor: _Cursor,
    layout: Layout,
    consumer_for: Callable[[Entry], Consumer | None],
    limits: Limits,
    problems: list[Text],
) -> None:
    ordered = sorted(layout.entries, key=lambda e: e.header_offset)
    for entry in ordered:
        if entry.header_offset != cursor.pos:
            if entry.header_offset > cursor.pos:
                problems.append(
                    Text(
                        f"在“{entry.name}”之前有 {entry.header_offset - cursor.pos} 字节不属于"
                        "任何文件（可能隐藏了内容）。",
                        f"{entry.header_offset - cursor.pos} bytes before {entry.name!r} belong "
                        "to no entry (they could hide content).",
                    )
                )
                cursor.skip_to(entry.header_offset)
            else:
                problems.append(
                    Text(
                        f"“{entry.name}”与其他条目重叠（ZIP 炸弹或伪造的常见手法）。",
                        f"{entry.name!r} overlaps another entry (a zip bomb or forgery technique).",
                    )
                )
                entry.refused = True
                continue
        if not _read_local(cursor, entry):
            continue
        digest = _Digest()
        decoding = not (entry.refused or entry.is_dir)
        raw = _Raw(
            cursor, entry.compressed_size, digest if decoding and entry.method == 0 else None
        )
        if not decoding:
            raw.drain()
        else:
            member = _Member(entry, raw, digest, limits)
            consumer = consumer_for(entry)
            try:
                if consumer is not None:
                    consumer(member)
                member.drain()
            except BombError as exc:
                entry.problems.append(exc.text)
                entry.refused = True
            except _Truncated:
                raise
            except ZipProblem as exc:
                entry.problems.append(exc.text)
            except zlib.error as exc:
                entry.problems.append(
                    Text(
                        f"“{entry.name}”的压缩数据损坏。",
                        f"The compressed data of {entry.name!r} is damaged ({exc}).",
                    )
                )
            except Exception as exc:  # a consumer's bug must not stop the pass
                problems.append(
                    Text(
                        f"读取“{entry.name}”时发生内部错误。",
                        f"Internal error while reading {entry.name!r} ({type(exc).__name__}).",
                    )
                )
            else:
                if isinstance(member.source, _Inflate) and member.source.trailing():
                    entry.problems.append(
                        Text(
                            f"“{entry.name}”的压缩数据后有多余字节。",
                            f"{entry.name!r} has bytes after the end of its compressed data.",
                        )
                    )
                elif member.count != entry.size:
                    entry.problems.append(
                        Text(
                            f"“{entry.name}”的大小与声明不符。",
                            f"{entry.name!r} does not have its declared size.",
                        )
                    )
                else:
                    raw.drain()
                    cursor.hash.sync()  # every byte of this member is hashed now
                    if digest.crc != entry.crc:
                        entry.problems.append(
                            Text(
                                f"“{entry.name}”的 CRC 校验失败（内容已损坏或被改动）。",
                                f"The CRC of {entry.name!r} does not match (damaged or altered).",
                            )
                        )
                    else:
                        entry.sha256 = digest.sha.hexdigest()
                        entry.decoded = member.count
                        entry.complete = True
            raw.drain()
        if entry.flags & 0x08:
            _read_descriptor(cursor, entry)
        if entry.problems and entry.complete:
            entry.complete = False
            entry.sha256 = None
    if cursor.pos != layout.cd_offset:
        problems.append(
            Text(
                "最后一个文件与 ZIP 目录之间有不属于任何文件的数据。",
                "Bytes between the last entry and the central directory belong to no entry.",
            )
        )
        if cursor.pos > layout.cd_offset:
            return
        cursor.skip_to(layout.cd_offset)
    cd_hash = hashlib.sha256()
    left = layout.cd_size
    while left > 0:
        chunk = cursor.read_exact(min(CHUNK, left))
        cd_hash.update(chunk)
        left -= len(chunk)
    if cd_hash.hexdigest() != layout.cd_sha256:
        problems.append(
            Text(
                "核验期间 ZIP 目录发生了变化。",
                "The central directory changed during verification.",
            )
        )
