"""REST API of order facts read from a case's sealed captures.

``POST /api/cases/{id}/captures/{capture_id}/order-facts`` reads the capture's sealed WARC and
returns the proposed facts (nothing is recorded); ``POST /api/cases/{id}/order-facts`` records
the officer's decision on each (confirm, or correct with the value) as one case event. The
same checks as the rest of ``/api/cases``: a case of another unit is 404, reading needs the
``evidence`` verb of the access table, deciding needs to be staffed on the case as an officer
(gathering evidence is an officer's work) with ``act`` on it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, status
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from evidence_service.sealing.case_file import case_context
from evidence_service.sealing.case_orders import (
    OrderFactsUnavailable,
    Proposals,
    confirm_order_facts,
    propose_order_facts,
)
from evidence_service.web.api.cases import (
    CaseApiError,
    StorableText,
    actor_of,
    held_roles,
    visible_unit,
)
from evidence_service.web.auth import require_api_user, services_of
from storage.models import CaseEvent, User
from workflow.cases import access
from workflow.cases.order_facts import Decision, ProposedFact
from workflow.cases.service import CaseContext, CaseNotFound, PayloadError

__all__ = ["router"]

router = APIRouter(prefix="/api/cases", tags=["cases"])
ApiUser = Annotated[User, Depends(require_api_user)]
CaseId = Annotated[str, PathParam(min_length=1, max_length=64, description="The case's id")]
CaptureId = Annotated[str, PathParam(min_length=1, max_length=32, description="The capture's id")]


class SourceOut(BaseModel):
    capture_id: str
    package_sha256: str
    warc_path: str = Field(description="The WARC inside the WACZ package")
    record_id: str = Field(description="WARC-Record-ID of the response record")
    target_uri: str = Field(description="WARC-Target-URI of the record")
    offset: int = Field(description="Byte offset of the record in the WARC file")
    length: int = Field(description="Bytes of the record in the WARC file")
    span: list[int] | None = Field(
        description="[start, end) bytes of the text in the record's HTTP payload"
    )


class ProposalOut(BaseModel):
    id: str
    field: str
    value: str = Field(description="Normalised: 1299.00 CNY, ISO 8601 time, account redacted")
    source_text: str
    method: str = Field(description="layout:<name>, json-ld, microdata or label")
    rule: str
    source: SourceOut


class ProposalsOut(BaseModel):
    capture_id: str
    package_sha256: str
    requested_url: str
    proposals: list[ProposalOut]


class DecisionIn(BaseModel):
    proposal: Annotated[str, Field(min_length=1, max_length=64)]
    decision: Literal["confirm", "correct"]
    value: Annotated[StorableText | None, Field(max_length=500)] = Field(
        None, description="The corrected value (required to correct)"
    )


class OrderFactsIn(BaseModel):
    capture_id: Annotated[str, Field(min_length=1, max_length=32)]
    facts: list[DecisionIn] = Field(min_length=1, max_length=100)


class RecordedOut(BaseModel):
    event_seq: int
    capture_id: str
    facts: list[dict[str, Any]]


def _proposal_out(p: ProposedFact) -> ProposalOut:
    s = p.source
    return ProposalOut(
        id=p.id,
        field=p.field,
        value=p.value,
        source_text=p.source_text,
        method=p.method,
        rule=p.rule,
        source=SourceOut(
            capture_id=s.capture_id,
            package_sha256=s.package_sha256,
            warc_path=s.warc_path,
            record_id=s.record_id,
            target_uri=s.target_uri,
            offset=s.offset,
            length=s.length,
            span=list(s.span) if s.span else None,
        ),
    )


def proposals_out(found: Proposals) -> ProposalsOut:
    return ProposalsOut(
        capture_id=found.capture_id,
        package_sha256=found.package_sha256,
        requested_url=found.requested_url,
        proposals=[_proposal_out(p) for p in found.facts],
    )


def _unavailable(exc: OrderFactsUnavailable) -> CaseApiError:
    code = {"not_evidence": 404, "not_sealed": 409}.get(exc.code, 503)
    return CaseApiError(code, exc.code, str(exc))


def _officer(ctx: CaseContext, user: User, case_id: str, unit_id: int) -> None:
    if "officer" not in held_roles(ctx, user, case_id):
        raise CaseApiError(
            403,
            "not_staffed",
            f"you are not staffed on case {case_id} as an officer: ask to be assigned",
        )
    subject = access.Subject(actor_unit=str(user.unit_id), case_unit=str(unit_id))
    decision = access.can("officer", "act", subject)
    if not decision:
        reason = {"guard": "access", "zh": decision.zh, "en": decision.en}
        raise CaseApiError(403, "forbidden", decision.en, reasons=[reason])


@router.post(
    "/{case_id}/captures/{capture_id}/order-facts",
    response_model=ProposalsOut,
    summary="Extract order data from a sealed capture of the case (proposals; nothing kept)",
    responses={
        401: {"description": "No valid API token"},
        404: {
            "description": "No such case (or another unit's), or the capture is not its evidence"
        },
        409: {"description": "The capture has no sealed package"},
        503: {"description": "The package cannot be read now"},
    },
)
async def post_extract(
    case_id: CaseId, capture_id: CaptureId, request: Request, user: ApiUser
) -> ProposalsOut:
    """Each field found on each page of the capture's WARC, with the record it came from
    (WARC-Record-ID, target URI, byte offset and length in the WARC) and the text's span."""
    services = services_of(request)
    ctx = case_context(services)
    try:
        await run_in_threadpool(visible_unit, ctx, user, case_id, "evidence")
        found = await run_in_threadpool(propose_order_facts, services, case_id, capture_id)
    except CaseApiError as exc:
        raise exc.http() from exc
    except OrderFactsUnavailable as exc:
        raise _unavailable(exc).http() from exc
    return proposals_out(found)


