"""The officer console for cases: the unit's case list with its filters, the work queues
(deadlines due soon or overdue, cases awaiting review, awaiting the head), the new-case
form, and the case page with the actions this officer may take now.

Authorisation is asked of one table (``workflow/cases/access.py``) for every page and
every action, with the account's unit: a case of another unit is the same 404 as a case
that does not exist. Which action may be taken in which state is the process table's
business; the page offers as buttons only the actions some input of their form lets through
(judged on the facts as the action would leave them, the way the service judges them),
and lists the others greyed with every reason in the page's language.

A capture queued from the case page becomes the case's evidence once it is sealed: linked
then by the package's SHA-256, so the case's event chain covers what was captured, not just
an id. Until then the page shows its progress (``cases.js`` polls ``captures.json``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import CursorResult, select, update
from starlette.concurrency import run_in_threadpool

from evidence_service.sealing.pipeline import CaptureRequestError, create_capture, recapture
from evidence_service.web.auth import actor_name, check_csrf, services_of
from evidence_service.web.case_views import (
    STAFF_ROLES,
    FieldProblem,
    Judged,
    access_role,
    action_fields,
    case_ctx,
    deadline_chart,
    helpers,
    judge_for_roles,
    open_deadlines,
    payload_from_form,
    subject_for_officer,
)
from evidence_service.web.i18n import language, translate
from evidence_service.web.officer.panels import PANELS, PanelInput, fill_all
from evidence_service.web.pages import render, require_officer
from evidence_service.web.params import Offset
from storage.models import (
    Capture,
    Case,
    CaseCaptureRequest,
    CaseEvidence,
    CaseParty,
    CaseStaff,
    Document,
    Merchant,
    User,
)
from workflow.cases import access, documents, service
from workflow.cases.guards import Refusal
from workflow.cases.process import TransitionRefused, UnknownAction, default_process
from workflow.cases.service import Actor, CaseContext, CaseNotFound, PartyIn, PayloadError
from workflow.deadlines import Deadline
from workflow.documents import TEMPLATES

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
STATUSES = ("open", "closed", "all")
#: A claim on linking a stored capture that is older than this was abandoned (a crash).
STALE_CLAIM = timedelta(minutes=5)


def _actor(user: User, role: str) -> Actor:
    return Actor(f"user:{user.id}", actor_name(user), role, user.unit_id)


def _refused_page(request: Request, user: User, decision: access.Decision) -> Response:
    lang = language(request)
    message = decision.zh if lang == "zh" else decision.en
    return render(request, "error.html", 403, user=user, message=message)


def _not_found(request: Request, user: User) -> Response:
    return render(
        request, "error.html", 404, user=user, message=translate(language(request), "cases.none")
    )


def _context(request: Request, **extra: Any) -> dict[str, Any]:
    lang = language(request)
    return {**helpers(lang), **extra}


# -- the list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    case: Case
    deadlines: list[Deadline]
    mine: bool
    parties: list[str]


def _rows(session: Any, cases: list[Case], user: User, today: Any) -> list[Row]:
    ids = [c.id for c in cases]
    mine = set(
        session.scalars(
            select(CaseStaff.case_id).where(
                CaseStaff.case_id.in_(ids), CaseStaff.user_id == user.id
            )
        )
    )
    parties: dict[str, list[str]] = {}
    for case_id, name in session.execute(
        select(CaseParty.case_id, CaseParty.name).where(CaseParty.case_id.in_(ids))
    ):
        parties.setdefault(case_id, []).append(name)
    return [
        Row(c, open_deadlines(service.deadlines_of(c, today)), c.id in mine, parties.get(c.id, []))
        for c in cases
    ]


@router.get("/cases")
def cases_page(
    request: Request,
    state: str = "",
    procedure: str = "",
    mine: str = "",
    status: str = "open",
    offset: Offset = 0,
) -> Response:
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    decision = access.can(access_role(user), "case_list", subject_for_officer(user))
    if not decision:
        return _refused_page(request, user, decision)
    proc = default_process()
    state = state if state in proc.states else ""
    procedure = procedure if procedure in proc.procedures else ""
    status = status if status in STATUSES else "open"
    ctx = case_ctx(request)
    today = ctx.today()
    with ctx.sessions() as session:
        q = select(Case).order_by(Case.received_at.desc(), Case.id)
        if decision.scope == "own_unit":
            q = q.where(Case.unit_id == user.unit_id)
        if state:
            q = q.where(Case.state == state)
        if procedure:
            q = q.where(Case.procedure == procedure)
        if status == "open":
            q = q.where(Case.closed_at.is_(None))
        elif status == "closed":
            q = q.where(Case.closed_at.is_not(None))
        if mine:
            q = q.where(Case.id.in_(select(CaseStaff.case_id).where(CaseStaff.user_id == user.id)))
        cases = list(session.scalars(q.limit(PAGE_SIZE + 1).offset(offset)))
        rows = _rows(session, cases[:PAGE_SIZE], user, today)
    filters = {"state": state, "procedure": procedure, "mine": mine, "status": status}
    return render(
        request,
        "cases_list.html",
        user=user,
        rows=rows,
        filters=filters,
        states=list(proc.states.values()),
        procedures=list(proc.procedures.values()),
        offset=offset,
        more=len(cases) > PAGE_SIZE,
        page_size=PAGE_SIZE,
        **_context(request),
    )


# -- the queues ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    case: Case
    deadline: Deadline | None = None
    actions: tuple[str, ...] = ()
    assigned: bool = True


@dataclass(frozen=True)
class Queues:
    deadlines: list[QueueItem]
    review: list[QueueItem]
    head: list[QueueItem]


def _queues(ctx: CaseContext, unit_id: int | None, user_id: int) -> Queues:
    """The person's work: the deadlines of their cases that are due soon, overdue or not
    confirmed (soonest first); the cases whose review, or whose approval, decision or
    closing, can be done now -- theirs, and those nobody is staffed on for that role yet."""
    today = ctx.today()
    with ctx.sessions() as session:
        q = select(Case).where(Case.closed_at.is_(None)).order_by(Case.received_at)
        if unit_id is not None:
            q = q.where(Case.unit_id == unit_id)
        cases = list(session.scalars(q.limit(2000)))
        ids = [c.id for c in cases]
        staff_rows = list(session.scalars(select(CaseStaff).where(CaseStaff.case_id.in_(ids))))
        names = {
            uid: name
            for uid, name in session.execute(
                select(User.id, User.display_name).where(
                    User.id.in_({s.user_id for s in staff_rows})
                )
            )
        }
        session.expunge_all()
    staff: dict[str, list[CaseStaff]] = {}
    for s in staff_rows:
        staff.setdefault(s.case_id, []).append(s)
    due: list[QueueItem] = []
    review: list[QueueItem] = []
    head: list[QueueItem] = []
    for case in cases:
        on_case = staff.get(case.id, [])
        mine = {s.role for s in on_case if s.user_id == user_id}
        if mine:
            for d in open_deadlines(service.deadlines_of(case, today)):
                if d.status.value in ("due_soon", "overdue") or d.due_date is None:
                    due.append(QueueItem(case, deadline=d))
        facts = service.case_facts(case, on_case, names, today)
        for role, queue in (("reviewer", review), ("head", head)):
            staffed = {s.role for s in on_case}
            if role not in mine and role in staffed:
                continue  # someone else's
            offered = [
                j.option.action
                for j in judge_for_roles(case.state, [role], case.procedure, facts)
                if j.offered
            ]
            if offered:
                queue.append(QueueItem(case, actions=tuple(offered), assigned=role in staffed))
    due.sort(key=lambda i: (i.deadline.days_left is None, i.deadline.days_left or 0))  # type: ignore[union-attr]
    return Queues(due, review, head)


@router.get("/cases/queue")
def queue_page(request: Request, officer: int = 0) -> Response:
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    decision = access.can(access_role(user), "queue", subject_for_officer(user))
    if not decision:
        return _refused_page(request, user, decision)
    ctx = case_ctx(request)
    unit = user.unit_id if decision.scope == "own_unit" else None
    colleagues = _unit_users(ctx, user.unit_id)
    whose = next((u for u in colleagues if u.id == officer), user)
    queues = _queues(ctx, unit, whose.id)
    return render(
        request,
        "cases_queue.html",
        user=user,
        queues=queues,
        whose=whose,
        colleagues=colleagues,
        **_context(request),
    )


#: Notes that name who sits at a hearing (``effects.toml`` ``impartial``): chosen from the
#: unit's accounts, the case's investigators left out, instead of typed as a login name.
#: Per action: the same login name is an officer of the case elsewhere (who records an
#: inquiry is one of its investigators).
SEAT_NOTES = {a: frozenset(e.impartial) for a, e in service.effects().items() if e.impartial}


def _unit_users(ctx: CaseContext, unit_id: int | None) -> list[User]:
    with ctx.sessions() as session:
        users = list(
            session.scalars(
                select(User)
                .where(User.unit_id == unit_id, User.disabled.is_(False), User.role == "officer")
                .order_by(User.display_name)
            )
        )
        session.expunge_all()
    return users


# -- new case (a lead) -----------------------------------------------------------------------


def _merchants(ctx: CaseContext, unit_id: int | None) -> list[Merchant]:
    with ctx.sessions() as session:
        rows = list(
            session.scalars(
                select(Merchant).where(Merchant.unit_id == unit_id).order_by(Merchant.name)
            )
        )
        session.expunge_all()
    return rows


def _new_form(
    request: Request,
    user: User,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    error: dict[str, str] | None = None,
) -> Response:
    proc = default_process()
    return render(
        request,
        "cases_new.html",
        status_code,
        user=user,
        form=form or {"procedure": "general", "party_kind": "organisation", "assign_me": "true"},
        error=error,
        procedures=list(proc.procedures.values()),
        merchants=_merchants(case_ctx(request), user.unit_id),
        **_context(request),
    )


@router.get("/cases/new")
def new_case_form(request: Request) -> Response:
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    decision = access.can(access_role(user), "act", subject_for_officer(user, user.unit_id))
    if not decision:
        return _refused_page(request, user, decision)
    return _new_form(request, user)


def is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@router.post("/cases")
async def create_case(request: Request) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form.get("csrf"))
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    decision = access.can(access_role(user), "act", subject_for_officer(user, user.unit_id))
    if not decision or user.unit_id is None:
        return _refused_page(request, user, decision)
    ctx = case_ctx(request)
    kept = {k: v.strip() for k, v in form.items() if k != "csrf"}
    proc = default_process()

    def problem(field: str, key: str) -> Response:
        return _new_form(request, user, 422, kept, {"field": field, "key": key})

    title, summary = kept.get("title", ""), kept.get("summary", "")
    procedure = kept.get("procedure", "general")
    party_kind = kept.get("party_kind", "organisation")
    shop_url = kept.get("shop_url", "")
    if not title:
        return problem("title", "cases.err.required")
    if not summary:
        return problem("summary", "cases.err.required")
    if procedure not in proc.procedures:
        return problem("procedure", "cases.err.choice")
    if party_kind not in ("organisation", "natural_person"):
        return problem("party_kind", "cases.err.choice")
    if shop_url and not is_web_url(shop_url):
        return problem("shop_url", "cases.err.url")
    merchant_id = kept.get("merchant_id") or None
    party_name, credit_code = kept.get("party_name", ""), kept.get("credit_code") or None
    if merchant_id is not None:
        merchant = next((m for m in _merchants(ctx, user.unit_id) if m.id == merchant_id), None)
        if merchant is None:
            return problem("merchant_id", "cases.err.choice")
        party_name, credit_code = party_name or merchant.name, merchant.credit_code
    parties = []
    if party_name:
        parties.append(
            PartyIn(
                party_name[:200],
                merchant_id=merchant_id,
                credit_code=(credit_code or None) and credit_code[:18],
                shop_url=shop_url or None,
                platform=kept.get("platform") or None,
            )
        )
    officer = _actor(user, "officer")
    case_id = await run_in_threadpool(
        service.open_case,
        ctx,
        officer,
        unit_id=user.unit_id,
        title=title,
        summary=summary,
        parties=parties,
        source="lead",
        procedure=procedure,
        party_kind=party_kind,
        shop_url=shop_url or None,
        created_by_id=user.id,
    )
    if kept.get("assign_me") == "true":
        await run_in_threadpool(service.assign, ctx, officer, case_id, user.id, "officer")
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


# -- the case page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """A capture queued from the case and not linked (yet): its progress."""

    capture_id: str
    url: str
    status: str
    detail: str | None
    error: str | None


def _case_unit(ctx: CaseContext, case_id: str) -> int | None:
    with ctx.sessions() as session:
        case = session.get(Case, case_id)
        return case.unit_id if case is not None else None


def _gate(
    request: Request, user: User, case_id: str, verb: str = "case_page"
) -> tuple[set[str], str] | Response:
    """The roles the officer holds on the case and the access role, or the 404 (the case is
    not theirs to see, or does not exist) / 403 (an administrator) page."""
    ctx = case_ctx(request)
    unit = _case_unit(ctx, case_id)
    if unit is None:
        return _not_found(request, user)
    roles = service.roles_of(ctx, user.id, case_id)
    role = access_role(user, sorted(roles, key=STAFF_ROLES.index))
    decision = access.can(role, verb, subject_for_officer(user, unit))
    if not decision:
        if role == "admin":
            return _refused_page(request, user, decision)
        return _not_found(request, user)
    return roles, role


@dataclass(frozen=True)
class _OnCase:
    """An officer who may act on the case, with the roles held on it and the access role the
    case page is rendered with."""

    user: User
    roles: set[str]
    role: str


def _may_act(request: Request, case_id: str) -> _OnCase | Response:
    """The gate of every action on a case: logged in and allowed to act on it; otherwise the
    login redirect or the 404/403 page."""
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    gate = _gate(request, user, case_id, "act")
    if isinstance(gate, Response):
        return gate
    return _OnCase(user, *gate)


def _staffed_officer(
    request: Request,
    case_id: str,
    action: str,
    values: dict[str, str] | None = None,
) -> _OnCase | Response:
    """The gate of the officer-only case actions (service receipt, linking a party, the
    captures): :func:`_may_act`, and staffed on the case as officer; otherwise the case page
    with a "not staffed" error on ``action``'s form (keeping the ``values`` typed)."""
    on = _may_act(request, case_id)
    if isinstance(on, Response) or "officer" in on.roles:
        return on
    error = {"kind": "not_staffed", "role": "officer", "action": action}
    return _case_page(request, on.user, case_id, on.roles, on.role, 403, error, values)


