"""The merchant's cases in the portal (``/portal/cases``): the cases in which it is the party,
what is expected of it and by when (the statement window, the payment due), and the actions
it may take there itself -- record a statement or defence, request a hearing, confirm the
address for service -- through the same ``service.act`` as the officers, as a ``merchant``.

Every page and action asks the access table (role ``merchant``, scope ``own_case``) with the
merchant's id against the case's parties: another merchant's case is the portal's usual 404.
The merchant sees the case's state, its own deadlines, the documents served on it and the
evidence's hashes (to verify the sealed packages) -- not the officers' timeline, staff or
internal deliberations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from evidence_service.web.case_views import (
    FieldProblem,
    Judged,
    case_ctx,
    helpers,
    judge,
    open_deadlines,
    payload_from_form,
)
from evidence_service.web.i18n import language
from evidence_service.web.portal.deps import portal_context
from evidence_service.web.portal.routes import PORTAL, render
from storage.models import Case, CaseParty, Merchant, PaymentNotice
from workflow import serving
from workflow.cases import access, service
from workflow.cases.process import TransitionRefused, UnknownAction
from workflow.cases.service import Actor, CaseContext, CaseNotFound, PayloadError
from workflow.deadlines import Deadline

router = APIRouter(prefix="/portal", include_in_schema=False)

#: What the party does itself here; the rest of the process is the authority's.
PORTAL_ACTIONS = ("record_statement", "request_hearing", "confirm_service_address")
#: The deadlines that run against the party.
PARTY_DEADLINES = ("statement_defence", "fine_payment")


def _actor(merchant: Merchant, case: Case) -> Actor:
    return Actor(f"merchant:{merchant.id}", merchant.name, "merchant", case.unit_id)


def _subject(merchant: Merchant, party_ids: set[str]) -> access.Subject:
    return access.Subject(
        actor_party=merchant.id, case_party=merchant.id if merchant.id in party_ids else None
    )


@dataclass(frozen=True)
class Expectation:
    """One thing the party is asked to do (or may do), and by when."""

    key: str
    due: date | None
    amount_fen: int | None = None
    #: The payment notice's number, once issued: the party pays online with it (/pay/...).
    payment_number: str | None = None


def _expectations(
    judged: list[Judged], deadlines: list[Deadline], facts: Any, payment_number: str | None
) -> list[Expectation]:
    by_rule = {d.rule_id: d for d in open_deadlines(deadlines)}
    statement = by_rule.get("statement_defence")
    out = [
        Expectation(
            f"portal.cases.expect.{j.option.action}",
            statement.due_date
            if statement and j.option.action != "confirm_service_address"
            else None,
        )
        for j in judged
        if j.offered
    ]
    payment = by_rule.get("fine_payment")
    if payment is not None and not facts.paid:
        amount = facts.decided_penalty.amount_fen if facts.decided_penalty else None
        out.append(Expectation("portal.cases.expect.pay", payment.due_date, amount, payment_number))
    return out


@router.get("/cases")
def cases_page(request: Request) -> Response:
    merchant = PORTAL.gate(request)
    if not isinstance(merchant, Merchant):
        return merchant
    decision = access.can("merchant", "case_list", access.Subject(actor_party=merchant.id))
    if not decision or decision.scope != "own_case":
        return PORTAL.not_found(request, merchant)
    ctx = case_ctx(request)
    today = ctx.today()
    with ctx.sessions() as session:
        cases = list(
            session.scalars(
                select(Case)
                .where(
                    Case.id.in_(
                        select(CaseParty.case_id).where(CaseParty.merchant_id == merchant.id)
                    )
                )
                .order_by(Case.received_at.desc())
                .limit(200)
            )
        )
        session.expunge_all()
    numbers = _payment_numbers(ctx, [c.id for c in cases])
    rows = []
    for case in cases:
        view = service.case_view(ctx, _actor(merchant, case), case.id)
        judged = [
            j
            for j in judge(case.state, "merchant", case.procedure, view.facts)
            if j.option.action in PORTAL_ACTIONS
        ]
        rows.append(
            (
                case,
                _expectations(judged, view.deadlines, view.facts, numbers.get(case.id)),
                _party_deadlines(view.deadlines),
            )
        )
    return render(
        request,
        "portal_cases.html",
        merchant=merchant,
        rows=rows,
        today=today,
        **helpers(language(request)),
    )


def _payment_numbers(ctx: CaseContext, case_ids: list[str]) -> dict[str, str]:
    """The payment notices' numbers of these cases (issued once the decision was served)."""
    if not case_ids:
        return {}
    with ctx.sessions() as session:
        rows = session.execute(
            select(PaymentNotice.case_id, PaymentNotice.number).where(
                PaymentNotice.case_id.in_(case_ids)
            )
        )
        return {case_id: number for case_id, number in rows}


