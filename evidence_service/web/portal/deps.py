"""Glue between the web app and ``workflow``: one :class:`~workflow.context.PortalContext`
per app, the acting officer as a :class:`~workflow.context.OfficerRef`, the client's address,
streaming stored files, and the HTTP form of workflow errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi import HTTPException, Request

from evidence_service.services import build_portal_context as build_context
from evidence_service.web.auth import client_of, services_of
from storage.models import User
from workflow.context import OfficerRef, PortalContext
from workflow.errors import (
    AuthenticationError,
    ConflictError,
    FieldError,
    NotFoundError,
    PortalError,
    ThrottledError,
)

__all__ = [
    "build_context",
    "client_of",
    "http_error",
    "local_time",
    "officer_ref",
    "portal_context",
]


def portal_context(request: Request) -> PortalContext:
    """The app's portal context (made on first use, kept on ``app.state``)."""
    state = request.app.state
    ctx: PortalContext | None = getattr(state, "portal_context", None)
    if ctx is None:
        ctx = services_of(request).portal
        state.portal_context = ctx
    return ctx


def officer_ref(user: User) -> OfficerRef:
    return OfficerRef(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        unit_id=user.unit_id,
        is_admin=user.role == "admin",
    )


_STATUS = {
    NotFoundError: 404,
    AuthenticationError: 401,
    ThrottledError: 429,
    ConflictError: 409,
}


def status_of(exc: PortalError) -> int:
    for cls, code in _STATUS.items():
        if isinstance(exc, cls):
            return code
    return 422


def http_error(exc: PortalError) -> HTTPException:
    """The API form: ``{"detail": {"code", "message", "field"?, "errors"?}}``."""
    detail: dict[str, Any] = {"code": exc.code, "message": str(exc)}
    if isinstance(exc, FieldError):
        detail["field"] = exc.field
        detail["errors"] = [{"field": f, "message": m} for f, m in exc.errors]
    headers = None
    if isinstance(exc, ThrottledError):
        headers = {"Retry-After": str(exc.retry_after)}
    return HTTPException(status_of(exc), detail=detail, headers=headers)


def local_time(value: datetime | None) -> str:
    """An instant as documents state it: China time, with the UTC time beside it."""
    if value is None:
        return "—"
    china = value.astimezone(timezone(timedelta(hours=8)))
    utc = value.astimezone(UTC)
    return f"{china:%Y-%m-%d %H:%M:%S} (UTC+8) / {utc:%H:%M:%S} UTC"
