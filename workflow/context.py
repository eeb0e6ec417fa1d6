"""What the portal's workflow needs from its host, passed in as plain values.

``workflow`` never imports ``evidence_service``: the web app builds one
:class:`PortalContext` from its settings and services and hands it to every call. Password
hashing comes in the same way (the service's scrypt), so merchants and officers share one
password scheme without an import pointing the wrong way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from certs.pki import Pki
from signing.timestamp import Timestamper
from storage.objects import ObjectStore

from .throttle import Throttle

__all__ = ["Client", "OfficerRef", "PortalContext"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Client:
    """Where a request came from, as recorded in the audit trail."""

    ip: str | None = None
    user_agent: str | None = None

    def trimmed(self) -> Client:
        return Client(
            self.ip[:64] if self.ip else None,
            self.user_agent[:1000] if self.user_agent else None,
        )


@dataclass(frozen=True)
class OfficerRef:
    """The officer (or admin) acting: what the access rules need to know about them."""

    id: int
    username: str
    display_name: str
    unit_id: int | None
    is_admin: bool = False

    @property
    def actor(self) -> str:
        return f"user:{self.id}"


@dataclass
class PortalContext:
    """Dependencies of the portal workflow (see the module docstring)."""

    sessions: sessionmaker[Session]
    store: ObjectStore
    pki: Pki
    timestampers: Sequence[Timestamper]
    #: Scratch folder for PDFs being rendered or signed (removed after use).
    work_dir: Path
    hash_password: Callable[[str], str]
    verify_password: Callable[[str, str], bool]
    #: PEM trust anchors for PDFs merchants sign elsewhere: our root plus any extra roots.
    trust_roots_pem: bytes
    #: The portal's address, written into documents as the electronic service address.
    portal_url: str
    online_revocation: bool = False
    setup_code_ttl: timedelta = timedelta(days=7)
    session_ttl: timedelta = timedelta(hours=8)
    #: Upload limits for statements' attachments and for PDFs signed elsewhere.
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 5
    max_upload_pdf_bytes: int = 64 * 1024 * 1024
    throttle: Throttle = field(default_factory=Throttle)
    clock: Callable[[], datetime] = _utcnow

    def now(self) -> datetime:
        return self.clock()
