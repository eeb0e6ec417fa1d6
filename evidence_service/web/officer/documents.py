"""Officer pages for merchants and served documents (``/merchants``, ``/documents``).

Officers see and act on their own unit's merchants and documents only (admins on all); any
other id is a 404, the same as an id that does not exist. Every form carries the officers'
CSRF token; the merchant portal's cookie means nothing here (see ``evidence_service.web.portal``).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from evidence_service.web.auth import check_csrf, client_of
from evidence_service.web.downloads import attachment_download, version_pdf
from evidence_service.web.pages import render, require_officer, templates
from evidence_service.web.params import RowId
from evidence_service.web.portal.deps import local_time, officer_ref, portal_context
from evidence_service.web.portal.deps import status_of as _status_of
from storage.models import User
from workflow import merchants, serving
from workflow.context import Client, OfficerRef, PortalContext
from workflow.errors import FieldError, NotFoundError, PortalError
from workflow.idempotency import IdempotencyKeyReusedError

router = APIRouter(include_in_schema=False)
templates.env.filters.setdefault("local", local_time)


def _who(request: Request) -> tuple[User, OfficerRef] | Response:
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    return user, officer_ref(user)


def _acting(request: Request, csrf: str) -> tuple[User, OfficerRef, PortalContext] | Response:
    """For a form an officer posts: the CSRF check, the officer (or the sign-in page), and
    the workflow's context."""
    check_csrf(request, csrf)
    who = _who(request)
    if isinstance(who, Response):
        return who
    return (*who, portal_context(request))


def _not_found(request: Request, user: User, what: str) -> Response:
    return render(request, "error.html", 404, user=user, message=what)


def _error(exc: PortalError) -> dict[str, Any]:
    info: dict[str, Any] = {"code": exc.code, "message": str(exc)}
    if isinstance(exc, FieldError):
        info["field"] = exc.field
        info["fields"] = dict(exc.errors)
    return info


# -- merchants ------------------------------------------------------------------------------


def _merchants_page(
    request: Request, user: User, officer: OfficerRef, status_code: int = 200, **extra: Any
) -> Response:
    ctx = portal_context(request)
    with ctx.sessions() as session:
        rows = merchants.merchants_for_officer(session, officer)
    return render(
        request,
        "docs_merchants.html",
        status_code,
        user=user,
        merchants=rows,
        error=extra.get("error"),
        form=extra.get("form", {}),
    )


@router.get("/merchants")
def merchants_page(request: Request) -> Response:
    who = _who(request)
    if isinstance(who, Response):
        return who
    return _merchants_page(request, *who)


@router.post("/merchants")
async def invite(
    request: Request, name: str = Form(""), credit_code: str = Form(""), csrf: str = Form("")
) -> Response:
    acting = _acting(request, csrf)
    if isinstance(acting, Response):
        return acting
    user, officer, ctx = acting
    try:
        invitation = await run_in_threadpool(
            merchants.invite_merchant,
            ctx,
            officer,
            name=name,
            credit_code=credit_code,
            client=client_of(request),
        )
    except PortalError as exc:
        form = {"name": name, "credit_code": credit_code}
        return _merchants_page(
            request, user, officer, _status_of(exc), error=_error(exc), form=form
        )
    return _merchant_page(request, user, officer, invitation.merchant_id, invitation=invitation)