def link_stored_captures(ctx: CaseContext, case_id: str) -> list[Pending]:
    """Link the captures queued from this case that are now stored (one ``attach_evidence``
    event each, touching the sealed package by its SHA-256) and return those still pending.

    Idempotent and safe when two requests race: a request is claimed (``requested_at`` is
    left alone; the claim is an UPDATE that only one caller wins) before it is linked, and
    an evidence row already made for the capture is reused after a crash between the two.
    """
    now = datetime.now(UTC)
    pending: list[Pending] = []
    with ctx.sessions() as session:
        rows = list(
            session.execute(
                select(CaseCaptureRequest, Capture)
                .join(Capture, Capture.id == CaseCaptureRequest.capture_id)
                .where(
                    CaseCaptureRequest.case_id == case_id,
                    CaseCaptureRequest.evidence_id.is_(None),
                )
                .order_by(CaseCaptureRequest.requested_at)
            )
        )
        requester_names = {
            uid: name
            for uid, name in session.execute(
                select(User.id, User.display_name).where(
                    User.id.in_({r.requested_by_id for r, _ in rows if r.requested_by_id})
                )
            )
        }
        session.expunge_all()
    for req, cap in rows:
        if cap.status != "stored" or not cap.package_sha256:
            error = f"{cap.error_code}: {cap.error_message}" if cap.error_code else None
            pending.append(
                Pending(cap.id, cap.requested_url, cap.status, cap.progress_detail, error)
            )
            continue
        _link_one(ctx, case_id, req, cap, requester_names.get(req.requested_by_id or 0), now)
    return pending


