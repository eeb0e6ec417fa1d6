"""What every object store promises, and the pieces both backends share.

Objects are content-addressed: the key is derived from the SHA-256 of the bytes, so a key names
exactly one content and any reader can check what it got. Both backends verify on every read
(the hash is computed while streaming and a mismatch raises ``CorruptObjectError``) and neither
ever deletes or replaces a stored object.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from .errors import CorruptObjectError, ObjectNotFoundError, StorageError

#: Size of the pieces every streaming operation moves at a time (memory stays bounded by it).
CHUNK_SIZE = 1 << 20

#: ``read_bytes`` refuses objects larger than this unless told otherwise: it is for small ones.
READ_BYTES_LIMIT = 64 << 20

_HEX64 = re.compile(r"[0-9a-f]{64}")
S3_KEY_PREFIX = "sha256/"


@dataclass(frozen=True)
class StoredObject:
    """An object as stored: its key, content hash and size, and until when it is locked."""

    key: str
    sha256: str
    size: int
    content_type: str
    retain_until: datetime | None  # None: no time-bound lock (the file store never deletes)


@runtime_checkable
class ObjectStore(Protocol):
    """An append-only, content-addressed, verifying object store."""

    def put_file(
        self, path: Path, *, content_type: str = "application/octet-stream"
    ) -> StoredObject: ...

    def put_stream(
        self, stream: BinaryIO, *, content_type: str = "application/octet-stream"
    ) -> StoredObject: ...

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A streaming reader; at the end of the data a hash mismatch raises CorruptObjectError."""
        ...

    def read_bytes(self, key: str) -> bytes: ...

    def copy_to(self, key: str, dest: BinaryIO) -> StoredObject: ...

    def stat(self, key: str) -> StoredObject: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Always refused for a stored object (ImmutableObjectError)."""
        ...

    def check(self) -> None:
        """Raise StoreUnavailableError naming the reason if the store cannot be used now."""
        ...

    def iter_keys(self) -> Iterator[str]:
        """Every stored object's key, streamed (for backups; the order is the backend's)."""
        ...


def is_digest(text: str) -> bool:
    """True for 64 lowercase hex digits: the name a SHA-256 gives an object."""
    return _HEX64.fullmatch(text) is not None


def digest_of_key(key: str) -> str:
    """The SHA-256 hex a key names. Both key forms are accepted so keys survive a backend move.

    ``<hex>`` is the file store's form, ``sha256/<hex>`` the S3 store's.
    """
    digest = key[len(S3_KEY_PREFIX) :] if key.startswith(S3_KEY_PREFIX) else key
    if not _HEX64.fullmatch(digest):
        raise ObjectNotFoundError(key, "not an object key (expected 64 lowercase hex digits)")
    return digest


class _Source(Protocol):
    def read(self, n: int, /) -> bytes: ...


class _Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


def hash_stream(source: _Source, copy_to: _Sink | None = None) -> tuple[str, int]:
    """SHA-256 hex and size of all ``source`` delivers, read in fixed-size chunks (and written
    on to ``copy_to`` as they come): the key of an object must be known before it is stored."""
    h = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK_SIZE):
        h.update(chunk)
        size += len(chunk)
        if copy_to is not None:
            copy_to.write(chunk)
    return h.hexdigest(), size


def sha256_file(path: Path) -> tuple[str, int]:
    """SHA-256 hex and size of a file, read in fixed-size chunks."""
    with open(path, "rb") as fh:
        return hash_stream(fh)


def open_to_store(path: Path, store: str) -> BinaryIO:
    """``path`` opened for ``put_file``, or an error naming ``store`` and what went wrong."""
    try:
        return open(path, "rb")
    except FileNotFoundError as exc:
        raise StorageError(f"{store}: cannot store {path}: file not found") from exc
    except OSError as exc:
        raise StorageError(f"{store}: cannot read {path}: {exc.strerror}") from exc


class VerifyingReader(io.RawIOBase):
    """Passes bytes through while hashing them; refuses to complete unless they match the key.

    The check fires on the call that delivers the last expected byte (so a consumer that reads
    exactly ``expected_size`` bytes and never asks for more is still protected) and again at end
    of data if the size is wrong. A consumer that stops early gets no verdict: a partial read
    proves nothing either way.
    """

    def __init__(
        self,
        key: str,
        source: _Source,
        *,
        expected_sha256: str,
        expected_size: int | None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.key = key
        self._source = source
        self._expected = expected_sha256
        self._expected_size = expected_size
        self._on_close = on_close
        self._hash = hashlib.sha256()
        self._count = 0
        self._verified = False

    @property
    def bytes_read(self) -> int:
        return self._count

    @property
    def verified(self) -> bool:
        return self._verified

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._verified:
            return 0
        want = len(buffer)
        if self._expected_size is not None:
            # Ask for one byte more than remains, so extra trailing bytes are seen.
            want = min(want, self._expected_size - self._count + 1)
        data = self._source.read(max(want, 1))
        if not data:
            self._finish()
            return 0
        self._hash.update(data)
        self._count += len(data)
        if self._expected_size is not None:
            if self._count > self._expected_size:
                self._corrupt(f"more than the expected {self._expected_size} bytes")
            if self._count == self._expected_size:
                if self._source.read(1):  # the size is reached: anything more is wrong
                    self._corrupt(f"more than the expected {self._expected_size} bytes")
                self._finish()
        n = len(data)
        memoryview(buffer)[:n] = data
        return n

    def _finish(self) -> None:
        if self._expected_size is not None and self._count != self._expected_size:
            self._corrupt(f"only {self._count} of the expected {self._expected_size} bytes")
        actual = self._hash.hexdigest()
        if actual != self._expected:
            self._corrupt("")
        self._verified = True

    def _corrupt(self, detail: str) -> None:
        raise CorruptObjectError(self.key, self._expected, self._hash.hexdigest(), detail)

    def close(self) -> None:
        if not self.closed:
            try:
                if self._on_close is not None:
                    self._on_close()
            finally:
                super().close()


def buffered(reader: VerifyingReader) -> BinaryIO:
    """Wrap a verifying reader in a standard buffered reader (a real ``BinaryIO``)."""
    return io.BufferedReader(reader, buffer_size=CHUNK_SIZE)


def read_all_verified(store: ObjectStore, key: str, limit: int) -> bytes:
    """Shared ``read_bytes``: refuses large objects instead of filling memory with them."""
    size = store.stat(key).size
    if size > limit:
        raise StorageError(
            f"object {key!r} is {size} bytes, more than read_bytes allows ({limit}); "
            "stream it with open() or copy_to() instead"
        )
    out = io.BytesIO()
    with store.open(key) as fh:
        while chunk := fh.read(CHUNK_SIZE):
            out.write(chunk)
    return out.getvalue()


def copy_verified(store: ObjectStore, key: str, dest: BinaryIO) -> StoredObject:
    """Shared ``copy_to``: streams in fixed-size chunks; raises before the end if corrupt."""
    obj = store.stat(key)
    with store.open(key) as fh:
        while chunk := fh.read(CHUNK_SIZE):
            dest.write(chunk)
    return obj