def _merchant_page(
    request: Request,
    user: User,
    officer: OfficerRef,
    merchant_id: str,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    ctx = portal_context(request)
    try:
        with ctx.sessions() as session:
            merchant = merchants.officer_merchant(session, officer, merchant_id)
            session.expunge(merchant)
    except NotFoundError:
        return _not_found(request, user, f"No merchant {merchant_id}")
    docs = serving.documents_for_officer(ctx, officer, merchant_id=merchant_id)
    return render(
        request,
        "docs_merchant.html",
        status_code,
        user=user,
        m=merchant,
        documents=[d for d, _ in docs],
        invitation=extra.get("invitation"),
        error=extra.get("error"),
        portal_url=ctx.portal_url + "/portal/setup",
    )


@router.get("/merchants/{merchant_id}")
def merchant_page(request: Request, merchant_id: str) -> Response:
    who = _who(request)
    if isinstance(who, Response):
        return who
    return _merchant_page(request, *who, merchant_id)


@router.post("/merchants/{merchant_id}/setup-code")
async def setup_code(request: Request, merchant_id: str, csrf: str = Form("")) -> Response:
    acting = _acting(request, csrf)
    if isinstance(acting, Response):
        return acting
    user, officer, ctx = acting
    try:
        invitation = await run_in_threadpool(
            merchants.new_setup_code, ctx, officer, merchant_id, client=client_of(request)
        )
    except NotFoundError:
        return _not_found(request, user, f"No merchant {merchant_id}")
    except PortalError as exc:
        return _merchant_page(
            request, user, officer, merchant_id, _status_of(exc), error=_error(exc)
        )
    return _merchant_page(request, user, officer, merchant_id, invitation=invitation)


# -- documents ------------------------------------------------------------------------------


@router.get("/documents")
def documents_page(request: Request) -> Response:
    who = _who(request)
    if isinstance(who, Response):
        return who
    user, officer = who
    rows = serving.documents_for_officer(portal_context(request), officer)
    return render(request, "docs_list.html", user=user, rows=rows)


def _sample(template: str) -> str:
    """The template's sample data for the form: the party, unit and date are filled in
    from the merchant, so they are left out; dates ahead are moved to after today."""
    from workflow.documents import sample_data

    data = sample_data(template)
    for key in ("party", "issuing_unit", "date", "translations"):
        data.pop(key, None)
    today = dt.date.today()
    if "deadline" in data:
        data["deadline"] = (today + dt.timedelta(days=10)).isoformat()
    return json.dumps(data, ensure_ascii=False, indent=2)


def _new_page(
    request: Request,
    user: User,
    officer: OfficerRef,
    *,
    template: str,
    merchant_id: str | None,
    data_text: str | None,
    status_code: int = 200,
    error: dict[str, Any] | None = None,
) -> Response:
    from workflow.documents import TEMPLATES

    ctx = portal_context(request)
    with ctx.sessions() as session:
        rows = merchants.merchants_for_officer(session, officer)
    if template not in serving.NOTICE_TEMPLATES:
        template = serving.NOTICE_TEMPLATES[0]
    return render(
        request,
        "docs_new.html",
        status_code,
        user=user,
        merchants=rows,
        templates_=[(k, TEMPLATES[k]) for k in serving.NOTICE_TEMPLATES],
        template=template,
        merchant_id=merchant_id,
        data_text=data_text if data_text is not None else _sample(template),
        error=error,
        # One key per form shown: a double click or a resent form gets the draft the first
        # submission made, not a second one (see workflow.serving.request_document).
        request_key=secrets.token_urlsafe(18),
    )


@router.get("/documents/new")
def new_document(request: Request, template: str = "", merchant: str | None = None) -> Response:
    who = _who(request)
    if isinstance(who, Response):
        return who
    return _new_page(request, *who, template=template, merchant_id=merchant, data_text=None)


@router.post("/documents")
async def create_document(
    request: Request,
    merchant_id: str = Form(""),
    template: str = Form(""),
    data: str = Form(""),
    csrf: str = Form(""),
    request_key: str = Form(""),
) -> Response:
    acting = _acting(request, csrf)
    if isinstance(acting, Response):
        return acting
    user, officer, ctx = acting
    try:
        try:
            parsed = json.loads(data or "{}")
        except ValueError as exc:
            raise FieldError("data", f"not valid JSON ({exc})") from None
        document_id = await run_in_threadpool(
            _submit,
            ctx,
            officer,
            request_key,
            {"merchant_id": merchant_id, "template": template, "data": parsed},
            client_of(request),
        )
    except PortalError as exc:
        if isinstance(exc, NotFoundError):  # the merchant: not one of the officer's unit
            exc = FieldError("merchant_id", "choose a merchant of your unit")
        return _new_page(
            request,
            user,
            officer,
            template=template,
            merchant_id=merchant_id,
            data_text=data,
            status_code=_status_of(exc),
            error=_error(exc),
        )
    return RedirectResponse(f"/documents/{document_id}", status_code=303)


def _submit(
    ctx: PortalContext,
    officer: OfficerRef,
    key: str,
    fields: dict[str, Any],
    client: Client,
) -> str:
    """The form's draft: a resent form (same key, same fields) gets the first one's draft. A
    form shown again from the browser's history, its key used, and then changed, is a new
    request: the officer meant another document, so it is made without the key."""
    try:
        return serving.request_document(
            ctx, officer, idempotency_key=key or None, client=client, **fields
        ).document_id
    except IdempotencyKeyReusedError:
        pass
    return serving.request_document(
        ctx, officer, idempotency_key=None, client=client, **fields
    ).document_id


def _document_page(
    request: Request,
    user: User,
    officer: OfficerRef,
    document_id: str,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    ctx = portal_context(request)
    try:
        view = serving.document_for_officer(ctx, officer, document_id)
    except NotFoundError:
        return _not_found(request, user, f"No document {document_id}")
    return render(
        request,
        "docs_document.html",
        status_code,
        user=user,
        view=view,
        officer_may_sign=serving.officer_may_sign(view, officer),
        error=extra.get("error"),
        done=extra.get("done") or request.query_params.get("done"),
    )


@router.get("/documents/{document_id}")
def document_page(request: Request, document_id: str) -> Response:
    who = _who(request)
    if isinstance(who, Response):
        return who
    return _document_page(request, *who, document_id)


#: The officer's document actions, by the last part of their URL: what each does and the
#: ``done=`` flag the page shows afterwards. The proof of service is a new document, which
#: the officer is taken to.
_ACTIONS: dict[str, tuple[str, Callable[..., object]]] = {
    "sign": ("sign", serving.sign_as_unit),
    "officer-sign": ("officer_sign", serving.sign_as_officer),
    "serve": ("serve", serving.serve),
    "proof": ("proof", serving.make_proof_of_service),
}


@router.post("/documents/{document_id}/{action}")
async def act(
    request: Request,
    document_id: str,
    action: Literal["sign", "officer-sign", "serve", "proof"],
    csrf: str = Form(""),
) -> Response:
    acting = _acting(request, csrf)
    if isinstance(acting, Response):
        return acting
    user, officer, ctx = acting
    client = client_of(request)
    done, run = _ACTIONS[action]
    try:
        made = await run_in_threadpool(lambda: run(ctx, officer, document_id, client=client))
    except NotFoundError:
        return _not_found(request, user, f"No document {document_id}")
    except PortalError as exc:
        return _document_page(
            request, user, officer, document_id, _status_of(exc), error=_error(exc)
        )
    target = made if action == "proof" and isinstance(made, str) else document_id
    return RedirectResponse(f"/documents/{target}?done={done}", status_code=303)


def _officer_file(
    request: Request, document_id: str, fetch: Callable[[PortalContext, OfficerRef], Response]
) -> Response:
    """A file of one of the officer's unit's documents, or the sign-in / not-found page."""
    who = _who(request)
    if isinstance(who, Response):
        return who
    user, officer = who
    try:
        return fetch(portal_context(request), officer)
    except NotFoundError:
        return _not_found(request, user, f"No document {document_id}")


@router.get("/documents/{document_id}/versions/{seq}/file")
def version_file(request: Request, document_id: str, seq: RowId) -> Response:
    def fetch(ctx: PortalContext, officer: OfficerRef) -> Response:
        doc, version = serving.version_for_officer(ctx, officer, document_id, seq)
        return version_pdf(ctx.store, doc, version)

    return _officer_file(request, document_id, fetch)


@router.get("/documents/{document_id}/attachments/{attachment_id}")
def attachment_file(request: Request, document_id: str, attachment_id: RowId) -> Response:
    def fetch(ctx: PortalContext, officer: OfficerRef) -> Response:
        row = serving.attachment_for_officer(ctx, officer, document_id, attachment_id)
        return attachment_download(ctx.store, row)

    return _officer_file(request, document_id, fetch)
