"""S3Store against the real S3 server (Ceph RGW): what users rely on is that a stored object
cannot be deleted, overwritten or unlocked -- whatever its size and however it was uploaded."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from minio.commonconfig import COMPLIANCE, GOVERNANCE
from minio.error import S3Error
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.retention import Retention

from storage.errors import (
    CorruptObjectError,
    ImmutableObjectError,
    ObjectNotFoundError,
    StorageError,
    StoreUnavailableError,
)
from storage.objects import ObjectStore, VerifyingReader
from storage.s3 import S3Store, parse_retention_xml

pytestmark = pytest.mark.s3

SMALL = b"small evidence object, uploaded in one request"
LARGE_SIZE = 6 * 1024 * 1024 + 123  # > part_size (5 MiB): the SDK uploads it in parts


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def versions(raw, bucket: str, key: str) -> list:
    return [
        v
        for v in raw.list_objects(bucket, prefix=key, include_version=True)
        if v.object_name == key
    ]


def original(raw, bucket: str, key: str):
    """The first version written under the key (the one the store wrote)."""
    return min(versions(raw, bucket, key), key=lambda v: v.last_modified)


def raw_retention(raw, bucket: str, key: str, version_id: str):
    """GetObjectRetention read and parsed here (the SDK's parser fails on RGW's dates)."""
    resp = raw._execute("GET", bucket, key, query_params={"retention": "", "versionId": version_id})
    return parse_retention_xml(resp.data)


@pytest.fixture(scope="module")
def stored(s3_store: S3Store):
    """One object uploaded in a single request and one uploaded multipart (fresh content)."""
    large = os.urandom(LARGE_SIZE)
    small = SMALL + os.urandom(8)
    return {
        "single": (s3_store.put_stream(io.BytesIO(small), content_type="text/plain"), small),
        "multipart": (s3_store.put_stream(io.BytesIO(large)), large),
    }


def test_is_an_object_store(s3_store: S3Store) -> None:
    assert isinstance(s3_store, ObjectStore)


@pytest.mark.parametrize("kind", ["single", "multipart"])
def test_put_get_stat(s3_store: S3Store, stored, kind: str) -> None:
    obj, data = stored[kind]
    assert obj.key == f"sha256/{sha(data)}" and obj.sha256 == sha(data)
    assert obj.size == len(data)
    assert obj.content_type == ("text/plain" if kind == "single" else "application/octet-stream")
    assert s3_store.exists(obj.key)
    assert s3_store.stat(obj.key).size == len(data)
    assert s3_store.read_bytes(obj.key) == data
    out = io.BytesIO()
    assert s3_store.copy_to(obj.key, out).sha256 == obj.sha256
    assert out.getvalue() == data
    with s3_store.open(sha(data)) as fh:  # the file store's key form works too
        assert fh.read() == data


def test_multipart_object_really_was_multipart(s3_store: S3Store, raw_s3, stored) -> None:
    """Guards the test itself: the pitfall only exists for multipart uploads."""
    obj, _ = stored["multipart"]
    assert raw_s3.stat_object(s3_store.bucket, obj.key).etag.endswith("-2")
    obj, _ = stored["single"]
    assert "-" not in raw_s3.stat_object(s3_store.bucket, obj.key).etag


@pytest.mark.parametrize("kind", ["single", "multipart"])
def test_retention_is_compliance(s3_store: S3Store, raw_s3, stored, kind: str) -> None:
    obj, _ = stored[kind]
    version = original(raw_s3, s3_store.bucket, obj.key)
    retention = raw_retention(raw_s3, s3_store.bucket, obj.key, version.version_id)
    assert retention is not None and retention.mode == COMPLIANCE
    now = datetime.now(UTC)
    assert now + timedelta(hours=23) < retention.retain_until < now + timedelta(days=2)
    assert obj.retain_until == retention.retain_until


@pytest.mark.parametrize("kind", ["single", "multipart"])
def test_locked_object_cannot_be_deleted(s3_store: S3Store, raw_s3, stored, kind: str) -> None:
    obj, data = stored[kind]
    bucket = s3_store.bucket
    with pytest.raises(ImmutableObjectError):
        s3_store.delete(obj.key)
    # Someone holding the service's credentials tries the plain SDK:
    with pytest.raises(S3Error) as plain:
        raw_s3.remove_object(bucket, obj.key)
    assert plain.value.code == "AccessDenied"
    version = original(raw_s3, bucket, obj.key)
    before = [(v.version_id, v.is_delete_marker) for v in versions(raw_s3, bucket, obj.key)]
    with pytest.raises(S3Error) as exact:
        raw_s3._execute(
            "DELETE",
            bucket,
            obj.key,
            query_params={"versionId": version.version_id},
            headers={"x-amz-bypass-governance-retention": "true"},
        )
    assert exact.value.code == "AccessDenied"
    # Not even a delete marker was added.
    assert [(v.version_id, v.is_delete_marker) for v in versions(raw_s3, bucket, obj.key)] == before
    assert s3_store.read_bytes(obj.key) == data


@pytest.mark.parametrize("kind", ["single", "multipart"])
def test_locked_object_cannot_be_overwritten(s3_store: S3Store, raw_s3, stored, kind: str) -> None:
    obj, data = stored[kind]
    bucket = s3_store.bucket
    first = original(raw_s3, bucket, obj.key)
    forged = b"forged " + data[:100]
    with contextlib.suppress(S3Error):  # refusing the write outright is fine too
        raw_s3.put_object(bucket, obj.key, io.BytesIO(forged), len(forged))
    # The locked version is untouched...
    resp = raw_s3.get_object(bucket, obj.key, version_id=first.version_id)
    try:
        assert resp.read() == data
    finally:
        resp.close()
        resp.release_conn()
    assert raw_retention(raw_s3, bucket, obj.key, first.version_id).mode == COMPLIANCE
    # ...and the store keeps serving it, not the newer forged version.
    assert s3_store.read_bytes(obj.key) == data
    assert s3_store.stat(obj.key).size == len(data)
    # Storing the same content again is idempotent and adds no version.
    n = len(versions(raw_s3, bucket, obj.key))
    assert s3_store.put_stream(io.BytesIO(data)).key == obj.key
    assert len(versions(raw_s3, bucket, obj.key)) == n


@pytest.mark.parametrize("kind", ["single", "multipart"])
def test_retention_cannot_be_shortened_or_downgraded(
    s3_store: S3Store, raw_s3, stored, kind: str
) -> None:
    obj, _ = stored[kind]
    bucket = s3_store.bucket
    version = original(raw_s3, bucket, obj.key)
    before = raw_retention(raw_s3, bucket, obj.key, version.version_id)
    shorter = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(S3Error) as short:
        raw_s3.set_object_retention(
            bucket, obj.key, Retention(COMPLIANCE, shorter), version_id=version.version_id
        )
    assert short.value.code == "AccessDenied"
    with pytest.raises(S3Error):
        raw_s3.set_object_retention(
            bucket,
            obj.key,
            Retention(GOVERNANCE, before.retain_until),
            version_id=version.version_id,
        )
    assert raw_retention(raw_s3, bucket, obj.key, version.version_id) == before


def test_identical_put_is_idempotent(s3_store: S3Store, raw_s3) -> None:
    data = os.urandom(1000)
    a = s3_store.put_stream(io.BytesIO(data))
    b = s3_store.put_stream(io.BytesIO(data))
    assert a == b
    assert len(versions(raw_s3, s3_store.bucket, a.key)) == 1


def test_put_file(s3_store: S3Store, tmp_path) -> None:
    path = tmp_path / "package.wacz"
    path.write_bytes(os.urandom(4096))
    obj = s3_store.put_file(path, content_type="application/wacz+zip")
    assert obj.key == f"sha256/{sha(path.read_bytes())}"
    assert s3_store.stat(obj.key).content_type == "application/wacz+zip"
    with pytest.raises(StorageError, match="not found"):
        s3_store.put_file(tmp_path / "missing")


def test_multipart_retention_is_repaired_when_bucket_default_is_short(
    make_s3_store, raw_s3
) -> None:
    """RGW ignores the retention sent with a multipart upload, so only the bucket default
    applies; when that is shorter than wanted, the store extends the written version's lock."""
    store = make_s3_store("repair", retention_days=3)
    store.check()
    raw_s3.set_object_lock_config(store.bucket, ObjectLockConfig(COMPLIANCE, 1, DAYS))
    data = os.urandom(LARGE_SIZE)
    obj = store.put_stream(io.BytesIO(data))
    [version] = versions(raw_s3, store.bucket, obj.key)
    retention = raw_retention(raw_s3, store.bucket, obj.key, version.version_id)
    assert retention.mode == COMPLIANCE
    assert retention.retain_until > datetime.now(UTC) + timedelta(days=2, hours=23)


