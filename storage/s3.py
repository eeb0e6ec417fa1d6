"""A content-addressed object store on S3 with Object Lock in COMPLIANCE mode.

What makes a stored object immutable here is the server, not this code: the bucket has Object
Lock (hence versioning) with a default COMPLIANCE retention, single-part uploads also carry a
per-object COMPLIANCE retention, and after every write the retention of the written version is
read back and, where missing or short, set. An object whose retention cannot be confirmed is
an error, never reported as stored. Two known traps of Ceph RGW shape this (see
``shared/reference/pitfalls.md``): RGW ignores the retention given with a multipart upload, and
the ``minio`` SDK cannot parse the retain-until date RGW returns, so it is read with our parser.

Keys are ``sha256/<hex>``. Because a versioned bucket lets anyone with write access add a newer
version under a key (or, were it not for the bucket policy set here, a delete marker), reads use
the *oldest* version of a key: the first write wins, exactly like the file store's ``link()``.
Later versions cannot displace locked evidence, and every read re-hashes the bytes anyway.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, NoReturn
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.objectlockconfig import DAYS, YEARS, ObjectLockConfig
from minio.retention import Retention
from urllib3.util import Retry, Timeout

from .errors import (
    CorruptObjectError,
    ImmutableObjectError,
    ObjectNotFoundError,
    RetentionError,
    StorageError,
    StoreUnavailableError,
)
from .objects import (
    CHUNK_SIZE,
    READ_BYTES_LIMIT,
    S3_KEY_PREFIX,
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

_DEFAULT_TYPE = "application/octet-stream"
_NO_DELETE_SID = "EvidenceServiceNoDelete"
_AUTH_CODES = {
    "AccessDenied",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
    "RequestTimeTooSkewed",
}
_NOT_FOUND_CODES = {"NoSuchKey", "NoSuchVersion", "NoSuchObject"}
#: A fresh object's retain-until may fall short of "now + retention days" by this much (clock
#: skew between us and the server, time taken by the upload) before it is extended.
_RETENTION_SLACK = timedelta(days=1)

_DATE_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?", re.ASCII
)


@dataclass(frozen=True)
class ObjectRetention:
    """An object version's retention as the server reports it."""

    mode: str
    retain_until: datetime


def parse_s3_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date as S3 servers write it, with any number of fractional digits.

    RGW writes nanoseconds (``2026-12-01T05:56:35.173000000Z``), which ``datetime`` and the
    ``minio`` SDK reject.
    """
    m = _DATE_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"not an S3 date: {text!r}")
    base, frac, zone = m.groups()
    micro = (frac or "0")[:6].ljust(6, "0")
    tz = "+00:00" if zone in (None, "Z") else zone
    if len(tz) == 5:  # +hhmm
        tz = tz[:3] + ":" + tz[3:]
    return datetime.fromisoformat(f"{base}.{micro}{tz}").astimezone(UTC)


def parse_retention_xml(data: bytes) -> ObjectRetention | None:
    """Parse a GetObjectRetention reply (with or without the S3 XML namespace)."""
    root = ET.fromstring(data)
    fields = {el.tag.rsplit("}", 1)[-1]: (el.text or "").strip() for el in root.iter()}
    mode, until = fields.get("Mode"), fields.get("RetainUntilDate")
    if not mode or not until:
        return None
    return ObjectRetention(mode=mode, retain_until=parse_s3_datetime(until))


def _default_days(config: ObjectLockConfig) -> int | None:
    """A bucket's default retention in days (SDK versions differ in how they expose it)."""
    duration: Any = config.duration
    unit = getattr(config, "duration_unit", None)
    if isinstance(duration, tuple):  # older minio: (value, unit)
        duration, unit = duration
    if duration is None:
        return None
    return int(duration) * (365 if unit == YEARS else 1)


def _locked_until(retention: ObjectRetention, wanted: datetime) -> bool:
    """COMPLIANCE, and until (about) the wanted date or later."""
    return retention.mode == COMPLIANCE and retention.retain_until >= wanted - _RETENTION_SLACK


@dataclass(frozen=True)
class _Version:
    version_id: str | None
    size: int
    last_modified: datetime | None


