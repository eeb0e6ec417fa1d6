"""The database schema (SQLAlchemy 2 typed declarative).

Every change here needs an Alembic revision in ``storage/migrations/versions`` (the test suite
fails when models and migrations disagree). Constraint names come from the naming convention
below so migrations can refer to them on both SQLite and PostgreSQL. Times are ``UTCDateTime``:
aware UTC in, aware UTC out, on both databases.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
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
    #: The enforcement unit the officer works for: officers see only their unit's merchants
    #: and documents (admins see all). None only for accounts made before units existed.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    #: The officer's enforcement credential number (执法证号): the ``serialNumber`` of the
    #: officer's signing certificate, which a court reads to tell two officers of the same
    #: name apart. None: the officer cannot sign documents with a certificate of their own.
    badge_number: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    #: Serial (hex) of the officer's signing certificate, issued on the first signature.
    signing_cert_serial: Mapped[str | None] = mapped_column(String(64))
    #: Where notices for the officer go (a watch's condition met on one of their cases);
    #: None: in-app only.
    email: Mapped[str | None] = mapped_column(String(320))

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
        # One capture per user and idempotency key: a retried request finds the first one.
        Index(
            "ix_captures_created_by_id_idempotency_key",
            "created_by_id",
            "idempotency_key",
            unique=True,
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_capture_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: The client's ``Idempotency-Key`` of the request that made this capture, if it sent one.
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
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
    #: The session video (files/video.webm), when the capture recorded one.
    video_key: Mapped[str | None] = mapped_column(String(128))
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


# -- merchant portal: units, merchants, served documents, audit (revision 0003_portal) -------

MERCHANT_STATUSES = ("invited", "active", "disabled")
#: notice: a document an officer serves (order to correct, notification, decision ...);
#: address_confirmation: the merchant's consent to electronic service (送达地址确认书);
#: statement: the merchant's written statement/defence; proof_of_service: 送达回证.
DOCUMENT_KINDS = ("notice", "address_confirmation", "statement", "proof_of_service")
DOCUMENT_STATUSES = ("draft", "signed", "served", "acknowledged")
VERSION_KINDS = (
    "rendered",
    "unit-signed",
    "officer-signed",
    "merchant-signed",
    "merchant-uploaded",
)
ACTOR_TYPES = ("officer", "merchant", "system")


def new_portal_id() -> str:
    """Random 128-bit ids: a document or merchant id reveals nothing and cannot be guessed."""
    return uuid.uuid4().hex


class Unit(Base):
    """An enforcement unit (市场监督管理局 or one of its offices) and its organisation seal."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: Serial (hex, as ``evidence certs list`` prints it) of the unit's seal certificate.
    seal_serial: Mapped[str | None] = mapped_column(String(64))
    #: The unit's case-number prefix (文号 of its penalty cases, e.g. 示市监处 in
    #: 示市监处〔2026〕12号); None: the first character of the name + 市监处.
    case_number_prefix: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"Unit(id={self.id!r}, name={self.name!r})"


