"""The officers' side of the platform as a partner: the platform accounts (``/platforms``:
list, invite with a one-time setup code), and from a case's ``platform`` panel: send a request,
retry a letter the case could not fill yet, check a confirmed takedown again.

The same access as the case page: the case must be the officer's unit's (else 404), and only
an officer staffed on the case sends or checks (``platform_requests`` in ``access.toml``)."""

from __future__ import annotations

import datetime as dt
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from evidence_service.web.auth import check_csrf, client_of, services_of
from evidence_service.web.case_views import case_ctx
from evidence_service.web.i18n import language, translate
from evidence_service.web.pages import render, require_officer
from evidence_service.web.platform.sending import deliver_request, queue_recheck, send_request
from evidence_service.web.portal.deps import officer_ref, portal_context
from storage.models import Case, User
from workflow import platforms
from workflow.cases import access, service
from workflow.cases.service import Actor, CaseError
from workflow.errors import FieldError, PortalError

router = APIRouter(include_in_schema=False)
#: The data a request for assistance asks by default (the letter's wording), as data.
DEFAULTS_PATH = Path(__file__).with_name("requests.toml")


@cache
def defaults() -> dict[str, Any]:
    return tomllib.loads(DEFAULTS_PATH.read_text(encoding="utf-8"))


def _officer(request: Request) -> User | Response:
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    decision = access.can(
        "admin" if user.role == "admin" else "officer",
        "platform_requests",
        access.Subject(actor_unit=str(user.unit_id), case_unit=str(user.unit_id)),
    )
    if not decision or user.unit_id is None:
        message = decision.zh if language(request) == "zh" else decision.en
        return render(request, "error.html", 403, user=user, message=message)
    return user


# -- platform accounts ----------------------------------------------------------------------


@router.get("/platforms")
def platforms_page(request: Request) -> Response:
    user = _officer(request)
    if isinstance(user, Response):
        return user
    rows = platforms.platforms(portal_context(request))
    return render(request, "platforms.html", user=user, rows=rows, invitation=None, error=None)


