"""Hand-made ZIP files, for the shapes ``zipfile`` will not write: lying headers, overlapping
entries, unsafe names, encryption flags, and a deflate stream of 10 GiB of zeros in ~10 MB."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Raw:
    name: bytes
    data: bytes  # as stored (already compressed for method 8)
    method: int = 0
    crc: int | None = None
    size: int | None = None  # uncompressed size to declare
    flags: int = 0
    #: write the central record pointing at this local header offset instead of its own
    offset_override: int | None = None
    extra: bytes = b""


@dataclass
class Craft:
    entries: list[Raw] = field(default_factory=list)
    prefix: bytes = b""
    trailing: bytes = b""
    comment: bytes = b""

    def build(self) -> bytes:
        out = bytearray(self.prefix)
        central = bytearray()
        offsets = []
        for e in self.entries:
            offsets.append(len(out))
            crc = e.crc if e.crc is not None else zlib.crc32(e.data)
            size = e.size if e.size is not None else len(e.data)
            csize = len(e.data)
            zip64 = size >= 0xFFFFFFFF or csize >= 0xFFFFFFFF
            extra = e.extra
            if zip64:
                extra = struct.pack("<HHQQ", 1, 16, size, csize) + extra
            out += struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                45 if zip64 else 20,
                e.flags,
                e.method,
                0,
                0x21,
                crc,
                0xFFFFFFFF if zip64 else csize,
                0xFFFFFFFF if zip64 else size,
                len(e.name),
                len(extra),
            )
            out += e.name + extra + e.data
        cd_offset = len(out)
        for e, off in zip(self.entries, offsets, strict=True):
            crc = e.crc if e.crc is not None else zlib.crc32(e.data)
            size = e.size if e.size is not None else len(e.data)
            csize = len(e.data)
            zip64 = size >= 0xFFFFFFFF or csize >= 0xFFFFFFFF
            extra = e.extra
            if zip64:
                extra = struct.pack("<HHQQ", 1, 16, size, csize) + extra
            central += struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                0x031E,
                45 if zip64 else 20,
                e.flags,
                e.method,
                0,
                0x21,
                crc,
                0xFFFFFFFF if zip64 else csize,
                0xFFFFFFFF if zip64 else size,
                len(e.name),
                len(extra),
                0,
                0,
                0,
                0o644 << 16,
                e.offset_override if e.offset_override is not None else off,
            )
            central += e.name + extra
        out += central
        out += struct.pack(
            "<4sHHHHIIH",
            b"PK\x05\x06",
            0,
            0,
            len(self.entries),
            len(self.entries),
            len(central),
            cd_offset,
            len(self.comment),
        )
        return bytes(out + self.comment + self.trailing)


def stored(name: str, data: bytes, **kw: Any) -> Raw:
    return Raw(name.encode(), data, **kw)


def deflated(name: str, data: bytes, **kw: Any) -> Raw:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return Raw(
        name.encode(),
        c.compress(data) + c.flush(),
        method=8,
        crc=zlib.crc32(data),
        size=len(data),
        **kw,
    )


def zeros_bomb(total: int = 10 << 30) -> bytes:
    """A raw deflate stream that inflates to ``total`` zero bytes (a multiple of 1 MiB),
    built from one full-flushed block repeated: ~1 KB per MiB, so 10 GiB is ~10 MB."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(b"\x00" * (1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    # after a full flush the next block does not refer back: the same bytes repeat
    c2 = zlib.compressobj(9, zlib.DEFLATED, -15)
    c2.compress(b"\x00" * (1 << 20))
    c2.flush(zlib.Z_FULL_FLUSH)
    again = c2.compress(b"\x00" * (1 << 20)) + c2.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block
    return block + again * (total // (1 << 20) - 1) + end
