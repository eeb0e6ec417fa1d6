"""FileStore: content addressing, atomic write-once storage, verified reads, bounded memory."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from storage.errors import (
    CorruptObjectError,
    ImmutableObjectError,
    ObjectNotFoundError,
    StorageError,
    StoreUnavailableError,
)
from storage.fs import FileStore
from storage.objects import ObjectStore
from tests.fixtures.venv import run_text

REPO = Path(__file__).resolve().parents[2]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "store")


def object_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.parts)


def flip_byte(path: Path, offset: int = 0) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_is_an_object_store(store: FileStore) -> None:
    assert isinstance(store, ObjectStore)


def test_content_addressed_layout_and_metadata(store: FileStore) -> None:
    data = b"evidence bytes\n" * 100
    obj = store.put_stream(io.BytesIO(data), content_type="text/plain")
    digest = sha(data)
    assert obj.key == digest == obj.sha256
    assert obj.size == len(data)
    assert obj.content_type == "text/plain"
    assert obj.retain_until is None
    path = store.root / digest[:2] / digest[2:4] / digest
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert store.exists(digest)
    assert store.stat(digest) == obj
    assert store.read_bytes(digest) == data
    # The S3 store's key form names the same object (keys survive a backend move).
    assert store.read_bytes(f"sha256/{digest}") == data


def test_put_file_and_put_stream_agree(store: FileStore, tmp_path: Path) -> None:
    src = tmp_path / "package.wacz"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # several chunks, not chunk-aligned
    a = store.put_file(src, content_type="application/wacz+zip")
    assert a.key == sha(src.read_bytes())
    b = store.put_stream(io.BytesIO(src.read_bytes()))
    assert b == a  # idempotent: the first content type stays
    assert len(object_files(store.root)) == 2  # the object and its metadata, nothing else


def test_no_temp_litter_and_existing_object_not_rewritten(store: FileStore) -> None:
    data = b"write once"
    obj = store.put_stream(io.BytesIO(data))
    path = store.root / obj.key[:2] / obj.key[2:4] / obj.key
    before = path.stat()
    time.sleep(0.01)
    again = store.put_stream(io.BytesIO(data))
    after = path.stat()
    assert again == obj
    assert (after.st_ino, after.st_mtime_ns, after.st_nlink) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_nlink,
    )
    assert list((store.root / ".tmp").iterdir()) == []


class ExplodingStream(io.RawIOBase):
    """A source that dies half-way, like a worker killed or a network read that breaks."""

    def __init__(self, good_bytes: int) -> None:
        self.left = good_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self.left <= 0:
            raise ConnectionResetError("source died")
        n = min(len(b), self.left, 64 * 1024)
        b[:n] = b"x" * n
        self.left -= n
        return n


def test_crash_mid_write_leaves_nothing(store: FileStore) -> None:
    with pytest.raises(ConnectionResetError):
        store.put_stream(io.BufferedReader(ExplodingStream(3 * 1024 * 1024)))
    assert object_files(store.root) == []
    assert list((store.root / ".tmp").iterdir()) == []


def test_killed_writer_leaves_no_object(tmp_path: Path) -> None:
    """A process killed mid-write (no cleanup code runs) leaves at most a temp file."""
    root = tmp_path / "store"
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from storage.fs import FileStore\n"
        "class Slow:\n"
        "    def read(self, n):\n"
        "        sys.stdout.write('writing\\n'); sys.stdout.flush(); time.sleep(0.05)\n"
        "        return b'y' * 4096\n"
        f"FileStore(Path({str(root)!r})).put_stream(Slow())\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for _ in range(5):
        proc.stdout.readline()
    proc.kill()
    proc.wait()
    assert object_files(root) == []
    assert len(list((root / ".tmp").iterdir())) == 1  # removed by the next store a day later


def test_stale_temp_files_are_removed(tmp_path: Path) -> None:
    tmp = tmp_path / "store" / ".tmp"
    tmp.mkdir(parents=True)
    old, fresh = tmp / "put-old", tmp / "put-fresh"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    FileStore(tmp_path / "store").put_stream(io.BytesIO(b"trigger"))
    assert not old.exists()
    assert fresh.exists()  # may belong to a live writer


@pytest.mark.parametrize("how", ["open", "read_bytes", "copy_to", "exact_size_read"])
def test_corrupt_object_is_detected(store: FileStore, how: str) -> None:
    data = os.urandom(2 * 1024 * 1024 + 5)
    key = store.put_stream(io.BytesIO(data)).key
    flip_byte(store.root / key[:2] / key[2:4] / key, offset=len(data) - 1)
    with pytest.raises(CorruptObjectError) as info:
        if how == "open":
            with store.open(key) as fh:
                while fh.read(65536):
                    pass
        elif how == "read_bytes":
            store.read_bytes(key)
        elif how == "copy_to":
            store.copy_to(key, io.BytesIO())
        else:  # a consumer that reads exactly the size and never asks for more
            with store.open(key) as fh:
                fh.read(len(data))
    err = info.value
    assert err.key == key and err.expected == key
    assert err.actual != key and len(err.actual) == 64
    assert key in str(err) and err.actual in str(err)


def test_truncated_object_is_detected(store: FileStore) -> None:
    key = store.put_stream(io.BytesIO(b"0123456789")).key
    path = store.root / key[:2] / key[2:4] / key
    path.chmod(0o644)
    path.write_bytes(b"01234")
    with pytest.raises(CorruptObjectError):
        store.read_bytes(key)


def test_intact_object_streams_in_chunks(store: FileStore) -> None:
    data = os.urandom(3 * 1024 * 1024)
    key = store.put_stream(io.BytesIO(data)).key
    out = io.BytesIO()
    assert store.copy_to(key, out).size == len(data)
    assert out.getvalue() == data
    with store.open(key) as fh:
        assert fh.read(10) == data[:10]  # partial reads are fine (no verdict, no error)


def test_put_of_existing_corrupt_object_refuses_and_keeps_it(store: FileStore) -> None:
    data = b"original evidence"
    key = store.put_stream(io.BytesIO(data)).key
    path = store.root / key[:2] / key[2:4] / key
    flip_byte(path)
    damaged = path.read_bytes()
    with pytest.raises(CorruptObjectError):
        store.put_stream(io.BytesIO(data))
    assert path.read_bytes() == damaged  # never overwritten, not even to "repair" it


def test_delete_is_refused(store: FileStore) -> None:
    key = store.put_stream(io.BytesIO(b"sealed")).key
    with pytest.raises(ImmutableObjectError) as info:
        store.delete(key)
    assert key in str(info.value)
    assert store.read_bytes(key) == b"sealed"
    with pytest.raises(ObjectNotFoundError):
        store.delete(sha(b"never stored"))


def test_missing_and_malformed_keys(store: FileStore) -> None:
    missing = sha(b"nothing")
    for call in (store.stat, store.read_bytes):
        with pytest.raises(ObjectNotFoundError):
            call(missing)
    with pytest.raises(ObjectNotFoundError), store.open(missing):
        pass
    assert not store.exists(missing)
    assert not store.exists("../../etc/passwd")
    with pytest.raises(ObjectNotFoundError):
        store.stat("../../etc/passwd")


def test_read_bytes_refuses_large_objects(store: FileStore) -> None:
    key = store.put_stream(io.BytesIO(b"x" * 1000)).key
    with pytest.raises(StorageError, match="open"):
        store.read_bytes(key, limit=999)


def test_concurrent_writers_of_same_content(store: FileStore) -> None:
    data = os.urandom(1024 * 1024)
    results: list[str] = []
    errors: list[BaseException] = []

    def put() -> None:
        try:
            results.append(store.put_stream(io.BytesIO(data)).key)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [sha(data)] * 8
    assert len(object_files(store.root)) == 2
    assert list((store.root / ".tmp").iterdir()) == []


def test_check_reports_unusable_store(tmp_path: Path) -> None:
    FileStore(tmp_path / "ok").check()
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    with pytest.raises(StoreUnavailableError, match=str(blocker)):
        FileStore(blocker / "store").check()
    with pytest.raises(StoreUnavailableError, match="free"):
        FileStore(tmp_path / "full", min_free_bytes=1 << 62).check()


def test_write_failure_is_store_unavailable(tmp_path: Path) -> None:
    """A full disk: /dev/full fails every write with ENOSPC, like a full filesystem."""
    if not os.path.exists("/dev/full"):
        pytest.fail("/dev/full is needed for this test")
    store = FileStore(tmp_path / "store")
    store.put_stream(io.BytesIO(b"prime"))  # creates the layout
    real_mkstemp = __import__("tempfile").mkstemp

    def full_mkstemp(*args, **kwargs):
        fd, name = real_mkstemp(*args, **kwargs)
        full = os.open("/dev/full", os.O_WRONLY)
        os.dup2(full, fd)
        os.close(full)
        return fd, name

    mp = pytest.MonkeyPatch()
    mp.setattr("storage.fs.tempfile.mkstemp", full_mkstemp)
    try:
        with pytest.raises(StoreUnavailableError, match="no space left"):
            store.put_stream(io.BytesIO(b"y" * (2 * 1024 * 1024)))
    finally:
        mp.undo()
    assert list((store.root / ".tmp").iterdir()) == []


_MEMORY_SCRIPT = r"""
import hashlib, resource, sys
from pathlib import Path
from storage.fs import FileStore