class _UploadGuard:
    """Reads the source for the SDK and refuses to hand over the last byte if it hashed wrong.

    The key is the hash taken before the upload; if the file changed in between, raising here
    makes the SDK abort the upload (multipart: aborted; single part: never sent), so no locked
    object can ever sit under a key its bytes do not match.
    """

    def __init__(self, fh: BinaryIO, key: str, digest: str, size: int) -> None:
        self._fh = fh
        self._key = key
        self._digest = digest
        self._size = size
        self._hash = hashlib.sha256()
        self._count = 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self._size - self._count
        data = self._fh.read(min(n, self._size - self._count))
        self._hash.update(data)
        self._count += len(data)
        if self._count == self._size and self._hash.hexdigest() != self._digest:
            raise CorruptObjectError(
                self._key,
                self._digest,
                self._hash.hexdigest(),
                "the source changed while it was being uploaded; nothing was stored",
            )
        return data


class S3Store:
    """Write-once object store in an S3 bucket with Object Lock (COMPLIANCE)."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        *,
        bucket: str,
        secure: bool = False,
        region: str | None = None,
        retention_days: int = 3650,
        part_size: int = 8 << 20,
        parallel_uploads: int = 2,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 20.0,
        max_retries: int = 3,
        spool_dir: Path | None = None,
    ) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        if "://" in endpoint:  # accept a URL too: its scheme decides secure
            parts = urlsplit(endpoint)
            secure = parts.scheme == "https"
            endpoint = parts.netloc
        self.endpoint = endpoint
        self.bucket = bucket
        self.secure = secure
        self.retention_days = retention_days
        self.part_size = max(part_size, 5 << 20)
        self.parallel_uploads = max(parallel_uploads, 1)
        self.spool_dir = spool_dir
        self._where = f"{'https' if secure else 'http'}://{endpoint}/{bucket}"
        retries = Retry(
            total=max_retries,
            connect=max_retries,
            read=min(max_retries, 1),  # a hung server must not stall us for minutes
            status=max_retries,
            backoff_factor=0.25,
            backoff_max=4.0,
            status_forcelist=(500, 502, 503, 504),
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        http = urllib3.PoolManager(
            timeout=Timeout(connect=connect_timeout_s, read=read_timeout_s),
            maxsize=max(10, self.parallel_uploads + 2),
            cert_reqs="CERT_REQUIRED",
            # SSL_CERT_FILE as the SDK reads it; otherwise the system's trust store (where an
            # on-premises CA for the S3 server is usually installed).
            ca_certs=os.environ.get("SSL_CERT_FILE") or None,
            retries=retries,
        )
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        self._bucket_lock = threading.Lock()
        self._bucket_ready = False

    # -- writing -----------------------------------------------------------------------------

    def put_file(self, path: Path, *, content_type: str = _DEFAULT_TYPE) -> StoredObject:
        with open_to_store(path, "S3 store") as fh:
            digest, size = hash_stream(fh)
            fh.seek(0)
            return self._put(fh, digest, size, content_type)

    def put_stream(self, stream: BinaryIO, *, content_type: str = _DEFAULT_TYPE) -> StoredObject:
        """Spooled to a private temp file first: the key (the hash) must be known up front."""
        try:
            spool = tempfile.TemporaryFile(prefix="s3-spool-", dir=self.spool_dir)  # noqa: SIM115
        except OSError as exc:
            raise StoreUnavailableError(
                f"S3 store: cannot create a spool file in {self.spool_dir or tempfile.gettempdir()}"
                f": {exc.strerror}"
            ) from exc
        with spool:
            try:
                digest, size = hash_stream(stream, spool)
                spool.flush()
            except OSError as exc:
                if exc.errno is None:
                    raise
                raise StoreUnavailableError(
                    f"S3 store: cannot spool the upload to a temp file: {exc.strerror}"
                ) from exc
            spool.seek(0)
            return self._put(spool, digest, size, content_type)

    def _put(self, fh: BinaryIO, digest: str, size: int, content_type: str) -> StoredObject:
        self._ensure_bucket()
        key = S3_KEY_PREFIX + digest
        existing = self._oldest_version(key)
        if existing is not None:
            return self._adopt_existing(key, digest, existing)
        wanted = datetime.now(UTC) + timedelta(days=self.retention_days)
        guard = _UploadGuard(fh, key, digest, size)
        with self._errors("upload", key):
            result = self._client.put_object(
                self.bucket,
                key,
                guard,  # type: ignore[arg-type]  # only read() is used
                size,
                content_type=content_type,
                part_size=self.part_size,
                num_parallel_uploads=self.parallel_uploads,
                # Applied by the server to single-part uploads only (RGW ignores it on
                # multipart); the bucket default and the check below cover the rest.
                retention=Retention(COMPLIANCE, wanted),
            )
        version_id = result.version_id
        if version_id is None:  # not expected on a versioned bucket: find it by listing
            found = self._oldest_version(key)
            version_id = found.version_id if found else None
        # The multipart completion reply has no ETag (RGW): ask the server what it now holds.
        with self._errors("check the upload of", key):
            st = self._client.stat_object(self.bucket, key, version_id=version_id)
        if st.size != size:
            raise CorruptObjectError(key, digest, "?", f"server holds {st.size} of {size} bytes")
        retention = self._ensure_retention(key, version_id, wanted)
        return StoredObject(key, digest, size, st.content_type or content_type, retention)

    def _adopt_existing(self, key: str, digest: str, version: _Version) -> StoredObject:
        """Same content is already stored: verify it and its lock instead of uploading again."""
        with self._open_version(key, digest, version) as fh:
            while fh.read(CHUNK_SIZE):
                pass
        # Locked for the full period from when it was written? An earlier attempt may have
        # died between writing and locking, or met a bucket default shorter than ours.
        now = datetime.now(UTC)
        wanted = (version.last_modified or now) + timedelta(days=self.retention_days)
        if wanted < now + _RETENTION_SLACK:  # its lock has run out: lock it afresh
            wanted = now + timedelta(days=self.retention_days)
        until = self._ensure_retention(key, version.version_id, wanted)
        obj = self._stat_version(key, digest, version)
        return StoredObject(obj.key, obj.sha256, obj.size, obj.content_type, until)

    def _ensure_retention(self, key: str, version_id: str | None, wanted: datetime) -> datetime:
        """Confirm (and if needed set) a COMPLIANCE lock on the written version."""
        current = self._get_retention(key, version_id)
        if current is not None and _locked_until(current, wanted):
            return current.retain_until
        try:
            with self._errors("lock", key):
                self._client.set_object_retention(
                    self.bucket, key, Retention(COMPLIANCE, wanted), version_id=version_id
                )
        except StorageError as exc:
            raise RetentionError(
                f"S3 store: object {key!r} (version {version_id}) was written but its "
                f"COMPLIANCE retention could not be set: {exc}"
            ) from exc
        current = self._get_retention(key, version_id)
        if current is None or not _locked_until(current, wanted):
            raise RetentionError(
                f"S3 store: object {key!r} (version {version_id}) was written but the server "
                f"reports retention {current} instead of COMPLIANCE until {wanted:%Y-%m-%d}; "
                "it is not stored as evidence"
            )
        return current.retain_until

    # -- reading -----------------------------------------------------------------------------

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        digest = digest_of_key(key)
        skey = S3_KEY_PREFIX + digest
        version = self._oldest_version(skey)
        if version is None:
            raise ObjectNotFoundError(key)
        with self._open_version(skey, digest, version) as fh:
            yield fh

    @contextmanager
    def _open_version(self, key: str, digest: str, version: _Version) -> Iterator[BinaryIO]:
        body = _ResumableBody(self, key, version)
        reader = VerifyingReader(
            key, body, expected_sha256=digest, expected_size=version.size, on_close=body.close
        )
        with buffered(reader) as fh:
            yield fh

    def read_bytes(self, key: str, *, limit: int = READ_BYTES_LIMIT) -> bytes:
        return read_all_verified(self, key, limit)

    def copy_to(self, key: str, dest: BinaryIO) -> StoredObject:
        return copy_verified(self, key, dest)

    def stat(self, key: str) -> StoredObject:
        digest = digest_of_key(key)
        skey = S3_KEY_PREFIX + digest
        version = self._oldest_version(skey)
        if version is None:
            raise ObjectNotFoundError(key)
        return self._stat_version(skey, digest, version)

    def _stat_version(self, key: str, digest: str, version: _Version) -> StoredObject:
        with self._errors("stat", key):
            st = self._client.stat_object(self.bucket, key, version_id=version.version_id)
        until_header = (
            st.metadata.get("x-amz-object-lock-retain-until-date") if st.metadata else None
        )
        until = parse_s3_datetime(str(until_header)) if until_header else None
        return StoredObject(key, digest, int(st.size or 0), st.content_type or _DEFAULT_TYPE, until)

    def exists(self, key: str) -> bool:
        try:
            digest = digest_of_key(key)
        except ObjectNotFoundError:
            return False
        return self._oldest_version(S3_KEY_PREFIX + digest) is not None

    def delete(self, key: str) -> None:
        """Refused, always: this code never sends a DELETE (the server would refuse it too)."""
        self.stat(key)
        raise ImmutableObjectError(key, f"it is under COMPLIANCE retention in {self._where}")

    def retention(self, key: str) -> ObjectRetention | None:
        """The retention of the stored version, as the server reports it (None: no lock)."""
        skey = S3_KEY_PREFIX + digest_of_key(key)
        version = self._oldest_version(skey)
        if version is None:
            raise ObjectNotFoundError(key)
        return self._get_retention(skey, version.version_id)

    def check(self) -> None:
        """One signed request that proves the server, the credentials and the bucket's lock."""
        self._ensure_bucket()
        config = self._lock_config()
        if config is None:
            raise StoreUnavailableError(
                f"S3 store: bucket {self._where} has no Object Lock: objects there could be "
                "deleted; use a bucket created with Object Lock"
            )

    # -- bucket setup ------------------------------------------------------------------------

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._bucket_lock:
            if self._bucket_ready:
                return
            with self._errors("set up", None):
                if not self._client.bucket_exists(self.bucket):
                    try:
                        self._client.make_bucket(self.bucket, object_lock=True)
                        log.info("created bucket %s with Object Lock", self._where)
                    except S3Error as exc:
                        if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                            raise
            self._ensure_default_retention()
            self._ensure_no_delete_policy()
            self._bucket_ready = True

    def _lock_config(self) -> ObjectLockConfig | None:
        try:
            with self._errors("read the Object Lock configuration of", None):
                return self._client.get_object_lock_config(self.bucket)
        except StorageError as exc:
            cause = exc.__cause__
            if isinstance(cause, S3Error) and cause.code in (
                "ObjectLockConfigurationNotFoundError",
                "ObjectLockConfigurationNotFound",
                "InvalidRequest",
            ):
                return None
            raise

    def _ensure_default_retention(self) -> None:
        config = self._lock_config()
        if config is None:
            raise StorageError(
                f"S3 store: bucket {self._where} exists without Object Lock, so stored objects "
                "could be deleted; configure a new bucket name (Object Lock can only be enabled "
                "when a bucket is created)"
            )
        if config.mode == COMPLIANCE and _default_days(config) == self.retention_days:
            return
        try:
            with self._errors("set the default retention of", None):
                self._client.set_object_lock_config(
                    self.bucket, ObjectLockConfig(COMPLIANCE, self.retention_days, DAYS)
                )
        except StoreUnavailableError as exc:
            if not isinstance(exc.__cause__, S3Error):
                raise
            # Not ours to change (least-privilege credentials): every write is checked anyway.
            log.warning("cannot set the default COMPLIANCE retention of %s: %s", self._where, exc)

    def _ensure_no_delete_policy(self) -> None:
        """A bucket policy denying deletes: stops even a *delete marker* from hiding evidence."""
        try:
            with self._errors("read the policy of", None):
                try:
                    policy: dict[str, Any] = json.loads(self._client.get_bucket_policy(self.bucket))
                except S3Error as exc:
                    if exc.code != "NoSuchBucketPolicy":
                        raise
                    policy = {"Version": "2012-10-17", "Statement": []}
            statements = policy.setdefault("Statement", [])
            if any(s.get("Sid") == _NO_DELETE_SID for s in statements):
                return
            statements.append(
                {
                    "Sid": _NO_DELETE_SID,
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
                    "Resource": [f"arn:aws:s3:::{self.bucket}/*"],
                }
            )
            with self._errors("set the policy of", None):
                self._client.set_bucket_policy(self.bucket, json.dumps(policy))
        except StoreUnavailableError as exc:
            if not isinstance(exc.__cause__, S3Error):
                raise
            log.warning("cannot set the no-delete policy on %s: %s", self._where, exc)

    def iter_keys(self) -> Iterator[str]:
        """Every object key under ``sha256/`` in the bucket, in the server's (sorted) order."""
        with self._errors("list", None):
            if not self._client.bucket_exists(self.bucket):
                return
            for obj in self._client.list_objects(self.bucket, prefix=S3_KEY_PREFIX, recursive=True):
                name = obj.object_name or ""
                if not obj.is_dir and is_digest(name[len(S3_KEY_PREFIX) :]):
                    yield name

    # -- internals ---------------------------------------------------------------------------

    def _oldest_version(self, key: str) -> _Version | None:
        """The first version written under the key that is not a delete marker."""
        with self._errors("list versions of", key):
            found = [
                o
                for o in self._client.list_objects(self.bucket, prefix=key, include_version=True)
                if o.object_name == key and not o.is_delete_marker
            ]
        if not found:
            return None
        # S3 lists the newest first; reversed + stable sort keeps that order for equal times.
        found.reverse()
        epoch = datetime.min.replace(tzinfo=UTC)
        found.sort(key=lambda o: o.last_modified or epoch)
        first = found[0]
        return _Version(
            version_id=first.version_id,
            size=int(first.size or 0),
            last_modified=first.last_modified,
        )

    def _get_retention(self, key: str, version_id: str | None) -> ObjectRetention | None:
        """GetObjectRetention, parsed here (the SDK's parser rejects RGW's dates)."""
        query: dict[str, str | list[str] | tuple[str]] = {"retention": ""}
        if version_id:
            query["versionId"] = version_id
        try:
            with self._errors("read the retention of", key):
                resp = self._client._execute("GET", self.bucket, key, query_params=query)
        except StorageError as exc:
            cause = exc.__cause__
            if isinstance(cause, S3Error) and cause.code in (
                "NoSuchObjectLockConfiguration",
                "ObjectLockConfigurationNotFoundError",
            ):
                return None
            raise
        try:
            return parse_retention_xml(resp.data)
        except (ET.ParseError, ValueError) as exc:
            raise StorageError(
                f"S3 store: unreadable retention reply for {key!r} from {self._where}: {exc}"
            ) from exc

    def _get_body(self, key: str, version: _Version, offset: int) -> Any:
        with self._errors("read", key):
            return self._client.get_object(
                self.bucket, key, offset=offset, version_id=version.version_id
            )

    @contextmanager
    def _errors(self, action: str, key: str | None) -> Iterator[None]:
        """Translate SDK and network errors into storage errors that say what to do."""
        try:
            yield
        except StorageError:
            raise
        except S3Error as exc:
            self._raise_s3(exc, action, key)
        except ServerError as exc:
            raise StoreUnavailableError(
                f"S3 store: server error while trying to {action} {key or 'the bucket'} at "
                f"{self._where}: HTTP {exc.status_code}"
            ) from exc
        except InvalidResponseError as exc:
            raise StoreUnavailableError(
                f"S3 store: {self._where} did not answer like an S3 server while trying to "
                f"{action} {key or 'the bucket'}: {str(exc)[:200]}"
            ) from exc
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise StoreUnavailableError(
                f"S3 store: cannot reach {self._where} to {action} {key or 'the bucket'}: {reason}"
            ) from exc
        except (MinioException, OSError, ValueError) as exc:
            raise StorageError(
                f"S3 store: failed to {action} {key or 'the bucket'} at {self._where}: {exc}"
            ) from exc

    def _raise_s3(self, exc: S3Error, action: str, key: str | None) -> NoReturn:
        code = exc.code or ""
        what = key or f"bucket {self.bucket}"
        detail = f"{code}: {exc.message}" if exc.message else code
        if code in _NOT_FOUND_CODES and key is not None:
            raise ObjectNotFoundError(key, f"{detail} in {self._where}") from exc
        if code in _AUTH_CODES:
            raise StoreUnavailableError(
                f"S3 store: {self._where} refused to {action} {what} ({detail}): check the "
                "access key, the secret key and the permissions on the bucket"
            ) from exc
        status = getattr(exc.response, "status", 0) or 0
        if code == "NoSuchBucket" or status >= 500 or status in (408, 429):
            raise StoreUnavailableError(
                f"S3 store: cannot {action} {what} at {self._where} ({detail})"
            ) from exc
        raise StorageError(f"S3 store: cannot {action} {what} at {self._where} ({detail})") from exc