def _link_one(
    ctx: CaseContext,
    case_id: str,
    req: CaseCaptureRequest,
    cap: Capture,
    requester: str | None,
    now: datetime,
) -> None:
    with ctx.sessions() as session:
        claimed = session.execute(
            update(CaseCaptureRequest)
            .where(
                CaseCaptureRequest.capture_id == req.capture_id,
                CaseCaptureRequest.evidence_id.is_(None),
                (CaseCaptureRequest.claimed_at.is_(None))
                | (CaseCaptureRequest.claimed_at < now - STALE_CLAIM),
            )
            .values(claimed_at=now)
        )
        won = cast(CursorResult[Any], claimed).rowcount
        existing = session.scalar(
            select(CaseEvidence.id).where(
                CaseEvidence.case_id == case_id, CaseEvidence.capture_id == cap.id
            )
        )
        session.commit()
    if not won:
        return
    try:
        evidence_id = existing
        if evidence_id is None:
            system = Actor("system", translate("zh", "cases.system"), "system", None)
            evidence_id = service.add_evidence(
                ctx,
                system,
                case_id,
                kind="capture",
                file_name=f"capture-{cap.id}.wacz",
                sha256=cap.package_sha256 or "",
                capture_id=cap.id,
                media_type="application/wacz",
                size=cap.package_size,
                description=f"{cap.requested_url}" + (f" ({requester})" if requester else ""),
            )
    except Exception:
        with ctx.sessions() as session:
            session.execute(
                update(CaseCaptureRequest)
                .where(CaseCaptureRequest.capture_id == cap.id)
                .values(claimed_at=None)
            )
            session.commit()
        raise
    with ctx.sessions() as session:
        session.execute(
            update(CaseCaptureRequest)
            .where(CaseCaptureRequest.capture_id == cap.id)
            .values(evidence_id=evidence_id)
        )
        session.commit()


