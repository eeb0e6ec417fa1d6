"""The officer's watch pages: the list with the form that starts a watch ("watch this page
until it is corrected"), and a watch's page with the timeline of its runs (drawn, and as a
table: time, HTTP status, whether the text changed, the condition's result, the sealed
capture of each run). From a case, the ``watch`` panel starts a watch of the case and, once
its condition is met, confirms the correction with the capture that proves it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from evidence_service.sealing import monitor
from evidence_service.sealing.monitor import WatchError, WatchIn, WatchView
from evidence_service.web.auth import check_csrf, services_of
from evidence_service.web.case_views import case_ctx
from evidence_service.web.i18n import MESSAGES, language, translate
from evidence_service.web.pages import render, require_officer
from storage.models import Case, User
from workflow.cases import process, service
from workflow.cases.service import Actor, CaseError
from workflow.deadlines import CHINA

router = APIRouter(include_in_schema=False)
SVG_WIDTH, SVG_HEIGHT, SVG_PAD = 480, 40, 14


@dataclass(frozen=True)
class Dot:
    """One run on the drawn timeline."""

    x: float
    css: str
    label: str
    href: str | None


def timeline(view: WatchView, lang: str) -> dict[str, Any]:
    """Where each run sits between the watch's start and its end (or the last run), and
    what its dot says: met (green), changed (orange), unchanged (grey), failed (red)."""
    start = view.created_at
    runs = view.runs
    last = max([r.scheduled_at for r in runs] + [start])
    end = max(view.until if view.state == "active" else last, last, start + timedelta(hours=1))
    span = (end - start).total_seconds() or 1.0
    width = SVG_WIDTH - 2 * SVG_PAD
    dots = []
    for r in runs:
        x = SVG_PAD + width * max(0.0, (r.scheduled_at - start).total_seconds()) / span
        if r.state == "failed":
            css = "failed"
        elif r.condition_met:
            css = "met"
        elif r.state != "done":
            css = "running"
        elif r.text_changed:
            css = "changed"
        else:
            css = "same"
        label = f"#{r.seq} {r.scheduled_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC " + translate(
            lang, f"watch.dot.{css}"
        )
        dots.append(
            Dot(round(x, 1), css, label, f"/captures/{r.capture_id}" if r.capture_id else None)
        )
    return {
        "width": SVG_WIDTH,
        "height": SVG_HEIGHT,
        "x0": SVG_PAD,
        "x1": SVG_WIDTH - SVG_PAD,
        "y": SVG_HEIGHT // 2,
        "dots": dots,
        "start": start.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "end": end.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def spec_from_form(form: dict[str, str], case_id: str | None = None) -> WatchIn:
    """The form's fields as a watch; :class:`WatchError` names the field at fault."""
    raw_until = form.get("until", "").strip()
    try:
        day = datetime.fromisoformat(raw_until)
    except ValueError:
        raise WatchError(
            "bad_until", "give the last day of the watch (YYYY-MM-DD)", "until"
        ) from None
    until = (
        datetime.combine(day.date(), time(23, 59), CHINA)
        if len(raw_until) == 10
        else day.replace(tzinfo=day.tzinfo or CHINA)
    )
    status = form.get("status", "").strip()
    if status and not status.isdigit():
        raise WatchError("status_required", "give an HTTP status such as 404", "status")
    return WatchIn(
        until=until.astimezone(UTC),
        url=form.get("url", "").strip() or None,
        first_capture_id=form.get("first_capture_id", "").strip() or None,
        interval_hours=monitor.parse_interval(form.get("interval", "") or "24h"),
        condition=form.get("condition", "none"),
        text=form.get("text", "").strip() or None,
        status=int(status) if status else None,
        case_id=case_id or form.get("case_id", "").strip() or None,
    )


def say(lang: str, exc: WatchError) -> str:
    """The refusal in the reader's language (its code's message), else as the service said
    it (a URL the capture refused explains itself)."""
    key = f"watch.code.{exc.code}"
    return translate(lang, key) if key in MESSAGES else str(exc)


def _form(raw: Any) -> dict[str, str]:
    return {k: str(v) for k, v in raw.items() if isinstance(v, str)}


