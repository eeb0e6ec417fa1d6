"""Server-rendered pages (Jinja2): login, capture form and list, capture detail with progress.

Pages work without JavaScript (the detail page refreshes itself while work is in progress);
with JavaScript it polls the JSON record instead, so the officer sees each stage as it happens.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from storage.models import ApiToken, Capture, User

from ..auth import can_view, check_csrf, csrf_token, services_of, user_from_request
from ..pipeline import STAGES, CaptureRequestError, create_capture, load_cookies
from ..records import capture_record
from ..security import hash_password, hash_token, new_api_token, verify_password
from .i18n import language, translate

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
MAX_COOKIE_FILE = 256 * 1024


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    context.update(
        lang=lang,
        t=lambda key: translate(lang, key),
        user=context.get("user", user_from_request(request)),
        csrf=csrf_token(request),
        stages=STAGES,
    )
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie("lang", lang, max_age=3600 * 24 * 365, samesite="lax")
    return response


def _login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def _officer(request: Request) -> User | RedirectResponse:
    user = user_from_request(request)
    if user is None:
        return _login_redirect(request)
    if user.must_change_password:
        return RedirectResponse("/account/password", status_code=303)
    return user


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/captures", status_code=303)


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
    services = services_of(request)
    with services.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        ok = (
            user is not None and not user.disabled and verify_password(password, user.password_hash)
        )
        if not ok or user is None:
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
        return _login_redirect(request)
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
        return _login_redirect(request)
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


@router.get("/captures")
def captures_page(request: Request) -> Response:
    user = _officer(request)
    if isinstance(user, RedirectResponse):
        return user
    return _captures(request, user)


def _captures(
    request: Request, user: User, *, error: str | None = None, url: str = "", status: int = 200
) -> Response:
    services = services_of(request)
    with services.sessions() as session:
        rows = session.scalars(select(Capture).order_by(Capture.created_at.desc()).limit(50)).all()
        visible = [capture_record(c) for c in rows if can_view(user, c)]
    return render(
        request, "captures.html", status, user=user, captures=visible, error=error, url=url
    )


@router.post("/captures")
async def submit_capture(
    request: Request,
    url: str = Form(...),
    csrf: str = Form(""),
    cookies: UploadFile | None = None,
) -> Response:
    check_csrf(request, csrf)
    user = _officer(request)
    if isinstance(user, RedirectResponse):
        return user
    services = services_of(request)
    url = url.strip()
    try:
        cookie_list = []
        if cookies is not None and cookies.filename:
            data = await cookies.read(MAX_COOKIE_FILE + 1)
            if len(data) > MAX_COOKIE_FILE:
                raise CaptureRequestError("invalid_cookies", "The cookies file is too large.")
            if data:
                cookie_list = load_cookies(data, url)
        from starlette.concurrency import run_in_threadpool

        capture_id = await run_in_threadpool(
            create_capture, services, url, user_id=user.id, cookies=cookie_list
        )
    except CaptureRequestError as exc:
        return _captures(request, user, error=f"{exc.code}: {exc}", url=url, status=422)
    return RedirectResponse(f"/captures/{capture_id}", status_code=303)


@router.get("/captures/{capture_id}")
def capture_page(request: Request, capture_id: str) -> Response:
    user = _officer(request)
    if isinstance(user, RedirectResponse):
        return user
    services = services_of(request)
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        if cap is None or not can_view(user, cap):
            return render(request, "error.html", 404, message=f"No capture {capture_id}")
        record = capture_record(cap)
    return render(request, "capture.html", user=user, c=record)


@router.get("/tokens")
def tokens_page(request: Request) -> Response:
    user = _officer(request)
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
    user = _officer(request)
    if isinstance(user, RedirectResponse):
        return user
    token = new_api_token()
    with services_of(request).session() as session:
        session.add(
            ApiToken(user_id=user.id, name=name[:100], token_hash=hash_token(token), revoked=False)
        )
    return _tokens(request, user, token)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    user = _officer(request)
    if isinstance(user, RedirectResponse):
        return user
    with services_of(request).session() as session:
        row = session.get(ApiToken, token_id)
        if row is not None and row.user_id == user.id:
            row.revoked = True
    return RedirectResponse("/tokens", status_code=303)


def format_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


templates.env.filters["utc"] = format_time