def _case_page(
    request: Request,
    user: User,
    case_id: str,
    roles: set[str],
    role: str,
    status_code: int = 200,
    error: dict[str, Any] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    ctx = case_ctx(request)
    pending = link_stored_captures(ctx, case_id)
    held = sorted(roles, key=STAFF_ROLES.index)
    try:
        view = service.case_view(ctx, _actor(user, held[0] if held else "officer"), case_id)
    except CaseNotFound:
        return _not_found(request, user)
    case = view.case
    subject = subject_for_officer(user, case.unit_id)
    shows = {
        verb: bool(access.can(role, verb, subject))
        for verb in ("documents", "evidence", "events", "act", "export")
    }
    judged: list[Judged] = (
        judge_for_roles(case.state, held, case.procedure, view.facts)
        if held and shows["act"]
        else []
    )
    with ctx.sessions() as session:
        docs = {
            d.id: d
            for d in session.scalars(
                select(Document).where(Document.id.in_([d.document_id for d in view.documents]))
            )
        }
        session.expunge_all()
    waiting = documents.waiting(documents.load_snapshot(ctx, case_id)) if shows["documents"] else []
    posted = awaiting_receipt(view.events)
    today = ctx.today()
    lang = language(request)
    shop_urls = list(
        dict.fromkeys(u for u in [case.shop_url, *(p.shop_url for p in view.parties)] if u)
    )
    done = request.query_params.get("done", "")
    panels = fill_all(PANELS, PanelInput(request, user, ctx, view, frozenset(held), lang))
    colleagues = _unit_users(ctx, case.unit_id)
    investigators = {s.user_id for s, _name in view.staff if s.role == "officer"}
    return render(
        request,
        "cases_case.html",
        status_code,
        user=user,
        view=view,
        case=case,
        held=held,
        judged=judged,
        shows=shows,
        pending=pending,
        waiting=waiting,
        posted=posted,
        docs=docs,
        templates_=TEMPLATES,
        chart=deadline_chart(view.deadlines, today, lang),
        today=today,
        colleagues=colleagues,
        # who may sit at the hearing: the unit's accounts but the case's investigators
        seat_notes=SEAT_NOTES,
        account_notes=documents.ACCOUNT_NOTES,
        note_choices=documents.note_choices(),
        seat_choices=[u for u in colleagues if u.id not in investigators],
        staff_roles=STAFF_ROLES,
        shop_urls=shop_urls,
        panels=panels,
        terminal=default_process().states[case.state].terminal,
        error=error,
        values=values or {},
        done=(
            done
            if done in default_process().actions
            or done in ("assign", "capture", "link_party", "give_notes", "record_service_receipt")
            else ""
        ),
        merchants=_merchants(ctx, case.unit_id)
        if any(p.merchant_id is None for p in view.parties)
        else [],
        **_context(request),
    )


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str) -> Response:
    user = require_officer(request)
    if isinstance(user, Response):
        return user
    gate = _gate(request, user, case_id)
    if isinstance(gate, Response):
        return gate
    return _case_page(request, user, case_id, *gate)


