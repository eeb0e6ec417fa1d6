"""REST API for merchants and served documents (``/api/merchants``, ``/api/documents``).

Officers only (``Authorization: Bearer`` token or the officers' web session); a merchant's
portal cookie is not an officer credential and gets 401 here. An officer reaches the
merchants and documents of its own unit (admins all); anything else is 404, as if it did not
exist. Errors are ``{"detail": {"code", "message"}}`` like the rest of the API; data errors
add ``field`` and ``errors`` (every field at fault).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from evidence_service.web.api.idempotency import IdempotencyKey, answer_replayed
from evidence_service.web.auth import client_of, require_api_user
from evidence_service.web.downloads import attachment_download, version_pdf
from evidence_service.web.params import RowId
from evidence_service.web.portal.deps import http_error, officer_ref, portal_context
from storage.models import Document, DocumentVersion, Merchant, User
from workflow import merchants, serving
from workflow.errors import PortalError
from workflow.merchants import Invitation

router = APIRouter(prefix="/api", tags=["documents"])
ApiUser = Annotated[User, Depends(require_api_user)]
T = TypeVar("T")


async def _in_thread(step: Callable[[], T]) -> T:
    """Run a workflow step off the event loop and give its refusal the API's error form.

    The steps render, sign, time-stamp or hash passwords: seconds of blocking work that must
    not stall every other request of the app."""
    try:
        return await run_in_threadpool(step)
    except PortalError as exc:
        raise http_error(exc) from exc


async def _act(request: Request, user: User, action: Callable[..., T], target_id: str) -> T:
    """``action(ctx, officer, target_id, client=...)`` in a worker thread: the shape of the
    workflow's officer actions on one merchant or document (setup code, seal, serve, proof)."""
    ctx = portal_context(request)
    client = client_of(request)
    return await _in_thread(lambda: action(ctx, officer_ref(user), target_id, client=client))


class MerchantIn(BaseModel):
    name: str = Field(description="Registered name (at most 64 characters)")
    credit_code: str = Field(description="Unified social credit code (GB 32100-2015)")


class MerchantOut(BaseModel):
    id: str
    name: str
    credit_code: str
    status: str
    unit_id: int
    consent_signed_at: datetime | None
    created_at: datetime
    activated_at: datetime | None


class InvitationOut(BaseModel):
    merchant: MerchantOut
    setup_code: str = Field(description="One-time setup code: shown only in this response")
    expires_at: datetime
    setup_url: str


class DocumentIn(BaseModel):
    merchant_id: str
    template: str = Field(description=f"One of {', '.join(serving.NOTICE_TEMPLATES)}")
    data: dict[str, Any] = Field(
        description="The template's data (see /api/document-templates); party, issuing_unit "
        "and date are filled in when left out"
    )


class VersionOut(BaseModel):
    seq: int
    kind: str = Field(
        description="rendered, unit-signed, officer-signed, merchant-signed or merchant-uploaded"
    )
    sha256: str
    size: int
    signer_subject: str | None
    signer_serial: str | None = Field(None, description="Serial (hex) of the signer's certificate")
    signing_time: datetime | None
    level: str | None
    created_at: datetime
    url: str


class DocumentOut(BaseModel):
    id: str
    kind: str
    template: str
    title: str
    status: str
    merchant_id: str
    unit_id: int
    parent_id: str | None
    created_at: datetime
    served_at: datetime | None = Field(None, description="Legal time of electronic service")
    served_by_id: int | None
    first_opened_at: datetime | None
    first_opened_ip: str | None
    first_opened_user_agent: str | None
    merchant_signed_at: datetime | None
    data: dict[str, Any]
    versions: list[VersionOut] = []
    children: list[str] = []


def _merchant_out(m: Merchant) -> MerchantOut:
    return MerchantOut(
        id=m.id,
        name=m.name,
        credit_code=m.credit_code,
        status=m.status,
        unit_id=m.unit_id,
        consent_signed_at=m.consent_signed_at,
        created_at=m.created_at,
        activated_at=m.activated_at,
    )


def _version_out(doc_id: str, v: DocumentVersion) -> VersionOut:
    return VersionOut(
        seq=v.seq,
        kind=v.kind,
        sha256=v.sha256,
        size=v.size,
        signer_subject=v.signer_subject,
        signer_serial=v.signer_serial,
        signing_time=v.signing_time,
        level=v.level,
        created_at=v.created_at,
        url=f"/api/documents/{doc_id}/versions/{v.seq}/file",
    )


