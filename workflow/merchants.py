"""Merchant accounts: units, invitations with one-time setup codes, account setup, password
checks with lockout, and the merchant's own portal sessions.

Why setup codes rather than e-mailed links: the officer meets or phones the merchant anyway
(the case is about them), and a code read out or handed over on paper does not depend on an
e-mail address nobody has verified. The code is shown once, stored only as its SHA-256,
expires (7 days by default), works once, and a new code replaces the old one.

Why the merchant signs the service-address confirmation before anything else: electronic
service is lawful only with the party's consent, given on the 送达地址确认书 (see
docs ``case-process.md``, step 11). Until it is signed the account can do nothing else, and
no document can be served to it.

Merchant sessions are rows of their own (``merchant_sessions``), reached through their own
cookie; nothing here knows or accepts an officer's session, and the officers' code knows
nothing of these.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from certs.errors import SubjectError
from certs.subjects import MAX_NAME, check_credit_code
from storage.db import session_scope
from storage.models import Merchant, MerchantSession, MerchantSetupCode, PortalAudit, Unit, User

from . import audit
from .context import Client, OfficerRef, PortalContext
from .errors import (
    AuthenticationError,
    ConflictError,
    FieldError,
    NotFoundError,
    SetupCodeError,
)
from .throttle import PASSWORD_ACCOUNT, PASSWORD_CLIENT, SETUP_CLIENT

__all__ = [
    "MIN_PASSWORD",
    "Invitation",
    "SetupForm",
    "authenticate",
    "check_password",
    "complete_setup",
    "end_session",
    "ensure_unit",
    "invite_merchant",
    "merchant_actor",
    "merchant_for_session",
    "merchants_for_officer",
    "new_setup_code",
    "normalize_credit_code",
    "officer_merchant",
    "record_merchant_action",
    "start_session",
]

MIN_PASSWORD = 10
#: Setup codes: 4 groups of 5 characters from an alphabet without look-alikes (~99 bits).
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?\d[\d -]{5,20}$")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(20))
    return "-".join(raw[i : i + 5] for i in range(0, 20, 5))


def normalize_credit_code(value: str, field: str = "credit_code") -> str:
    """The upper-case unified social credit code, or :class:`FieldError` naming ``field``."""
    try:
        return check_credit_code(value or "")
    except SubjectError as exc:
        raise FieldError(field, str(exc)) from None


def _merchant_name(value: str) -> str:
    name = " ".join((value or "").split())
    if not name:
        raise FieldError("name", "the merchant's registered name is required")
    if len(name) > MAX_NAME:
        raise FieldError(
            "name",
            f"{len(name)} characters; a signing certificate allows at most {MAX_NAME}: use the "
            "registered short name",
        )
    return name


def merchant_actor(merchant_id: str) -> str:
    """How the audit trail, document versions and signatures name a merchant acting on its
    own account (never an officer or the system acting on the merchant)."""
    return f"merchant:{merchant_id}"


def record_merchant_action(
    session: Session,
    action: str,
    merchant_id: str,
    *,
    at: datetime,
    unit_id: int | None,
    client: Client | None = None,
    **facts: Any,
) -> PortalAudit:
    """An audit row for something the merchant did itself (``facts`` as
    :func:`workflow.audit.record`): every such row names the merchant as both the actor and
    the subject, so the merchant's own acts are found and told apart the same way."""
    return audit.record(
        session,
        action,
        actor_type="merchant",
        actor_id=merchant_actor(merchant_id),
        at=at,
        client=client,
        unit_id=unit_id,
        merchant_id=merchant_id,
        **facts,
    )


# -- units ----------------------------------------------------------------------------------


def ensure_unit(session: Session, name: str) -> Unit:
    """The unit named ``name``, created if missing (safe when two processes race)."""
    name = " ".join(name.split())
    unit = session.scalar(select(Unit).where(Unit.name == name))
    if unit is not None:
        return unit
    try:
        with session.begin_nested():
            unit = Unit(name=name)
            session.add(unit)
    except IntegrityError:
        unit = session.scalar(select(Unit).where(Unit.name == name))
        assert unit is not None
    return unit


def unit_of_user(session: Session, user: User | OfficerRef) -> Unit | None:
    return session.get(Unit, user.unit_id) if user.unit_id is not None else None


# -- invitations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    """A merchant invited (or re-invited): the setup code is shown once and never again."""

    merchant_id: str
    setup_code: str
    expires_at: datetime


def _officer_unit(officer: OfficerRef) -> int:
    if officer.unit_id is None:
        raise ConflictError(
            f"officer {officer.username!r} belongs to no unit; an admin must assign one "
            "(evidence user create NAME --unit UNIT)",
            code="no_unit",
        )
    return officer.unit_id