def test_existing_object_with_short_lock_is_locked_before_being_reported_stored(
    make_s3_store, raw_s3
) -> None:
    """Same content already there (an earlier attempt died before locking it fully): the
    idempotent put extends its lock instead of reporting it stored as it is."""
    store = make_s3_store("adopt", retention_days=3)
    store.check()
    raw_s3.set_object_lock_config(store.bucket, ObjectLockConfig(COMPLIANCE, 1, DAYS))
    data = os.urandom(2048)
    key = f"sha256/{sha(data)}"
    raw_s3.put_object(store.bucket, key, io.BytesIO(data), len(data))  # 1-day default lock
    obj = store.put_stream(io.BytesIO(data))
    assert obj.key == key
    version = original(raw_s3, store.bucket, key)
    retention = raw_retention(raw_s3, store.bucket, key, version.version_id)
    assert retention.mode == COMPLIANCE
    assert retention.retain_until > datetime.now(UTC) + timedelta(days=2, hours=23)
    assert obj.retain_until == retention.retain_until
    assert len(versions(raw_s3, store.bucket, key)) == 1


def test_bucket_without_object_lock_is_refused(make_s3_store, raw_s3) -> None:
    store = make_s3_store("nolock")
    raw_s3.make_bucket(store.bucket)  # created by someone else, without Object Lock
    with pytest.raises(StorageError, match="Object Lock"):
        store.put_stream(io.BytesIO(b"must not be stored unlocked"))
    assert list(raw_s3.list_objects(store.bucket)) == []