class Merchant(Base):
    """An online merchant's portal account; the credit code is also its login name."""

    __tablename__ = "merchants"
    __table_args__ = (CheckConstraint(_one_of("status", MERCHANT_STATUSES), name="status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_portal_id)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Unified social credit code (GB 32100-2015), upper case, check character verified.
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="invited")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    #: Serial (hex) of the merchant's signing certificate, issued at account setup.
    cert_serial: Mapped[str | None] = mapped_column(String(64))
    #: When the merchant signed the service-address confirmation (consent to e-service).
    consent_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:  # never the password hash
        return f"Merchant(id={self.id!r}, credit_code={self.credit_code!r})"


class MerchantSetupCode(Base):
    """A one-time account setup code: stored as its SHA-256 only, expires, used once."""

    __tablename__ = "merchant_setup_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Set when a newer code replaced this one before it was used.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"MerchantSetupCode(id={self.id!r}, merchant_id={self.merchant_id!r})"


class MerchantSession(Base):
    """A merchant's portal login (its own cookie, never the officers' session)."""

    __tablename__ = "merchant_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    #: Tail of the password hash at login: a password change ends every other session.
    password_version: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:  # never the token hash
        return f"MerchantSession(id={self.id!r}, merchant_id={self.merchant_id!r})"


class AuthThrottle(Base):
    """Failed guesses per key (an account, a client address): the lockout's memory, shared
    by every process of the service."""

    __tablename__ = "auth_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Document(Base):
    """A document of the portal: its facts and service records. Its PDFs are the versions."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(_one_of("kind", DOCUMENT_KINDS), name="kind"),
        CheckConstraint(_one_of("status", DOCUMENT_STATUSES), name="status"),
        Index("ix_documents_unit_id_created_at", "unit_id", "created_at"),
        # One document per officer and idempotency key: a retried request finds the first one.
        Index(
            "ix_documents_created_by_id_idempotency_key",
            "created_by_id",
            "idempotency_key",
            unique=True,
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_portal_id)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    #: The party's portal account; None for a case document of a party that has none yet
    #: (served by post or public notice; ``workflow.cases.service.link_party`` sets it later).
    merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), default="notice")
    template: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(MutableDict.as_mutable(json_type()), default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    #: The document this one belongs to (a proof of service's notice; a statement's notice).
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The client's ``Idempotency-Key`` of the request that made this document, if it sent
    #: one, and the digest of what that request asked (a retry must ask the same).
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    #: When the document was served: for electronic service when it reached the merchant's
    #: account (the legal time of service); for a case document served by post or public
    #: notice the legal date of that service. And the officer who sent it.
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    served_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    first_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_opened_ip: Mapped[str | None] = mapped_column(String(64))
    first_opened_user_agent: Mapped[str | None] = mapped_column(Text)
    merchant_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"Document(id={self.id!r}, kind={self.kind!r}, status={self.status!r})"


class DocumentVersion(Base):
    """One immutable PDF of a document (each signature makes a new version); append-only."""

    __tablename__ = "document_versions"
    __table_args__ = (
        CheckConstraint(_one_of("kind", VERSION_KINDS), name="kind"),
        UniqueConstraint("document_id", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    object_key: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    signer_subject: Mapped[str | None] = mapped_column(Text)
    signer_serial: Mapped[str | None] = mapped_column(String(64))
    signing_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    level: Mapped[str | None] = mapped_column(String(8))
    #: Who made it: ``user:<id>``, ``merchant:<id>`` or ``system``.
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"DocumentVersion(document_id={self.document_id!r}, seq={self.seq!r})"


class DocumentAttachment(Base):
    """A file a merchant attached to a statement, stored as an immutable object."""

    __tablename__ = "document_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    object_key: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PortalAudit(Base):
    """The portal's audit trail: who did what to which document, from where, when.

    Append-only: the ORM refuses updates and deletes (below) and so does the database
    (triggers made by revision 0003_portal)."""

    __tablename__ = "portal_audit"
    __table_args__ = (CheckConstraint(_one_of("actor_type", ACTOR_TYPES), name="actor_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    action: Mapped[str] = mapped_column(String(48))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    merchant_id: Mapped[str | None] = mapped_column(String(32), index=True)
    document_id: Mapped[str | None] = mapped_column(String(32), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    auth_method: Mapped[str | None] = mapped_column(String(48))
    sha256_before: Mapped[str | None] = mapped_column(String(64))
    sha256_after: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)

    def __repr__(self) -> str:
        return f"PortalAudit(id={self.id!r}, action={self.action!r})"


CASE_PROCEDURES = ("general", "simplified", "fast_track")
CASE_SOURCES = ("complaint", "lead", "inspection", "transfer", "platform")
CASE_PARTY_KINDS = ("organisation", "natural_person")
CASE_STAFF_ROLES = ("officer", "reviewer", "head")
CASE_EVIDENCE_KINDS = ("capture", "upload")


class CaseNumberSequence(Base):
    """The last case number given per unit and year: numbers are never reused, so the row is
    only ever incremented (under the row's lock) and a case number that failed to commit
    leaves a gap, as a paper register would."""

    __tablename__ = "case_number_sequences"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    """An administrative case (行政处罚案件): from the lead or complaint to closing.

    ``state`` is a state of ``workflow/cases/process.toml``; ``facts`` holds what the case's
    actions recorded (the inputs of the process's guards, and the dates the deadlines count
    from). Every change is an event in ``case_events``, whose hash chain ends at
    ``chain_head``."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_one_of("procedure", CASE_PROCEDURES), name="procedure"),
        CheckConstraint(_one_of("source", CASE_SOURCES), name="source"),
        CheckConstraint(_one_of("party_kind", CASE_PARTY_KINDS), name="party_kind"),
        Index("ix_cases_unit_id_state", "unit_id", "state"),
        # One case per opener and idempotency key: a retried request finds the first one.
        Index(
            "ix_cases_created_by_id_idempotency_key",
            "created_by_id",
            "idempotency_key",
            unique=True,
        ),
        # A complaint has no opener: its form's key is unique among cases without one (the
        # index above lets NULL openers repeat a key).
        Index(
            "ix_cases_complaint_idempotency_key",
            "idempotency_key",
            unique=True,
            sqlite_where=text("created_by_id IS NULL"),
            postgresql_where=text("created_by_id IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_portal_id)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    #: The case number in the unit's format (e.g. 示市监处〔2026〕12号); given at filing or at
    #: an on-the-spot decision, None for a lead not (yet) filed.
    number: Mapped[str | None] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    procedure: Mapped[str] = mapped_column(String(16), default="general")
    state: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16), default="lead")
    party_kind: Mapped[str] = mapped_column(String(16), default="organisation")
    shop_url: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    complainant_name: Mapped[str | None] = mapped_column(String(200))
    complainant_contact: Mapped[str | None] = mapped_column(String(200))
    facts: Mapped[dict[str, Any]] = mapped_column(MutableDict.as_mutable(json_type()), default=dict)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    chain_head: Mapped[str | None] = mapped_column(String(64))
    #: The account that opened the case (a lead); None for a complaint from the public.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The client's ``Idempotency-Key`` of the request that opened the case, if it sent one,
    #: and the digest of what that request asked (a retry must ask the same).
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_digest: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"Case(id={self.id!r}, number={self.number!r}, state={self.state!r})"


class CaseParty(Base):
    """A party of a case (当事人): a registered merchant, or a name and shop known so far."""

    __tablename__ = "case_parties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str | None] = mapped_column(String(18))
    shop_url: Mapped[str | None] = mapped_column(Text)
    platform: Mapped[str | None] = mapped_column(String(100))


class CaseStaff(Base):
    """Who handles a case: officers (at least two with badges to file), reviewer, head."""

    __tablename__ = "case_staff"
    __table_args__ = (CheckConstraint(_one_of("role", CASE_STAFF_ROLES), name="role"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: The badge number when assigned (a later change of the account does not rewrite it).
    badge_number: Mapped[str | None] = mapped_column(String(64))


class CaseEvent(Base):
    """One event of a case, append-only, chained: ``hash`` covers the event's canonical JSON
    and ``prev_hash`` (see :mod:`signing.case_chain`). The hash is also a leaf of the
    transparency log (``log_leaves.leaf_input``, kind ``case-event``), appended right after
    the event is committed and caught up by housekeeping if the log was unavailable."""

    __tablename__ = "case_events"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(48))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    #: What the event touched: ``[{"kind", "id", "sha256"}]`` (documents, evidence).
    touches: Mapped[list[Any]] = mapped_column(json_type(), default=list)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class CaseEvidence(Base):
    """Evidence in a case: a sealed capture, or an uploaded file sealed like one."""

    __tablename__ = "case_evidence"
    __table_args__ = (CheckConstraint(_one_of("kind", CASE_EVIDENCE_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    capture_id: Mapped[str | None] = mapped_column(ForeignKey("captures.id"))
    object_key: Mapped[str | None] = mapped_column(String(300))
    file_name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    event_seq: Mapped[int] = mapped_column(Integer)


class CaseDocument(Base):
    """A document of the case file, in the order the case made it (its table of contents)."""

    __tablename__ = "case_documents"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    template: Mapped[str] = mapped_column(String(64))
    event_seq: Mapped[int] = mapped_column(Integer)


class CaseDocumentCursor(Base):
    """How far the documents a case owes were last worked through, so that the worker's
    housekeeping looks only at cases with new events (revision 0009_case_document_cursors).

    Not a flag that could drift: what a case owes is always derived from its events
    (``workflow.cases.documents.owed``); this only says which cases may owe something new.
    ``lease_until`` keeps two workers from generating one case's documents at once."""

    __tablename__ = "case_document_cursors"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    #: The case's ``event_count`` after its owed documents were last all made or all waiting
    #: for data a person must give; a case with more events is looked at again.
    checked_events: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Why the last try left documents owed (shown to officers; no secrets in it).
    last_error: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# -- complaint receipts and captures queued from a case (revision 0006_complaint_receipts) --


class ComplaintReceipt(Base):
    """What a complainant holds to learn the outcome of their complaint: a code shown once,
    of which only the SHA-256 is kept (a leaked table names no complaint anyone can open)."""

    __tablename__ = "complaint_receipts"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseCaptureRequest(Base):
    """A capture an officer queued from inside a case. It becomes the case's evidence (an
    event touching the sealed package by its hash) once stored; until then the case page
    shows its progress from here."""

    __tablename__ = "case_capture_requests"

    capture_id: Mapped[str] = mapped_column(ForeignKey("captures.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Taken by whoever links it (one wins a race; an old claim was abandoned by a crash).
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Set when the stored capture was linked (``case_evidence.id``).
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("case_evidence.id"))


# -- payments and publicity (revision 0007_payments_publicity; workflow/payments, publicity) --

PAYMENT_ARRANGEMENT_KINDS = ("deferral", "instalments", "partial")
PAYMENT_ORDER_STATUSES = ("created", "paid")
PAYMENT_CALLBACK_OUTCOMES = ("accepted", "duplicate", "refused")


class PaymentNotice(Base):
    """The payment notice of a fine (缴款通知): the payment number the merchant pays with,
    the fine and the day the decision was served (the surcharge counts from it)."""

    __tablename__ = "payment_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: 20 digits, the last a Damm check digit (workflow.payments.numbers).
    number: Mapped[str] = mapped_column(String(20), unique=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    decision_number: Mapped[str] = mapped_column(String(64))
    party_name: Mapped[str] = mapped_column(String(200))
    fine_fen: Mapped[int] = mapped_column(BigInteger)
    served_on: Mapped[date] = mapped_column(Date())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PaymentArrangement(Base):
    """An approved deferral, instalment plan or partial payment (暂缓或者分期缴纳): who
    approved it, when, why, and the schedule ``[{"due_on", "amount_fen"}]``. Append-only:
    a new approval replaces the old one by being newer."""

    __tablename__ = "payment_arrangements"
    __table_args__ = (CheckConstraint(_one_of("kind", PAYMENT_ARRANGEMENT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("payment_notices.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    schedule: Mapped[list[Any]] = mapped_column(json_type())
    reason: Mapped[str] = mapped_column(Text)
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by_name: Mapped[str] = mapped_column(String(200))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PaymentOrder(Base):
    """One attempt to pay (the whole amount due, or one instalment) through a channel."""

    __tablename__ = "payment_orders"
    __table_args__ = (
        CheckConstraint(_one_of("status", PAYMENT_ORDER_STATUSES), name="status"),
        UniqueConstraint("channel", "txn_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_portal_id)
    notice_id: Mapped[int] = mapped_column(ForeignKey("payment_notices.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    arrangement_id: Mapped[int | None] = mapped_column(ForeignKey("payment_arrangements.id"))
    #: 1-based position in the arrangement's schedule; None: the whole amount.
    instalment: Mapped[int | None] = mapped_column(Integer)
    principal_fen: Mapped[int] = mapped_column(BigInteger)
    surcharge_fen: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="created")
    channel_order_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    txn_id: Mapped[str | None] = mapped_column(String(64))
    #: Whether ``record_payment`` was taken on the case for it, and what the process said.
    case_recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    case_note: Mapped[str | None] = mapped_column(Text)


class PaymentCallback(Base):
    """Every callback received, counted or refused, with its raw body (append-only). The
    nonce of each verified notification is unique: a replay cannot be counted twice."""

    __tablename__ = "payment_callbacks"
    __table_args__ = (
        CheckConstraint(_one_of("outcome", PAYMENT_CALLBACK_OUTCOMES), name="outcome"),
        UniqueConstraint("channel", "nonce"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    nonce: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))


class PaymentReceipt(Base):
    """The electronic receipt (电子缴款凭证) of a paid order: a PDF sealed by the unit, kept
    in the object store (append-only)."""

    __tablename__ = "payment_receipts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("payment_orders.id"), unique=True)
    object_key: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    signer_serial: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PublicityEntry(Base):
    """A penalty decision as published (行政处罚信息公示): the redacted content as it was
    published, and the last day of its publicity period (shown up to and including it)."""

    __tablename__ = "publicity_entries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_portal_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    decision_number: Mapped[str] = mapped_column(String(64))
    decided_on: Mapped[date] = mapped_column(Date())
    published_on: Mapped[date] = mapped_column(Date())
    #: The 20-working-day limit for publishing (None: unconfirmed calendar).
    due_on: Mapped[date | None] = mapped_column(Date())
    last_day: Mapped[date] = mapped_column(Date(), index=True)
    period_rule: Mapped[str] = mapped_column(String(64))
    period_years: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(json_type())
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    taken_down_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


#: Tables whose rows are never changed or removed once written.
APPEND_ONLY_TABLES = ("portal_audit", "document_versions", "case_events")


def _refuse_change(mapper: Any, connection: Any, target: Any) -> None:
    raise PermissionError(f"{target.__tablename__} rows are append-only: add a new row instead")


for _model in (PortalAudit, DocumentVersion, CaseEvent):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)

for _payment_model in (PaymentArrangement, PaymentCallback, PaymentReceipt):
    event.listen(_payment_model, "before_update", _refuse_change)
    event.listen(_payment_model, "before_delete", _refuse_change)


# -- the merchant register (room: register; revision 0010_merchant_register) -----------------
# Separate from the portal accounts (``merchants``): what the unit knows of the operators it
# regulates, imported from CSV/XLSX files, linked to portal accounts and case parties by the
# unified social credit code. Look-ups must stay fast over a million entries, hence the
# normalised shop-URL key, the unique credit code and the name bigrams (see
# ``workflow.register.lookup``).


class RegisterImport(Base):
    """One import of a register file: who, which file (its SHA-256), what it did."""

    __tablename__ = "register_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    imported_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rows: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    bad: Mapped[int] = mapped_column(Integer, default=0)
    #: The bad rows, ``[{"line", "field", "problem"}]`` (the first thousand).
    problems: Mapped[list[Any]] = mapped_column(json_type(), default=list)


class RegisterEntry(Base):
    """A registered operator (市场主体): name, credit code, legal representative, address,
    licences. ``name_key`` is the name as searched (NFKC, no spaces, lower case)."""

    __tablename__ = "register_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    legal_representative: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(Text)
    licences: Mapped[list[str]] = mapped_column(json_type(), default=list)
    created_import_id: Mapped[int | None] = mapped_column(ForeignKey("register_imports.id"))
    updated_import_id: Mapped[int | None] = mapped_column(ForeignKey("register_imports.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RegisterShop(Base):
    """An online shop of a registered operator. ``url_key`` is the shop URL normalised by
    ``workflow/register/urls.toml`` (one shop, one key: a shop that changes hands moves)."""

    __tablename__ = "register_shops"
    __table_args__ = (Index("ix_register_shops_shop_id_platform", "shop_id", "platform"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("register_entries.id"), index=True)
    platform: Mapped[str | None] = mapped_column(String(100))
    shop_url: Mapped[str | None] = mapped_column(Text)
    url_key: Mapped[str | None] = mapped_column(String(1000), unique=True)
    shop_id: Mapped[str | None] = mapped_column(String(100))


class RegisterNameGram(Base):
    """The character bigrams of each entry's ``name_key``: a substring of a Chinese name is
    found through its rarest bigram (``register_gram_counts``) instead of a full scan."""

    __tablename__ = "register_name_grams"

    gram: Mapped[str] = mapped_column(String(2), primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("register_entries.id"), primary_key=True)


class RegisterGramCount(Base):
    """How many entries contain each bigram (kept by the import; chooses the rarest)."""

    __tablename__ = "register_gram_counts"

    gram: Mapped[str] = mapped_column(String(2), primary_key=True)
    entries: Mapped[int] = mapped_column(Integer, default=0)


class RegisterChange(Base):
    """What a re-import changed, field by field, old -> new, and by which import;
    append-only (the register's history)."""

    __tablename__ = "register_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("register_entries.id"), index=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("register_imports.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


#: A party's earlier cases are found by its credit code (not indexed by 0005_cases).
Index("ix_case_parties_credit_code", CaseParty.credit_code)
event.listen(RegisterChange, "before_update", _refuse_change)
event.listen(RegisterChange, "before_delete", _refuse_change)


# -- the platform as a partner (room platform; revision 0013_platform_partner) ---------------

PLATFORM_REQUEST_KINDS = ("assistance", "takedown")
PLATFORM_REQUEST_STATES = ("sending", "served", "answered", "confirmed", "checked")
PLATFORM_RECHECK_RESULTS = ("gone", "not_found", "still_there")


class PlatformAccount(Base):
    """Marks a portal account (a ``merchants`` row: setup code, password, sessions, signing
    certificate and service-address confirmation all reused) as an online trading platform
    operator's (网络交易平台经营者), which logs in at ``/platform`` and sees only the requests
    addressed to it."""

    __tablename__ = "platform_accounts"

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    #: The platform's own name (某某购物平台), beside the operator's registered name.
    platform_name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PlatformRequest(Base):
    """A request from a case to a platform: for assistance (协助调查函) or to take a listing
    down (协助下架通知书). Its steps are events of the case; this row is where it stands."""

    __tablename__ = "platform_requests"
    __table_args__ = (
        CheckConstraint(_one_of("kind", PLATFORM_REQUEST_KINDS), name="kind"),
        CheckConstraint(_one_of("state", PLATFORM_REQUEST_STATES), name="state"),
        CheckConstraint(
            f"recheck IS NULL OR {_one_of('recheck', PLATFORM_RECHECK_RESULTS)}", name="recheck"
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_portal_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    platform_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="sending")
    #: The event that sent it (its details are the letter's own data).
    event_seq: Mapped[int] = mapped_column(Integer)
    listing_url: Mapped[str | None] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(Date)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    #: Why the letter is not made or served yet (shown to officers; retried on request).
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("case_evidence.id"))
    capture_id: Mapped[str | None] = mapped_column(ForeignKey("captures.id"))
    recheck: Mapped[str | None] = mapped_column(String(16))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# -- legal catalogue versions (room legal; revision 0011_legal_catalogue; workflow/legal) -------


class LegalCatalogueVersion(Base):
    """One version of a unit's legal-basis and discretion catalogue (workflow/legal), never
    changed once written: an edit is a new version holding the whole catalogue, who made it,
    when, why and which entry changed (None: the whole catalogue, e.g. the starter text)."""

    __tablename__ = "legal_catalogue_versions"
    __table_args__ = (UniqueConstraint("unit_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    entry_id: Mapped[str | None] = mapped_column(String(64))
    #: SHA-256 (hex) of the catalogue's canonical JSON: what a case names with the version.
    sha256: Mapped[str] = mapped_column(String(64))
    catalogue: Mapped[dict[str, Any]] = mapped_column(json_type())


event.listen(LegalCatalogueVersion, "before_update", _refuse_change)
event.listen(LegalCatalogueVersion, "before_delete", _refuse_change)


# -- complaint screening (room: screening; revision 0012_complaint_screening) ---------------
# Professional claimants flagged with an explanation (``workflow.screening``). Each complaint's
# profile and keys -- what it says about its complainant, and its text's bottom-k sketch --
# are indexed so that one screening reads the few complaints that matter out of 200,000 a
# year; every screening made is kept (append-only) with its version and the facts behind it.


class ComplaintProfile(Base):
    """A complaint as the screening compares it: its unit, arrival, the complainant's name
    (normalised), the merchant complained about (``merchant_key``), its folded text and the
    purchase date its text states. Rebuilt when ``index_version`` is not the current one."""

    __tablename__ = "complaint_profiles"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    name_key: Mapped[str | None] = mapped_column(String(200))
    merchant_key: Mapped[str] = mapped_column(String(300))
    folded: Mapped[str] = mapped_column(Text)
    purchased_on: Mapped[date | None] = mapped_column(Date())
    index_version: Mapped[str] = mapped_column(String(32))


class ComplaintKey(Base):
    """One key of a complaint: an identifier (``phone``, ``email``, ``id_number``,
    ``address``: the normalised value) or a text key (``text``: one value of its bottom-k
    sketch). Looked up by (kind, value)."""

    __tablename__ = "complaint_keys"
    __table_args__ = (Index("ix_complaint_keys_kind_value", "kind", "value"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("complaint_profiles.case_id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)


class ComplaintScreening(Base):
    """One screening of a complaint: the score (0..100), whether it reached the flag score
    in force, the facts behind it (``[{"fact", "points", "strength", "values", "zh", "en",
    "points_at": [...]}]``), the rules' version and the operating point, why it ran
    (``arrival``, ``on_demand``, ``batch``), by whom and when. Never changed: a new screening
    is a new row; the newest is the complaint's."""

    __tablename__ = "complaint_screenings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    version: Mapped[str] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    flag_score: Mapped[int] = mapped_column(Integer)
    flagged: Mapped[bool] = mapped_column(Boolean)
    period_days: Mapped[int] = mapped_column(Integer)
    facts: Mapped[list[Any]] = mapped_column(json_type(), default=list)
    trigger: Mapped[str] = mapped_column(String(16))
    screened_by: Mapped[str] = mapped_column(String(200))
    screened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


event.listen(ComplaintScreening, "before_update", _refuse_change)
event.listen(ComplaintScreening, "before_delete", _refuse_change)


class CaptureComparison(Base):
    """A comparison of two sealed captures (A the earlier, B the later by trusted time): the
    signed report (PDF, ``report_key``) and the two highlighted screenshots in the object
    store, and the report's facts (``comparison.json``) for the pages. Never changed."""

    __tablename__ = "capture_comparisons"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_capture_id)
    a_capture_id: Mapped[str] = mapped_column(ForeignKey("captures.id"), index=True)
    b_capture_id: Mapped[str] = mapped_column(ForeignKey("captures.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    report_key: Mapped[str] = mapped_column(String(128))
    report_sha256: Mapped[str] = mapped_column(String(64))
    highlight_a_key: Mapped[str | None] = mapped_column(String(128))
    highlight_b_key: Mapped[str | None] = mapped_column(String(128))
    summary: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)


event.listen(CaptureComparison, "before_update", _refuse_change)
event.listen(CaptureComparison, "before_delete", _refuse_change)
# -- watching a URL until it is corrected (room monitor; revision 0014_capture_watches) --------

WATCH_CONDITIONS = ("text_gone", "text_present", "status", "redirected", "none")
WATCH_STATES = ("active", "met", "ended", "stopped")
WATCH_RUN_STATES = ("pending", "capturing", "done", "failed")


class CaptureWatch(Base):
    """A URL captured again every ``interval_hours`` until ``until`` or until its condition
    is met on a sealed run (``evidence_service.sealing.monitor``). ``next_run_at`` is the
    schedule: a worker takes a run by moving it on with a guarded UPDATE, so two workers never
    start the same run, and the schedule survives restarts."""

    __tablename__ = "capture_watches"
    __table_args__ = (
        CheckConstraint(_one_of("condition", WATCH_CONDITIONS), name="condition"),
        CheckConstraint(_one_of("state", WATCH_STATES), name="state"),
        CheckConstraint("interval_hours > 0", name="interval_hours"),
        Index("ix_capture_watches_state_next_run_at", "state", "next_run_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_portal_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    #: The capture every run is linked to: the one the watch started from, else its first run.
    first_capture_id: Mapped[str | None] = mapped_column(ForeignKey("captures.id"))
    interval_hours: Mapped[float] = mapped_column(Float)
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    condition: Mapped[str] = mapped_column(String(16))
    #: The text of ``text_gone`` / ``text_present``, the status of ``status``.
    condition_text: Mapped[str | None] = mapped_column(Text)
    condition_status: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="active")
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    runs_started: Mapped[int] = mapped_column(Integer, default=0)
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    met_capture_id: Mapped[str | None] = mapped_column(ForeignKey("captures.id"))
    #: When the officers were told by mail (None: not yet, or no mail server / address).
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notify_error: Mapped[str | None] = mapped_column(Text)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WatchRun(Base):
    """One run of a watch: an ordinary sealed capture, and what its sealed package shows
    (the main page's HTTP status and final address from the WARC, the SHA-256 of its
    normalised text, whether that changed since the previous run, the condition's result)."""

    __tablename__ = "watch_runs"
    __table_args__ = (
        CheckConstraint(_one_of("state", WATCH_RUN_STATES), name="state"),
        UniqueConstraint("watch_id", "seq"),
        Index("ix_watch_runs_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watch_id: Mapped[str] = mapped_column(ForeignKey("capture_watches.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), default="pending")
    #: A worker starting the capture holds this; a stale claim is taken over.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    capture_id: Mapped[str | None] = mapped_column(ForeignKey("captures.id"), unique=True)
    http_status: Mapped[int | None] = mapped_column(Integer)
    final_url: Mapped[str | None] = mapped_column(Text)
    redirected: Mapped[bool | None] = mapped_column(Boolean)
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    text_changed: Mapped[bool | None] = mapped_column(Boolean)
    condition_met: Mapped[bool | None] = mapped_column(Boolean)
    detail: Mapped[str | None] = mapped_column(Text)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("case_evidence.id"))
