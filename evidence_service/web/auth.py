"""Who is calling: API tokens (``Authorization: Bearer``) or the web session cookie.

Both resolve to a ``User``; routes then apply one access rule (``can_view``): captures made
with someone's session cookies are visible only to the officer who made them and to admins,
because their WARC holds what that session could see.

Guessing is throttled with the merchant portal's database-backed :class:`Throttle`: officer
and admin passwords per account name and per client address, bearer tokens per client
address (and per account when a revoked token or a disabled account's token is tried). A
locked key answers 429 with ``Retry-After`` before any password is even hashed.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from fastapi import HTTPException, Request, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_service.security import hash_token, verify_password
from evidence_service.services import Services
from storage.models import ApiToken, Capture, User
from workflow.context import Client
from workflow.errors import ThrottledError
from workflow.throttle import (
    PASSWORD_ACCOUNT,
    PASSWORD_CLIENT,
    TOKEN_ACCOUNT,
    TOKEN_CLIENT,
    Throttle,
)

_THROTTLE = Throttle()


def actor_name(user: User) -> str:
    """The name a case event records for an account acting (the timeline's "who"): its display
    name (王五), whichever interface built the ``Actor`` -- the console, the REST API or the
    ``evidence`` command -- so one person never shows under two names in one case file. The
    account name (``wang``) only stands in for a display name that is blank."""
    return (user.display_name or "").strip() or user.username


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def client_of(request: Request) -> Client:
    return Client(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def _client_key(request: Request, what: str) -> str:
    return f"ip:{(request.client.host if request.client else None) or 'unknown'}:{what}"


def throttled(exc: ThrottledError) -> HTTPException:
    """429 with ``Retry-After`` (the API form of a locked key)."""
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail={"code": exc.code, "message": str(exc)},
        headers={"Retry-After": str(exc.retry_after)},
    )


def check_password_login(request: Request, username: str, password: str) -> User | None:
    """The active officer or admin with this name and password, or None (a failure counted
    against the name and the client address). Raises :class:`ThrottledError` while either
    is locked, before the password is checked. The name is counted whether or not such an
    account exists, so the lockout tells nobody which names are real."""
    services = services_of(request)
    now = datetime.now(UTC)
    account_key = f"user:{username.strip().casefold()[:200]}:password"
    client_key = _client_key(request, "password")
    with services.session() as session:
        _THROTTLE.check(session, account_key, now)
        _THROTTLE.check(session, client_key, now)
        user = session.scalar(select(User).where(User.username == username))
        if user is not None and not user.disabled and verify_password(password, user.password_hash):
            _THROTTLE.reset(session, account_key)
            session.expunge(user)
            return user
        _THROTTLE.fail(session, account_key, PASSWORD_ACCOUNT, now)
        _THROTTLE.fail(session, client_key, PASSWORD_CLIENT, now)
        return None


def _token_user(request: Request, session: Session, token: str) -> User | None:
    """The account behind a bearer token; a wrong one counts against the client address
    (and the account, for its revoked tokens). :class:`ThrottledError` while locked."""
    now = datetime.now(UTC)
    client_key = _client_key(request, "token")
    _THROTTLE.check(session, client_key, now)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    user = session.get(User, row.user_id) if row is not None else None
    if row is not None and user is not None:
        _THROTTLE.check(session, f"user:{user.id}:token", now)
    if row is None or user is None or row.revoked or user.disabled:
        _THROTTLE.fail(session, client_key, TOKEN_CLIENT, now)
        if user is not None:
            _THROTTLE.fail(session, f"user:{user.id}:token", TOKEN_ACCOUNT, now)
        return None
    row.last_used_at = now
    return user


def user_from_request(request: Request) -> User | None:
    """The user behind a bearer token or the session cookie, or None. A throttled client
    gets :class:`ThrottledError` (answered 429 by the app)."""
    services = services_of(request)
    header = request.headers.get("authorization", "")
    with services.session() as session:
        if header.lower().startswith("bearer "):
            user = _token_user(request, session, header[7:].strip())
            if user is None:
                return None
        else:
            uid = request.session.get("uid") if "session" in request.scope else None
            if uid is None:
                return None
            user = session.get(User, uid)
            if user is not None and request.session.get("pwv") != user.password_hash[-16:]:
                return None  # password changed since this session was opened
        if user is None or user.disabled:
            return None
        session.expunge(user)
        return user


def require_api_user(request: Request) -> User:
    user = user_from_request(request)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail={"code": "unauthorized", "message": "A valid API token is required."},
            headers={"WWW-Authenticate": "Bearer"},
        )
    if user.must_change_password and "authorization" not in request.headers:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={"code": "password_change_required", "message": "Change your password first."},
        )
    return user


def can_view(user: User, cap: Capture) -> bool:
    if user.role == "admin" or not cap.authenticated:
        return True
    return cap.created_by_id == user.id


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get("csrf")
    if not expected or not submitted or not secrets.compare_digest(expected, submitted):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "The form expired; reload and retry.")
