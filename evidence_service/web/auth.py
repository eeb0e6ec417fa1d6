"""Who is calling: API tokens (``Authorization: Bearer``) or the web session cookie.

Both resolve to a ``User``; routes then apply one access rule (``can_view``): captures made
with someone's session cookies are visible only to the officer who made them and to admins,
because their WARC holds what that session could see.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from fastapi import HTTPException, Request, status
from sqlalchemy import select

from evidence_service.security import hash_token
from evidence_service.services import Services
from storage.models import ApiToken, Capture, User


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def user_from_request(request: Request) -> User | None:
    """The user behind a bearer token or the session cookie, or None."""
    services = services_of(request)
    header = request.headers.get("authorization", "")
    with services.session() as session:
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
            row = session.scalar(
                select(ApiToken).where(
                    ApiToken.token_hash == hash_token(token), ApiToken.revoked.is_(False)
                )
            )
            if row is None:
                return None
            row.last_used_at = datetime.now(UTC)
            user = session.get(User, row.user_id)
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
