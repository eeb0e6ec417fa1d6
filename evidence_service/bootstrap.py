"""First run: data folder, database schema, built-in CA and TSA, the first admin account.

Everything here is idempotent, so ``evidence run`` calls it on every start and two processes
starting at once do not step on each other (the PKI takes a file lock; the admin insert relies
on the unique user name).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from evidence_service.security import hash_password, new_password
from evidence_service.services import Services
from storage.models import User


@dataclass(frozen=True)
class InitResult:
    #: The admin's one-time password when the account was created now, else None.
    admin_password: str | None
    admin_username: str = "admin"


def initialize(services: Services) -> InitResult:
    """Create whatever is missing; return the admin's one-time password if just created."""
    services.migrate()
    services.pki.tsa_credential()  # creates root CA, issuing CA and TSA on first run
    services.pki.package_signing_credential()
    password = _ensure_admin(services)
    _ensure_default_unit(services)
    _ensure_default_unit_certificate(services)
    return InitResult(admin_password=password)


def default_unit_name(services: Services) -> str:
    """The unit of the admin and of accounts made without one (EVIDENCE_DEFAULT_UNIT_NAME)."""
    return " ".join(services.settings.default_unit_name.split())


def _ensure_default_unit(services: Services) -> None:
    """The default unit exists, and every account without a unit (the admin, accounts made
    before units existed) belongs to it: officers see only their unit's merchants."""
    from workflow.merchants import ensure_unit

    with services.session() as session:
        unit = ensure_unit(session, default_unit_name(services))
        session.flush()
        for user in session.scalars(select(User).where(User.unit_id.is_(None))):
            user.unit_id = unit.id


def _ensure_default_unit_certificate(services: Services) -> None:
    """The default unit's seal certificate (documents are signed with it), issued once: a
    revoked or expired one is left for a person to replace (``evidence certs issue``)."""
    from workflow.documents import ensure_unit_certificate

    ensure_unit_certificate(services.pki, default_unit_name(services))


def _ensure_admin(services: Services) -> str | None:
    with services.session() as session:
        if session.scalar(select(func.count()).select_from(User)):
            return None
    password = new_password()
    try:
        with services.session() as session:
            session.add(
                User(
                    username="admin",
                    display_name="Administrator",
                    password_hash=hash_password(password),
                    role="admin",
                    must_change_password=True,
                    disabled=False,
                )
            )
    except IntegrityError:  # another process created it first
        return None
    return password


def reset_password(services: Services, username: str) -> str:
    """Give a user a new one-time password (the CLI's way back in for a locked-out admin)."""
    password = new_password()
    with services.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise LookupError(f"no user named {username!r}")
        user.password_hash = hash_password(password)
        user.must_change_password = True
    return password