@router.post("/platforms")
async def invite(
    request: Request,
    name: str = Form(""),
    credit_code: str = Form(""),
    platform_name: str = Form(""),
    address: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    check_csrf(request, csrf)
    user = _officer(request)
    if isinstance(user, Response):
        return user
    ctx = portal_context(request)
    error, invitation = None, None
    try:
        invitation = await run_in_threadpool(
            lambda: platforms.invite_platform(
                ctx,
                officer_ref(user),
                name=name,
                credit_code=credit_code,
                platform_name=platform_name,
                address=address,
                client=client_of(request),
            )
        )
    except PortalError as exc:
        error = str(exc)
    return render(
        request,
        "platforms.html",
        422 if error else 200,
        user=user,
        rows=platforms.platforms(ctx),
        invitation=invitation,
        error=error,
        form={"name": name, "credit_code": credit_code, "platform_name": platform_name},
    )


# -- from the case ----------------------------------------------------------------------------


def _staffed(request: Request, user: User, case_id: str) -> Actor | None:
    """The officer acting on the case (staffed as an officer, of its unit), else None."""
    ctx = case_ctx(request)
    with ctx.sessions() as session:
        unit = session.get(Case, case_id)
        unit_id = unit.unit_id if unit is not None else None
    if unit_id is None or unit_id != user.unit_id:
        return None
    if "officer" not in service.roles_of(ctx, user.id, case_id):
        return None
    return Actor(f"user:{user.id}", user.display_name or user.username, "officer", user.unit_id)


def _back(case_id: str, done: str, problem: str = "") -> RedirectResponse:
    query = f"?done={done}" + (f"&platform_error={problem}" if problem else "")
    return RedirectResponse(f"/cases/{case_id}{query}#platform", status_code=303)


def form_request(form: dict[str, str]) -> platforms.RequestIn:
    """The panel's form as a request: each data kind ticked, with its wording."""
    wanted = []
    for kind in defaults()["data_kinds"]:
        if form.get(f"want_{kind}"):
            item: dict[str, Any] = {"kind": kind, "description": form.get(f"desc_{kind}", "")}
            if form.get(f"from_{kind}") or form.get(f"to_{kind}"):
                item.update(period_from=form.get(f"from_{kind}"), period_to=form.get(f"to_{kind}"))
            wanted.append(item)
    return platforms.RequestIn(
        kind=form.get("kind", ""),
        platform_id=form.get("platform_id", ""),
        contact_phone=form.get("contact_phone", ""),
        matter=form.get("matter", ""),
        data_requested=wanted,
        reply_method=form.get("reply_method", ""),
        listing_url=form.get("listing_url", ""),
        listing_title=form.get("listing_title", ""),
        reason=form.get("reason", ""),
        contact_address=form.get("contact_address", ""),
        due_on=_date(form.get("due_on", "")),
    )


def _date(text: str) -> dt.date | None:
    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise FieldError("due_on", "a date as YYYY-MM-DD") from None


def _code(exc: Exception) -> str:
    return str(getattr(exc, "code", "") or "invalid_input")


@router.post("/cases/{case_id}/platform-requests")
async def send(request: Request, case_id: str) -> Response:
    raw = await request.form()
    form = {k: str(v) for k, v in raw.items() if isinstance(v, str)}
    check_csrf(request, form.get("csrf"))
    user = _officer(request)
    if isinstance(user, Response):
        return user
    who = _staffed(request, user, case_id)
    if who is None:
        return render(
            request,
            "error.html",
            404,
            user=user,
            message=translate(language(request), "cases.none"),
        )
    try:
        sent = await run_in_threadpool(
            send_request,
            services_of(request),
            case_ctx(request),
            officer_ref(user),
            who,
            case_id,
            form_request(form),
            client_of(request),
        )
    except (PortalError, CaseError) as exc:
        request.session["platform_problem"] = str(exc)[:500]
        return _back(case_id, "platform", _code(exc))
    if sent.missing:
        request.session["platform_problem"] = "; ".join(f"{f}: {m}" for f, m in sent.missing)
        return _back(case_id, "platform", "missing")
    return _back(case_id, "platform")


@router.post("/cases/{case_id}/platform-requests/{request_id}/deliver")
async def retry(request: Request, case_id: str, request_id: str, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    user = _officer(request)
    if isinstance(user, Response):
        return user
    who = _staffed(request, user, case_id)
    if who is None or not _belongs(request, who, case_id, request_id):
        return render(request, "error.html", 404, user=user, message="—")
    try:
        sent = await run_in_threadpool(
            deliver_request,
            services_of(request),
            case_ctx(request),
            officer_ref(user),
            who,
            request_id,
            client_of(request),
        )
    except (PortalError, CaseError) as exc:
        request.session["platform_problem"] = str(exc)[:500]
        return _back(case_id, "platform", _code(exc))
    if sent.missing:
        request.session["platform_problem"] = "; ".join(f"{f}: {m}" for f, m in sent.missing)
        return _back(case_id, "platform", "missing")
    return _back(case_id, "platform")


def _belongs(request: Request, who: Actor, case_id: str, request_id: str) -> bool:
    return any(
        r.id == request_id for r in platforms.requests_of_case(case_ctx(request), who, case_id)
    )


@router.post("/cases/{case_id}/platform-requests/{request_id}/recheck")
async def recheck(
    request: Request, case_id: str, request_id: str, csrf: str = Form("")
) -> Response:
    check_csrf(request, csrf)
    user = _officer(request)
    if isinstance(user, Response):
        return user
    who = _staffed(request, user, case_id)
    views = platforms.requests_of_case(case_ctx(request), who, case_id) if who else []
    view = next((v for v in views if v.id == request_id), None)
    if who is None or view is None or view.listing_url is None:
        return render(request, "error.html", 404, user=user, message="—")
    capture_id = await run_in_threadpool(
        queue_recheck, services_of(request), view.listing_url, user.id, case_id
    )
    if capture_id is None:
        return _back(case_id, "platform", "capture")
    try:
        await run_in_threadpool(
            platforms.start_recheck, case_ctx(request), who, request_id, capture_id
        )
    except PortalError as exc:
        request.session["platform_problem"] = str(exc)[:500]
        return _back(case_id, "platform", _code(exc))
    return _back(case_id, "recheck")