def _doc_out(
    d: Document, versions: list[DocumentVersion] | None = None, children: list[str] | None = None
) -> DocumentOut:
    return DocumentOut(
        id=d.id,
        kind=d.kind,
        template=d.template,
        title=d.title,
        status=d.status,
        merchant_id=d.merchant_id,
        unit_id=d.unit_id,
        parent_id=d.parent_id,
        created_at=d.created_at,
        served_at=d.served_at,
        served_by_id=d.served_by_id,
        first_opened_at=d.first_opened_at,
        first_opened_ip=d.first_opened_ip,
        first_opened_user_agent=d.first_opened_user_agent,
        merchant_signed_at=d.merchant_signed_at,
        data=dict(d.data),
        versions=[_version_out(d.id, v) for v in versions or []],
        children=children or [],
    )


@router.get("/document-templates", summary="Templates that can be served, with sample data")
def templates(user: ApiUser) -> list[dict[str, Any]]:
    from workflow.documents import TEMPLATES, sample_data

    return [
        {
            "key": k,
            "title_zh": TEMPLATES[k].title_zh,
            "title_en": TEMPLATES[k].title_en,
            "sample": sample_data(k),
        }
        for k in serving.NOTICE_TEMPLATES
    ]


@router.get("/merchants", response_model=list[MerchantOut], summary="Merchants of your unit")
def list_merchants(request: Request, user: ApiUser) -> list[MerchantOut]:
    with portal_context(request).sessions() as session:
        rows = merchants.merchants_for_officer(session, officer_ref(user))
        return [_merchant_out(m) for m in rows]


@router.post(
    "/merchants",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationOut,
    summary="Invite a merchant: returns its one-time setup code",
)
async def invite_merchant(body: MerchantIn, request: Request, user: ApiUser) -> InvitationOut:
    ctx = portal_context(request)
    inv = await _in_thread(
        lambda: merchants.invite_merchant(
            ctx,
            officer_ref(user),
            name=body.name,
            credit_code=body.credit_code,
            client=client_of(request),
        )
    )
    return _invitation_out(request, user, inv)


def _invitation_out(request: Request, user: User, inv: Invitation) -> InvitationOut:
    return InvitationOut(
        merchant=_get_merchant(request, user, inv.merchant_id),
        setup_code=inv.setup_code,
        expires_at=inv.expires_at,
        setup_url=f"{portal_context(request).portal_url}/portal/setup",
    )


def _get_merchant(request: Request, user: User, merchant_id: str) -> MerchantOut:
    try:
        with portal_context(request).sessions() as session:
            return _merchant_out(
                merchants.officer_merchant(session, officer_ref(user), merchant_id)
            )
    except PortalError as exc:
        raise http_error(exc) from exc


@router.get("/merchants/{merchant_id}", response_model=MerchantOut)
def get_merchant(merchant_id: str, request: Request, user: ApiUser) -> MerchantOut:
    return _get_merchant(request, user, merchant_id)


@router.post(
    "/merchants/{merchant_id}/setup-code",
    response_model=InvitationOut,
    summary="A new one-time setup code (the older one stops working)",
)
async def new_setup_code(merchant_id: str, request: Request, user: ApiUser) -> InvitationOut:
    inv = await _act(request, user, merchants.new_setup_code, merchant_id)
    return _invitation_out(request, user, inv)


@router.get("/documents", response_model=list[DocumentOut], summary="Documents of your unit")
def list_documents(
    request: Request, user: ApiUser, merchant_id: str | None = None
) -> list[DocumentOut]:
    rows = serving.documents_for_officer(
        portal_context(request), officer_ref(user), merchant_id=merchant_id
    )
    return [_doc_out(d) for d, _ in rows]


def _document(request: Request, user: User, document_id: str) -> DocumentOut:
    try:
        view = serving.document_for_officer(portal_context(request), officer_ref(user), document_id)
    except PortalError as exc:
        raise http_error(exc) from exc
    return _doc_out(view.document, view.versions, [c.id for c in view.children])