def _list(
    request: Request,
    user: User,
    *,
    error: WatchError | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    watches = monitor.list_watches(services_of(request), user.unit_id)
    default_until = (datetime.now(CHINA) + timedelta(days=14)).date().isoformat()
    return render(
        request,
        "watches.html",
        status_code,
        user=user,
        watches=watches,
        error=error,
        values=values or {},
        message=say(language(request), error) if error else "",
        default_until=default_until,
        conditions=monitor.CONDITIONS,
    )


@router.get("/watches")
def watches_page(request: Request) -> Response:
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    return _list(request, user)


@router.post("/watches")
async def start_watch(request: Request) -> Response:
    form = _form(await request.form())
    check_csrf(request, form.get("csrf"))
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    try:
        spec = spec_from_form(form)
        watch_id = await run_in_threadpool(monitor.create_watch, services_of(request), spec, user)
    except WatchError as exc:
        return _list(request, user, error=exc, values=form, status_code=422)
    return RedirectResponse(f"/watches/{watch_id}", status_code=303)


@router.get("/watches/{watch_id}")
def watch_page(request: Request, watch_id: str) -> Response:
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    view = monitor.watch_view(services_of(request), watch_id, user.unit_id)
    if view is None:
        return render(
            request,
            "error.html",
            404,
            user=user,
            message=translate(language(request), "watch.missing"),
        )
    return render(
        request,
        "watch.html",
        user=user,
        w=view,
        timeline=timeline(view, language(request)),
        problem=request.query_params.get("problem", ""),
    )


@router.post("/watches/{watch_id}/stop")
async def stop(request: Request, watch_id: str) -> Response:
    form = _form(await request.form())
    check_csrf(request, form.get("csrf"))
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    try:
        await run_in_threadpool(monitor.stop_watch, services_of(request), watch_id, user)
    except WatchError as exc:
        return RedirectResponse(f"/watches/{watch_id}?problem={exc.code}", status_code=303)
    return RedirectResponse(f"/watches/{watch_id}", status_code=303)


# -- from the case page (its ``watch`` panel) -------------------------------------------------


def _staffed(request: Request, user: User, case_id: str) -> Actor | None:
    """The officer acting on the case (staffed as an officer, of its unit), else None."""
    ctx = case_ctx(request)
    with ctx.sessions() as session:
        case = session.get(Case, case_id)
        unit_id = case.unit_id if case is not None else None
    if unit_id is None or unit_id != user.unit_id:
        return None
    if "officer" not in service.roles_of(ctx, user.id, case_id):
        return None
    return Actor(f"user:{user.id}", user.display_name or user.username, "officer", user.unit_id)


def _back(case_id: str, problem: str = "", done: str = "watch") -> RedirectResponse:
    query = f"?done={done}" + (f"&watch_error={problem}" if problem else "")
    return RedirectResponse(f"/cases/{case_id}{query}#watch", status_code=303)


@router.post("/cases/{case_id}/watches")
async def start_case_watch(request: Request, case_id: str) -> Response:
    form = _form(await request.form())
    check_csrf(request, form.get("csrf"))
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    if _staffed(request, user, case_id) is None:
        return render(request, "error.html", 404, user=user, message="—")
    try:
        spec = spec_from_form(form, case_id)
        await run_in_threadpool(monitor.create_watch, services_of(request), spec, user)
    except WatchError as exc:
        request.session["watch_problem"] = say(language(request), exc)[:500]
        return _back(case_id, exc.code)
    return _back(case_id)


@router.post("/cases/{case_id}/watches/{watch_id}/confirm-correction")
async def confirm_correction(request: Request, case_id: str, watch_id: str) -> Response:
    """Take ``confirm_correction`` with the met watch as its proof: the event names the
    sealed capture that shows the page corrected."""
    form = _form(await request.form())
    check_csrf(request, form.get("csrf"))
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    who = _staffed(request, user, case_id)
    view = monitor.watch_view(services_of(request), watch_id, user.unit_id)
    if who is None or view is None or view.case_id != case_id:
        return render(request, "error.html", 404, user=user, message="—")
    if view.state != "met" or view.met_capture_id is None:
        request.session["watch_problem"] = translate(language(request), "watch.confirm.not_met")
        return _back(case_id, "not_met")
    payload = {
        "correction_verified_by_recapture": True,
        "capture_id": view.met_capture_id,
        "watch_id": view.id,
    }
    try:
        await run_in_threadpool(
            service.act, case_ctx(request), who, case_id, "confirm_correction", payload
        )
    except (process.TransitionRefused, CaseError) as exc:
        request.session["watch_problem"] = str(exc)[:500]
        return _back(case_id, "refused")
    return _back(case_id, done="watch_confirmed")
