"""The platform's portal (``/platform``): an online trading platform logs in, signs its
service-address confirmation, reads the requests served on it and answers them.

The account, password checks, lockout and sessions are the merchant portal's
(:mod:`workflow.merchants`), and so are the cookie, CSRF, rendering and the log-in / set-up /
log-out pages (``portal/accounts.py``, :data:`PORTAL`); only the cookie's name and path are
the platform's own (``evidence_platform``, ``/platform``), so that neither portal's pages read
the other's session. A merchant account that is not a platform's cannot log in here, and
what a platform may see is only what was addressed to it: another platform's request, a
case's other documents, a request id that does not exist -- all the same 404 page.

"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from evidence_service.sealing.case_evidence import UploadTooLarge, seal_upload
from evidence_service.web.auth import client_of, services_of
from evidence_service.web.case_views import case_ctx
from evidence_service.web.downloads import version_pdf
from evidence_service.web.platform.sending import queue_recheck, requester
from evidence_service.web.portal.accounts import AccountPortal
from evidence_service.web.portal.deps import local_time, status_of
from signing.timestamp import TimestampError
from storage.models import Merchant
from workflow import platforms, serving
from workflow.document_versions import address_confirmation
from workflow.errors import ConflictError, PortalError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/platform", include_in_schema=False)
_HERE = Path(__file__).parent
templates = Jinja2Templates(
    directory=[str(_HERE / "templates"), str(_HERE.parent / "portal" / "templates")]
)
templates.env.filters["local"] = local_time


def _is_platform(session: Session, account_id: str) -> bool:
    return platforms.is_platform(session, account_id)


#: The platform portal's settings (the shared account-portal code: ``portal/accounts.py``):
#: only accounts marked as a platform's are taken (a merchant's session is never accepted).
PORTAL = AccountPortal(
    prefix="/platform",
    cookie="evidence_platform",
    csrf_label="platform-csrf",
    templates=templates,
    account_var="platform",
    words="platform",
    base="platform_base.html",
    error_page="platform_error.html",
    accepts=_is_platform,
)
COOKIE, COOKIE_PATH = PORTAL.cookie, PORTAL.prefix


def render(
    request: Request,
    name: str,
    status_code: int = 200,
    *,
    platform: Merchant | None = None,
    **context: Any,
) -> HTMLResponse:
    return PORTAL.render(request, name, status_code, account=platform, **context)


# -- log in, set up, consent, log out -------------------------------------------------------


PORTAL.add_session_routes(router)


def _consent_doc(request: Request, platform: Merchant) -> str | None:
    with PORTAL.ctx(request).sessions() as session:
        doc = address_confirmation(session, platform.id)
        return doc.id if doc is not None else None


@router.get("/consent")
def consent(request: Request) -> Response:
    platform = PORTAL.gate(request, need_consent=False)
    if not isinstance(platform, Merchant):
        return platform
    if platform.consent_signed_at is not None:
        return RedirectResponse("/platform", status_code=303)
    return render(request, "platform_consent.html", platform=platform)


@router.get("/consent/file")
def consent_file(request: Request) -> Response:
    platform = PORTAL.gate(request, need_consent=False)
    if not isinstance(platform, Merchant):
        return platform
    doc_id = _consent_doc(request, platform)
    if doc_id is None:
        return PORTAL.not_found(request, platform)
    doc, version = serving.version_for_merchant(PORTAL.ctx(request), platform.id, doc_id, None)
    return version_pdf(PORTAL.ctx(request).store, doc, version)


@router.post("/consent")
async def sign_consent(
    request: Request, password: str = Form(""), csrf: str = Form("")
) -> Response:
    platform = PORTAL.gate(request, need_consent=False)
    if not isinstance(platform, Merchant):
        return platform
    if not PORTAL.check_csrf(request, csrf):
        return PORTAL.csrf_failed(request, platform)
    doc_id = _consent_doc(request, platform)
    if doc_id is None:
        return PORTAL.not_found(request, platform)
    try:
        await run_in_threadpool(
            serving.merchant_sign,
            PORTAL.ctx(request),
            platform.id,
            doc_id,
            password=password,
            client=client_of(request),
        )
    except PortalError as exc:
        error = PORTAL.error_info(exc)
        return render(
            request, "platform_consent.html", status_of(exc), platform=platform, error=error
        )
    return RedirectResponse("/platform", status_code=303)


# -- the requests ---------------------------------------------------------------------------


@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    platform = PORTAL.gate(request)
    if not isinstance(platform, Merchant):
        return platform
    rows = platforms.requests_for_platform(PORTAL.ctx(request), platform.id)
    return render(request, "platform_home.html", platform=platform, requests=rows)


def _request_page(
    request: Request, platform: Merchant, request_id: str, status_code: int = 200, **extra: Any
) -> Response:
    try:
        view = platforms.request_for_platform(PORTAL.ctx(request), platform.id, request_id)
    except PortalError:
        return PORTAL.not_found(request, platform)
    return render(
        request,
        "platform_request.html",
        status_code,
        platform=platform,
        r=view,
        done=request.query_params.get("done"),
        **extra,
    )


@router.get("/requests/{request_id}")
async def request_page(request: Request, request_id: str) -> Response:
    platform = PORTAL.gate(request)
    if not isinstance(platform, Merchant):
        return platform
    ctx = PORTAL.ctx(request)
    try:
        view = platforms.request_for_platform(ctx, platform.id, request_id)
        if view.document_id:  # its first opening is recorded with the service
            await run_in_threadpool(
                serving.record_open, ctx, platform.id, view.document_id, client=client_of(request)
            )
    except PortalError:
        return PORTAL.not_found(request, platform)
    return _request_page(request, platform, request_id)


@router.get("/requests/{request_id}/letter")
def letter(request: Request, request_id: str) -> Response:
    platform = PORTAL.gate(request)
    if not isinstance(platform, Merchant):
        return platform
    ctx = PORTAL.ctx(request)
    try:
        view = platforms.request_for_platform(ctx, platform.id, request_id)
        if view.document_id is None:
            return PORTAL.not_found(request, platform)
        doc, version = serving.version_for_merchant(ctx, platform.id, view.document_id, None)
    except PortalError:
        return PORTAL.not_found(request, platform)
    return version_pdf(ctx.store, doc, version)


def _answering(request: Request, request_id: str, csrf: str) -> Merchant | Response:
    platform = PORTAL.gate(request)
    if not isinstance(platform, Merchant):
        return platform
    if not PORTAL.check_csrf(request, csrf):
        return PORTAL.csrf_failed(request, platform)
    try:
        platforms.request_for_platform(PORTAL.ctx(request), platform.id, request_id)
    except PortalError:
        return PORTAL.not_found(request, platform)
    return platform


@router.post("/requests/{request_id}/export")
async def upload_export(
    request: Request, request_id: str, file: UploadFile = File(...), csrf: str = Form("")
) -> Response:
    """The platform's data export: sealed as the case's evidence on arrival (hashed,
    time-stamped, stored immutably), then recorded as the request's answer."""
    platform = _answering(request, request_id, csrf)
    if not isinstance(platform, Merchant):
        return platform
    ctx, services = case_ctx(request), services_of(request)
    view = platforms.request_for_platform(PORTAL.ctx(request), platform.id, request_id)
    if view.kind != "assistance" or not file.filename:
        error = {"code": "invalid_input", "message": "", "key": "platform.err.export"}
        return _request_page(request, platform, request_id, 422, error=error)
    who = platforms.platform_actor(platform.id, platform.name, None)
    name = Path(file.filename).name[:255]
    try:
        sealed = await run_in_threadpool(
            seal_upload,
            services,
            ctx,
            who,
            view.case_id,
            file.file,
            file_name=name,
            media_type=(file.content_type or "application/octet-stream")[:100],
            description=f"{view.platform_name} 数据导出（协助调查函 {view.id}）",
        )
        await run_in_threadpool(
            platforms.record_answer,
            ctx,
            who,
            request_id,
            evidence_id=sealed.evidence_id,
            file_name=name,
            sha256=sealed.sha256,
        )
    except (UploadTooLarge, TimestampError) as exc:
        error = {"code": "upload_rejected", "message": str(exc), "key": "platform.err.sealing"}
        return _request_page(request, platform, request_id, 422, error=error)
    except PortalError as exc:
        return _request_page(
            request, platform, request_id, status_of(exc), error=PORTAL.error_info(exc)
        )
    return RedirectResponse(f"/platform/requests/{request_id}?done=export", status_code=303)