def test_new_bucket_gets_lock_default_and_no_delete_policy(make_s3_store, raw_s3) -> None:
    store = make_s3_store("fresh", retention_days=2)
    store.check()
    config = raw_s3.get_object_lock_config(store.bucket)
    assert (config.mode, config.duration, config.duration_unit) == (COMPLIANCE, 2, DAYS)
    policy = json.loads(raw_s3.get_bucket_policy(store.bucket))
    [deny] = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert set(deny["Action"]) == {"s3:DeleteObject", "s3:DeleteObjectVersion"}


def test_missing_object(s3_store: S3Store) -> None:
    key = f"sha256/{sha(b'never stored here')}"
    assert not s3_store.exists(key)
    with pytest.raises(ObjectNotFoundError):
        s3_store.stat(key)
    with pytest.raises(ObjectNotFoundError), s3_store.open(key):
        pass
    with pytest.raises(ObjectNotFoundError):
        s3_store.delete(key)
    assert not s3_store.exists("sha256/../../x")


@pytest.mark.parametrize("size", [100, LARGE_SIZE])
def test_object_that_does_not_match_its_key_is_detected(
    s3_store: S3Store, raw_s3, size: int
) -> None:
    """Bytes under a key they do not hash to (a forged or damaged object) fail every read."""
    claimed = os.urandom(64)
    key = f"sha256/{sha(claimed)}"
    wrong = os.urandom(size)
    raw_s3.put_object(s3_store.bucket, key, io.BytesIO(wrong), len(wrong))
    with pytest.raises(CorruptObjectError) as info:
        s3_store.read_bytes(key)
    assert info.value.expected == sha(claimed) and info.value.actual == sha(wrong)
    with pytest.raises(CorruptObjectError), s3_store.open(key) as fh:
        fh.read(size)  # exactly the size, never asking for more: still refused
    with pytest.raises(CorruptObjectError):
        s3_store.copy_to(key, io.BytesIO())
    # And the store will not pretend the real content is stored there.
    with pytest.raises(CorruptObjectError):
        s3_store.put_stream(io.BytesIO(claimed))


def test_verifying_reader_on_a_real_s3_stream(s3_store: S3Store, raw_s3, stored) -> None:
    obj, data = stored["multipart"]
    resp = raw_s3.get_object(s3_store.bucket, obj.key)
    try:
        reader = VerifyingReader(obj.key, resp, expected_sha256="0" * 64, expected_size=len(data))
        with pytest.raises(CorruptObjectError):
            while reader.read(65536):
                pass
    finally:
        resp.close()
        resp.release_conn()


@pytest.mark.parametrize("size", [100, LARGE_SIZE])
def test_source_changing_during_upload_stores_nothing(s3_store: S3Store, raw_s3, size: int) -> None:
    """The key is hashed before the upload; bytes that then differ must never land under it."""
    data = os.urandom(size)
    wrong_digest = sha(b"what the file held when it was hashed" + data[:8])
    with pytest.raises(CorruptObjectError, match="changed while"):
        s3_store._put(io.BytesIO(data), wrong_digest, size, "application/octet-stream")
    assert versions(raw_s3, s3_store.bucket, f"sha256/{wrong_digest}") == []


