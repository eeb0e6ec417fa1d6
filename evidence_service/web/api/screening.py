"""REST routes of the complaint screening (``/api/cases/{id}/screening``) and what the case
page's ``screening`` panel shows, built once here for both.

``GET`` gives the complaint's newest screening (score, flag, each fact with its explanation in
Chinese and English and the other complaints it points at) and the officers' conclusions;
``POST`` screens it again now; ``POST .../conclusion`` records the officer's conclusion as a
case event. Reading needs the case page (``case_page``); screening and concluding need
``act`` on the case (the access table). Another unit's complaints a fact points at are
counted and dated, never named or linked: their cases are not this officer's to see.

The screening itself is :mod:`workflow.screening`; the operating point comes from the
settings (``EVIDENCE_SCREENING_*``), the rules from ``rules.toml`` (or the file the settings
name). Nothing here refuses, files or closes a complaint.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from evidence_service.services import Services
from evidence_service.web.api.cases import (
    CaseApiError,
    CaseId,
    actor_of,
    staffing_role,
    visible_unit,
)
from evidence_service.web.auth import require_api_user, services_of
from evidence_service.web.case_views import case_ctx
from storage.models import Case, CaseEvent, Unit, User
from workflow.cases.service import CaseContext, CaseNotFound, PayloadError
from workflow.screening import (
    DEFAULT_RULES,
    SCREENING_CONCLUSION,
    NotAComplaint,
    Operating,
    Screener,
    ScreeningResult,
    latest,
    load_rules,
    record_conclusion,
    screen,
)

__all__ = [
    "ConclusionIn",
    "ScreeningOut",
    "conclude",
    "router",
    "screen_arrival",
    "screen_now",
    "screener_of",
    "screening_out",
]

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/cases", tags=["screening"])
ApiUser = Annotated[User, Depends(require_api_user)]


def screener_of(services: Services) -> Screener:
    """The screening as the deployment's settings configure it."""
    settings = services.settings
    rules = load_rules(settings.screening_rules_file or DEFAULT_RULES)
    operating = Operating(settings.screening_flag_score, settings.screening_period_days)
    return Screener(services.sessions, rules, operating)


def screen_arrival(services: Services, case_id: str) -> ScreeningResult | None:
    """Screen a complaint that just arrived. A failure is logged, never passed on: the
    complaint is kept whatever happens here, and an officer can screen it on demand."""
    try:
        return screen(screener_of(services), case_id, trigger="arrival", by="system")
    except Exception:
        log.exception("screening complaint %s on arrival failed; screen it on demand", case_id)
        return None


# -- what is shown ------------------------------------------------------------------------------


class PointerOut(BaseModel):
    """Another complaint a fact rests on. ``case_id`` and ``name`` only for one of your unit."""

    case_id: str | None
    unit: str
    own_unit: bool
    received_at: datetime
    name: str | None
    merchant: str
    why: str


class FactOut(BaseModel):
    fact: str
    points: float
    strength: float
    zh: str
    en: str
    values: dict[str, Any]
    points_at: list[PointerOut]


class ConclusionOut(BaseModel):
    seq: int
    at: datetime
    by: str
    conclusion: str
    reason: str
    screening_id: int | None
    score: int | None


class ScreeningOut(BaseModel):
    """The complaint's newest screening (``screened`` false: never screened yet)."""

    case_id: str
    screened: bool
    id: int | None = None
    score: int | None = None
    flagged: bool | None = None
    flag_score: int | None = None
    period_days: int | None = None
    version: str | None = None
    trigger: str | None = None
    screened_by: str | None = None
    screened_at: datetime | None = None
    facts: list[FactOut] = []
    conclusions: list[ConclusionOut] = []


class ConclusionIn(BaseModel):
    conclusion: Literal["ordinary", "professional"] = Field(
        description="ordinary: treat as an ordinary complaint; professional: a professional "
        "claimant's"
    )
    reason: str = Field(min_length=2, max_length=2000, description="Why (the case file shows it)")


def _complaint_unit(ctx: CaseContext, user: User, case_id: str, verb: str = "case_page") -> int:
    unit_id = visible_unit(ctx, user, case_id, verb)
    with ctx.sessions() as session:
        source = session.scalar(select(Case.source).where(Case.id == case_id))
    if source != "complaint":
        raise CaseApiError(
            409, "not_a_complaint", f"case {case_id} is no complaint: only complaints are screened"
        )
    return unit_id