def _confirm(request: Request, user: User, case_id: str, body: OrderFactsIn) -> RecordedOut:
    services = services_of(request)
    ctx = case_context(services)
    unit_id = visible_unit(ctx, user, case_id, "evidence")
    _officer(ctx, user, case_id, unit_id)
    decisions = [Decision(d.proposal, d.decision, d.value) for d in body.facts]
    try:
        seq = confirm_order_facts(
            services, ctx, actor_of(user, "officer"), case_id, body.capture_id, decisions
        )
    except OrderFactsUnavailable as exc:
        raise _unavailable(exc) from exc
    except PayloadError as exc:
        raise CaseApiError(422, "invalid_payload", str(exc), field=exc.field) from exc
    except CaseNotFound as exc:
        raise CaseApiError(404, "not_found", str(exc)) from exc
    with services.sessions() as session:
        details = session.scalar(
            select(CaseEvent.details).where(CaseEvent.case_id == case_id, CaseEvent.seq == seq)
        )
    facts = list((details or {}).get("facts", []))
    return RecordedOut(event_seq=seq, capture_id=body.capture_id, facts=facts)


@router.post(
    "/{case_id}/order-facts",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordedOut,
    summary="Confirm or correct extracted order facts (one case event)",
    responses={
        401: {"description": "No valid API token"},
        403: {"description": "You are not staffed on the case as an officer"},
        404: {
            "description": "No such case (or another unit's), or the capture is not its evidence"
        },
        409: {"description": "The capture has no sealed package"},
        422: {"description": "A decision names no proposal, or a correction has no value"},
    },
)
async def post_confirm(
    case_id: CaseId, body: OrderFactsIn, request: Request, user: ApiUser
) -> RecordedOut:
    """The event keeps, for each fact, the value extracted and any correction beside it, and
    the pointer into the sealed package it was read from."""
    try:
        out: RecordedOut = await run_in_threadpool(_confirm, request, user, case_id, body)
    except CaseApiError as exc:
        raise exc.http() from exc
    return out
