"""The merchant portal's pages (``/portal``), server-rendered in Chinese and English.

Sessions, CSRF, rendering and the log-in / set-up / log-out pages are the account portal's
(``portal/accounts.py``), shared with the platform operators' portal.

Errors: anything a merchant may not see -- another merchant's document, a version or file of
it, an id that does not exist -- is the same 404 page.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from evidence_service.sealing.case_file import case_context
from evidence_service.web.auth import client_of, services_of
from evidence_service.web.downloads import attachment_download, version_pdf
from evidence_service.web.params import OptionalRowId, RowId
from evidence_service.web.portal.accounts import AccountPortal
from evidence_service.web.portal.deps import local_time, status_of
from storage.models import Merchant
from workflow import merchants, serving
from workflow.cases.service import record_party_signature
from workflow.context import PortalContext
from workflow.document_versions import address_confirmation
from workflow.errors import FieldError, PortalError, UploadRejectedError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/portal", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["local"] = local_time

UPLOAD_CHUNK = 1 << 20

#: The merchant portal's settings (the shared account-portal code: ``portal/accounts.py``).
PORTAL = AccountPortal(
    prefix="/portal",
    cookie="evidence_portal",
    csrf_label="portal-csrf",
    templates=templates,
    account_var="merchant",
    words="portal",
    base="portal_base.html",
    error_page="portal_error.html",
)
COOKIE, COOKIE_PATH = PORTAL.cookie, PORTAL.prefix
Gate = Merchant | Response


def render(
    request: Request,
    name: str,
    status_code: int = 200,
    *,
    merchant: Merchant | None = None,
    **context: Any,
) -> HTMLResponse:
    return PORTAL.render(request, name, status_code, account=merchant, **context)


# -- log in, set up, log out ----------------------------------------------------------------


@router.get("")
@router.get("/")
def home(request: Request) -> Response:
    merchant = PORTAL.gate(request)
    if not isinstance(merchant, Merchant):
        return merchant
    docs = serving.documents_for_merchant(PORTAL.ctx(request), merchant.id)
    return render(request, "portal_home.html", merchant=merchant, documents=docs)


PORTAL.add_session_routes(router)


@router.get("/consent")
def consent(request: Request) -> Response:
    merchant = PORTAL.gate(request, need_consent=False)
    if not isinstance(merchant, Merchant):
        return merchant
    with PORTAL.ctx(request).sessions() as session:
        doc = address_confirmation(session, merchant.id)
    if doc is None:
        return PORTAL.not_found(request, merchant)
    return RedirectResponse(f"/portal/documents/{doc.id}", status_code=303)


# -- documents ------------------------------------------------------------------------------


def _doc_gate(request: Request, document_id: str) -> Gate:
    """Before consent only the service-address confirmation itself may be opened."""
    merchant = PORTAL.gate(request, need_consent=False)
    if not isinstance(merchant, Merchant) or merchant.consent_signed_at is not None:
        return merchant
    with PORTAL.ctx(request).sessions() as session:
        doc = address_confirmation(session, merchant.id)
    if doc is not None and doc.id == document_id:
        return merchant
    return RedirectResponse("/portal/consent", status_code=303)


def _document_page(
    request: Request,
    merchant: Merchant,
    document_id: str,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    ctx = PORTAL.ctx(request)
    try:
        view = serving.document_for_merchant(ctx, merchant.id, document_id)
    except PortalError:
        return PORTAL.not_found(request, merchant)
    fresh = merchants.merchant_for_session(ctx, PORTAL.token(request)) or merchant
    return render(
        request,
        "portal_document.html",
        status_code,
        merchant=fresh,
        view=view,
        error=extra.pop("error", None),
        **extra,
    )


@router.get("/documents/{document_id}")
async def document_page(request: Request, document_id: str) -> Response:
    merchant = _doc_gate(request, document_id)
    if not isinstance(merchant, Merchant):
        return merchant
    ctx = PORTAL.ctx(request)
    try:
        await run_in_threadpool(
            serving.record_open, ctx, merchant.id, document_id, client=client_of(request)
        )
    except PortalError:
        return PORTAL.not_found(request, merchant)
    done = request.query_params.get("done")
    return _document_page(request, merchant, document_id, done=done)


@router.get("/documents/{document_id}/file")
def document_file(request: Request, document_id: str, v: OptionalRowId = None) -> Response:
    merchant = _doc_gate(request, document_id)
    if not isinstance(merchant, Merchant):
        return merchant
    ctx = PORTAL.ctx(request)
    try:
        doc, version = serving.version_for_merchant(ctx, merchant.id, document_id, v)
    except PortalError:
        return PORTAL.not_found(request, merchant)
    return version_pdf(ctx.store, doc, version)


@router.get("/documents/{document_id}/attachments/{attachment_id}")
def attachment_file(request: Request, document_id: str, attachment_id: RowId) -> Response:
    merchant = PORTAL.gate(request)
    if not isinstance(merchant, Merchant):
        return merchant
    ctx = PORTAL.ctx(request)
    try:
        row = serving.attachment_for_merchant(ctx, merchant.id, document_id, attachment_id)
    except PortalError:
        return PORTAL.not_found(request, merchant)
    return attachment_download(ctx.store, row)


@router.post("/documents/{document_id}/sign")
async def sign_document(
    request: Request, document_id: str, password: str = Form(""), csrf: str = Form("")
) -> Response:
    merchant = _doc_gate(request, document_id)
    if not isinstance(merchant, Merchant):
        return merchant
    if not PORTAL.check_csrf(request, csrf):
        return PORTAL.csrf_failed(request, merchant)
    ctx = PORTAL.ctx(request)
    try:
        version = await run_in_threadpool(
            serving.merchant_sign,
            ctx,
            merchant.id,
            document_id,
            password=password,
            client=client_of(request),
        )
    except PortalError as exc:
        if status_of(exc) == 404:
            return PORTAL.not_found(request, merchant)
        return _document_page(
            request, merchant, document_id, status_of(exc), error=PORTAL.error_info(exc)
        )
    await run_in_threadpool(_signed_in_cases, request, merchant, document_id, version.sha256)
    target = "/portal" if merchant.consent_signed_at is None else None
    return RedirectResponse(
        target or f"/portal/documents/{document_id}?done=signed", status_code=303
    )


def _signed_in_cases(request: Request, merchant: Merchant, document_id: str, sha256: str) -> None:
    """The party's signature of a case document, in the case's chain (its step recorded as
    it happens). The signature itself is kept already: a failure here is logged, and the
    document's new version is in the case file's export all the same."""
    try:
        record_party_signature(
            case_context(services_of(request)), merchant.id, merchant.name, document_id, sha256
        )
    except Exception:
        log.exception("the party's signature of %s was not recorded in its case", document_id)


async def _spool(ctx: PortalContext, upload: UploadFile, limit: int, suffix: str) -> Path | None:
    """Write an upload to a private temporary file, reading at most ``limit + 1`` bytes;
    None when it is larger than ``limit``."""
    ctx.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = ctx.work_dir / f"upload-{secrets.token_hex(12)}{suffix}"
    size = 0
    with open(path, "wb") as fh:
        while chunk := await upload.read(UPLOAD_CHUNK):
            size += len(chunk)
            if size > limit:
                fh.close()
                path.unlink(missing_ok=True)
                return None
            fh.write(chunk)
    return path


async def _with_spooled(
    ctx: PortalContext, uploads: list[UploadFile], limit: int, suffix: str
) -> tuple[list[tuple[str, Path]], str | None]:
    spooled: list[tuple[str, Path]] = []
    for upload in uploads:
        if not upload.filename:
            continue
        path = await _spool(ctx, upload, limit, suffix)
        if path is None:
            for _, p in spooled:
                p.unlink(missing_ok=True)
            return [], f"{upload.filename}: too large ({limit // (1024 * 1024)} MB at most)"
        spooled.append((upload.filename, path))
    return spooled, None


def _answering(request: Request, document_id: str, csrf: str) -> Gate:
    """The merchant posting a file or statement about one of its documents, or the response
    that stops the post (login or consent, a CSRF refusal, 404 for a document it may not
    see). Checked before any upload is copied into the work folder, so a post about someone
    else's document leaves nothing there."""
    merchant = PORTAL.gate(request)
    if not isinstance(merchant, Merchant):
        return merchant
    if not PORTAL.check_csrf(request, csrf):
        return PORTAL.csrf_failed(request, merchant)
    try:
        serving.document_for_merchant(PORTAL.ctx(request), merchant.id, document_id)
    except PortalError:
        return PORTAL.not_found(request, merchant)
    return merchant


