"""The register of every certificate the PKI issued: what CRLs and OCSP answers are made from.

Why SQLite (stdlib ``sqlite3``) in the PKI folder rather than the service database: ``certs``
imports nothing of ours and must work for ``evidence sign`` with no server and no database
configured; and like OpenSSL's ``index.txt`` the register belongs with the CA keys it
describes (back them up together). SQLite gives atomic, multi-process-safe updates (WAL mode,
``BEGIN IMMEDIATE``); the PKI's file lock additionally orders issuance and revocation with
the CRL files.

Serial numbers are stored as lowercase hex without leading zeros (they are up to 159 bits,
beyond SQLite's integers); times as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from .errors import AlreadyRevokedError, CertsError, UnknownCertificateError
from .hsm import HsmKeyRef
from .subjects import describe_name

__all__ = [
    "CertificateKind",
    "IssuedCertificate",
    "Registry",
    "format_serial",
    "parse_serial",
]

CertificateKind = Literal[
    "issuing-ca", "tsa", "ocsp-responder", "package-signing", "unit", "officer", "merchant"
]
IssuerName = Literal["root", "issuing"]
KeyStorage = Literal["software", "hsm"]
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE certificates (
    issuer       TEXT NOT NULL,             -- 'root' or 'issuing'
    serial       TEXT NOT NULL,             -- lowercase hex
    kind         TEXT NOT NULL,
    subject      TEXT NOT NULL,             -- RFC 4514
    common_name  TEXT,
    owner_id     TEXT,
    not_before   TEXT NOT NULL,
    not_after    TEXT NOT NULL,
    issued_at    TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'good' CHECK (status IN ('good', 'revoked')),
    revoked_at   TEXT,
    reason       TEXT,
    key_storage  TEXT NOT NULL,             -- 'software' or 'hsm'
    key_name     TEXT,                      -- software: file name under the PKI folder
    hsm_ref      TEXT,                      -- hsm: JSON HsmKeyRef (no PIN)
    fingerprint  TEXT NOT NULL,             -- SHA-256 of the DER certificate
    der          BLOB NOT NULL,
    PRIMARY KEY (issuer, serial)
);
CREATE INDEX certificates_owner ON certificates (owner_id);
CREATE INDEX certificates_cn ON certificates (common_name);
CREATE INDEX certificates_revoked ON certificates (issuer, status);
CREATE TABLE crl_numbers (
    which   TEXT PRIMARY KEY,
    number  INTEGER NOT NULL
);
"""


def format_serial(serial: int) -> str:
    return format(serial, "x")