@router.post("/requests/{request_id}/takedown")
async def confirm_takedown(
    request: Request, request_id: str, note: str = Form(""), csrf: str = Form("")
) -> Response:
    """The platform confirms the takedown; the listing is captured again, sealed, to check."""
    platform = _answering(request, request_id, csrf)
    if not isinstance(platform, Merchant):
        return platform
    ctx, services = case_ctx(request), services_of(request)
    view = platforms.request_for_platform(PORTAL.ctx(request), platform.id, request_id)
    if view.kind != "takedown" or view.listing_url is None:
        return PORTAL.not_found(request, platform)
    who = platforms.platform_actor(platform.id, platform.name, None)
    try:
        await run_in_threadpool(_check_confirmable, view)
        sender = requester(services, request_id)
        capture_id = await run_in_threadpool(
            queue_recheck,
            services,
            view.listing_url,
            sender.id if sender else None,
            view.case_id,
        )
        await run_in_threadpool(
            platforms.confirm_takedown, ctx, who, request_id, note=note, capture_id=capture_id
        )
    except PortalError as exc:
        return _request_page(
            request, platform, request_id, status_of(exc), error=PORTAL.error_info(exc)
        )
    return RedirectResponse(f"/platform/requests/{request_id}?done=takedown", status_code=303)


def _check_confirmable(view: platforms.RequestView) -> None:
    """Refuse a second confirmation before a capture is queued for it."""
    if view.state in ("confirmed", "checked") and view.recheck != "still_there":
        raise ConflictError("the takedown was confirmed already", code="already_confirmed")