def officer_merchant(session: Session, officer: OfficerRef, merchant_id: str) -> Merchant:
    """The merchant if the officer may see it (its unit, or any for admins), else
    :class:`NotFoundError`."""
    merchant = session.get(Merchant, merchant_id) if merchant_id else None
    if merchant is None or not (officer.is_admin or merchant.unit_id == officer.unit_id):
        raise NotFoundError(f"no merchant {merchant_id}")
    return merchant


def merchants_for_officer(session: Session, officer: OfficerRef) -> list[Merchant]:
    query = select(Merchant).order_by(Merchant.created_at.desc())
    if not officer.is_admin:
        query = query.where(Merchant.unit_id == officer.unit_id)
    return list(session.scalars(query))


def invite_merchant(
    ctx: PortalContext,
    officer: OfficerRef,
    *,
    name: str,
    credit_code: str,
    client: Client | None = None,
) -> Invitation:
    """Create a merchant account of the officer's unit and its first setup code."""
    unit_id = _officer_unit(officer)
    name = _merchant_name(name)
    code = normalize_credit_code(credit_code)
    now = ctx.now()
    with session_scope(ctx.sessions) as session:
        existing = session.scalar(select(Merchant).where(Merchant.credit_code == code))
        if existing is not None:
            if existing.unit_id == unit_id or officer.is_admin:
                raise FieldError(
                    "credit_code",
                    f"a merchant with this code is already registered ({existing.name}); open it "
                    "to issue a new setup code",
                    code="merchant_exists",
                )
            raise FieldError(
                "credit_code",
                "a merchant with this code is already registered with another unit; ask that "
                "unit or an administrator",
                code="merchant_exists",
            )
        merchant = Merchant(
            unit_id=unit_id,
            name=name,
            credit_code=code,
            status="invited",
            created_by_id=officer.id,
            created_at=now,
        )
        session.add(merchant)
        try:
            session.flush()
        except IntegrityError:
            raise FieldError(
                "credit_code",
                "a merchant with this code was registered just now",
                code="merchant_exists",
            ) from None
        plain, row = _add_code(session, merchant.id, officer.id, now, ctx)
        audit.record(
            session,
            "merchant.invited",
            actor_type="officer",
            actor_id=officer.actor,
            at=now,
            client=client,
            unit_id=unit_id,
            merchant_id=merchant.id,
            details={
                "name": name,
                "credit_code": code,
                "code_expires_at": row.expires_at.isoformat(),
            },
        )
        return Invitation(merchant.id, plain, row.expires_at)