def test_failing_source_stores_nothing(s3_store: S3Store, raw_s3) -> None:
    class Dies:
        sent = 0

        def read(self, n: int = -1) -> bytes:
            if self.sent > 3 * 1024 * 1024:
                raise ConnectionResetError("source died")
            self.sent += 65536
            return b"z" * 65536

    before = len(list(raw_s3.list_objects(s3_store.bucket, prefix="sha256/", include_version=True)))
    with pytest.raises(ConnectionResetError):
        s3_store.put_stream(Dies())
    after = len(list(raw_s3.list_objects(s3_store.bucket, prefix="sha256/", include_version=True)))
    assert after == before


def test_wrong_secret_key_is_a_clear_error(s3_settings, s3_store: S3Store) -> None:
    bad = S3Store(
        s3_settings.endpoint,
        s3_settings.access_key,
        "not-the-secret-key",
        bucket=s3_store.bucket,
        secure=s3_settings.secure,
    )
    for action in (bad.check, lambda: bad.put_stream(io.BytesIO(b"x"))):
        with pytest.raises(StoreUnavailableError) as info:
            action()
        message = str(info.value)
        assert "SignatureDoesNotMatch" in message and "secret key" in message
        assert "not-the-secret-key" not in message
    with pytest.raises(StoreUnavailableError, match="SignatureDoesNotMatch"):
        bad.stat(f"sha256/{sha(SMALL)}")


def test_server_down_fails_fast() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    store = S3Store(f"127.0.0.1:{port}", "key", "secret", bucket="evidence")
    for action in (store.check, lambda: store.put_stream(io.BytesIO(b"x"))):
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError) as info:
            action()
        assert time.monotonic() - start < 5
        assert f"127.0.0.1:{port}" in str(info.value) and "refused" in str(info.value)
    assert info.value.retryable


def test_hung_server_fails_within_the_read_timeout() -> None:
    """A server that accepts connections but never answers must not stall a worker."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                accepted.append(server.accept()[0])  # ...and never reply

    threading.Thread(target=accept, daemon=True).start()
    try:
        port = server.getsockname()[1]
        store = S3Store(f"127.0.0.1:{port}", "k", "s", bucket="evidence", read_timeout_s=0.5)
        start = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="timed out"):
            store.check()
        assert time.monotonic() - start < 5
    finally:
        stop.set()
        server.close()
        for conn in accepted:
            conn.close()


def test_endpoint_given_as_url(s3_settings, s3_store: S3Store, stored) -> None:
    scheme = "https" if s3_settings.secure else "http"
    store = S3Store(
        f"{scheme}://{s3_settings.endpoint}",
        s3_settings.access_key,
        s3_settings.secret_key,
        bucket=s3_store.bucket,
        retention_days=1,
    )
    obj, data = stored["single"]
    assert store.read_bytes(obj.key) == data


class CuttingProxy:
    """A TCP proxy to the S3 server that breaks the first large response mid-way."""

    def __init__(self, target: str, cut_after: int) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.cut_after = cut_after
        self.cuts = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"127.0.0.1:{self.server.getsockname()[1]}"
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, downstream: bool) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                if downstream and self.cuts == 0 and sent + len(data) > self.cut_after:
                    self.cuts += 1
                    dst.sendall(data[: self.cut_after - sent])
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self._stop.set()
        self.server.close()


def test_broken_download_resumes_and_still_verifies(
    s3_settings, s3_store: S3Store, stored, caplog
) -> None:
    obj, data = stored["multipart"]
    caplog.set_level("WARNING", logger="storage.s3")
    proxy = CuttingProxy(s3_settings.endpoint, cut_after=2 * 1024 * 1024)
    try:
        store = S3Store(
            proxy.endpoint,
            s3_settings.access_key,
            s3_settings.secret_key,
            bucket=s3_store.bucket,
            retention_days=1,
        )
        assert store.read_bytes(obj.key) == data
        assert proxy.cuts == 1  # the connection really broke mid-object...
        assert "resuming" in caplog.text  # ...and the reader picked up where it broke off
    finally:
        proxy.close()


def test_empty_object(s3_store: S3Store) -> None:
    obj = s3_store.put_stream(io.BytesIO(b""))
    assert (obj.sha256, obj.size) == (sha(b""), 0)
    assert obj.retain_until is not None
    assert s3_store.read_bytes(obj.key) == b""
