"""REST for the platform as a partner: a case's requests to platforms
(``POST``/``GET /api/cases/{id}/platform-requests``) and the platform accounts
(``GET /api/platforms``). Officers only, with the case API's access rules: another unit's case
is ``404 not_found``; only an officer staffed on the case sends (``403 not_staffed``).

Sending answers when the letter was made, sealed and served on the platform (``201``), or
recorded but waiting for data the case does not hold yet (``202``, ``missing`` naming each
field); a request the letter cannot be made for at all is ``422``/``409`` with ``field``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from evidence_service.web.api.cases import (
    ApiUser,
    CaseApiError,
    CaseId,
    StorableText,
    actor_of,
    held_roles,
    visible_unit,
)
from evidence_service.web.auth import client_of, services_of
from evidence_service.web.case_views import case_ctx
from evidence_service.web.platform.sending import send_request
from evidence_service.web.portal.deps import http_error, officer_ref, portal_context
from workflow import platforms
from workflow.cases.service import CaseError, PayloadError
from workflow.errors import PortalError

router = APIRouter(tags=["platforms"])


class DataRequestIn(BaseModel):
    kind: Literal["registration", "orders", "listings", "payments", "logistics", "logs", "other"]
    description: StorableText = Field(min_length=1, max_length=200)
    period_from: date | None = None
    period_to: date | None = None


class PlatformRequestIn(BaseModel):
    """A request to a platform. ``assistance`` (协助调查函) takes ``matter`` and
    ``data_requested``; ``takedown`` (协助下架通知书, only after a decision or an order to
    correct) takes ``reason`` and ``listing_url`` (default: the case's shop address)."""

    kind: Literal["assistance", "takedown"]
    platform_id: StorableText = Field(min_length=1, max_length=32)
    contact_phone: StorableText = Field(min_length=5, max_length=40)
    contact_address: StorableText = Field("", max_length=200)
    matter: StorableText = Field("", max_length=20_000)
    data_requested: list[DataRequestIn] = Field(default_factory=list, max_length=20)
    reply_method: StorableText = Field("", max_length=200)
    listing_url: StorableText = Field("", max_length=2000)
    listing_title: StorableText = Field("", max_length=200)
    reason: StorableText = Field("", max_length=20_000)
    due_on: date | None = Field(
        None,
        description="The date the letter states. Only while the period runs into a year whose "
        "working days are not entered yet (409 deadline_unconfirmed says so, with the earliest "
        "date allowed); otherwise the counted date is stated and this stays empty.",
    )


class DeadlineOut(BaseModel):
    rule: str
    due_date: date | None
    status: str
    days_left: int | None
    met_on: date | None


class PlatformRequestOut(BaseModel):
    id: str
    case_id: str
    kind: str
    state: str = Field(description="sending, served, answered, confirmed or checked")
    platform_id: str
    platform_name: str
    due_on: date = Field(description="The deadline the letter states")
    deadline: DeadlineOut | None = Field(description="The running deadline, once served")
    listing_url: str | None
    document_id: str | None
    error: str | None = Field(description="Why the letter is not made or served yet")
    served_at: datetime | None
    answered_at: datetime | None
    evidence_id: int | None
    capture_id: str | None
    recheck: str | None = Field(description="gone, not_found or still_there")
    checked_at: datetime | None
    missing: list[dict[str, str]] = Field(default_factory=list)


class PlatformOut(BaseModel):
    id: str
    name: str
    credit_code: str
    platform_name: str
    status: str
    consented: bool


def request_out(
    view: platforms.RequestView, today: date, missing: Sequence[tuple[str, str]] = ()
) -> PlatformRequestOut:
    d = view.deadline(today)
    return PlatformRequestOut(
        id=view.id,
        case_id=view.case_id,
        kind=view.kind,
        state=view.state,
        platform_id=view.platform_id,
        platform_name=view.platform_name,
        due_on=view.due_on,
        deadline=DeadlineOut(
            rule=d.rule_id or "",
            due_date=d.due_date,
            status=d.status.value,
            days_left=d.days_left,
            met_on=d.met_on,
        )
        if d is not None
        else None,
        listing_url=view.listing_url,
        document_id=view.document_id,
        error=view.error,
        served_at=view.served_at,
        answered_at=view.answered_at,
        evidence_id=view.evidence_id,
        capture_id=view.capture_id,
        recheck=view.recheck,
        checked_at=view.checked_at,
        missing=[{"field": f, "message": m} for f, m in missing],
    )


def _problem(exc: Exception) -> Any:
    if isinstance(exc, PortalError):
        return http_error(exc)
    field = exc.field if isinstance(exc, PayloadError) else None
    return CaseApiError(
        422, "invalid_input", str(exc), **({"field": field} if field else {})
    ).http()


_DOCUMENTED: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid API token (or a disabled account)"},
    404: {"description": "No such case, or a case of another unit (not told apart)"},
}


@router.post(
    "/api/cases/{case_id}/platform-requests",
    response_model=PlatformRequestOut,
    status_code=status.HTTP_201_CREATED,
    summary="Send a platform a request for assistance or to take a listing down",
    responses={
        **_DOCUMENTED,
        202: {"description": "Recorded; the letter waits for what the case cannot fill yet"},
        403: {"description": "Not staffed on the case as an officer"},
    },
)
async def post_request(
    case_id: CaseId, body: PlatformRequestIn, request: Request, response: Response, user: ApiUser
) -> PlatformRequestOut:
    ctx = case_ctx(request)
    try:
        visible_unit(ctx, user, case_id, "platform_requests")
        if "officer" not in held_roles(ctx, user, case_id):
            raise CaseApiError(403, "not_staffed", "only an officer staffed on the case sends")
    except CaseApiError as exc:
        raise exc.http() from exc
    form = platforms.RequestIn(
        **body.model_dump(exclude={"data_requested"}),
        data_requested=[d.model_dump(mode="json", exclude_none=True) for d in body.data_requested],
    )
    try:
        sent = await run_in_threadpool(
            send_request,
            services_of(request),
            ctx,
            officer_ref(user),
            actor_of(user, "officer"),
            case_id,
            form,
            client_of(request),
        )
    except (PortalError, CaseError) as exc:
        raise _problem(exc) from exc
    if sent.missing:
        response.status_code = status.HTTP_202_ACCEPTED
    return request_out(sent.request, ctx.today(), sent.missing)


@router.get(
    "/api/cases/{case_id}/platform-requests",
    response_model=list[PlatformRequestOut],
    summary="The case's requests to platforms, their state and deadline",
    responses=_DOCUMENTED,
)
def list_requests(case_id: CaseId, request: Request, user: ApiUser) -> list[PlatformRequestOut]:
    ctx = case_ctx(request)
    try:
        visible_unit(ctx, user, case_id, "platform_requests")
    except CaseApiError as exc:
        raise exc.http() from exc
    platforms.record_rechecks(ctx, case_id)
    today = ctx.today()
    who = actor_of(user, "officer")
    return [request_out(v, today) for v in platforms.requests_of_case(ctx, who, case_id)]


@router.get("/api/platforms", response_model=list[PlatformOut], summary="Platform accounts")
def list_platforms(request: Request, user: ApiUser) -> list[PlatformOut]:
    return [
        PlatformOut(
            id=p.merchant_id,
            name=p.name,
            credit_code=p.credit_code,
            platform_name=p.platform_name,
            status=p.status,
            consented=p.consented,
        )
        for p in platforms.platforms(portal_context(request))
    ]