def _add_code(
    session: Session, merchant_id: str, officer_id: int | None, now: datetime, ctx: PortalContext
) -> tuple[str, MerchantSetupCode]:
    session.execute(
        update(MerchantSetupCode)
        .where(
            MerchantSetupCode.merchant_id == merchant_id,
            MerchantSetupCode.used_at.is_(None),
            MerchantSetupCode.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    plain = _new_code()
    row = MerchantSetupCode(
        merchant_id=merchant_id,
        code_hash=_hash(_normalize_code(plain)),
        created_by_id=officer_id,
        created_at=now,
        expires_at=now + ctx.setup_code_ttl,
    )
    session.add(row)
    session.flush()
    return plain, row


def new_setup_code(
    ctx: PortalContext, officer: OfficerRef, merchant_id: str, *, client: Client | None = None
) -> Invitation:
    """A new one-time code for a merchant not yet set up (earlier unused codes stop working)."""
    now = ctx.now()
    with session_scope(ctx.sessions) as session:
        merchant = officer_merchant(session, officer, merchant_id)
        if merchant.status != "invited":
            raise ConflictError(
                "this merchant has already set up its account; a setup code is not needed",
                code="already_set_up",
            )
        plain, row = _add_code(session, merchant.id, officer.id, now, ctx)
        audit.record(
            session,
            "merchant.setup_code_issued",
            actor_type="officer",
            actor_id=officer.actor,
            at=now,
            client=client,
            unit_id=merchant.unit_id,
            merchant_id=merchant.id,
            details={"code_expires_at": row.expires_at.isoformat()},
        )
        return Invitation(merchant.id, plain, row.expires_at)


# -- account setup --------------------------------------------------------------------------


@dataclass(frozen=True)
class SetupForm:
    """What the merchant enters at ``/portal/setup``."""

    code: str
    password: str
    password_repeat: str
    contact_name: str
    phone: str
    email: str
    address: str


def _check_form(form: SetupForm) -> None:
    errors: list[tuple[str, str]] = []
    if len(form.password) < MIN_PASSWORD:
        errors.append(("password", f"at least {MIN_PASSWORD} characters"))
    elif form.password != form.password_repeat:
        errors.append(("password_repeat", "the two passwords differ"))
    if not form.contact_name.strip() or len(form.contact_name.strip()) > 100:
        errors.append(("contact_name", "the contact person's name is required (at most 100)"))
    if not _PHONE.match(form.phone.strip()):
        errors.append(("phone", "a phone number of digits (may start with +)"))
    if form.email.strip() and not _EMAIL.match(form.email.strip()):
        errors.append(("email", "not an e-mail address"))
    if not form.address.strip() or len(form.address.strip()) > 200:
        errors.append(("address", "the address for service is required (at most 200)"))
    if errors:
        raise FieldError(errors[0][0], errors[0][1], errors=errors)


def _client_key(client: Client | None, what: str) -> str:
    return f"ip:{(client.ip if client else None) or 'unknown'}:{what}"


def complete_setup(ctx: PortalContext, form: SetupForm, *, client: Client | None = None) -> str:
    """Redeem a setup code: set the password and contacts, issue the merchant's signing
    certificate, and prepare its service-address confirmation to sign. Returns the merchant
    id (the caller then opens a session).

    Wrong codes count against the client's address (:data:`SETUP_CLIENT`); a code that is
    right but expired, used or replaced says so. The account is activated, the code spent
    and the confirmation recorded in one transaction, after the slow parts (certificate,
    PDF) are done: a failure half-way leaves the code usable.
    """
    from .document_versions import insert_address_confirmation, render_address_confirmation

    key = _client_key(client, "setup")
    now = ctx.now()
    digest = _hash(_normalize_code(form.code))
    merchant_id: str | None = None
    problem: str | None = None
    with session_scope(ctx.sessions) as session:
        ctx.throttle.check(session, key, now)
        row = session.scalar(select(MerchantSetupCode).where(MerchantSetupCode.code_hash == digest))
        merchant = session.get(Merchant, row.merchant_id) if row is not None else None
        if row is None or merchant is None:
            problem = "unknown"
        elif row.used_at is not None or merchant.status != "invited":
            problem = "this setup code was already used; log in with your password"
        elif row.revoked_at is not None:
            problem = "this setup code was replaced by a newer one; use the newest code"
        elif row.expires_at <= now:
            problem = "this setup code has expired; ask the officer for a new one"
        else:
            merchant_id = merchant.id
            cert_serial, name, credit_code = (
                merchant.cert_serial,
                merchant.name,
                merchant.credit_code,
            )
    if problem == "unknown":
        with session_scope(ctx.sessions) as session:
            ctx.throttle.fail(session, key, SETUP_CLIENT, now)
        raise SetupCodeError("unknown setup code; check it and try again")
    if problem is not None or merchant_id is None:
        raise SetupCodeError(problem or "unknown setup code")
    _check_form(form)

    # The slow parts, outside any transaction: the certificate and the PDF to sign.
    if cert_serial is None:
        from certs.subjects import SubjectInfo

        issued = ctx.pki.issue("merchant", SubjectInfo(name, credit_code=credit_code))
        cert_serial = issued.serial_hex
    contacts = {
        "contact_name": " ".join(form.contact_name.split()),
        "phone": form.phone.strip(),
        "email": form.email.strip() or None,
        "address": " ".join(form.address.split()),
    }
    rendered, stored = render_address_confirmation(ctx, merchant_id, contacts)
    password_hash = ctx.hash_password(form.password)
    with session_scope(ctx.sessions) as session:
        taken = session.execute(
            update(MerchantSetupCode)
            .where(MerchantSetupCode.code_hash == digest, MerchantSetupCode.used_at.is_(None))
            .values(used_at=now)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise SetupCodeError("this setup code was already used; log in with your password")
        merchant = session.get(Merchant, merchant_id)
        assert merchant is not None
        merchant.password_hash = password_hash
        merchant.contact_email = contacts["email"]
        merchant.contact_phone = contacts["phone"]
        merchant.cert_serial = cert_serial
        merchant.status = "active"
        merchant.activated_at = now
        record_merchant_action(
            session,
            "merchant.setup",
            merchant_id,
            at=now,
            client=client,
            unit_id=merchant.unit_id,
            auth_method="setup-code",
            details={"certificate_serial": cert_serial, **contacts},
        )
        insert_address_confirmation(session, merchant, rendered, stored, at=now, client=client)
        ctx.throttle.reset(session, key)
    return merchant_id


# -- passwords and sessions -----------------------------------------------------------------


def check_password(
    ctx: PortalContext,
    merchant_id: str,
    password: str,
    *,
    client: Client | None = None,
    purpose: str = "reauth",
) -> None:
    """Raise :class:`AuthenticationError` (counted towards the lockout) unless ``password``
    is the merchant's; :class:`ThrottledError` while the account or address is locked."""
    now = ctx.now()
    account_key = f"merchant:{merchant_id}:password"
    client_key = _client_key(client, "password")
    with session_scope(ctx.sessions) as session:
        ctx.throttle.check(session, account_key, now)
        ctx.throttle.check(session, client_key, now)
        merchant = session.get(Merchant, merchant_id)
        stored = merchant.password_hash if merchant is not None else None
        active = merchant is not None and merchant.status == "active"
        unit_id = merchant.unit_id if merchant is not None else None
    ok = bool(stored) and active and ctx.verify_password(password, stored or "")
    with session_scope(ctx.sessions) as session:
        if ok:
            ctx.throttle.reset(session, account_key)
            return
        locked = ctx.throttle.fail(session, account_key, PASSWORD_ACCOUNT, now)
        ctx.throttle.fail(session, client_key, PASSWORD_CLIENT, now)
        if merchant is not None:
            record_merchant_action(
                session,
                f"merchant.{purpose}_failed",
                merchant_id,
                at=now,
                client=client,
                unit_id=unit_id,
                auth_method="password",
                details={"locked": locked},
            )
    raise AuthenticationError("wrong password")


def authenticate(
    ctx: PortalContext, credit_code: str, password: str, *, client: Client | None = None
) -> str:
    """Log in with credit code and password; returns the merchant id."""
    try:
        code = check_credit_code(credit_code or "")
    except SubjectError:
        code = None
    merchant_id = None
    if code is not None:
        with session_scope(ctx.sessions) as session:
            merchant_id = session.scalar(select(Merchant.id).where(Merchant.credit_code == code))
    if merchant_id is None:
        now = ctx.now()
        key = _client_key(client, "password")
        with session_scope(ctx.sessions) as session:
            ctx.throttle.check(session, key, now)
            ctx.verify_password(password, _DUMMY_HASH)  # same work as for a real account
            ctx.throttle.fail(session, key, PASSWORD_CLIENT, now)
        raise AuthenticationError("wrong credit code or password")
    try:
        check_password(ctx, merchant_id, password, client=client, purpose="login")
    except AuthenticationError:
        raise AuthenticationError("wrong credit code or password") from None
    return merchant_id


#: A valid scrypt hash of a random password, checked when the account does not exist.
_DUMMY_HASH = (
    "scrypt$16384$8$1$00000000000000000000000000000000$"
    "0000000000000000000000000000000000000000000000000000000000000000"
)


def start_session(ctx: PortalContext, merchant_id: str, *, client: Client | None = None) -> str:
    """Open a portal session; returns the cookie value (only its SHA-256 is stored)."""
    token = secrets.token_urlsafe(32)
    now = ctx.now()
    c = (client or Client()).trimmed()
    with session_scope(ctx.sessions) as session:
        merchant = session.get(Merchant, merchant_id)
        if merchant is None or merchant.status != "active" or not merchant.password_hash:
            raise AuthenticationError("this account cannot log in")
        session.add(
            MerchantSession(
                token_hash=_hash(token),
                merchant_id=merchant_id,
                password_version=merchant.password_hash[-16:],
                created_at=now,
                expires_at=now + ctx.session_ttl,
                last_seen_at=now,
                ip=c.ip,
                user_agent=c.user_agent,
            )
        )
        record_merchant_action(
            session,
            "merchant.login",
            merchant_id,
            at=now,
            client=client,
            unit_id=merchant.unit_id,
            auth_method="password",
        )
    return token


def merchant_for_session(ctx: PortalContext, token: str | None) -> Merchant | None:
    """The active merchant behind a portal cookie, or None (expired, ended, password
    changed, account disabled). The returned object is detached (read-only use)."""
    if not token:
        return None
    now = ctx.now()
    with ctx.sessions() as session:
        row = session.scalar(
            select(MerchantSession).where(MerchantSession.token_hash == _hash(token))
        )
        if row is None or row.ended_at is not None or row.expires_at <= now:
            return None
        merchant = session.get(Merchant, row.merchant_id)
        if (
            merchant is None
            or merchant.status != "active"
            or not merchant.password_hash
            or merchant.password_hash[-16:] != row.password_version
        ):
            return None
        session.expunge(merchant)
        return merchant


def end_session(ctx: PortalContext, token: str | None) -> None:
    if not token:
        return
    with session_scope(ctx.sessions) as session:
        session.execute(
            update(MerchantSession)
            .where(MerchantSession.token_hash == _hash(token), MerchantSession.ended_at.is_(None))
            .values(ended_at=ctx.now())
        )
