"""The database schema (SQLAlchemy 2 typed declarative).

Every change here needs an Alembic revision in ``storage/migrations/versions`` (the test suite
fails when models and migrations disagree). Constraint names come from the naming convention
below so migrations can refer to them on both SQLite and PostgreSQL. Times are ``UTCDateTime``:
aware UTC in, aware UTC out, on both databases.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.ext.mutable import MutableDict, MutableList
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import UTCDateTime, json_type, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

USER_ROLES = ("admin", "officer")
CAPTURE_STATUSES = ("queued", "loading", "sealing", "stored", "failed")
CAPTURE_OUTCOMES = ("complete", "partial")
JOB_STATES = ("queued", "running", "done", "failed")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def new_capture_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", USER_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="officer")
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, username={self.username!r}, role={self.role!r})"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    def __repr__(self) -> str:  # never the hash
        return f"ApiToken(id={self.id!r}, user_id={self.user_id!r}, name={self.name!r})"


class Capture(Base):
    __tablename__ = "captures"
    __table_args__ = (
        CheckConstraint(_one_of("status", CAPTURE_STATUSES), name="status"),
        CheckConstraint(
            f"outcome IS NULL OR {_one_of('outcome', CAPTURE_OUTCOMES)}", name="outcome"
        ),
        Index("ix_captures_status_created_at", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_capture_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    requested_url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    outcome: Mapped[str | None] = mapped_column(String(16))
    progress_detail: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    final_url: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    authenticated: Mapped[bool] = mapped_column(Boolean, default=False)
    cookie_names: Mapped[list[str]] = mapped_column(
        MutableList.as_mutable(json_type()), default=list
    )
    cookies_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    options: Mapped[dict[str, Any]] = mapped_column(
        MutableDict.as_mutable(json_type()), default=dict
    )
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    package_key: Mapped[str | None] = mapped_column(String(128))
    package_sha256: Mapped[str | None] = mapped_column(String(64))
    package_size: Mapped[int | None] = mapped_column(BigInteger)
    screenshot_key: Mapped[str | None] = mapped_column(String(128))
    pdf_key: Mapped[str | None] = mapped_column(String(128))
    provenance_key: Mapped[str | None] = mapped_column(String(128))
    provenance_html_key: Mapped[str | None] = mapped_column(String(128))
    trusted_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tsa_name: Mapped[str | None] = mapped_column(Text)
    tsa_serial: Mapped[str | None] = mapped_column(String(128))
    limits_hit: Mapped[list[str]] = mapped_column(MutableList.as_mutable(json_type()), default=list)
    summary: Mapped[dict[str, Any]] = mapped_column(
        MutableDict.as_mutable(json_type()), default=dict
    )
    # -- the evidence seal (manifest, transparency log, certificate, proofs sidecar) --------
    #: SHA-256 hex of files/manifest.json: the transparency log's leaf input.
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    manifest_key: Mapped[str | None] = mapped_column(String(128))
    certificate_key: Mapped[str | None] = mapped_column(String(128))
    #: The newest proofs sidecar (a new immutable object each time it grows).
    proofs_key: Mapped[str | None] = mapped_column(String(128))
    log_leaf_index: Mapped[int | None] = mapped_column(Integer)
    #: Unguessable short code of the public verification page ``/v/<code>``.
    verify_code: Mapped[str | None] = mapped_column(String(32), unique=True, index=True)
    #: When the first certificate the package's newest time-stamp relies on expires: a new
    #: archive time-stamp is due before then (``evidence renew``).
    seal_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    def __repr__(self) -> str:
        return f"Capture(id={self.id!r}, status={self.status!r})"


class Job(Base):
    """A unit of background work; the table *is* the queue (see ``storage.jobs``)."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_one_of("state", JOB_STATES), name="state"),
        # What claim() scans: due jobs by state, oldest first.
        Index("ix_jobs_state_not_before", "state", "not_before"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    capture_id: Mapped[str | None] = mapped_column(ForeignKey("captures.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(
        MutableDict.as_mutable(json_type()), default=dict
    )
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=20)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, kind={self.kind!r}, state={self.state!r})"


class LogLeaf(Base):
    """One entry of the transparency log; rows are only ever added (append-only)."""

    __tablename__ = "log_leaves"

    #: Position in the log, from 0 without gaps (assigned under a lock, see transparency).
    leaf_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: RFC 9162 leaf hash SHA-256(0x00 || input), hex; unique: one entry per manifest.
    leaf_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The leaf input: SHA-256 hex of the logged document (files/manifest.json).
    leaf_input: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32), default="capture-manifest")
    capture_id: Mapped[str | None] = mapped_column(ForeignKey("captures.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"LogLeaf(leaf_index={self.leaf_index!r}, leaf_hash={self.leaf_hash!r})"


class LogNode(Base):
    """Hash of a complete subtree (``2**level`` leaves from ``node_index * 2**level``): a cache
    that never changes, so roots and proofs cost O(log n) instead of O(n)."""

    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    node_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


class LogTreeHead(Base):
    """A published signed tree head (the whole STH object as served)."""

    __tablename__ = "log_tree_heads"

    tree_size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    #: The STH's ``timestamp``.
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    sth: Mapped[dict[str, Any]] = mapped_column(json_type())
