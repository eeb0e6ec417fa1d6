"""A content-addressed object store on a local (or mounted) filesystem.

Layout: ``<root>/ab/cd/<sha256 hex>`` holds the bytes, ``<root>/ab/cd/<hex>.meta.json`` the
content type, ``<root>/.tmp/`` the writes in progress. A write goes to a temp file on the same
filesystem, is fsynced, made read-only, and then *hard-linked* to its final name: ``link()``
fails instead of replacing an existing file, so two writers of the same content can never
overwrite each other and a crash at any moment leaves either the whole object or none of it
(a crashed process may leave a temp file, which is removed a day later).

The read-only mode is a guard against accidents, not a protection against root: what makes
tampering visible is that every read re-hashes the bytes against the key.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import stat as stat_mod
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import (
    ImmutableObjectError,
    ObjectNotFoundError,
    StoreUnavailableError,
)
from .objects import (
    CHUNK_SIZE,
    READ_BYTES_LIMIT,
    StoredObject,
    VerifyingReader,
    buffered,
    copy_verified,
    digest_of_key,
    hash_stream,
    is_digest,
    open_to_store,
    read_all_verified,
)

log = logging.getLogger(__name__)

_READ_ONLY = 0o444
_DEFAULT_TYPE = "application/octet-stream"
_STALE_TEMP_S = 24 * 3600
_OS_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.EIO: "input/output error",
}


def _unavailable(action: str, where: Path, exc: OSError) -> StoreUnavailableError:
    reason = _OS_REASONS.get(exc.errno or 0) or exc.strerror or str(exc)
    return StoreUnavailableError(f"file store: cannot {action} {where}: {reason}")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStore:
    """Content-addressed, write-once object store in a directory (key = SHA-256 hex)."""

    def __init__(self, root: Path, *, min_free_bytes: int = 64 << 20) -> None:
        self.root = Path(root)
        self.min_free_bytes = min_free_bytes
        self._tmp = self.root / ".tmp"
        self._ready = False

    # -- writing -----------------------------------------------------------------------------

    def put_file(self, path: Path, *, content_type: str = _DEFAULT_TYPE) -> StoredObject:
        with open_to_store(path, "file store") as src:
            return self.put_stream(src, content_type=content_type)

    def put_stream(self, stream: BinaryIO, *, content_type: str = _DEFAULT_TYPE) -> StoredObject:
        self._ensure_root()
        try:
            fd, tmp_name = tempfile.mkstemp(prefix="put-", dir=self._tmp)
        except OSError as exc:
            raise _unavailable("create a temporary file in", self._tmp, exc) from exc
        tmp = Path(tmp_name)
        try:
            digest, size = self._write_temp(fd, tmp, stream)
            return self._commit(tmp, digest, size, content_type)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _write_temp(self, fd: int, tmp: Path, stream: BinaryIO) -> tuple[str, int]:
        with os.fdopen(fd, "wb") as out:
            try:
                digest, size = hash_stream(stream, out)
                out.flush()
                os.fsync(out.fileno())
                os.fchmod(out.fileno(), _READ_ONLY)
            except OSError as exc:
                if exc.errno in _OS_REASONS:
                    raise _unavailable("write", tmp, exc) from exc
                raise
        return digest, size

    def _commit(self, tmp: Path, digest: str, size: int, content_type: str) -> StoredObject:
        final = self._path(digest)
        try:
            created = self._make_dirs(final.parent)
            self._write_meta(final, content_type)
            try:
                os.link(tmp, final)
            except FileExistsError:
                return self._existing(digest)
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                    raise
                # A filesystem without hard links: rename, after making sure nothing is there.
                if final.exists():
                    return self._existing(digest)
                os.rename(tmp, final)
            _fsync_dir(final.parent)
            for d in created:
                _fsync_dir(d.parent)
        except OSError as exc:
            raise _unavailable("store object in", final.parent, exc) from exc
        return StoredObject(digest, digest, size, content_type, None)

    def _existing(self, digest: str) -> StoredObject:
        """Same content already stored: verify the stored copy rather than trust its name."""
        obj = self.stat(digest)
        with self.open(digest) as fh:  # raises CorruptObjectError if the stored copy is damaged
            while fh.read(CHUNK_SIZE):
                pass
        return obj

    def _write_meta(self, final: Path, content_type: str) -> None:
        meta = self._meta_path(final)
        if meta.exists():
            return
        fd, name = tempfile.mkstemp(prefix="meta-", dir=self._tmp)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"content_type": content_type}, fh)
                fh.flush()
                os.fsync(fh.fileno())
                os.fchmod(fh.fileno(), _READ_ONLY)
            with contextlib.suppress(FileExistsError):
                os.link(name, meta)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    # -- reading -----------------------------------------------------------------------------

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        digest = digest_of_key(key)
        path = self._path(digest)
        try:
            fh = open(path, "rb")  # noqa: SIM115 -- closed by the reader
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None
        except OSError as exc:
            raise _unavailable("read", path, exc) from exc
        size = os.fstat(fh.fileno()).st_size
        reader = VerifyingReader(
            key, fh, expected_sha256=digest, expected_size=size, on_close=fh.close
        )
        with buffered(reader) as out:
            yield out

    def read_bytes(self, key: str, *, limit: int = READ_BYTES_LIMIT) -> bytes:
        return read_all_verified(self, key, limit)

    def copy_to(self, key: str, dest: BinaryIO) -> StoredObject:
        return copy_verified(self, key, dest)

    def stat(self, key: str) -> StoredObject:
        digest = digest_of_key(key)
        path = self._path(digest)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None
        except OSError as exc:
            raise _unavailable("stat", path, exc) from exc
        return StoredObject(key, digest, st.st_size, self._content_type(path), None)

    def exists(self, key: str) -> bool:
        try:
            digest = digest_of_key(key)
        except ObjectNotFoundError:
            return False
        return self._path(digest).is_file()

    def delete(self, key: str) -> None:
        self.stat(key)  # ObjectNotFoundError if there is nothing to refuse
        raise ImmutableObjectError(key, "the file store never deletes stored evidence")

    def check(self) -> None:
        """Writable, on a filesystem with room: proves it by writing and syncing a probe file."""
        self._ensure_root()
        try:
            with tempfile.NamedTemporaryFile(prefix="check-", dir=self._tmp) as fh:
                fh.write(b"probe")
                fh.flush()
                os.fsync(fh.fileno())
            vfs = os.statvfs(self.root)
        except OSError as exc:
            raise _unavailable("write to", self._tmp, exc) from exc
        free = vfs.f_bavail * vfs.f_frsize
        if free < self.min_free_bytes:
            raise StoreUnavailableError(
                f"file store: only {free} bytes free on the filesystem of {self.root} "
                f"(need at least {self.min_free_bytes}): free space or move the store"
            )

    def iter_keys(self) -> Iterator[str]:
        """Every object under the root (``aa/bb/<hex>``), sorted; temp and meta files skipped."""
        if not self.root.is_dir():
            return
        try:
            for first in sorted(os.scandir(self.root), key=lambda e: e.name):
                if len(first.name) != 2 or not first.is_dir(follow_symlinks=False):
                    continue
                for second in sorted(os.scandir(first.path), key=lambda e: e.name):
                    if not second.is_dir(follow_symlinks=False):
                        continue
                    for entry in sorted(os.scandir(second.path), key=lambda e: e.name):
                        name = entry.name
                        if is_digest(name) and name.startswith(first.name + second.name):
                            yield name
        except OSError as exc:
            raise _unavailable("list", self.root, exc) from exc

    # -- internals ---------------------------------------------------------------------------

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest

    @staticmethod
    def _meta_path(final: Path) -> Path:
        return final.with_name(final.name + ".meta.json")

    def _content_type(self, path: Path) -> str:
        try:
            meta = json.loads(self._meta_path(path).read_text(encoding="utf-8"))
            return str(meta.get("content_type") or _DEFAULT_TYPE)
        except (OSError, ValueError):
            return _DEFAULT_TYPE

    def _make_dirs(self, directory: Path) -> list[Path]:
        """Create missing directories below the root; returns those created (to fsync)."""
        created: list[Path] = []
        for d in (directory.parent, directory):
            try:
                d.mkdir()
                created.append(d)
            except FileExistsError:
                pass
        return created

    def _ensure_root(self) -> None:
        if self._ready:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._tmp.mkdir(exist_ok=True)
        except OSError as exc:
            raise _unavailable("create", self._tmp, exc) from exc
        if not os.access(self._tmp, os.W_OK | os.X_OK):
            raise StoreUnavailableError(
                f"file store: cannot write to {self._tmp}: permission denied"
            )
        self._remove_stale_temps()
        self._ready = True

    def _remove_stale_temps(self) -> None:
        """Temp files of writers that crashed: old enough that no live writer owns them."""
        cutoff = time.time() - _STALE_TEMP_S
        with contextlib.suppress(OSError):
            for entry in os.scandir(self._tmp):
                with contextlib.suppress(OSError):
                    st = entry.stat(follow_symlinks=False)
                    if stat_mod.S_ISREG(st.st_mode) and st.st_mtime < cutoff:
                        os.unlink(entry.path)
                        log.info("removed stale temp file %s", entry.path)