def _reasons(reasons: tuple[Refusal, ...] | list[Refusal]) -> list[dict[str, str]]:
    return [{"guard": r.guard, "zh": r.zh, "en": r.en} for r in reasons]


@router.post("/cases/{case_id}/act")
async def act(request: Request, case_id: str) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form.get("csrf"))
    on = _may_act(request, case_id)
    if isinstance(on, Response):
        return on
    user, roles, role = on.user, on.roles, on.role
    action, as_role = form.get("action", ""), form.get("role", "")
    values = {k: v for k, v in form.items() if k != "csrf"}

    def again(status_code: int, error: dict[str, Any]) -> Response:
        error.setdefault("action", action)
        return _case_page(request, user, case_id, roles, role, status_code, error, values)

    if action not in default_process().actions:
        return again(422, {"kind": "unknown"})
    if as_role not in roles:
        return again(403, {"kind": "not_staffed", "role": as_role})
    try:
        payload = payload_from_form(action, form)
    except FieldProblem as exc:
        return again(
            422, {"kind": "field", "field": exc.field, "key": exc.key, "detail": exc.detail}
        )
    ctx = case_ctx(request)
    try:
        await run_in_threadpool(service.act, ctx, _actor(user, as_role), case_id, action, payload)
    except TransitionRefused as exc:
        return again(422, {"kind": "refused", "reasons": _reasons(exc.reasons)})
    except PayloadError as exc:
        return again(
            422,
            {"kind": "field", "field": exc.field, "key": "cases.err.payload", "detail": str(exc)},
        )
    except UnknownAction:
        return again(409, {"kind": "stale"})
    except CaseNotFound:
        return _not_found(request, user)
    return RedirectResponse(f"/cases/{case_id}?done={action}", status_code=303)