def _party_deadlines(deadlines: list[Deadline]) -> list[Deadline]:
    return [d for d in open_deadlines(deadlines) if d.rule_id in PARTY_DEADLINES]


def _case_page(
    request: Request,
    merchant: Merchant,
    case_id: str,
    status_code: int = 200,
    error: dict[str, Any] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    ctx = case_ctx(request)
    with ctx.sessions() as session:
        case = session.get(Case, case_id)
        party_ids = set(
            session.scalars(
                select(CaseParty.merchant_id).where(
                    CaseParty.case_id == case_id, CaseParty.merchant_id.is_not(None)
                )
            )
        )
        if case is not None:
            session.expunge(case)
    subject = _subject(merchant, party_ids)  # type: ignore[arg-type]
    if case is None or not access.can("merchant", "case_page", subject):
        return PORTAL.not_found(request, merchant)
    try:
        view = service.case_view(ctx, _actor(merchant, case), case_id)
    except CaseNotFound:
        return PORTAL.not_found(request, merchant)
    may_act = bool(access.can("merchant", "act", subject))
    judged = (
        [
            j
            for j in judge(case.state, "merchant", case.procedure, view.facts)
            if j.option.action in PORTAL_ACTIONS
        ]
        if may_act
        else []
    )
    served = {d.id: d for d in serving.documents_for_merchant(portal_context(request), merchant.id)}
    documents = (
        [served[cd.document_id] for cd in view.documents if cd.document_id in served]
        if access.can("merchant", "documents", subject)
        else []
    )
    evidence = view.evidence if access.can("merchant", "evidence", subject) else []
    done = request.query_params.get("done", "")
    return render(
        request,
        "portal_case.html",
        status_code,
        merchant=merchant,
        case=case,
        parties=[p for p in view.parties if p.merchant_id == merchant.id],
        judged=judged,
        expectations=_expectations(
            judged, view.deadlines, view.facts, _payment_numbers(ctx, [case.id]).get(case.id)
        ),
        deadlines=_party_deadlines(view.deadlines),
        documents=documents,
        evidence=evidence,
        error=error,
        values=values or {},
        done=done if done in PORTAL_ACTIONS else "",
        **helpers(language(request)),
    )


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str) -> Response:
    merchant = PORTAL.gate(request)
    if not isinstance(merchant, Merchant):
        return merchant
    return _case_page(request, merchant, case_id)


@router.post("/cases/{case_id}/act")
async def act(request: Request, case_id: str) -> Response:
    merchant = PORTAL.gate(request)
    if not isinstance(merchant, Merchant):
        return merchant
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if not PORTAL.check_csrf(request, form.get("csrf", "")):
        return PORTAL.csrf_failed(request, merchant)
    ctx = case_ctx(request)
    with ctx.sessions() as session:
        case = session.get(Case, case_id)
        party_ids = set(
            session.scalars(
                select(CaseParty.merchant_id).where(
                    CaseParty.case_id == case_id, CaseParty.merchant_id.is_not(None)
                )
            )
        )
        if case is not None:
            session.expunge(case)
    if case is None or not access.can("merchant", "act", _subject(merchant, party_ids)):  # type: ignore[arg-type]
        return PORTAL.not_found(request, merchant)
    action = form.get("action", "")
    values = {k: v for k, v in form.items() if k != "csrf"}

    def again(status_code: int, error: dict[str, Any]) -> Response:
        error.setdefault("action", action)
        return _case_page(request, merchant, case_id, status_code, error, values)

    if action not in PORTAL_ACTIONS:
        return again(422, {"kind": "unknown"})
    try:
        payload = payload_from_form(action, form)
        await run_in_threadpool(service.act, ctx, _actor(merchant, case), case_id, action, payload)
    except FieldProblem as exc:
        return again(422, {"kind": "field", "field": exc.field, "key": exc.key})
    except TransitionRefused as exc:
        reasons = [{"zh": r.zh, "en": r.en} for r in exc.reasons]
        return again(422, {"kind": "refused", "reasons": reasons})
    except PayloadError as exc:
        return again(422, {"kind": "field", "field": exc.field, "key": "cases.err.payload"})
    except UnknownAction:
        return again(409, {"kind": "stale"})
    except CaseNotFound:
        return PORTAL.not_found(request, merchant)
    return RedirectResponse(f"/portal/cases/{case_id}?done={action}", status_code=303)