def screening_out(ctx: CaseContext, user: User, case_id: str) -> ScreeningOut:
    """The newest screening and the conclusions, as ``user`` may see them."""
    _complaint_unit(ctx, user, case_id)
    result = latest(ctx.sessions, case_id)
    with ctx.sessions() as session:
        units = dict(session.execute(select(Unit.id, Unit.name)).all())
        events = list(
            session.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == case_id, CaseEvent.action == SCREENING_CONCLUSION)
                .order_by(CaseEvent.seq)
            )
        )
    conclusions = [
        ConclusionOut(
            seq=e.seq,
            at=e.at,
            by=e.actor_name,
            conclusion=str(e.details.get("conclusion")),
            reason=str(e.details.get("reason", "")),
            screening_id=e.details.get("screening_id"),
            score=e.details.get("score"),
        )
        for e in events
    ]
    if result is None:
        return ScreeningOut(case_id=case_id, screened=False, conclusions=conclusions)
    facts = []
    for f in result.facts:
        pointers = []
        for p in f.points_at:
            own = p.unit_id == user.unit_id
            pointers.append(
                PointerOut(
                    case_id=p.case_id if own else None,
                    unit=units.get(p.unit_id, str(p.unit_id)),
                    own_unit=own,
                    received_at=p.received_at,
                    name=p.name if own else None,
                    merchant=p.merchant,
                    why=p.why,
                )
            )
        facts.append(
            FactOut(
                fact=f.fact,
                points=f.points,
                strength=f.strength,
                zh=f.zh,
                en=f.en,
                values=f.values,
                points_at=pointers,
            )
        )
    return ScreeningOut(
        case_id=case_id,
        screened=True,
        id=result.id,
        score=result.score,
        flagged=result.flagged,
        flag_score=result.flag_score,
        period_days=result.period_days,
        version=result.version,
        trigger=result.trigger,
        screened_by=result.screened_by,
        screened_at=result.screened_at,
        facts=facts,
        conclusions=conclusions,
    )


# -- what is done -------------------------------------------------------------------------------


def screen_now(services: Services, ctx: CaseContext, user: User, case_id: str) -> ScreeningResult:
    """Screen the complaint again, on the officer's demand (``act`` on the case)."""
    _complaint_unit(ctx, user, case_id)
    role = staffing_role(ctx, user, case_id)
    try:
        return screen(
            screener_of(services), case_id, trigger="on_demand", by=actor_of(user, role).name
        )
    except NotAComplaint as exc:
        raise CaseApiError(409, "not_a_complaint", str(exc)) from exc


def conclude(ctx: CaseContext, user: User, case_id: str, conclusion: str, reason: str) -> int:
    """Record the officer's conclusion (a case event); returns its number."""
    _complaint_unit(ctx, user, case_id)
    role = staffing_role(ctx, user, case_id)
    try:
        return record_conclusion(ctx, actor_of(user, role), case_id, conclusion, reason)
    except CaseNotFound as exc:
        raise CaseApiError(404, "not_found", str(exc)) from exc
    except PayloadError as exc:
        status = 409 if exc.field == "screening" else 422
        raise CaseApiError(status, "invalid_payload", str(exc), field=exc.field) from exc


_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid API token (or a disabled account)"},
    404: {"description": "No such case, or a case of another unit (not told apart)"},
    409: {"description": "The case is no complaint (or, for a conclusion, never screened)"},
}


@router.get(
    "/{case_id}/screening",
    response_model=ScreeningOut,
    summary="The complaint's screening for professional claimants: score and the facts behind it",
    responses=_RESPONSES,
)
def get_screening(case_id: CaseId, request: Request, user: ApiUser) -> ScreeningOut:
    """A suggestion with its reasons, never a decision: the officer concludes."""
    try:
        return screening_out(case_ctx(request), user, case_id)
    except CaseApiError as exc:
        raise exc.http() from exc


@router.post(
    "/{case_id}/screening",
    response_model=ScreeningOut,
    summary="Screen the complaint again now (a new result; the earlier ones are kept)",
    responses={**_RESPONSES, 403: {"description": "You may not act in this case"}},
)
def post_screening(case_id: CaseId, request: Request, user: ApiUser) -> ScreeningOut:
    ctx = case_ctx(request)
    try:
        screen_now(services_of(request), ctx, user, case_id)
        return screening_out(ctx, user, case_id)
    except CaseApiError as exc:
        raise exc.http() from exc


@router.post(
    "/{case_id}/screening/conclusion",
    response_model=ScreeningOut,
    summary="Record your conclusion on the screening (ordinary / professional, with a reason)",
    responses={
        **_RESPONSES,
        403: {"description": "You may not act in this case"},
        422: {"description": "conclusion or reason missing or wrong (`field` says which)"},
    },
)
def post_conclusion(
    case_id: CaseId, body: ConclusionIn, request: Request, user: ApiUser
) -> ScreeningOut:
    """A case event (``screening_conclusion``) naming the screening concluded on; the case
    does not move."""
    ctx = case_ctx(request)
    try:
        conclude(ctx, user, case_id, body.conclusion, body.reason)
        return screening_out(ctx, user, case_id)
    except CaseApiError as exc:
        raise exc.http() from exc