@router.post("/documents/{document_id}/upload")
async def upload_signed(
    request: Request,
    document_id: str,
    file: UploadFile = File(...),
    csrf: str = Form(""),
) -> Response:
    merchant = _answering(request, document_id, csrf)
    if not isinstance(merchant, Merchant):
        return merchant
    ctx = PORTAL.ctx(request)
    spooled, problem = await _with_spooled(ctx, [file], ctx.max_upload_pdf_bytes, ".pdf")
    if problem is not None or not spooled:
        exc = UploadRejectedError([problem or "no file was sent"])
        return _document_page(request, merchant, document_id, 422, error=PORTAL.error_info(exc))
    path = spooled[0][1]
    try:
        version = await run_in_threadpool(
            serving.merchant_upload, ctx, merchant.id, document_id, path, client=client_of(request)
        )
    except PortalError as exc:
        if status_of(exc) == 404:
            return PORTAL.not_found(request, merchant)
        return _document_page(
            request, merchant, document_id, status_of(exc), error=PORTAL.error_info(exc)
        )
    finally:
        path.unlink(missing_ok=True)
    await run_in_threadpool(_signed_in_cases, request, merchant, document_id, version.sha256)
    return RedirectResponse(f"/portal/documents/{document_id}?done=uploaded", status_code=303)


