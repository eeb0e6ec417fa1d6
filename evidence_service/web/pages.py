"""What every server-rendered page of the service shares: the Jinja2 templates (officers' console,
public verifier and log pages), the language, the signed-in user and the CSRF token in every
context, and the "sign in first" redirect.

Pages work without JavaScript (a detail page refreshes itself while work is in progress); with
JavaScript they poll the JSON record instead, so the officer sees each stage as it happens.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from evidence_service.sealing.pipeline import STAGES
from evidence_service.web.auth import csrf_token, user_from_request
from evidence_service.web.i18n import language, translate
from storage.models import User

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    context.update(
        lang=lang,
        t=lambda key: translate(lang, key),
        # Looked up only when not given: an error page about the database must not need it.
        user=context["user"] if "user" in context else user_from_request(request),
        csrf=csrf_token(request),
        stages=STAGES,
    )
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie("lang", lang, max_age=3600 * 24 * 365, samesite="lax")
    return response


def login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def require_officer(request: Request) -> User | RedirectResponse:
    user = user_from_request(request)
    if user is None:
        return login_redirect(request)
    if user.must_change_password:
        return RedirectResponse("/account/password", status_code=303)
    return user


def format_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


templates.env.filters["utc"] = format_time
