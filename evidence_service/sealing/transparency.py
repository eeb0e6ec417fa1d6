"""The service's transparency log: an append-only Merkle tree of capture manifests in the
database, with signed, RFC 3161 time-stamped tree heads (STH) and proofs (RFC 9162 hashing).

Why a log next to the time-stamps: a time-stamp proves *when* a manifest existed; the log
proves that the service cannot quietly drop, replace or back-date an entry afterwards. Every
STH commits to all entries before it, and any two STHs are linked by a consistency proof, so
rewriting history shows as a failed proof to anyone holding an older STH (a court, the
merchant's lawyer, an auditor who saved one).

Storage (``storage.models``): ``log_leaves`` (one row per entry, unique leaf hash and capture,
indexes 0..n-1 without gaps), ``log_nodes`` (hashes of complete subtrees of at least
``2**CACHE_LEVEL`` leaves, so roots and proofs cost O(log n)), ``log_tree_heads`` (published
STHs). The math is in ``signing.translog`` and has no database in it.

Appends are serialized (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level advisory
lock), which is what keeps indexes gap-free. Before signing a new STH the log checks it is
consistent with the previous one; if a stored entry was changed, publication stops with
:class:`LogIntegrityError` instead of signing a forged history.

The log key (ECDSA P-256) is issued by the PKI's issuing CA and kept encrypted beside the PKI
(``<pki>/translog.pem``, ``translog.key.pem``: ``certs.Pki.log_credential``). Its key never
changes (``log_id`` is its hash); its certificate is re-issued for the same key before it
expires. Publishing a tree head writes no proofs sidecars: ``renewal.publish_tree_head`` does
both, so that this module needs nothing of the renewal that builds on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from certs.pki import Credential
from evidence_service.services import Services
from signing.translog import (
    MerkleTree,
    leaf_hash,
    log_id_of,
    merkle_root,
    sign_tree_head,
    verify_consistency,
    verify_inclusion,
)
from storage.models import LogLeaf, LogNode, LogTreeHead

log = logging.getLogger(__name__)

__all__ = [
    "CACHE_LEVEL",
    "STH_INTERVAL",
    "LogEntry",
    "LogIntegrityError",
    "NotIncludedError",
    "TransparencyError",
    "TransparencyLog",
    "UnknownEntryError",
]

CACHE_LEVEL = 8
#: The worker publishes a new STH when the tree grew and the last one is older than this.
STH_INTERVAL = timedelta(minutes=10)
_PG_APPEND_LOCK = 0x45564C47  # "EVLG"


class TransparencyError(Exception):
    """The log cannot do what was asked."""


class UnknownEntryError(TransparencyError):
    """No such leaf, tree head or index."""


class NotIncludedError(TransparencyError):
    """The entry exists but no published tree head covers it yet."""


class LogIntegrityError(TransparencyError):
    """The stored log disagrees with a tree head it signed: an entry was changed or removed.
    Nothing is signed until an operator has investigated (restore the database)."""


@dataclass(frozen=True)
class LogEntry:
    leaf_index: int
    #: Hex SHA-256 of the logged document (the leaf input).
    leaf_input: str
    #: Hex RFC 9162 leaf hash.
    leaf_hash: str
    capture_id: str | None
    created_at: datetime

    def entry_json(self, log_id: str, log_url: str) -> dict[str, Any]:
        """``files/log-entry.json`` (see docs/evidence-package.md)."""
        return {
            "log_id": log_id,
            "leaf_index": self.leaf_index,
            "leaf_input": f"sha256:{self.leaf_input}",
            "leaf_hash": self.leaf_hash,
            "log_url": log_url,
        }


def _entry(row: LogLeaf) -> LogEntry:
    return LogEntry(row.leaf_index, row.leaf_input, row.leaf_hash, row.capture_id, row.created_at)


# -- the tree over the database ---------------------------------------------------------------


class _DbLeaves:
    def __init__(self, session: Session) -> None:
        self.session = session

    def leaf_hashes(self, start: int, end: int) -> Sequence[bytes]:
        rows = self.session.execute(
            select(LogLeaf.leaf_index, LogLeaf.leaf_hash)
            .where(LogLeaf.leaf_index >= start, LogLeaf.leaf_index < end)
            .order_by(LogLeaf.leaf_index)
        ).all()
        if len(rows) != end - start or (rows and rows[0][0] != start):
            raise LogIntegrityError(
                f"log entries {start}..{end - 1} are incomplete in the database "
                f"({len(rows)} of {end - start} found): entries were deleted"
            )
        return [bytes.fromhex(h) for _i, h in rows]


class _DbNodes:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        found: dict[tuple[int, int], bytes] = {}
        by_level: dict[int, list[int]] = {}
        for level, index in keys:
            by_level.setdefault(level, []).append(index)
        for level, indexes in by_level.items():
            wanted = set(indexes)
            rows = self.session.execute(
                select(LogNode.node_index, LogNode.hash).where(
                    LogNode.level == level,
                    LogNode.node_index >= min(indexes),
                    LogNode.node_index <= max(indexes),
                )
            ).all()
            for index, h in rows:
                if index in wanted:
                    found[(level, index)] = bytes.fromhex(h)
        return found

    def put_nodes(self, nodes: Mapping[tuple[int, int], bytes]) -> None:
        if not nodes:
            return
        values = [{"level": lv, "node_index": i, "hash": h.hex()} for (lv, i), h in nodes.items()]
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            self.session.execute(pg_insert(LogNode).values(values).on_conflict_do_nothing())
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            for chunk in range(0, len(values), 200):
                self.session.execute(
                    sqlite_insert(LogNode)
                    .values(values[chunk : chunk + 200])
                    .on_conflict_do_nothing()
                )
        else:
            for value in values:
                if self.session.get(LogNode, (value["level"], value["node_index"])) is None:
                    self.session.add(LogNode(**value))


def _tree(session: Session) -> MerkleTree:
    return MerkleTree(_DbLeaves(session), cache=_DbNodes(session), cache_level=CACHE_LEVEL)


# -- the log ------------------------------------------------------------------------------------


class TransparencyLog:
    """The database-backed log of one service instance (cheap to create)."""

    def __init__(self, services: Services, *, clock: Callable[[], datetime] | None = None):
        self.services = services
        self._clock = clock or (lambda: datetime.now(UTC))

    # -- identity -----------------------------------------------------------------------------

    def credential(self) -> Credential:
        return self.services.pki.log_credential(self._clock())

    @property
    def log_id(self) -> str:
        return log_id_of(self.credential().cert)

    @property
    def log_url(self) -> str:
        return f"{self.services.settings.effective_public_url}/api/log"

    def info(self) -> dict[str, Any]:
        """What ``GET /api/log`` says: identity, key, size, newest STH size."""
        credential = self.credential()
        with self.services.sessions() as session:
            size = self._size(session)
            latest = session.scalar(select(func.max(LogTreeHead.tree_size)))
        return {
            "log_id": log_id_of(credential.cert),
            "log_url": self.log_url,
            "hash_algorithm": "sha256",
            "signature_algorithm": "ecdsa-p256-sha256",
            "tree_size": size,
            "latest_sth_size": latest,
            "signer_chain": credential.chain_pem().decode("ascii"),
            "public_key": credential.cert.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii"),
        }

    # -- appending ------------------------------------------------------------------------------

    @contextmanager
    def _append_lock(self, session: Session) -> Iterator[None]:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_APPEND_LOCK})
        # SQLite: the session's BEGIN IMMEDIATE already holds the database write lock.
        yield

    def append(
        self, leaf_input: bytes, *, capture_id: str | None = None, kind: str = "capture-manifest"
    ) -> LogEntry:
        """Add ``leaf_input`` (a 32-byte SHA-256) to the log, or return its existing entry.

        Idempotent: the same input (or the same capture) is never logged twice, so a seal that
        is retried after a crash finds its entry again.
        """
        if len(leaf_input) != 32:
            raise TransparencyError("a log entry's input must be a 32-byte SHA-256 digest")
        lh = leaf_hash(leaf_input).hex()
        for _attempt in range(5):
            try:
                with self.services.session() as session:
                    existing = self._existing(session, lh, capture_id)
                    if existing is not None:
                        return existing
                    with self._append_lock(session):
                        index = self._size(session)
                        row = LogLeaf(
                            leaf_index=index,
                            leaf_hash=lh,
                            leaf_input=leaf_input.hex(),
                            kind=kind,
                            capture_id=capture_id,
                            created_at=self._clock(),
                        )
                        session.add(row)
                        session.flush()
                        return _entry(row)
            except IntegrityError:
                # Another writer took this index (or logged the same leaf) first: look again.
                continue
        raise TransparencyError("could not append to the log: too many concurrent writers")

    def _existing(self, session: Session, lh: str, capture_id: str | None) -> LogEntry | None:
        row = session.scalar(select(LogLeaf).where(LogLeaf.leaf_hash == lh))
        if row is not None:
            if capture_id is not None and row.capture_id not in (None, capture_id):
                raise TransparencyError(
                    f"this manifest is already logged for capture {row.capture_id}"
                )
            return _entry(row)
        if capture_id is not None:
            other = session.scalar(select(LogLeaf).where(LogLeaf.capture_id == capture_id))
            if other is not None:
                raise TransparencyError(
                    f"capture {capture_id} is already logged (entry {other.leaf_index}) with "
                    "another manifest; its seal cannot be redone with different files"
                )
        return None

    @staticmethod
    def _size(session: Session) -> int:
        top = session.scalar(select(func.max(LogLeaf.leaf_index)))
        return 0 if top is None else int(top) + 1

    def size(self) -> int:
        with self.services.sessions() as session:
            return self._size(session)

    # -- reading ------------------------------------------------------------------------------

    def entry(self, index: int) -> LogEntry:
        with self.services.sessions() as session:
            row = session.get(LogLeaf, index)
            if row is None:
                raise UnknownEntryError(f"the log has no entry {index}")
            return _entry(row)

    def entry_by_hash(self, leaf_hash_hex: str) -> LogEntry:
        with self.services.sessions() as session:
            row = session.scalar(select(LogLeaf).where(LogLeaf.leaf_hash == leaf_hash_hex.lower()))
            if row is None:
                raise UnknownEntryError(f"no log entry has the leaf hash {leaf_hash_hex}")
            return _entry(row)

    def entry_for_capture(self, capture_id: str) -> LogEntry | None:
        with self.services.sessions() as session:
            row = session.scalar(select(LogLeaf).where(LogLeaf.capture_id == capture_id))
            return _entry(row) if row is not None else None

    def latest_sth(self) -> dict[str, Any] | None:
        with self.services.sessions() as session:
            row = session.scalar(
                select(LogTreeHead).order_by(LogTreeHead.tree_size.desc()).limit(1)
            )
            return dict(row.sth) if row is not None else None

    def sth(self, tree_size: int) -> dict[str, Any]:
        with self.services.sessions() as session:
            row = session.get(LogTreeHead, tree_size)
            if row is None:
                raise UnknownEntryError(f"no tree head was published for tree size {tree_size}")
            return dict(row.sth)

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, *, force: bool = False) -> dict[str, Any]:
        """Sign and store a tree head for the current size, unless the newest STH already
        has it (then that one is returned; ``force`` signs a fresh one only for a grown tree).

        Checks the new tree against the previous STH first (consistency proof): a log whose
        stored entries were changed refuses to sign (:class:`LogIntegrityError`). The proofs
        sidecars of the captures it covers are written by ``renewal.publish_tree_head``.
        """
        with self.services.sessions() as session:
            size = self._size(session)
            latest = session.scalar(
                select(LogTreeHead).order_by(LogTreeHead.tree_size.desc()).limit(1)
            )
            if latest is not None and latest.tree_size > size:
                raise LogIntegrityError(
                    f"the log has {size} entries but a tree head of {latest.tree_size} was "
                    "published: entries were deleted"
                )
            if latest is not None and latest.tree_size == size:
                return dict(latest.sth)
            if size == 0 and not force:
                raise TransparencyError("the log is empty; nothing to publish yet")
            tree = _tree(session)
            root = tree.root(size)
            if latest is not None and latest.tree_size > 0:
                old_root = bytes.fromhex(latest.root_hash)
                path = tree.consistency_path(latest.tree_size, size)
                if not verify_consistency(latest.tree_size, size, old_root, root, path):
                    raise LogIntegrityError(
                        f"the log's entries no longer match the tree head of size "
                        f"{latest.tree_size} it signed: an earlier entry was changed; nothing "
                        "was published (restore the database and run `evidence log audit`)"
                    )
            session.commit()  # the subtree cache filled on the way
        sth = sign_tree_head(
            self.credential(),
            size,
            root,
            timestamper=self.services.timestampers[0],
            now=self._clock(),
        )
        try:
            with self.services.session() as session:
                session.add(
                    LogTreeHead(
                        tree_size=size,
                        root_hash=root.hex(),
                        published_at=datetime.fromisoformat(
                            sth["timestamp"].replace("Z", "+00:00")
                        ),
                        sth=sth,
                    )
                )
        except IntegrityError:  # published concurrently by another process
            return self.sth(size)
        log.info("published tree head of size %s", size)
        return sth

    def publish_if_due(self, *, interval: timedelta = STH_INTERVAL) -> dict[str, Any] | None:
        """Publish when the tree grew and the newest STH is older than ``interval``."""
        with self.services.sessions() as session:
            size = self._size(session)
            latest = session.scalar(
                select(LogTreeHead).order_by(LogTreeHead.tree_size.desc()).limit(1)
            )
        if size == 0 or (latest is not None and latest.tree_size >= size):
            return None
        if latest is not None and self._clock() - latest.published_at < interval:
            return None
        return self.publish()

    # -- proofs -------------------------------------------------------------------------------

    def inclusion_proof(self, leaf_hash_hex: str, tree_size: int | None = None) -> dict[str, Any]:
        """The contract's inclusion proof of a leaf against a published STH (the newest by
        default)."""
        return self.inclusion_proofs([leaf_hash_hex], tree_size)[0]

    def inclusion_proofs(
        self, leaf_hashes_hex: Sequence[str], tree_size: int | None = None
    ) -> list[dict[str, Any]]:
        """:meth:`inclusion_proof` of each leaf, in order, against one tree head: the entries
        and the tree read in one transaction, as a case file's export needs for every event
        (one look-up per leaf was most of its fixed cost)."""
        wanted = [h.lower() for h in leaf_hashes_hex]
        sth = self.sth(tree_size) if tree_size is not None else self.latest_sth()
        proofs: list[dict[str, Any]] = []
        with self.services.session() as session:
            rows = {
                row.leaf_hash: row
                for row in session.scalars(select(LogLeaf).where(LogLeaf.leaf_hash.in_(wanted)))
            }
            tree = _tree(session)
            for lh in wanted:
                row = rows.get(lh)
                if row is None:
                    raise UnknownEntryError(f"no log entry has the leaf hash {lh}")
                if sth is None or row.leaf_index >= int(sth["tree_size"]):
                    raise NotIncludedError(
                        f"log entry {row.leaf_index} is not covered by "
                        + (
                            f"the tree head of size {tree_size}"
                            if tree_size
                            else "a published tree head"
                        )
                        + " yet (tree heads are published every few minutes)"
                    )
                size = int(sth["tree_size"])
                path = tree.inclusion_path(row.leaf_index, size)
                if not verify_inclusion(
                    row.leaf_index, size, bytes.fromhex(lh), path, bytes.fromhex(sth["root_hash"])
                ):
                    raise LogIntegrityError(
                        f"the stored log cannot prove entry {row.leaf_index} against the tree "
                        f"head of size {size} it signed: the database was changed"
                    )
                proofs.append(
                    {
                        "leaf_index": row.leaf_index,
                        "tree_size": size,
                        "leaf_hash": lh,
                        "audit_path": [p.hex() for p in path],
                        "sth": sth,
                    }
                )
        return proofs

    def consistency_proof(self, first: int, second: int) -> dict[str, Any]:
        if not 0 < first <= second:
            raise TransparencyError(
                f"a consistency proof needs 0 < first <= second (got {first}, {second})"
            )
        sth1, sth2 = self.sth(first), self.sth(second)
        with self.services.session() as session:
            path = _tree(session).consistency_path(first, second)
        return {
            "first": first,
            "second": second,
            "path": [p.hex() for p in path],
            "sth1": sth1,
            "sth2": sth2,
        }

    # -- auditing -------------------------------------------------------------------------------

    def audit(self) -> list[str]:
        """Recompute every published root and every cached subtree from the raw entries
        (no cache); the problems found, empty when the stored log is what was signed."""
        problems: list[str] = []
        with self.services.sessions() as session:
            size = self._size(session)
            count = session.scalar(select(func.count()).select_from(LogLeaf)) or 0
            if count != size:
                problems.append(f"{size - count} log entries are missing (gaps in the indexes)")
            rows = session.execute(
                select(LogLeaf.leaf_index, LogLeaf.leaf_hash, LogLeaf.leaf_input).order_by(
                    LogLeaf.leaf_index
                )
            ).all()
            leaves = []
            for index, lh, li in rows:
                h = bytes.fromhex(lh)
                if leaf_hash(bytes.fromhex(li)) != h:
                    problems.append(f"entry {index}: its leaf hash is not the hash of its input")
                leaves.append(h)
            heads = session.execute(
                select(LogTreeHead.tree_size, LogTreeHead.root_hash).order_by(LogTreeHead.tree_size)
            ).all()
            for tree_size, root in heads:
                if tree_size > len(leaves) or merkle_root(leaves[:tree_size]).hex() != root:
                    problems.append(
                        f"the entries do not produce the signed root of tree head {tree_size}"
                    )
            for level, node_index, node_hex in session.execute(
                select(LogNode.level, LogNode.node_index, LogNode.hash)
            ).all():
                width = 1 << level
                block = leaves[node_index * width : (node_index + 1) * width]
                if len(block) != width or merkle_root(block).hex() != node_hex:
                    problems.append(f"cached subtree ({level}, {node_index}) is wrong")
        return problems

    def proofs_for_capture(self, capture_id: str) -> dict[str, Any] | None:
        """The newest inclusion proof of a capture's manifest, or None if not yet covered."""
        entry = self.entry_for_capture(capture_id)
        if entry is None:
            return None
        try:
            return self.inclusion_proof(entry.leaf_hash)
        except NotIncludedError:
            return None
