"""First run: data folder, database schema, built-in CA and TSA, the first admin account.

Everything here is idempotent, so ``evidence run`` calls it on every start and two processes
starting at once do not step on each other (the PKI takes a file lock; the admin insert relies
on the unique user name).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage.models import User

from .security import hash_password, new_password
from .services import Services


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
    return InitResult(admin_password=_ensure_admin(services))


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