def parse_serial(text: str | int) -> int:
    """Accept an int, or hex as openssl prints it (``4F:3A...``, ``0x4f3a``, any case)."""
    if isinstance(text, int):
        return text
    cleaned = text.strip().lower().replace(":", "")
    cleaned = cleaned.removeprefix("0x")
    if not cleaned or any(c not in "0123456789abcdef" for c in cleaned):
        raise ValueError(f"{text!r} is not a hexadecimal serial number")
    return int(cleaned, 16)


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dt(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


@dataclass(frozen=True)
class IssuedCertificate:
    """One register entry: a certificate, who holds it, where its key is, and its status."""

    serial: int
    kind: str
    subject: str
    common_name: str | None
    owner_id: str | None
    not_before: datetime
    not_after: datetime
    issued_at: datetime
    status: Literal["good", "revoked"]
    revoked_at: datetime | None
    revocation_reason: str | None
    issuer: IssuerName
    key_storage: KeyStorage
    #: Software keys: the key file's name under the PKI folder, without ``.key.pem``.
    key_name: str | None
    hsm: HsmKeyRef | None
    fingerprint_sha256: str
    certificate: x509.Certificate

    @property
    def serial_hex(self) -> str:
        return format_serial(self.serial)

    def expired(self, now: datetime) -> bool:
        return now > self.not_after

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        """A JSON-able summary (what ``evidence certs list --json`` prints)."""
        now = now or datetime.now(UTC)
        return {
            "serial": self.serial_hex,
            "kind": self.kind,
            "subject": self.subject,
            "common_name": self.common_name,
            "owner_id": self.owner_id,
            "issuer": self.issuer,
            "not_before": _ts(self.not_before),
            "not_after": _ts(self.not_after),
            "issued_at": _ts(self.issued_at),
            "status": self.status,
            "expired": self.expired(now),
            "revoked_at": _ts(self.revoked_at) if self.revoked_at else None,
            "revocation_reason": self.revocation_reason,
            "key_storage": self.key_storage,
            "hsm": self.hsm.to_json() if self.hsm else None,
            "fingerprint_sha256": self.fingerprint_sha256,
        }


@dataclass(frozen=True)
class RevokedEntry:
    serial: int
    revoked_at: datetime
    reason: str | None


_COLUMNS = (
    "issuer, serial, kind, subject, common_name, owner_id, not_before, not_after, issued_at, "
    "status, revoked_at, reason, key_storage, key_name, hsm_ref, fingerprint, der"
)


def _row_to_record(row: sqlite3.Row) -> IssuedCertificate:
    return IssuedCertificate(
        serial=int(row["serial"], 16),
        kind=row["kind"],
        subject=row["subject"],
        common_name=row["common_name"],
        owner_id=row["owner_id"],
        not_before=_dt(row["not_before"]),  # type: ignore[arg-type]
        not_after=_dt(row["not_after"]),  # type: ignore[arg-type]
        issued_at=_dt(row["issued_at"]),  # type: ignore[arg-type]
        status=row["status"],
        revoked_at=_dt(row["revoked_at"]),
        revocation_reason=row["reason"],
        issuer=row["issuer"],
        key_storage=row["key_storage"],
        key_name=row["key_name"],
        hsm=HsmKeyRef.from_json(json.loads(row["hsm_ref"])) if row["hsm_ref"] else None,
        fingerprint_sha256=row["fingerprint"],
        certificate=x509.load_der_x509_certificate(row["der"]),
    )


@dataclass(frozen=True)
class NewEntry:
    """What :meth:`Registry.add` records for a freshly issued certificate."""

    certificate: x509.Certificate
    issuer: IssuerName
    kind: CertificateKind
    owner_id: str | None
    key_storage: KeyStorage
    key_name: str | None = None
    hsm: HsmKeyRef | None = None


class Registry:
    """The register file; every method opens its own connection (thread- and fork-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        except sqlite3.Error as exc:
            raise CertsError(f"cannot open the certificate register {self.path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        with closing(conn):
            conn.execute("PRAGMA busy_timeout = 60000")
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def initialize(self, existing: Iterable[NewEntry]) -> bool:
        """Create the schema if missing, recording ``existing`` certificates (those issued
        before the register existed) in the same transaction. Returns True if created."""
        with self._connect() as conn:
            if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return False
            conn.execute("PRAGMA journal_mode = WAL")
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return False
            if version != 0:
                raise CertsError(
                    f"the certificate register {self.path} has schema version {version}, "
                    f"this software knows {SCHEMA_VERSION}; upgrade the software"
                )
            # Statement by statement: executescript() would COMMIT our transaction.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            for entry in existing:
                self._insert(conn, entry, ignore_existing=True)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return True

    @staticmethod
    def _insert(conn: sqlite3.Connection, entry: NewEntry, *, ignore_existing: bool) -> None:
        cert = entry.certificate
        der = cert.public_bytes(serialization.Encoding.DER)
        verb = "INSERT OR IGNORE" if ignore_existing else "INSERT"
        conn.execute(
            f"{verb} INTO certificates ({_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'good', NULL, NULL, ?, ?, ?, ?, ?)",
            (
                entry.issuer,
                format_serial(cert.serial_number),
                entry.kind,
                describe_name(cert.subject),
                _common_name(cert),
                entry.owner_id,
                _ts(cert.not_valid_before_utc),
                _ts(cert.not_valid_after_utc),
                _ts(datetime.now(UTC)),
                entry.key_storage,
                entry.key_name,
                json.dumps(entry.hsm.to_json()) if entry.hsm else None,
                cert.fingerprint(hashes.SHA256()).hex(),
                der,
            ),
        )

    def add(self, entry: NewEntry) -> IssuedCertificate:
        with self._write() as conn:
            try:
                self._insert(conn, entry, ignore_existing=False)
            except sqlite3.IntegrityError:
                raise CertsError(
                    f"serial {format_serial(entry.certificate.serial_number)} is already in "
                    "the register (serial number collision); issue again"
                ) from None
        record = self.get(entry.certificate.serial_number, issuer=entry.issuer)
        assert record is not None
        return record

    def add_if_missing(self, entry: NewEntry) -> None:
        with self._write() as conn:
            self._insert(conn, entry, ignore_existing=True)

    def get(self, serial: int, *, issuer: IssuerName | None = None) -> IssuedCertificate | None:
        query = f"SELECT {_COLUMNS} FROM certificates WHERE serial = ?"
        params: list[Any] = [format_serial(serial)]
        if issuer is not None:
            query += " AND issuer = ?"
            params.append(issuer)
        with self._connect() as conn:
            rows = conn.execute(query, params).fetchall()
        if not rows:
            return None
        # A serial is unique per issuer; prefer the issuing CA's on the (random) clash.
        rows.sort(key=lambda r: r["issuer"] != "issuing")
        return _row_to_record(rows[0])

    def find(self, name: str) -> list[IssuedCertificate]:
        """Entries whose common name or holder id is ``name``, newest first."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM certificates WHERE common_name = ? OR owner_id = ? "
                "ORDER BY not_before DESC, rowid DESC",  # rowid: issuance order within a second
                (name, name),
            ).fetchall()
        return [_row_to_record(r) for r in rows]

    def entries(
        self, *, kind: str | None = None, status: str | None = None
    ) -> list[IssuedCertificate]:
        query = f"SELECT {_COLUMNS} FROM certificates WHERE 1 = 1"
        params: list[Any] = []
        if kind is not None:
            query += " AND kind = ?"
            params.append(kind)
        if status is not None:
            query += " AND status = ?"
            params.append(status)
        query += " ORDER BY rowid"  # issuance order
        with self._connect() as conn:
            rows = conn.execute(query, params).fetchall()
        return [_row_to_record(r) for r in rows]

    def status(self, serial: int, issuer: IssuerName) -> tuple[str, datetime | None, str | None]:
        """``(status, revoked_at, reason)`` or ``("unknown", None, None)``: the OCSP lookup."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT status, revoked_at, reason FROM certificates "
                "WHERE issuer = ? AND serial = ?",
                (issuer, format_serial(serial)),
            ).fetchone()
        if row is None:
            return "unknown", None, None
        return row["status"], _dt(row["revoked_at"]), row["reason"]

    def revoke(self, serial: int, *, when: datetime, reason: str) -> IssuedCertificate:
        record = self.get(serial)
        if record is None:
            raise UnknownCertificateError(
                f"no certificate with serial {format_serial(serial)} was issued by this PKI "
                "(see `evidence certs list`)"
            )
        with self._write() as conn:
            updated = conn.execute(
                "UPDATE certificates SET status = 'revoked', revoked_at = ?, reason = ? "
                "WHERE issuer = ? AND serial = ? AND status = 'good'",
                (_ts(when), reason, record.issuer, record.serial_hex),
            ).rowcount
        if updated != 1:
            current = self.get(serial, issuer=record.issuer)
            assert current is not None and current.revoked_at is not None
            raise AlreadyRevokedError(
                f"certificate {record.serial_hex} ({record.subject}) is already revoked since "
                f"{_ts(current.revoked_at)} ({current.revocation_reason})"
            )
        result = self.get(serial, issuer=record.issuer)
        assert result is not None
        return result

    def revoked(self, issuer: IssuerName) -> list[RevokedEntry]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT serial, revoked_at, reason FROM certificates "
                "WHERE issuer = ? AND status = 'revoked' ORDER BY revoked_at, serial",
                (issuer,),
            ).fetchall()
        return [
            RevokedEntry(int(r["serial"], 16), _dt(r["revoked_at"]), r["reason"])  # type: ignore[arg-type]
            for r in rows
        ]

    def next_crl_number(self, which: IssuerName) -> int:
        """Increment and return the CRL number of ``which`` (RFC 5280 §5.2.3: monotonic)."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT number FROM crl_numbers WHERE which = ?", (which,)
            ).fetchone()
            number = (row["number"] if row else 0) + 1
            conn.execute(
                "INSERT INTO crl_numbers (which, number) VALUES (?, ?) "
                "ON CONFLICT (which) DO UPDATE SET number = excluded.number",
                (which, number),
            )
        return number