@router.post(
    "/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentOut,
    summary="Render a document for a merchant (status draft)",
    responses={
        422: {
            "description": "Bad data (detail.field names the field), a bad Idempotency-Key, or "
            "a key already used for another request (code says which)"
        }
    },
)
async def create_document(
    body: DocumentIn,
    request: Request,
    response: Response,
    user: ApiUser,
    idempotency_key: IdempotencyKey = None,
) -> DocumentOut:
    ctx = portal_context(request)
    made = await _in_thread(
        lambda: serving.request_document(
            ctx,
            officer_ref(user),
            merchant_id=body.merchant_id,
            template=body.template,
            data=body.data,
            idempotency_key=idempotency_key,
            client=client_of(request),
        )
    )
    answer_replayed(response, made.replayed)
    return _document(request, user, made.document_id)


@router.get("/documents/{document_id}", response_model=DocumentOut)
def get_document(document_id: str, request: Request, user: ApiUser) -> DocumentOut:
    return _document(request, user, document_id)


def _document_action(
    run: Callable[..., Any], *, shows_new: bool = False
) -> Callable[..., Awaitable[DocumentOut]]:
    """The endpoint of one document action: run it, answer the document it leaves (or, for
    the proof of service, the new document it made)."""

    async def endpoint(document_id: str, request: Request, user: ApiUser) -> DocumentOut:
        made = await _act(request, user, run, document_id)
        return _document(request, user, made if shows_new else document_id)

    return endpoint


_OFFICER_SIGNATURE = (
    "For a document of your unit sealed by the unit and not yet served: fills "
    "the next empty officer signature slot (承办人) with your own certificate, issued on "
    "first use from your name, your unit and your badge number (执法证号), as an incremental "
    "update that keeps the unit's certification and every earlier signature valid. Adds a "
    "version of kind `officer-signed`."
)
_OFFICER_SIGNATURE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such document in your unit"},
    409: {
        "description": "Not now or not you: detail.code is not_signed (seal it first), "
        "already_served, already_signed (you signed it), no_officer_slot, not_your_unit, "
        "no_badge (your account has no badge number: `evidence user set-badge`) or "
        "officer_certificate_unusable (revoked or expired: issue a new one)"
    },
}

#: The document actions: path, what runs, and how OpenAPI describes it.
for _path, _run, _extra in (
    (
        "sign",
        serving.sign_as_unit,
        {"summary": "Seal with the unit's certificate (B-LTA, certifying)"},
    ),
    (
        "officer-signature",
        serving.sign_as_officer,
        {
            "summary": "Sign with your own officer certificate (B-LTA, in the next officer slot)",
            "description": _OFFICER_SIGNATURE,
            "responses": _OFFICER_SIGNATURE_ERRORS,
        },
    ),
    (
        "serve",
        serving.serve,
        {"summary": "Serve electronically (needs the merchant's signed address confirmation)"},
    ),
    (
        "proof-of-service",
        serving.make_proof_of_service,
        {
            "summary": "Make the proof of service (送达回证) from the service records",
            "status_code": status.HTTP_201_CREATED,
        },
    ),
):
    router.add_api_route(
        f"/documents/{{document_id}}/{_path}",
        _document_action(_run, shows_new=_path == "proof-of-service"),
        methods=["POST"],
        response_model=DocumentOut,
        name=_path.replace("-", "_"),
        **_extra,
    )


@router.get(
    "/documents/{document_id}/versions/{seq}/file",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="The PDF of one version",
)
def version_file(document_id: str, seq: RowId, request: Request, user: ApiUser) -> Response:
    ctx = portal_context(request)
    try:
        doc, version = serving.version_for_officer(ctx, officer_ref(user), document_id, seq)
    except PortalError as exc:
        raise http_error(exc) from exc
    return version_pdf(ctx.store, doc, version)


@router.get(
    "/documents/{document_id}/attachments/{attachment_id}",
    response_class=Response,
    summary="A statement's attachment",
)
def attachment(document_id: str, attachment_id: RowId, request: Request, user: ApiUser) -> Response:
    ctx = portal_context(request)
    try:
        row = serving.attachment_for_officer(ctx, officer_ref(user), document_id, attachment_id)
    except PortalError as exc:
        raise http_error(exc) from exc
    return attachment_download(ctx.store, row)