class _ResumableBody:
    """An object version's bytes; a connection that breaks mid-way resumes at the same byte.

    Resuming is safe because the version id is fixed: the bytes after the break are those of
    the same immutable version, and the verifying reader still hashes all of them.
    """

    def __init__(self, store: S3Store, key: str, version: _Version, max_resumes: int = 3) -> None:
        self._store = store
        self._key = key
        self._version = version
        self._max_resumes = max_resumes
        self._resp: Any = None
        self._offset = 0

    def read(self, n: int) -> bytes:
        if self._offset >= self._version.size:
            return b""  # a range past the end would be refused (416); nothing is left anyway
        for attempt in range(self._max_resumes + 1):
            try:
                if self._resp is None:
                    self._resp = self._store._get_body(self._key, self._version, self._offset)
                data: bytes = self._resp.read(n, decode_content=False)
                self._offset += len(data)
                return data
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                self.close()
                if attempt == self._max_resumes:
                    raise StoreUnavailableError(
                        f"S3 store: reading {self._key!r} from {self._store._where} broke off "
                        f"at byte {self._offset} and could not be resumed: {exc}"
                    ) from exc
                log.warning("read of %s broke off at %d, resuming", self._key, self._offset)
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    def close(self) -> None:
        resp, self._resp = self._resp, None
        if resp is not None:
            with contextlib.suppress(Exception):
                resp.close()
                resp.release_conn()
