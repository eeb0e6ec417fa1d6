"""The platform's portal (``/platform``): an online trading platform logs in, signs its
service-address confirmation, reads the requests served on it and answers them.

The account, password checks, lockout and sessions are the merchant portal's
(:mod:`workflow.merchants`); only the cookie is the platform's own (``evidence_platform``,
path ``/platform``, HttpOnly, SameSite=Lax), so that neither portal's pages read the other's
session. A merchant account that is not a platform's cannot log in here, and what a platform
may see is only what was addressed to it: another platform's request, a case's other
documents, a request id that does not exist -- all the same 404 page.

CSRF: every form carries ``HMAC(session secret, token)`` as in the merchant portal.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from evidence_service.sealing.case_evidence import UploadTooLarge, seal_upload
from evidence_service.web.auth import client_of, services_of
from evidence_service.web.case_views import case_ctx
from evidence_service.web.downloads import version_pdf
from evidence_service.web.i18n import language, translate
from evidence_service.web.platform.sending import queue_recheck, requester
from evidence_service.web.portal.deps import local_time, portal_context, status_of
from evidence_service.web.portal.routes import KNOWN_ERRORS
from signing.timestamp import TimestampError
from storage.models import Merchant
from workflow import merchants, platforms, serving
from workflow.context import PortalContext
from workflow.document_versions import address_confirmation
from workflow.errors import AuthenticationError, ConflictError, FieldError, PortalError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/platform", include_in_schema=False)
_HERE = Path(__file__).parent
templates = Jinja2Templates(
    directory=[str(_HERE / "templates"), str(_HERE.parent / "portal" / "templates")]
)
templates.env.filters["local"] = local_time

COOKIE = "evidence_platform"
COOKIE_PATH = "/platform"


# -- cookie, CSRF, rendering ----------------------------------------------------------------


def _token(request: Request) -> str | None:
    value = request.cookies.get(COOKIE)
    return value if value and len(value) <= 100 else None


def _csrf_for(request: Request, token: str) -> str:
    key = services_of(request).settings.session_key.encode()
    return hmac.new(key, b"platform-csrf:" + token.encode(), hashlib.sha256).hexdigest()


def _check_csrf(request: Request, submitted: str) -> bool:
    token = _token(request)
    if not token or not submitted:
        return False
    return hmac.compare_digest(_csrf_for(request, token), submitted)


def _set_cookie(request: Request, response: Response, token: str) -> None:
    secure = services_of(request).settings.effective_public_url.startswith("https://")
    response.set_cookie(
        COOKIE, token, path=COOKIE_PATH, httponly=True, samesite="lax", secure=secure,
        max_age=12 * 3600,
    )  # fmt: skip


def render(
    request: Request,
    name: str,
    status_code: int = 200,
    *,
    platform: Merchant | None = None,
    **context: Any,
) -> HTMLResponse:
    lang = language(request)
    token = _token(request)
    new_token = token is None
    if token is None:
        token = secrets.token_urlsafe(32)
    context.update(
        lang=lang,
        t=lambda key: translate(lang, key),
        platform=platform,
        csrf=_csrf_for(request, token),
        error=context.get("error"),
    )
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    if new_token:
        _set_cookie(request, response, token)
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie("lang", lang, max_age=3600 * 24 * 365, samesite="lax")
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(exc: PortalError) -> dict[str, Any]:
    """The merchant portal's error box: its translated explanation when it has one."""
    key = f"portal.err.{exc.code}" if exc.code in KNOWN_ERRORS else None
    info: dict[str, Any] = {"code": exc.code, "message": str(exc), "key": key}
    if isinstance(exc, FieldError):
        info["fields"] = dict(exc.errors)
    return info


def _not_found(request: Request, platform: Merchant | None) -> HTMLResponse:
    return render(request, "platform_error.html", 404, platform=platform, missing=True)


