"""``evidence user|token``: officers' and admins' accounts, badge numbers and API tokens."""

from __future__ import annotations

import click
from sqlalchemy import select

from evidence_service.cli.common import EXIT_USAGE, fail, open_services


@click.group()
def user() -> None:
    """Manage accounts."""


def _badge(number: str) -> str:
    """A badge number (执法证号) as it goes into the officer certificate's serialNumber
    (checked now, not at the officer's first signature)."""
    from certs.errors import SubjectError
    from certs.subjects import SubjectInfo, subject_name

    value = number.strip()
    try:
        subject_name("officer", SubjectInfo("-", organization="-", officer_id=value))
    except SubjectError as exc:
        fail(str(exc).replace("officer id", "badge number"), EXIT_USAGE, False, {})
    return value


_BADGE_HELP = (
    "The officer's badge number (执法证号): named in the certificate the officer signs "
    "documents with (ASCII letters, digits, spaces and ' ( ) + , - . / : = ?)."
)


@user.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["officer", "admin"]), default="officer")
@click.option("--display-name", default=None)
@click.option(
    "--unit",
    default=None,
    help="The officer's enforcement unit (created if new; default: the default unit).",
)
@click.option("--badge", default=None, help=_BADGE_HELP)
def user_create(
    username: str, role: str, display_name: str | None, unit: str | None, badge: str | None
) -> None:
    """Create an account; prints its one-time password."""
    from sqlalchemy.exc import IntegrityError

    from evidence_service.bootstrap import default_unit_name
    from evidence_service.security import hash_password, new_password
    from storage.models import User
    from workflow.merchants import ensure_unit

    badge_number = _badge(badge) if badge is not None else None
    services = open_services()
    services.migrate()
    password = new_password()
    unit_name = " ".join((unit or default_unit_name(services)).split())
    if not unit_name:
        fail("--unit must name a unit", EXIT_USAGE, False, {})
    if badge_number is not None:
        with services.session() as session:
            holder = session.scalar(select(User).where(User.badge_number == badge_number))
            if holder is not None:
                fail(
                    f"badge number {badge_number!r} is already on the account {holder.username!r}",
                    EXIT_USAGE,
                    False,
                    {},
                )
    try:
        with services.session() as session:
            row = ensure_unit(session, unit_name)
            session.flush()
            session.add(
                User(
                    username=username,
                    display_name=display_name or username,
                    password_hash=hash_password(password),
                    role=role,
                    must_change_password=True,
                    disabled=False,
                    unit_id=row.id,
                    badge_number=badge_number,
                )
            )
    except IntegrityError:
        fail(f"user {username!r} already exists", EXIT_USAGE, False, {})
    badge_text = f", badge {badge_number}" if badge_number else ""
    click.echo(
        f"user {username} ({role}, unit {unit_name}{badge_text}) created; "
        f"one-time password: {password}"
    )


@user.command("set-badge")
@click.argument("username")
@click.argument("number")
def user_set_badge(username: str, number: str) -> None:
    """Set the badge number (执法证号) of USERNAME to NUMBER.

    The officer's next signature uses a certificate naming it (issued then if the PKI has
    none for this badge and unit); certificates issued for an earlier number stay in the
    register and keep their past signatures valid."""
    from storage.models import User

    badge_number = _badge(number)
    services = open_services()
    services.migrate()
    with services.session() as session:
        row = session.scalar(select(User).where(User.username == username))
        if row is None:
            fail(f"no user named {username!r}", EXIT_USAGE, False, {})
            return
        holder = session.scalar(select(User).where(User.badge_number == badge_number))
        if holder is not None and holder.id != row.id:
            fail(
                f"badge number {badge_number!r} is already on the account {holder.username!r}",
                EXIT_USAGE,
                False,
                {},
            )
        if row.badge_number != badge_number:
            row.badge_number = badge_number
            row.signing_cert_serial = None
    click.echo(f"badge number of {username}: {badge_number}")


@user.command("set-email")
@click.argument("username")
@click.argument("address", required=False)
def user_set_email(username: str, address: str | None) -> None:
    """Set (or, without ADDRESS, clear) where USERNAME's notices are mailed: a watch's
    condition met on one of the officer's cases (through EVIDENCE_SMTP_*)."""
    from email.utils import parseaddr

    from storage.models import User

    value = (address or "").strip() or None
    if value is not None:
        name, addr = parseaddr(value)
        if name or addr != value or "@" not in value or any(c.isspace() for c in value):
            fail(f"not a plain e-mail address: {value!r}", EXIT_USAGE, False, {})
    services = open_services()
    services.migrate()
    with services.session() as session:
        row = session.scalar(select(User).where(User.username == username))
        if row is None:
            fail(f"no user named {username!r}", EXIT_USAGE, False, {})
        row.email = value
    click.echo(f"e-mail of {username}: {value or '(none)'}")


@user.command("reset-password")
@click.argument("username")
def user_reset(username: str) -> None:
    """Give USERNAME a new one-time password."""
    from evidence_service.bootstrap import reset_password

    try:
        password = reset_password(open_services(), username)
    except LookupError as exc:
        fail(str(exc), EXIT_USAGE, False, {})
        return
    click.echo(f"one-time password for {username}: {password}")


@click.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--user", "username", default="admin", show_default=True)
@click.option("--name", default="cli", show_default=True)
def token_create(username: str, name: str) -> None:
    """Create an API token for USER (printed once; only its hash is stored)."""
    from evidence_service.security import hash_token, new_api_token
    from storage.models import ApiToken, User

    services = open_services()
    services.migrate()
    secret = new_api_token()
    with services.session() as session:
        row = session.scalar(select(User).where(User.username == username))
        if row is None:
            fail(f"no user named {username!r}", EXIT_USAGE, False, {})
            return
        session.add(
            ApiToken(user_id=row.id, name=name, token_hash=hash_token(secret), revoked=False)
        )
    click.echo(secret)