SIZE = int(sys.argv[2])
BLOCK = hashlib.sha256(b"seed").digest() * (1 << 15)  # 1 MiB, generated once

class Generated:
    '''Bytes made on the fly: the test never holds the object in memory either.'''
    def __init__(self):
        self.left = SIZE
        self.n = 0
    def read(self, n=-1):
        if self.left <= 0:
            return b""
        n = min(self.left, len(BLOCK) if n is None or n < 0 else n, len(BLOCK))
        self.n += 1
        chunk = self.n.to_bytes(8, "big") + BLOCK[8:n] if n > 8 else BLOCK[:n]
        self.left -= len(chunk)
        return chunk

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

store = FileStore(Path(sys.argv[1]))
store.check()
base = peak_mb()
obj = store.put_stream(Generated())
after_put = peak_mb()
h = hashlib.sha256()
with store.open(obj.key) as fh:
    while chunk := fh.read(1 << 20):
        h.update(chunk)
after_read = peak_mb()
assert h.hexdigest() == obj.key and obj.size == SIZE, (obj, h.hexdigest())
print(base, after_put, after_read)
"""


@pytest.mark.slow
def test_one_gigabyte_object_streams_with_bounded_memory(tmp_path: Path) -> None:
    size = 1 << 30
    args = [sys.executable, "-c", _MEMORY_SCRIPT, tmp_path / "store", str(size)]
    proc = run_text(args, cwd=REPO, timeout=240)
    assert proc.returncode == 0, proc.stderr
    base, after_put, after_read = map(float, proc.stdout.split())
    assert after_put - base < 50, f"put grew peak RSS by {after_put - base:.0f} MB"
    assert after_read - base < 50, f"read grew peak RSS by {after_read - base:.0f} MB"


def test_empty_object(store: FileStore) -> None:
    obj = store.put_stream(io.BytesIO(b""))
    assert (obj.key, obj.size) == (sha(b""), 0)
    assert store.read_bytes(obj.key) == b""


def test_iter_keys_lists_every_object_and_nothing_else(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "objects")
    keys = {store.put_stream(io.BytesIO(bytes([i]) * 10)).key for i in range(5)}
    (tmp_path / "objects" / ".tmp" / "put-stale").write_bytes(b"half")
    assert set(store.iter_keys()) == keys
    assert list(FileStore(tmp_path / "none").iter_keys()) == []