# -- statements -----------------------------------------------------------------------------


def _statement_form(
    request: Request,
    merchant: Merchant,
    document_id: str,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    try:
        view = serving.document_for_merchant(PORTAL.ctx(request), merchant.id, document_id)
    except PortalError:
        return PORTAL.not_found(request, merchant)
    if view.document.kind != "notice":
        return PORTAL.not_found(request, merchant)
    ctx = PORTAL.ctx(request)
    return render(
        request,
        "portal_statement.html",
        status_code,
        merchant=merchant,
        view=view,
        error=extra.get("error"),
        text=extra.get("text", ""),
        requests_hearing=extra.get("requests_hearing", False),
        max_files=ctx.max_attachments,
        max_mb=ctx.max_attachment_bytes // (1024 * 1024),
    )


@router.get("/documents/{document_id}/statement")
def statement_form(request: Request, document_id: str) -> Response:
    merchant = PORTAL.gate(request)
    if not isinstance(merchant, Merchant):
        return merchant
    return _statement_form(request, merchant, document_id)


@router.post("/documents/{document_id}/statement")
async def submit_statement(
    request: Request,
    document_id: str,
    text: str = Form(""),
    password: str = Form(""),
    requests_hearing: bool = Form(False),
    attachments: list[UploadFile] = File(default=[]),
    csrf: str = Form(""),
) -> Response:
    merchant = _answering(request, document_id, csrf)
    if not isinstance(merchant, Merchant):
        return merchant
    ctx = PORTAL.ctx(request)
    keep = {"text": text, "requests_hearing": requests_hearing}
    if len([a for a in attachments if a.filename]) > ctx.max_attachments:
        exc: PortalError = FieldError("attachments", f"at most {ctx.max_attachments} files")
        return _statement_form(
            request, merchant, document_id, 422, error=PORTAL.error_info(exc), **keep
        )
    spooled, problem = await _with_spooled(ctx, attachments, ctx.max_attachment_bytes, ".bin")
    if problem is not None:
        exc = FieldError("attachments", problem)
        return _statement_form(
            request, merchant, document_id, 422, error=PORTAL.error_info(exc), **keep
        )
    files = [serving.UploadedFile(name, path) for name, path in spooled]
    try:
        statement_id = await run_in_threadpool(
            _submit,
            ctx,
            merchant.id,
            document_id,
            text,
            password,
            files,
            requests_hearing,
            client_of(request),
        )
    except PortalError as exc:
        if status_of(exc) == 404:
            return PORTAL.not_found(request, merchant)
        return _statement_form(
            request, merchant, document_id, status_of(exc), error=PORTAL.error_info(exc), **keep
        )
    finally:
        for _, path in spooled:
            path.unlink(missing_ok=True)
    return RedirectResponse(f"/portal/documents/{statement_id}?done=statement", status_code=303)


def _submit(
    ctx: PortalContext,
    merchant_id: str,
    document_id: str,
    text: str,
    password: str,
    files: list[serving.UploadedFile],
    requests_hearing: bool,
    client: Any,
) -> str:
    return serving.submit_statement(
        ctx,
        merchant_id,
        document_id,
        text=text,
        password=password,
        attachments=files,
        requests_hearing=requests_hearing,
        client=client,
    )
