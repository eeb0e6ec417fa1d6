"""The officer's own account: signing in and out, changing the password, API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from evidence_service.security import hash_password, hash_token, new_api_token, verify_password
from evidence_service.web.auth import (
    check_csrf,
    check_password_login,
    services_of,
    user_from_request,
)
from evidence_service.web.pages import login_redirect, render, require_officer
from evidence_service.web.params import RowId
from storage.models import ApiToken, User
from workflow.errors import ThrottledError

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(request: Request, next: str = "/captures") -> Response:
    return render(request, "login.html", next=next, error=None, user=None)


@router.post("/login")
def login(
    request: Request,
    username: str = Form(...),
    password: str = Form(...),
    csrf: str = Form(""),
    next: str = Form("/captures"),
) -> Response:
    check_csrf(request, csrf)
    try:
        user = check_password_login(request, username, password)
    except ThrottledError as exc:
        page = render(request, "login.html", 429, next=next, error="login.throttled", user=None)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    if user is None:
        return render(request, "login.html", 401, next=next, error="login.failed", user=None)
    request.session.clear()
    request.session["uid"] = user.id
    request.session["pwv"] = user.password_hash[-16:]
    must_change = user.must_change_password
    target = "/account/password" if must_change else (next if next.startswith("/") else "/")
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> RedirectResponse:
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/account/password")
def password_form(request: Request) -> Response:
    user = user_from_request(request)
    if user is None:
        return login_redirect(request)
    return render(request, "password.html", user=user, error=None, done=False)


@router.post("/account/password")
def change_password(
    request: Request,
    current: str = Form(...),
    new: str = Form(...),
    repeat: str = Form(...),
    csrf: str = Form(""),
) -> Response:
    check_csrf(request, csrf)
    user = user_from_request(request)
    if user is None:
        return login_redirect(request)
    error = None
    if not verify_password(current, user.password_hash):
        error = "password.wrong"
    elif new != repeat:
        error = "password.mismatch"
    elif len(new) < 10:
        error = "password.short"
    if error:
        return render(request, "password.html", 400, user=user, error=error, done=False)
    services = services_of(request)
    with services.session() as session:
        row = session.get(User, user.id)
        assert row is not None
        row.password_hash = hash_password(new)
        row.must_change_password = False
        request.session["pwv"] = row.password_hash[-16:]
    return RedirectResponse("/captures", status_code=303)


@router.get("/tokens")
def tokens_page(request: Request) -> Response:
    user = require_officer(request)
    if isinstance(user, RedirectResponse):
        return user
    return _tokens(request, user, None)


def _tokens(request: Request, user: User, new_token: str | None) -> Response:
    services = services_of(request)
    with services.sessions() as session:
        rows = session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))
            .order_by(ApiToken.created_at.desc())
        ).all()
        tokens = [
            {"id": r.id, "name": r.name, "created_at": r.created_at, "last_used_at": r.last_used_at}
            for r in rows
        ]
    return render(request, "tokens.html", user=user, tokens=tokens, new_token=new_token)


@router.post("/tokens")
def create_token(request: Request, name: str = Form(...), csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    user = require_officer(request)
    if isinstance(user, RedirectResponse):
        return user
    token = new_api_token()
    with services_of(request).session() as session:
        session.add(
            ApiToken(user_id=user.id, name=name[:100], token_hash=hash_token(token), revoked=False)
        )
    return _tokens(request, user, token)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: RowId, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    user = require_officer(request)
    if isinstance(user, RedirectResponse):
        return user
    with services_of(request).session() as session:
        row = session.get(ApiToken, token_id)
        if row is not None and row.user_id == user.id:
            row.revoked = True
    return RedirectResponse("/tokens", status_code=303)
