"""The officer's capture pages: the form ("Capture evidence"), the list, and a capture's page
with its stages (queued → loading → sealing → stored) and then its files, hashes and times."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from capture.devices import known_devices
from capture.types import Cookie
from evidence_service.sealing.capture_record import capture_record
from evidence_service.sealing.pipeline import CaptureRequestError, accept_capture, load_cookies
from evidence_service.services import Services
from evidence_service.web.auth import can_view, check_csrf, services_of
from evidence_service.web.officer.comparisons import compare_candidates, comparisons_of
from evidence_service.web.pages import render, require_officer
from storage.models import Capture, User

router = APIRouter(include_in_schema=False)
MAX_COOKIE_FILE = 256 * 1024


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/captures", status_code=303)


@router.get("/captures")
def captures_page(request: Request) -> Response:
    user = require_officer(request)
    if isinstance(user, RedirectResponse):
        return user
    return _captures(request, user)


def _captures(
    request: Request,
    user: User,
    *,
    error: str | None = None,
    url: str = "",
    status: int = 200,
    device: str = "",
    video: bool | None = None,
) -> Response:
    services = services_of(request)
    with services.sessions() as session:
        rows = session.scalars(select(Capture).order_by(Capture.created_at.desc()).limit(50)).all()
        visible = [capture_record(c) for c in rows if can_view(user, c)]
    return render(
        request,
        "captures.html",
        status,
        user=user,
        captures=visible,
        error=error,
        url=url,
        device=device,
        video=services.settings.capture_video if video is None else video,
        device_names=_mobile_device_names(),
        # One key per form shown: a double click or a resent form gets the capture the first
        # submission made, not a second one (see sealing.pipeline.accept_capture).
        request_key=secrets.token_urlsafe(18),
    )


def _mobile_device_names() -> list[str]:
    """Suggestions for the device field: the phones and tablets Playwright describes."""
    try:
        return [n for n, d in known_devices().items() if d.is_mobile]
    except RuntimeError:  # the field still takes a name; the capture request checks it
        return []


@router.post("/captures")
async def submit_capture(
    request: Request,
    url: str = Form(...),
    csrf: str = Form(""),
    cookies: UploadFile | None = None,
    device: str = Form(""),
    video: str = Form(""),
    request_key: str = Form(""),
) -> Response:
    check_csrf(request, csrf)
    user = require_officer(request)
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
        capture_id = await run_in_threadpool(
            _submit, services, url, user.id, request_key, cookie_list, bool(video), device
        )
    except CaptureRequestError as exc:
        return _captures(
            request,
            user,
            error=f"{exc.code}: {exc}",
            url=url,
            status=422,
            device=device,
            video=bool(video),
        )
    return RedirectResponse(f"/captures/{capture_id}", status_code=303)


def _submit(
    services: Services,
    url: str,
    user_id: int,
    key: str,
    cookies: list[Cookie],
    video: bool,
    device: str,
) -> str:
    """The form's capture: a resent form (same key, same fields) gets the first one's capture.
    A form shown again from the browser's history, its key used, and then changed, is a new
    request: the officer meant another capture, so it is made without the key."""
    args: dict[str, Any] = {"cookies": cookies, "video": video, "device": device.strip() or None}
    try:
        return accept_capture(
            services, url, user_id=user_id, idempotency_key=key or None, **args
        ).capture_id
    except CaptureRequestError as exc:
        if exc.code != "idempotency_key_reused":
            raise
    return accept_capture(services, url, user_id=user_id, idempotency_key=None, **args).capture_id


@router.get("/captures/{capture_id}")
def capture_page(request: Request, capture_id: str) -> Response:
    user = require_officer(request)
    if isinstance(user, RedirectResponse):
        return user
    services = services_of(request)
    with services.sessions() as session:  # closed before rendering: render opens its own
        cap = session.get(Capture, capture_id)
        record = capture_record(cap) if cap is not None and can_view(user, cap) else None
        if cap is not None:
            session.expunge(cap)
    if record is None or cap is None:
        return render(request, "error.html", 404, message=f"No capture {capture_id}")
    others = [capture_record(o) for o in compare_candidates(services, user, cap)]
    done = comparisons_of(services, capture_id) if record.status == "stored" else []
    return render(request, "capture.html", user=user, c=record, others=others, comparisons=done)