@router.post("/cases/{case_id}/assign")
def assign(
    request: Request,
    case_id: str,
    user_id: int = Form(..., ge=1, le=2**63 - 1),
    role: str = Form(...),
    csrf: str = Form(""),
) -> Response:
    check_csrf(request, csrf)
    on = _may_act(request, case_id)
    if isinstance(on, Response):
        return on
    user, roles, access_as = on.user, on.roles, on.role
    if role not in STAFF_ROLES:
        return _case_page(
            request, user, case_id, roles, access_as, 422, {"kind": "assign", "action": "assign"}
        )
    held = sorted(roles, key=STAFF_ROLES.index)
    try:
        service.assign(
            case_ctx(request), _actor(user, held[0] if held else "officer"), case_id, user_id, role
        )
    except service.CaseError:
        return _case_page(
            request, user, case_id, roles, access_as, 422, {"kind": "assign", "action": "assign"}
        )
    return RedirectResponse(f"/cases/{case_id}?done=assign#staff", status_code=303)


def awaiting_receipt(events: list[service.EventView]) -> list[service.EventView]:
    """The events that served a document by post whose return receipt is not recorded yet
    (until it is, the date of service is unknown and nothing counts from it)."""
    done = {e.details.get("event_seq") for e in events if e.action == "record_service_receipt"}
    return [
        e
        for e in events
        if (e.details.get("service") or {}).get("method") == "postal" and e.seq not in done
    ]


