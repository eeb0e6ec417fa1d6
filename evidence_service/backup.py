"""``evidence backup`` and ``evidence restore``: the whole service in one folder, and back.

A backup is a folder (tar it, copy it, keep it offline)::

    manifest.json          what the backup holds, the schema revision, the SHA-256 of SHA256SUMS
    SHA256SUMS             SHA-256 of every other file (``sha256sum -c SHA256SUMS`` checks it)
    db/<table>.jsonl       every row, read in one snapshot (``storage.dump``: either backend)
    objects/index.jsonl    key, SHA-256, size and media type of every stored object
    objects/<aa>/<sha256>  every object of the store, copied (each read verified on the way)
    pki/...                the PKI folder as stored: private keys stay encrypted
    secrets/...            only with ``--include-secrets``: the generated key passphrase

Why it is consistent while the service runs: the database is read in one snapshot; objects
are written to the store before the rows naming them are committed, and are never changed or
deleted, so listing the store *after* the snapshot finds every object those rows name (and
perhaps a few newer ones, which are harmless). The backup proves it: every key the rows name
must be among the objects copied, or the backup fails. The PKI is copied under its own lock.

Why the passphrase is left out by default: the keys in ``pki/`` are encrypted with it; a
backup holding both is as good as unencrypted keys. Keep the passphrase apart (a safe, a
password manager), and give it to the restore as ``EVIDENCE_KEY_PASSPHRASE``.

Restore checks the whole backup against its manifest before it writes anything, refuses a
target that already holds data unless told to replace it, copies the objects (content-
addressed: re-running is harmless), and loads the database in one transaction; the PKI folder
is moved into place only once that transaction has committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets as token_source
import shutil
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.exc import SQLAlchemyError

from certs.errors import CertsError, WrongPassphraseError
from certs.keys import load_private_key
from certs.locking import exclusive_lock
from evidence_service import __version__
from evidence_service.config import Settings
from evidence_service.services import Services
from storage import dump
from storage.errors import StorageError
from storage.objects import CHUNK_SIZE, digest_of_key

FORMAT = "evidence-service-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
OBJECT_INDEX = "objects/index.jsonl"
_MAX_LISTED = 10
#: Objects put into the store at once by a restore.
_RESTORE_THREADS = 4


class BackupError(Exception):
    """A backup could not be made or restored; the message says what to do."""


class BackupInvalidError(BackupError):
    """The backup folder is incomplete, truncated or altered: nothing was restored from it."""

    def __init__(self, where: Path, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:_MAX_LISTED])
        more = f" (and {len(problems) - _MAX_LISTED} more)" if len(problems) > _MAX_LISTED else ""
        super().__init__(f"backup {where} is not intact, nothing was restored: {shown}{more}")


class RestoreRefusedError(BackupError):
    """The restore target already holds data and replacing it was not asked for."""


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    tables: dict[str, int]
    objects: int
    object_bytes: int
    pki_files: int
    files: int
    total_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "rows": sum(self.tables.values()),
            "tables": self.tables,
            "objects": self.objects,
            "object_bytes": self.object_bytes,
            "pki_files": self.pki_files,
            "files": self.files,
            "bytes": self.total_bytes,
        }


@dataclass(frozen=True)
class RestoreSummary:
    source: Path
    tables: dict[str, int]
    objects: int
    pki_files: int
    replaced: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "rows": sum(self.tables.values()),
            "tables": self.tables,
            "objects": self.objects,
            "pki_files": self.pki_files,
            "replaced": self.replaced,
        }


# -- writing -------------------------------------------------------------------------------------


class _HashingFile:
    """A file being written in the backup, hashed as it is written (unless its SHA-256 is
    already proven by the store's verifying reader: an object is not hashed twice)."""

    def __init__(self, fh: BinaryIO, known_sha256: str | None) -> None:
        self._fh = fh
        self._known = known_sha256
        self._hash = hashlib.sha256() if known_sha256 is None else None
        self.size = 0

    def write(self, data: bytes) -> int:
        if self._hash is not None:
            self._hash.update(data)
        self.size += len(data)
        return self._fh.write(data)

    def hexdigest(self) -> str:
        return self._known if self._hash is None else self._hash.hexdigest()  # type: ignore[return-value]


class _BackupFolder:
    """The folder being filled; each file is hashed on the way into ``SHA256SUMS``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = 0
        self.total_bytes = 0
        self._sums = open(root / SUMS, "wb")  # noqa: SIM115 -- closed by finish()
        self._sums_hash = hashlib.sha256()

    @contextlib.contextmanager
    def file(self, rel: str, *, known_sha256: str | None = None) -> Iterator[_HashingFile]:
        """Write ``rel``; ``known_sha256``: the writer proves the content has this hash."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            out = _HashingFile(fh, known_sha256)
            yield out
        line = f"{out.hexdigest()}  {rel}\n".encode()
        self._sums.write(line)
        self._sums_hash.update(line)
        self.files += 1
        self.total_bytes += out.size

    def copy_file(self, source: Path, rel: str) -> None:
        with open(source, "rb") as src, self.file(rel) as out:
            while chunk := src.read(CHUNK_SIZE):
                out.write(chunk)

    def finish(self) -> str:
        """Close SHA256SUMS and make every file durable before the manifest is written (one
        sync of the filesystem rather than one per file: thousands of small objects)."""
        self._sums.close()
        os.sync()
        return self._sums_hash.hexdigest()


def write_backup(services: Services, dest: Path, *, include_secrets: bool = False) -> BackupSummary:
    """Write a backup of the service ``services`` runs on into the new folder ``dest``.

    The folder appears only when complete (it is filled under a hidden name and renamed);
    a backup that fails leaves nothing behind.
    """
    dest = Path(dest).expanduser().absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} already exists and is not an empty folder: choose a new one")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.parent / f".{dest.name}.partial-{token_source.token_hex(4)}"
    partial.mkdir(mode=0o700)
    try:
        summary = _fill(services, partial, dest, include_secrets)
        if dest.exists():
            dest.rmdir()
        partial.rename(dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return summary


def _fill(services: Services, root: Path, dest: Path, include_secrets: bool) -> BackupSummary:
    settings = services.settings
    url = settings.effective_database_url
    folder = _BackupFolder(root)
    tables: dict[str, int] = {}
    named: dict[str, str] = {}  # digest -> where a row names it
    try:
        with dump.snapshot(url) as snap:
            revision = snap.revision
            dialect = snap.dialect
            for table in dump.schema_tables():
                count = 0
                with folder.file(f"db/{table.name}.jsonl") as out:
                    for line in snap.rows(table):
                        out.write(line)
                        count += 1
                tables[table.name] = count
            for where, key in snap.referenced_keys():
                named.setdefault(digest_of_key(key), f"{where}={key}")
    except (StorageError, SQLAlchemyError) as exc:
        raise BackupError(f"cannot read the database {dump.database_label(url)}: {exc}") from exc

    objects, object_bytes, copied = _copy_objects(services, folder)
    missing = sorted(set(named) - copied)
    if missing:
        listed = ", ".join(named[d] for d in missing[:_MAX_LISTED])
        raise BackupError(
            f"the store lacks {len(missing)} object(s) the database names ({listed}): the "
            "store is damaged; put those objects back from an earlier backup (their names are "
            "their SHA-256, so any intact copy will do), then back up again"
        )
    pki_files = _copy_pki(settings, folder)
    secrets_files = _copy_secrets(settings, folder) if include_secrets else 0
    sums_sha256 = folder.finish()
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "created": datetime.now(UTC).isoformat(),
        "software": f"evidence-service {__version__}",
        "database": {
            "dialect": dialect,
            "revision": revision,
            "rows": sum(tables.values()),
            "tables": tables,
        },
        "store": {"backend": settings.store, "objects": objects, "bytes": object_bytes},
        "pki": {"files": pki_files},
        "secrets": {"included": include_secrets, "files": secrets_files},
        "checksums": {
            "file": SUMS,
            "sha256": sums_sha256,
            "files": folder.files,
            "bytes": folder.total_bytes,
        },
    }
    with open(root / MANIFEST, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(root)
    return BackupSummary(
        dest, tables, objects, object_bytes, pki_files, folder.files, folder.total_bytes
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_objects(services: Services, folder: _BackupFolder) -> tuple[int, int, set[str]]:
    """Stream every object of the store into ``objects/`` (each read verified by the store)."""
    store = services.store
    copied: set[str] = set()
    total = 0
    try:
        with folder.file(OBJECT_INDEX) as index:
            for key in store.iter_keys():
                digest = digest_of_key(key)
                if digest in copied:
                    continue
                obj = store.stat(key)
                # copy_to raises CorruptObjectError unless the bytes hash to the key, so the
                # SHA-256 in SHA256SUMS is proven without hashing them a second time.
                with folder.file(f"objects/{digest[:2]}/{digest}", known_sha256=digest) as out:
                    store.copy_to(key, out)  # type: ignore[arg-type]
                record = {
                    "key": key,
                    "sha256": digest,
                    "size": out.size,
                    "content_type": obj.content_type,
                }
                index.write(json.dumps(record).encode() + b"\n")
                copied.add(digest)
                total += out.size
    except StorageError as exc:
        raise BackupError(f"cannot copy the object store: {exc}") from exc
    return len(copied), total, copied


def _pki_files(pki_dir: Path) -> Iterator[Path]:
    """The PKI's files, without its lock file and the temp files of a write in progress."""
    for path in sorted(pki_dir.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        name = path.name
        if name == ".lock" or (name.startswith(".") and name.endswith(".tmp")):
            continue
        yield path


def _copy_pki(settings: Settings, folder: _BackupFolder) -> int:
    pki_dir = settings.pki_dir
    if not (pki_dir / "root.pem").is_file():
        raise BackupError(
            f"no PKI at {pki_dir} (root.pem is missing): back up the machine that runs the "
            "service, with the same EVIDENCE_DATA_DIR"
        )
    count = 0
    # Under the PKI's own lock: no certificate is issued or rotated half-way through the copy.
    with exclusive_lock(pki_dir / ".lock"):
        for path in _pki_files(pki_dir):
            rel = "pki/" + path.relative_to(pki_dir).as_posix()
            if path.suffix in (".sqlite3", ".db"):
                snapshot = folder.root / f".{path.name}.copy"
                try:
                    dump.copy_sqlite(path, snapshot)
                    folder.copy_file(snapshot, rel)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        snapshot.unlink()
            else:
                folder.copy_file(path, rel)
            count += 1
    return count


def _copy_secrets(settings: Settings, folder: _BackupFolder) -> int:
    count = 0
    for name in ("key-passphrase", "session-secret"):
        path = settings.secrets_dir / name
        if path.is_file():
            folder.copy_file(path, f"secrets/{name}")
            count += 1
    if (
        settings.key_passphrase is not None
        and not (settings.secrets_dir / "key-passphrase").is_file()
    ):
        raise BackupError(
            "--include-secrets: the key passphrase comes from EVIDENCE_KEY_PASSPHRASE, not from "
            f"{settings.secrets_dir}; keep that setting's value safe instead"
        )
    return count


# -- checking ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedBackup:
    """A backup whose every file matched its manifest when it was checked."""

    root: Path
    manifest: dict[str, Any]
    sums: dict[str, str]  # relative path -> SHA-256

    @property
    def revision(self) -> str:
        return str(self.manifest["database"]["revision"])

    @property
    def tables(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.manifest["database"]["tables"].items()}

    def has_secrets(self) -> bool:
        return any(rel.startswith("secrets/") for rel in self.sums)


def check_backup(root: Path) -> CheckedBackup:
    """Check the backup at ``root`` file by file against its manifest, or raise
    :class:`BackupInvalidError` listing every file missing, altered, truncated or unknown."""
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise BackupInvalidError(root, [f"{root} is not a folder"])
    manifest = _read_manifest(root)
    sums_path = root / SUMS
    try:
        sums_bytes = sums_path.read_bytes()
    except FileNotFoundError:
        raise BackupInvalidError(root, [f"{SUMS} is missing"]) from None
    expected_sums = str(manifest["checksums"]["sha256"])
    if hashlib.sha256(sums_bytes).hexdigest() != expected_sums:
        raise BackupInvalidError(
            root, [f"{SUMS} was altered (its SHA-256 is not the one manifest.json records)"]
        )
    sums = _parse_sums(root, sums_bytes)
    problems: list[str] = []
    for rel, digest in sums.items():
        path = root / rel
        try:
            actual, _size = _sha256_path(path)
        except FileNotFoundError:
            problems.append(f"{rel} is missing")
            continue
        except OSError as exc:
            problems.append(f"{rel} cannot be read: {exc.strerror}")
            continue
        if actual != digest:
            problems.append(f"{rel} was altered or truncated (SHA-256 {actual}, expected {digest})")
    for path in sorted(root.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(root).as_posix()
        if rel not in sums and rel not in (MANIFEST, SUMS):
            problems.append(f"{rel} is not in the manifest")
    for table in manifest["database"]["tables"]:
        if f"db/{table}.jsonl" not in sums:
            problems.append(f"db/{table}.jsonl (table {table}) is not in the backup")
    if OBJECT_INDEX not in sums:
        problems.append(f"{OBJECT_INDEX} is not in the backup")
    if problems:
        raise BackupInvalidError(root, problems)
    return CheckedBackup(root, manifest, sums)


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupInvalidError(
            root, [f"{MANIFEST} is missing (the backup did not finish, or this is not one)"]
        ) from None
    except (OSError, ValueError) as exc:
        raise BackupInvalidError(root, [f"{MANIFEST} is unreadable: {exc}"]) from exc
    try:
        if manifest["format"] != FORMAT:
            raise BackupInvalidError(root, [f"{MANIFEST} is not an evidence-service backup's"])
        if manifest["version"] != FORMAT_VERSION:
            raise BackupInvalidError(
                root,
                [
                    f"backup format version {manifest['version']} is not {FORMAT_VERSION}: "
                    "restore it with the software version that made it"
                ],
            )
        for part, item in (
            ("checksums", "sha256"),
            ("database", "tables"),
            ("database", "revision"),
        ):
            if item not in manifest[part]:
                raise KeyError(f"{part}.{item}")
    except (KeyError, TypeError) as exc:
        raise BackupInvalidError(root, [f"{MANIFEST} lacks {exc}"]) from exc
    return dict(manifest)


def _parse_sums(root: Path, data: bytes) -> dict[str, str]:
    sums: dict[str, str] = {}
    for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        digest, sep, rel = raw.partition("  ")
        if not sep or len(digest) != 64 or not rel:
            raise BackupInvalidError(root, [f"{SUMS} line {number} is malformed"])
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or rel in (MANIFEST, SUMS):
            raise BackupInvalidError(root, [f"{SUMS} line {number} names a forbidden path {rel}"])
        sums[rel] = digest
    return sums


def _sha256_path(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


# -- restoring -----------------------------------------------------------------------------------


def restore_backup(settings: Settings, source: Path, *, force: bool = False) -> RestoreSummary:
    """Restore the backup at ``source`` onto the database, store and data folder of
    ``settings``.

    ``force``: replace a database that holds rows (its tables are dropped inside the restore's
    transaction) and a PKI folder that exists (moved aside to ``pki.replaced-<time>``);
    objects already in the store are kept (an object's name is its SHA-256: nothing to
    overwrite).
    """
    backup = check_backup(source)
    passphrase = _passphrase(settings, backup)
    _check_passphrase(backup, passphrase)
    url = settings.effective_database_url
    services = Services(settings)
    try:
        occupied = _occupied(settings, services, url, backup)
        if occupied and not force:
            raise RestoreRefusedError(
                "the restore target is not empty: "
                + "; ".join(occupied)
                + ". Restore onto a fresh database, bucket and data folder, or pass --force "
                "to replace the database and the PKI folder"
            )
        objects = _restore_objects(services, backup)
        staged = _stage(settings, backup)
        try:
            tables = dump.load(url, backup.revision, _table_lines(backup), replace=force)
        except StorageError as exc:
            raise BackupError(
                f"cannot restore the database {dump.database_label(url)}: {exc}"
            ) from exc
        except BaseException:
            for path in staged.values():
                shutil.rmtree(path, ignore_errors=True)
            raise
        replaced = _put_in_place(staged)
    finally:
        services.close()
    pki_files = sum(1 for rel in backup.sums if rel.startswith("pki/"))
    return RestoreSummary(backup.root, tables, objects, pki_files, replaced)


def _passphrase(settings: Settings, backup: CheckedBackup) -> bytes:
    """The passphrase of the backup's keys -- never a newly generated one."""
    if settings.key_passphrase is not None:
        return settings.key_passphrase.get_secret_value().encode()
    for candidate in (
        backup.root / "secrets" / "key-passphrase",
        settings.secrets_dir / "key-passphrase",
    ):
        if candidate.is_file():
            return candidate.read_text().strip().encode()
    raise BackupError(
        "no key passphrase: the backup's private keys are encrypted with the passphrase of "
        "the machine it was made on; set EVIDENCE_KEY_PASSPHRASE to it (or put it in "
        f"{settings.secrets_dir / 'key-passphrase'}, mode 0600) and restore again"
    )


def _check_passphrase(backup: CheckedBackup, passphrase: bytes) -> None:
    root_key = backup.root / "pki" / "root.key.pem"
    if not root_key.is_file():
        return  # the root key is in an HSM: nothing here to open
    try:
        load_private_key(root_key, passphrase)
    except WrongPassphraseError:
        raise BackupError(
            "the key passphrase does not open the backup's keys (pki/root.key.pem): set "
            "EVIDENCE_KEY_PASSPHRASE to the passphrase of the machine the backup was made on"
        ) from None
    except CertsError as exc:
        raise BackupError(f"the backup's root key cannot be read: {exc}") from exc


def _occupied(settings: Settings, services: Services, url: str, backup: CheckedBackup) -> list[str]:
    found: list[str] = []
    try:
        tables = dump.nonempty_tables(url)
    except (StorageError, SQLAlchemyError) as exc:  # the driver's connection errors too
        raise BackupError(
            f"cannot open the database {dump.database_label(url)}: {exc.__class__.__name__}: {exc}"
        ) from exc
    if tables:
        listed = ", ".join(f"{t.name} ({t.rows} rows)" for t in tables[:5])
        found.append(f"database {dump.database_label(url)} holds {listed}")
    try:
        first = next(iter(services.store.iter_keys()), None)
    except StorageError as exc:
        raise BackupError(f"cannot list the object store: {exc}") from exc
    if first is not None:
        found.append(f"the object store already holds objects (e.g. {first})")
    pki_dir = settings.pki_dir
    if pki_dir.exists() and any(pki_dir.iterdir()):
        found.append(f"PKI folder {pki_dir} is not empty")
    if backup.has_secrets():
        for rel in backup.sums:
            if rel.startswith("secrets/"):
                target = settings.data_dir / rel
                if target.exists() and target.read_bytes() != (backup.root / rel).read_bytes():
                    found.append(f"{target} holds another secret")
    return found


def _restore_objects(services: Services, backup: CheckedBackup) -> int:
    """Put every object of the backup into the store, a few at a time (each put hashes,
    syncs and -- on S3 -- waits for the server: the store is safe for concurrent puts, as
    the sealing pipeline's uploads rely on), at most a bounded number in flight."""
    store = services.store

    def put(rel: str, digest: str, content_type: str) -> None:
        stored = store.put_file(backup.root / rel, content_type=content_type)
        if stored.sha256 != digest:
            raise BackupError(f"{rel} changed after it was checked (SHA-256 {stored.sha256})")

    count = 0
    pending: deque[Future[None]] = deque()
    try:
        with (
            open(backup.root / OBJECT_INDEX, "rb") as index,
            ThreadPoolExecutor(_RESTORE_THREADS, thread_name_prefix="restore") as pool,
        ):
            for number, line in enumerate(index, 1):
                try:
                    record = json.loads(line)
                    digest = str(record["sha256"])
                    content_type = str(record.get("content_type") or "application/octet-stream")
                except (ValueError, KeyError, TypeError) as exc:
                    raise BackupError(f"{OBJECT_INDEX} line {number} is unreadable: {exc}") from exc
                rel = f"objects/{digest[:2]}/{digest}"
                if backup.sums.get(rel) != digest:
                    raise BackupError(
                        f"{OBJECT_INDEX} line {number} names {rel}, not in the backup"
                    )
                pending.append(pool.submit(put, rel, digest, content_type))
                if len(pending) >= 2 * _RESTORE_THREADS:
                    pending.popleft().result()
                count += 1
            while pending:
                pending.popleft().result()
    except StorageError as exc:
        raise BackupError(f"cannot restore the objects into the store: {exc}") from exc
    finally:
        for future in pending:
            future.cancel()
    return count


def _table_lines(backup: CheckedBackup) -> Iterator[tuple[Any, Iterable[bytes]]]:
    tables = backup.tables
    for table in dump.schema_tables():
        rel = f"db/{table.name}.jsonl"
        if table.name not in tables:
            raise BackupError(
                f"the backup has no rows file for table {table.name} although its schema "
                "revision has that table"
            )
        yield table, _verified_lines(backup, rel, tables[table.name])


def _verified_lines(backup: CheckedBackup, rel: str, rows: int) -> Iterator[bytes]:
    """The file's lines, hashed again as they are read: a file changed since the check (or a
    row count unlike the manifest's) aborts the database transaction."""
    h = hashlib.sha256()
    count = 0
    with open(backup.root / rel, "rb") as fh:
        for line in fh:
            h.update(line)
            count += 1
            yield line
    if h.hexdigest() != backup.sums[rel]:
        raise BackupError(f"{rel} changed after the backup was checked: nothing was restored")
    if count != rows:
        raise BackupError(f"{rel} has {count} rows, the manifest says {rows}: nothing was restored")


def _stage(settings: Settings, backup: CheckedBackup) -> dict[Path, Path]:
    """Copy the PKI (and any secrets) next to their places, to be renamed in after the commit."""
    staged: dict[Path, Path] = {}
    tag = token_source.token_hex(4)
    try:
        for top, target in (("pki", settings.pki_dir), ("secrets", settings.secrets_dir)):
            rels = [rel for rel in backup.sums if rel.startswith(top + "/")]
            if not rels:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            stage = target.parent / f".{target.name}.restore-{tag}"
            stage.mkdir(mode=0o700)
            staged[target] = stage
            for rel in sorted(rels):
                dest = stage / rel[len(top) + 1 :]
                for parent in reversed(dest.relative_to(stage).parents[:-1]):
                    (stage / parent).mkdir(mode=0o700, exist_ok=True)
                shutil.copyfile(backup.root / rel, dest)
                secret = top == "secrets" or dest.name.endswith(".key.pem")
                os.chmod(dest, 0o600 if secret else 0o644)
    except BaseException:
        for path in staged.values():
            shutil.rmtree(path, ignore_errors=True)
        raise
    return staged


def _put_in_place(staged: dict[Path, Path]) -> list[str]:
    replaced: list[str] = []
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for target, stage in staged.items():
        if target.exists():
            if target.is_dir() and not any(target.iterdir()):
                target.rmdir()
            else:
                aside = target.with_name(f"{target.name}.replaced-{stamp}")
                target.rename(aside)
                replaced.append(str(aside))
        stage.rename(target)
    return replaced