def _csrf_failed(request: Request, platform: Merchant | None) -> HTMLResponse:
    error = {"code": "csrf", "message": "", "key": "portal.err.csrf"}
    return render(request, "platform_error.html", 403, platform=platform, error=error)


def _ctx(request: Request) -> PortalContext:
    return portal_context(request)


def _current(request: Request) -> Merchant | None:
    """The platform behind the cookie: a live portal session of an account marked as a
    platform's (a merchant's session is never accepted here)."""
    account = merchants.merchant_for_session(_ctx(request), _token(request))
    if account is None:
        return None
    with _ctx(request).sessions() as session:
        return account if platforms.is_platform(session, account.id) else None


def _gate(request: Request, *, need_consent: bool = True) -> Merchant | Response:
    platform = _current(request)
    if platform is None:
        return RedirectResponse("/platform/login", status_code=303)
    if need_consent and platform.consent_signed_at is None:
        return RedirectResponse("/platform/consent", status_code=303)
    return platform


# -- log in, set up, consent, log out -------------------------------------------------------


@router.get("/login")
def login_form(request: Request) -> Response:
    if _current(request) is not None:
        return RedirectResponse("/platform", status_code=303)
    return render(request, "platform_login.html", credit_code="")


@router.post("/login")
async def login(
    request: Request, credit_code: str = Form(""), password: str = Form(""), csrf: str = Form("")
) -> Response:
    if not _check_csrf(request, csrf):
        return _csrf_failed(request, None)
    ctx, client = _ctx(request), client_of(request)
    try:
        account_id = await run_in_threadpool(
            merchants.authenticate, ctx, credit_code, password, client=client
        )
        with ctx.sessions() as session:
            if not platforms.is_platform(session, account_id):
                raise AuthenticationError("wrong credit code or password")
        token = await run_in_threadpool(merchants.start_session, ctx, account_id, client=client)
    except PortalError as exc:
        return render(
            request,
            "platform_login.html",
            status_of(exc),
            error=_error(exc),
            credit_code=credit_code,
        )
    response = RedirectResponse("/platform", status_code=303)
    _set_cookie(request, response, token)
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    if not _check_csrf(request, csrf):
        return _csrf_failed(request, _current(request))
    merchants.end_session(_ctx(request), _token(request))
    response = RedirectResponse("/platform/login", status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


@router.get("/setup")
def setup_form(request: Request) -> Response:
    return render(request, "platform_setup.html", form={})


@router.post("/setup")
async def setup(
    request: Request,
    code: str = Form(""),
    password: str = Form(""),
    password_repeat: str = Form(""),
    contact_name: str = Form(""),
    phone: str = Form(""),
    email: str = Form(""),
    address: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    if not _check_csrf(request, csrf):
        return _csrf_failed(request, None)
    ctx, client = _ctx(request), client_of(request)
    form = merchants.SetupForm(code, password, password_repeat, contact_name, phone, email, address)
    kept = {"contact_name": contact_name, "phone": phone, "email": email, "address": address}
    try:
        account_id = await run_in_threadpool(merchants.complete_setup, ctx, form, client=client)
        token = await run_in_threadpool(merchants.start_session, ctx, account_id, client=client)
    except PortalError as exc:
        error = _error(exc)
        return render(request, "platform_setup.html", status_of(exc), error=error, form=kept)
    response = RedirectResponse("/platform/consent", status_code=303)
    _set_cookie(request, response, token)
    return response


def _consent_doc(request: Request, platform: Merchant) -> str | None:
    with _ctx(request).sessions() as session:
        doc = address_confirmation(session, platform.id)
        return doc.id if doc is not None else None


@router.get("/consent")
def consent(request: Request) -> Response:
    platform = _gate(request, need_consent=False)
    if not isinstance(platform, Merchant):
        return platform
    if platform.consent_signed_at is not None:
        return RedirectResponse("/platform", status_code=303)
    return render(request, "platform_consent.html", platform=platform)


@router.get("/consent/file")
def consent_file(request: Request) -> Response:
    platform = _gate(request, need_consent=False)
    if not isinstance(platform, Merchant):
        return platform
    doc_id = _consent_doc(request, platform)
    if doc_id is None:
        return _not_found(request, platform)
    doc, version = serving.version_for_merchant(_ctx(request), platform.id, doc_id, None)
    return version_pdf(_ctx(request).store, doc, version)


@router.post("/consent")
async def sign_consent(
    request: Request, password: str = Form(""), csrf: str = Form("")
) -> Response:
    platform = _gate(request, need_consent=False)
    if not isinstance(platform, Merchant):
        return platform
    if not _check_csrf(request, csrf):
        return _csrf_failed(request, platform)
    doc_id = _consent_doc(request, platform)
    if doc_id is None:
        return _not_found(request, platform)
    try:
        await run_in_threadpool(
            serving.merchant_sign,
            _ctx(request),
            platform.id,
            doc_id,
            password=password,
            client=client_of(request),
        )
    except PortalError as exc:
        error = _error(exc)
        return render(
            request, "platform_consent.html", status_of(exc), platform=platform, error=error
        )
    return RedirectResponse("/platform", status_code=303)


# -- the requests ---------------------------------------------------------------------------


@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    platform = _gate(request)
    if not isinstance(platform, Merchant):
        return platform
    rows = platforms.requests_for_platform(_ctx(request), platform.id)
    return render(request, "platform_home.html", platform=platform, requests=rows)


def _request_page(
    request: Request, platform: Merchant, request_id: str, status_code: int = 200, **extra: Any
) -> Response:
    try:
        view = platforms.request_for_platform(_ctx(request), platform.id, request_id)
    except PortalError:
        return _not_found(request, platform)
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
    platform = _gate(request)
    if not isinstance(platform, Merchant):
        return platform
    ctx = _ctx(request)
    try:
        view = platforms.request_for_platform(ctx, platform.id, request_id)
        if view.document_id:  # its first opening is recorded with the service
            await run_in_threadpool(
                serving.record_open, ctx, platform.id, view.document_id, client=client_of(request)
            )
    except PortalError:
        return _not_found(request, platform)
    return _request_page(request, platform, request_id)


@router.get("/requests/{request_id}/letter")
def letter(request: Request, request_id: str) -> Response:
    platform = _gate(request)
    if not isinstance(platform, Merchant):
        return platform
    ctx = _ctx(request)
    try:
        view = platforms.request_for_platform(ctx, platform.id, request_id)
        if view.document_id is None:
            return _not_found(request, platform)
        doc, version = serving.version_for_merchant(ctx, platform.id, view.document_id, None)
    except PortalError:
        return _not_found(request, platform)
    return version_pdf(ctx.store, doc, version)


def _answering(request: Request, request_id: str, csrf: str) -> Merchant | Response:
    platform = _gate(request)
    if not isinstance(platform, Merchant):
        return platform
    if not _check_csrf(request, csrf):
        return _csrf_failed(request, platform)
    try:
        platforms.request_for_platform(_ctx(request), platform.id, request_id)
    except PortalError:
        return _not_found(request, platform)
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
    view = platforms.request_for_platform(_ctx(request), platform.id, request_id)
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
        return _request_page(request, platform, request_id, status_of(exc), error=_error(exc))
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
    view = platforms.request_for_platform(_ctx(request), platform.id, request_id)
    if view.kind != "takedown" or view.listing_url is None:
        return _not_found(request, platform)
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
        return _request_page(request, platform, request_id, status_of(exc), error=_error(exc))
    return RedirectResponse(f"/platform/requests/{request_id}?done=takedown", status_code=303)


def _check_confirmable(view: platforms.RequestView) -> None:
    """Refuse a second confirmation before a capture is queued for it."""
    if view.state in ("confirmed", "checked") and view.recheck != "still_there":
        raise ConflictError("the takedown was confirmed already", code="already_confirmed")