@router.post("/cases/{case_id}/service-receipt")
def service_receipt(
    request: Request,
    case_id: str,
    event_seq: int = Form(..., ge=1, le=2**31 - 1),
    received_on: str = Form(..., max_length=10),
    receiver: str = Form("", max_length=100),
    csrf: str = Form(""),
) -> Response:
    """The return receipt of a postal service came back: the date it was signed for is the
    date of service, which later deadlines count from."""
    check_csrf(request, csrf)
    action = f"receipt-{event_seq}"
    values = {"received_on": received_on, "receiver": receiver}
    staffed = _staffed_officer(request, case_id, action, values)
    if isinstance(staffed, Response):
        return staffed
    user, roles, role = staffed.user, staffed.roles, staffed.role
    try:
        day = date.fromisoformat(received_on)
    except ValueError:
        error = {"kind": "field", "field": "received_on", "key": "cases.err.date", "action": action}
        return _case_page(request, user, case_id, roles, role, 422, error, values)
    try:
        service.record_service_receipt(
            case_ctx(request), _actor(user, "officer"), case_id, event_seq, day, receiver
        )
    except CaseNotFound:
        return _not_found(request, user)
    except service.CaseError as exc:
        error = {
            "kind": "field",
            "field": "received_on",
            "key": "cases.err.payload",
            "detail": str(exc),
            "action": action,
        }
        return _case_page(request, user, case_id, roles, role, 422, error, values)
    return RedirectResponse(
        f"/cases/{case_id}?done=record_service_receipt#documents", status_code=303
    )


@router.post("/cases/{case_id}/notes")
async def give_notes(request: Request, case_id: str) -> Response:
    """Give the notes a waiting document needs, for an action already taken: recorded as a
    new event; the worker then makes the document from them."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form.get("csrf"))
    on = _may_act(request, case_id)
    if isinstance(on, Response):
        return on
    user, roles, role = on.user, on.roles, on.role
    action = form.get("for_action", "")
    values = {k: v for k, v in form.items() if k != "csrf"}
    notes = {k[len("note:") :]: v for k, v in form.items() if k.startswith("note:")}
    rules = default_process().rules
    may = [
        r
        for r in sorted(roles, key=STAFF_ROLES.index)
        if any(rule.action == action and r in rule.roles for rule in rules)
    ]
    if not may:
        error = {"kind": "not_staffed", "role": "officer", "action": f"notes-{action}"}
        return _case_page(request, user, case_id, roles, role, 403, error, values)
    try:
        await run_in_threadpool(
            service.give_notes, case_ctx(request), _actor(user, may[0]), case_id, action, notes
        )
    except PayloadError as exc:
        error = {
            "kind": "field",
            "field": exc.field,
            "key": "cases.err.payload",
            "detail": str(exc),
            "action": f"notes-{action}",
        }
        return _case_page(request, user, case_id, roles, role, 422, error, values)
    except CaseNotFound:
        return _not_found(request, user)
    return RedirectResponse(f"/cases/{case_id}?done=give_notes#documents", status_code=303)


@router.post("/cases/{case_id}/parties/{party_id}/link")
def link_party(
    request: Request,
    case_id: str,
    party_id: int,
    merchant_id: str = Form(..., min_length=1, max_length=64),
    csrf: str = Form(""),
) -> Response:
    """Link a party the case knows by name (a complaint names the shop, not its account) to
    the merchant's portal account, so that the merchant sees the case and acts in it there."""
    check_csrf(request, csrf)
    staffed = _staffed_officer(request, case_id, "link_party")
    if isinstance(staffed, Response):
        return staffed
    user, roles, role = staffed.user, staffed.roles, staffed.role
    try:
        service.link_party(
            case_ctx(request), _actor(user, "officer"), case_id, party_id, merchant_id
        )
    except service.CaseError as exc:
        error = {"kind": "link", "action": f"link-{party_id}", "detail": str(exc)}
        return _case_page(request, user, case_id, roles, role, 422, error)
    return RedirectResponse(f"/cases/{case_id}?done=link_party#parties", status_code=303)


