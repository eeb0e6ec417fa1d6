"""``WARC-Payload-Digest`` in every form recorders are known to compute it, in one pass.

WARC 1.1 (section 5.9) defines the payload of an ``application/http`` record as the entity
body *after the transfer encoding is removed*: for a ``Transfer-Encoding: chunked`` response
the digest is over the de-chunked bytes (still gzip if the body is ``Content-Encoding:
gzip``). Recorders differ: some follow the spec, some hash the body exactly as they stored it
(chunk sizes and all), a few hash the fully decoded entity. The block digest covers the stored
bytes whatever the recorder did, so it is the one that proves alteration; the payload digest
only says which body the recorder meant, and a verifier must not call a genuine archive
altered because its recorder read the spec differently.

:class:`PayloadDigests` is fed the stored payload piece by piece (as the WARC streams out of
the ZIP) and keeps a hash of each form at once, so nothing is read twice and nothing is held
in memory: the de-chunker and the decoders work on bounded pieces, and decoding stops once a
shared :class:`DecodeBudget` is spent (a small gzip bomb inside a record cannot cost more than
a bounded multiple of the WARC's size).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from collections.abc import Iterator
from typing import Any, Protocol

__all__ = [
    "DECHUNKED",
    "DECODED",
    "FORMS",
    "STORED",
    "DecodeBudget",
    "PayloadDigests",
    "digest_matches",
    "parse_digest",
]

#: The body bytes as stored in the record (after the HTTP header block).
STORED = "stored"
#: The transfer coding removed (chunk sizes, extensions and trailers dropped): WARC 1.1's form.
DECHUNKED = "dechunked"
#: Transfer and content coding removed (gzip/deflate/br inflated): the entity as a browser sees it.
DECODED = "decoded"
FORMS = (STORED, DECHUNKED, DECODED)

#: Longest chunk-size or trailer line accepted (RFC 9112 sets no limit; real ones are short).
MAX_CHUNK_LINE = 64 * 1024
#: Decoded output produced per decompressor call.
_PIECE = 256 * 1024
_HEX = re.compile(rb"^[0-9A-Fa-f]+$")


class _Sink(Protocol):
    def update(self, data: bytes, /) -> None: ...


class DecodeBudget:
    """How many decoded bytes may still be produced for one WARC: a fixed allowance plus a
    multiple of the stored bytes seen, so a WARC of many small bombs stays bounded too."""

    def __init__(self, base: int = 1 << 30, ratio: int = 32) -> None:
        self.left = base
        self.ratio = ratio

    def earn(self, stored: int) -> None:
        self.left += stored * self.ratio

    def spend(self, n: int) -> bool:
        self.left -= n
        return self.left >= 0


class MalformedCoding(ValueError):
    pass


class _Dechunker:
    """Incremental ``Transfer-Encoding: chunked`` decoder (RFC 9112 section 7.1).

    Chunk extensions (``5;name=val``) and trailer fields are dropped, bare LF line ends are
    tolerated; bytes after the last chunk's trailers are ignored (not part of the entity)."""

    def __init__(self) -> None:
        self.state = "size"  # size | data | data-end | trailer | done
        self.left = 0
        self.line = bytearray()

    def feed(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        pos = 0
        while pos < len(view) and self.state != "done":
            if self.state == "data":
                take = min(self.left, len(view) - pos)
                yield bytes(view[pos : pos + take])
                pos += take
                self.left -= take
                if self.left == 0:
                    self.state = "data-end"
                continue
            end = data.find(b"\n", pos)
            if end < 0:
                self.line += view[pos:]
                pos = len(view)
                if len(self.line) > MAX_CHUNK_LINE:
                    raise MalformedCoding("a chunk-size line is too long")
                continue
            self.line += view[pos:end]
            pos = end + 1
            if len(self.line) > MAX_CHUNK_LINE:
                raise MalformedCoding("a chunk-size line is too long")
            line = bytes(self.line).rstrip(b"\r")
            self.line.clear()
            self._line(line)

    def _line(self, line: bytes) -> None:
        if self.state == "data-end":
            if line:
                raise MalformedCoding("a chunk is longer than its size says")
            self.state = "size"
        elif self.state == "size":
            size = line.split(b";", 1)[0].strip(b" \t")
            if not _HEX.match(size):
                raise MalformedCoding(f"bad chunk size {line[:40]!r}")
            self.left = int(size, 16)
            self.state = "data" if self.left else "trailer"
        elif self.state == "trailer" and not line:
            self.state = "done"


class _Decoder:
    """One content coding, inflated in bounded pieces."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.z: Any = None
        self.br: Any = None
        self.head = b""
        if coding in ("gzip", "x-gzip"):
            self.z = zlib.decompressobj(31)
        elif coding == "br":
            import brotli  # the ``br`` coding; locked with the service (run.lock)

            self.br = brotli.Decompressor()
        elif coding != "deflate":
            raise MalformedCoding(f"unsupported content coding {coding!r}")

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.br is not None:
            # A full output buffer means more may be pending (brotli 1.2 still says it can
            # accept more data then), so drain with empty input until a short piece comes.
            out = self.br.process(data, output_buffer_limit=_PIECE)
            while True:
                if out:
                    yield out
                if len(out) < _PIECE or self.br.is_finished():
                    return
                out = self.br.process(b"", output_buffer_limit=_PIECE)
        if self.z is None:  # deflate: zlib-wrapped as the RFC says, or raw as IIS sent it
            self.head += data
            if len(self.head) < 2:
                return
            b0, b1 = self.head[0], self.head[1]
            zlib_wrapped = b0 & 0x0F == 8 and (b0 << 8 | b1) % 31 == 0
            self.z = zlib.decompressobj(15 if zlib_wrapped else -15)
            data, self.head = self.head, b""
        if self.z.eof:
            return
        out = self.z.decompress(data, _PIECE)
        while True:
            if out:
                yield out
            if self.z.eof or not self.z.unconsumed_tail:
                return
            out = self.z.decompress(self.z.unconsumed_tail, _PIECE)


def parse_digest(value: str | None) -> tuple[str, str] | None:
    """``sha1:BASE32`` -> ("sha1", "BASE32") if hashlib knows the algorithm, else None."""
    if not value:
        return None
    algo, sep, text = value.strip().partition(":")
    algo = algo.strip().lower().replace("-", "")
    if not sep or not text:
        return None
    try:
        hashlib.new(algo)
    except ValueError:
        return None
    return algo, text.strip()


def digest_matches(claimed: str, digest: bytes) -> bool:
    """A WARC digest value (base32, hex or base64, as WARC 1.1 allows) against raw bytes."""
    candidates: list[bytes] = []
    for decode in (
        lambda v: base64.b32decode(v.upper() + "=" * (-len(v) % 8)),
        lambda v: bytes.fromhex(v),
        lambda v: base64.b64decode(
            v + "=" * (-len(v) % 4), altchars=b"-_" if "-" in v or "_" in v else None
        ),
    ):
        try:
            candidates.append(decode(claimed))
        except (ValueError, binascii.Error):
            continue
    return digest in candidates


class PayloadDigests:
    """Hashes of one record's payload in each form that applies to it.

    ``transfer`` / ``content``: the record's HTTP ``Transfer-Encoding`` / ``Content-Encoding``
    values (None for non-HTTP records, whose payload is their block)."""

    def __init__(
        self, algorithm: str, transfer: str | None, content: str | None, budget: DecodeBudget
    ) -> None:
        self.algorithm = algorithm
        self.budget = budget
        self.hashes: dict[str, Any] = {STORED: hashlib.new(algorithm)}
        #: Why a form could not be computed (malformed chunking, unknown coding, budget spent).
        self.unavailable: dict[str, str] = {}
        codings = [c.strip().lower() for c in (transfer or "").split(",") if c.strip()]
        self.chunked = codings[-1:] == ["chunked"]
        self.dechunker = _Dechunker() if self.chunked else None
        if self.chunked:
            self.hashes[DECHUNKED] = hashlib.new(algorithm)
        content_codings = [c.strip().lower() for c in (content or "").split(",") if c.strip()]
        content_codings = [c for c in content_codings if c != "identity"]
        self.decoder: _Decoder | None = None
        if len(content_codings) > 1:
            self.unavailable[DECODED] = "several content codings"
        elif content_codings:
            try:
                self.decoder = _Decoder(content_codings[0])
                self.hashes[DECODED] = hashlib.new(algorithm)
            except (MalformedCoding, ImportError) as exc:
                self.unavailable[DECODED] = str(exc) or "unsupported content coding"

    @property
    def spec_form(self) -> str:
        """The form WARC 1.1 prescribes for this record."""
        return DECHUNKED if self.chunked else STORED

    def update(self, data: bytes) -> None:
        self.hashes[STORED].update(data)
        self.budget.earn(len(data))
        if self.dechunker is None:
            self._decode(data)
            return
        if DECHUNKED not in self.hashes:
            return
        try:
            for piece in self.dechunker.feed(data):
                self.hashes[DECHUNKED].update(piece)
                self._decode(piece)
        except MalformedCoding as exc:
            self._drop(DECHUNKED, str(exc))
            self._drop(DECODED, "the chunked body is malformed")

    def _decode(self, data: bytes) -> None:
        if self.decoder is None or DECODED not in self.hashes:
            return
        sink: _Sink = self.hashes[DECODED]
        try:
            for piece in self.decoder.feed(data):
                if not self.budget.spend(len(piece)):
                    self._drop(DECODED, "decoding budget spent (implausible compression ratio)")
                    return
                sink.update(piece)
        except Exception as exc:  # zlib.error, brotli.error: a damaged encoded body
            self._drop(DECODED, f"the encoded body does not decode ({type(exc).__name__})")

    def _drop(self, form: str, why: str) -> None:
        if self.hashes.pop(form, None) is not None:
            self.unavailable[form] = why
        if form == DECODED:
            self.decoder = None

    def match(self, claimed: str) -> str | None:
        """The form whose digest equals ``claimed`` (the spec's form first), or None."""
        order = [self.spec_form, *(f for f in FORMS if f != self.spec_form)]
        for form in order:
            h = self.hashes.get(form)
            if h is not None and digest_matches(claimed, h.digest()):
                return form
        return None