@router.post("/cases/{case_id}/capture")
async def capture(
    request: Request, case_id: str, url: str = Form(...), csrf: str = Form("")
) -> Response:
    """Queue a sealed capture of the shop's page from inside the case (it is linked as
    evidence when stored)."""
    check_csrf(request, csrf)
    staffed = _staffed_officer(request, case_id, "capture")
    if isinstance(staffed, Response):
        return staffed
    user, roles, role = staffed.user, staffed.roles, staffed.role
    services = services_of(request)
    try:
        capture_id = await run_in_threadpool(create_capture, services, url.strip(), user_id=user.id)
    except CaptureRequestError as exc:
        error = {"kind": "capture", "action": "capture", "detail": f"{exc.code}: {exc}"}
        return _case_page(request, user, case_id, roles, role, 422, error, {"url": url})
    with services.session() as session:
        session.add(
            CaseCaptureRequest(capture_id=capture_id, case_id=case_id, requested_by_id=user.id)
        )
    return RedirectResponse(f"/cases/{case_id}?done=capture#evidence", status_code=303)


@router.post("/cases/{case_id}/recapture/{capture_id}")
async def recapture_for_case(
    request: Request, case_id: str, capture_id: str, csrf: str = Form("")
) -> Response:
    """ "Capture again" of a capture that is evidence of the case: the same URL with the same
    settings (``sealing.pipeline.recapture``), linked as evidence when stored; the two can
    then be compared from the capture's page."""
    check_csrf(request, csrf)
    staffed = _staffed_officer(request, case_id, "capture")
    if isinstance(staffed, Response):
        return staffed
    user, roles, role = staffed.user, staffed.roles, staffed.role
    services = services_of(request)
    with services.sessions() as session:
        linked = session.scalar(
            select(CaseEvidence.id).where(
                CaseEvidence.case_id == case_id, CaseEvidence.capture_id == capture_id
            )
        )
    if linked is None:
        error = {
            "kind": "capture",
            "action": "capture",
            "detail": f"not_evidence: capture {capture_id} is not evidence of this case",
        }
        return _case_page(request, user, case_id, roles, role, 422, error)
    try:
        new_id = await run_in_threadpool(recapture, services, capture_id, user_id=user.id)
    except CaptureRequestError as exc:
        error = {"kind": "capture", "action": "capture", "detail": f"{exc.code}: {exc}"}
        return _case_page(request, user, case_id, roles, role, 422, error)
    with services.session() as session:
        session.add(CaseCaptureRequest(capture_id=new_id, case_id=case_id, requested_by_id=user.id))
    return RedirectResponse(f"/cases/{case_id}?done=capture#evidence", status_code=303)


@router.get("/cases/{case_id}/captures.json")
def captures_json(request: Request, case_id: str) -> Response:
    """The progress of the captures queued from the case (those stored are linked now)."""
    user = require_officer(request)
    if isinstance(user, Response):
        return JSONResponse({"detail": "login"}, status_code=401)
    gate = _gate(request, user, case_id, "evidence")
    if isinstance(gate, Response):
        return JSONResponse({"detail": "not found"}, status_code=404)
    pending = link_stored_captures(case_ctx(request), case_id)
    lang = language(request)
    return JSONResponse(
        {
            "pending": [
                {
                    "capture_id": p.capture_id,
                    "status": p.status,
                    "status_text": translate(lang, f"status.{p.status}"),
                    "detail": p.detail or "",
                    "error": p.error,
                }
                for p in pending
            ]
        },
        headers={"Cache-Control": "no-store"},
    )


def field_keys() -> set[str]:
    """Every field of every action's form (each needs its label in messages.toml)."""
    return {f.name for a in default_process().actions for f in action_fields(a)}
