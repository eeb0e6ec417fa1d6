"""REST API of the administrative case (``/api/cases``): open, list, view, act, staff, evidence.

Officers only (``Authorization: Bearer`` token or the officers' web session), like the rest of
``/api``. Who may see or do what is asked of one table, :func:`workflow.cases.access.can`, for
every request; which action may be taken now is the process table's
(:mod:`workflow.cases.process`, through :func:`workflow.cases.service.act`). A user acts in the
role(s) they are staffed as on the case (:func:`workflow.cases.service.roles_of`): the person
who opens a case is staffed on it as an officer, and staff then assign the others.

Errors are ``{"detail": {"code", "message", ...}}`` as everywhere in the API: a case of another
unit is ``404 not_found`` exactly like one that does not exist; a refused action is
``409 refused`` with every reason in Chinese and English (``reasons``); a payload the action
cannot take is ``422 invalid_payload`` naming the ``field``.

The functions above the routes (:func:`visible_unit`, :func:`acting_role`, :func:`case_out`,
...) raise :class:`CaseApiError` rather than HTTP errors so that ``evidence case`` (the CLI)
applies the very same checks and prints the very same JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar, get_args

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from evidence_service.sealing.capture_record import FILE_KINDS
from evidence_service.sealing.case_file import case_context
from evidence_service.web.api.idempotency import IdempotencyKey, answer_replayed
from evidence_service.web.auth import actor_name, can_view, require_api_user, services_of
from evidence_service.web.params import DB_INT_MAX, Offset
from storage.models import Capture, Case, CaseEvidence, Merchant, User
from workflow.cases import access, graph, process, service
from workflow.cases.delivery import METHODS, PARTICULARS
from workflow.cases.guards import NoPenaltyGround, ServiceMethod
from workflow.cases.process import Option, Transition, TransitionRefused, UnknownAction
from workflow.cases.service import (
    Actor,
    CaseContext,
    CaseError,
    CaseNotFound,
    CaseView,
    PayloadError,
)
from workflow.deadlines import Deadline
from workflow.errors import FieldError, PortalError
from workflow.idempotency import check_key, once, request_digest

__all__ = [
    "STAFF_ROLES",
    "ActionIn",
    "CaseApiError",
    "CaseOut",
    "acting_role",
    "actor_of",
    "assign_staff",
    "case_out",
    "clean_payload",
    "held_roles",
    "link_capture",
    "open_lead",
    "opening_unit",
    "payload_fields",
    "router",
    "row_out",
    "take_action",
    "view_of",
    "visible_unit",
]

router = APIRouter(prefix="/api/cases", tags=["cases"])
T = TypeVar("T")
ApiUser = Annotated[User, Depends(require_api_user)]

#: The roles a user can be staffed as on a case (``CaseStaff.role``), in the order shown.
STAFF_ROLES: tuple[str, ...] = ("officer", "reviewer", "head")
StaffRole = Literal["officer", "reviewer", "head"]
ProcedureName = Literal["general", "simplified", "fast_track"]
CaseId = Annotated[str, PathParam(min_length=1, max_length=64, description="The case's id")]

_PENALTIES = ("notified_penalty", "decided_penalty")
_CHOICES: dict[str, tuple[str, ...]] = {
    "no_penalty_ground": get_args(NoPenaltyGround),
    "service_method": get_args(ServiceMethod),
}


class CaseApiError(Exception):
    """A request the case API refuses: ``status`` and ``code`` as the API answers them, the
    message, and any further fields of the error (``reasons``, ``field``)."""

    def __init__(self, status_code: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.extra = extra

    def http(self) -> HTTPException:
        return HTTPException(
            self.status_code, detail={"code": self.code, "message": str(self), **self.extra}
        )


# -- text at the boundary -----------------------------------------------------------------------


def _storable(value: str, where: str = "text") -> str:
    """Text the databases can keep: PostgreSQL refuses NUL in text and in ``jsonb``, and a
    lone surrogate (``"\\ud800"`` is valid JSON) cannot be encoded at all."""
    if "\x00" in value:
        raise ValueError(f"{where} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{where} is not valid Unicode (a lone surrogate)") from None
    return value


StorableText = Annotated[str, AfterValidator(_storable)]


def _check_storable(name: str, value: Any) -> None:
    if isinstance(value, str):
        try:
            _storable(value, "the value")
        except ValueError as exc:
            raise PayloadError(name, str(exc)) from None
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_storable(name, str(key))
            _check_storable(name, item)
    elif isinstance(value, list):
        for item in value:
            _check_storable(name, item)


# -- models -------------------------------------------------------------------------------------


class PartyIn(BaseModel):
    """A party of the case (当事人) as known when the lead is recorded."""

    name: StorableText = Field(
        min_length=1, max_length=200, description="Name of the shop or person"
    )
    credit_code: StorableText | None = Field(
        None, max_length=64, description="Unified social credit code (GB 32100-2015), if known"
    )
    shop_url: StorableText | None = Field(None, max_length=2000, description="The shop's URL")
    platform: StorableText | None = Field(
        None, max_length=100, description="The platform the shop trades on"
    )
    merchant_id: StorableText | None = Field(
        None,
        max_length=32,
        description="The merchant's portal account (of your unit), when it has one: the party "
        "then sees the case in the portal",
    )


class CaseIn(BaseModel):
    """A lead (线索) to register as a case: it starts in state ``received``."""

    title: StorableText = Field(min_length=1, max_length=200, description="Short title")
    summary: StorableText = Field(
        min_length=1,
        max_length=20_000,
        description="What was found and where (kept in the first event)",
    )
    parties: list[PartyIn] = Field(default_factory=list, max_length=20)
    procedure: ProcedureName = Field(
        "general",
        description="general (普通程序), simplified (简易程序: decided on the spot) or "
        "fast_track (快速办理)",
    )
    party_kind: Literal["organisation", "natural_person"] = "organisation"
    shop_url: StorableText | None = Field(None, max_length=2000, description="The shop's URL")


class ActionIn(BaseModel):
    """An action's payload: the keys ``effects.toml`` lists for it (see the route's
    description, or ``options[].payload`` of the case), plus ``role`` to say in which of your
    roles on the case you act (needed only when more than one of them may take it)."""

    model_config = ConfigDict(extra="allow")

    role: StaffRole | None = Field(None, description="officer, reviewer or head")


class StaffIn(BaseModel):
    """Whom to put on the case, by account name or id, and in which role."""

    username: StorableText | None = Field(None, min_length=1, max_length=150)
    user_id: int | None = Field(None, ge=1, le=DB_INT_MAX)
    role: StaffRole = Field("officer", description="officer, reviewer or head")


class EvidenceIn(BaseModel):
    """A sealed capture to put in the case file; its hash is taken from the stored capture."""

    capture_id: StorableText = Field(min_length=1, max_length=32)
    description: StorableText | None = Field(None, max_length=2000)


class PenaltyIn(BaseModel):
    kind: Literal["warning", "fine"]
    amount_fen: int = Field(0, ge=0, le=DB_INT_MAX, description="In fen (1 yuan = 100 fen)")


class ReasonOut(BaseModel):
    guard: str = Field(description="The rule that refused (``role``: the role may not)")
    zh: str
    en: str


class PayloadFieldOut(BaseModel):
    name: str
    kind: Literal["boolean", "penalty", "choice", "text", "date"] = Field(
        description='boolean: true/false; penalty: {"kind": "warning"} or {"kind": "fine", '
        '"amount_fen": N}; choice: one of ``choices``; text: free text; date: YYYY-MM-DD'
    )
    required: bool
    choices: list[str] = []


class OptionOut(BaseModel):
    action: str
    zh: str
    en: str
    role: str = Field(description="The role of yours on the case this option is for")
    target: str = Field(description="The state the action leads to")
    allowed: bool
    reasons: list[ReasonOut] = Field(description="Why not, when not allowed (every reason)")
    documents: list[str] = Field(description="Templates of the documents the action generates")
    payload: list[PayloadFieldOut] = Field(description="What the action takes")


class DeadlineOut(BaseModel):
    rule: str | None
    name_zh: str | None
    name_en: str | None
    start: date = Field(description="The day of the event the period counts from")
    due_date: date | None = Field(description="None while unconfirmed or suspended")
    days_left: int | None = Field(description="Calendar days to the due date (negative: over)")
    status: str = Field(description="running, due_soon, overdue, suspended, met or unconfirmed")
    confirmed: bool
    met_on: date | None
    suspended_days: int
    explanation: list[str] = Field(description="Every step of the count")


class PartyOut(BaseModel):
    name: str
    credit_code: str | None
    shop_url: str | None
    platform: str | None
    merchant_id: str | None


class StaffOut(BaseModel):
    user_id: int
    name: str
    role: str
    badge_number: str | None = Field(description="The badge number (执法证号) when assigned")


class EventOut(BaseModel):
    seq: int
    at: datetime
    actor_name: str
    role: str
    action: str
    from_state: str | None
    to_state: str | None
    details: dict[str, Any]
    hash: str = Field(description="SHA-256 of the event (signing/case_chain), in the log")
    prev_hash: str | None = Field(description="The hash of the event before (the chain)")


class EvidenceOut(BaseModel):
    id: int
    kind: str
    capture_id: str | None
    file_name: str
    media_type: str
    size: int | None
    sha256: str
    description: str | None
    event_seq: int


class DocumentOut(BaseModel):
    document_id: str
    template: str
    event_seq: int


class CaseOut(BaseModel):
    """A case as its page shows it, with what you may do now."""

    id: str
    number: str | None = Field(description="e.g. 示市监处〔2026〕12号; given at filing")
    title: str
    summary: str | None
    state: str
    state_zh: str
    state_en: str
    step: int = Field(description="The step of the process (1 线索登记 ... 14 结案)")
    procedure: str
    source: str
    party_kind: str
    shop_url: str | None
    unit_id: int
    received_at: datetime
    closed_at: datetime | None
    event_count: int
    chain_head: str | None = Field(description="Hash of the newest event")
    roles: list[str] = Field(description="Your roles on the case (you act in these)")
    parties: list[PartyOut]
    staff: list[StaffOut]
    deadlines: list[DeadlineOut]
    events: list[EventOut]
    evidence: list[EvidenceOut]
    documents: list[DocumentOut]
    options: list[OptionOut] = Field(
        description="For each of your roles, the actions leaving the current state: allowed, "
        "or refused with every reason"
    )


class CaseRowOut(BaseModel):
    id: str
    number: str | None
    title: str
    state: str
    state_zh: str
    state_en: str
    procedure: str
    received_at: datetime
    deadlines: list[DeadlineOut]


class ActionOut(BaseModel):
    action: str
    role: str
    from_state: str
    to_state: str
    documents: list[str] = Field(description="Documents (templates) this step generates")
    step: int
    case: CaseOut


# -- turning the workflow's records into the API's ----------------------------------------------


def payload_fields(action: str) -> list[PayloadFieldOut]:
    """What ``action`` takes, from ``effects.toml`` (the service reads the same entry)."""
    effect = service.effects().get(action)
    if effect is None:
        return []
    out: list[PayloadFieldOut] = []
    for name in effect.payload:
        if name in _PENALTIES:
            out.append(PayloadFieldOut(name=name, kind="penalty", required=False))
        elif name in _CHOICES:
            out.append(
                PayloadFieldOut(
                    name=name, kind="choice", required=False, choices=list(_CHOICES[name])
                )
            )
        else:
            out.append(PayloadFieldOut(name=name, kind="boolean", required=False))
    if effect.chooses_procedure:
        procedures = list(process.default_process().procedures)
        out.append(
            PayloadFieldOut(
                name=service.PROCEDURE, kind="choice", required=False, choices=procedures
            )
        )
    out.extend(PayloadFieldOut(name=n, kind="text", required=True) for n in effect.text)
    serves = effect.serves
    method = serves.method if serves is not None else None
    out.extend(
        PayloadFieldOut(name=n, kind="text", required=False) for n in effect.notes if n != method
    )
    out.extend(PayloadFieldOut(name=n, kind="date", required=True) for n in effect.dates)
    if serves is not None:  # how the document is served, and that method's particulars
        if serves.method not in effect.payload:
            out.append(
                PayloadFieldOut(
                    name=serves.method, kind="choice", required=False, choices=list(METHODS)
                )
            )
        out.extend(
            PayloadFieldOut(name=n, kind="date" if n.endswith("_on") else "text", required=False)
            for n in PARTICULARS
        )
    return out


def _deadline_out(d: Deadline) -> DeadlineOut:
    return DeadlineOut(
        rule=d.rule_id,
        name_zh=d.name_zh,
        name_en=d.name_en,
        start=d.start_event_date,
        due_date=d.due_date,
        days_left=d.days_left,
        status=d.status.value,
        confirmed=d.confirmed,
        met_on=d.met_on,
        suspended_days=d.suspended_days,
        explanation=list(d.explanation),
    )


def _option_out(o: Option, role: str) -> OptionOut:
    return OptionOut(
        action=o.action,
        zh=o.zh,
        en=o.en,
        role=role,
        target=o.target,
        allowed=o.allowed,
        reasons=[ReasonOut(guard=r.guard, zh=r.zh, en=r.en) for r in o.reasons],
        documents=list(o.documents),
        payload=payload_fields(o.action),
    )


def _state_names(state: str) -> tuple[str, str, int]:
    st = process.default_process().states[state]
    return st.zh, st.en, st.step


def case_out(
    view: CaseView, roles: Sequence[str], option_roles: Sequence[str] | None = None
) -> CaseOut:
    """The API's record of a case for someone holding ``roles`` on it, with the options of
    each of them (or of each of ``option_roles``: the CLI shows every staff role's)."""
    case = view.case
    zh, en, step = _state_names(case.state)
    options = [
        _option_out(o, role)
        for role in (roles if option_roles is None else option_roles)
        for o in process.available(case.state, role, case.procedure, view.facts)
    ]
    events = []
    prev: str | None = None
    for e in view.events:
        events.append(
            EventOut(
                seq=e.seq,
                at=e.at,
                actor_name=e.actor_name,
                role=e.role,
                action=e.action,
                from_state=e.from_state,
                to_state=e.to_state,
                details=dict(e.details),
                hash=e.hash,
                prev_hash=prev,
            )
        )
        prev = e.hash
    return CaseOut(
        id=case.id,
        number=case.number,
        title=case.title,
        summary=case.summary,
        state=case.state,
        state_zh=zh,
        state_en=en,
        step=step,
        procedure=case.procedure,
        source=case.source,
        party_kind=case.party_kind,
        shop_url=case.shop_url,
        unit_id=case.unit_id,
        received_at=case.received_at,
        closed_at=case.closed_at,
        event_count=case.event_count,
        chain_head=case.chain_head,
        roles=list(roles),
        parties=[
            PartyOut(
                name=p.name,
                credit_code=p.credit_code,
                shop_url=p.shop_url,
                platform=p.platform,
                merchant_id=p.merchant_id,
            )
            for p in view.parties
        ],
        staff=[
            StaffOut(user_id=s.user_id, name=name, role=s.role, badge_number=s.badge_number)
            for s, name in view.staff
        ],
        deadlines=[_deadline_out(d) for d in view.deadlines],
        events=events,
        evidence=[
            EvidenceOut(
                id=ev.id,
                kind=ev.kind,
                capture_id=ev.capture_id,
                file_name=ev.file_name,
                media_type=ev.media_type,
                size=ev.size,
                sha256=ev.sha256,
                description=ev.description,
                event_seq=ev.event_seq,
            )
            for ev in view.evidence
        ],
        documents=[
            DocumentOut(document_id=d.document_id, template=d.template, event_seq=d.event_seq)
            for d in view.documents
        ],
        options=options,
    )


def row_out(row: service.CaseRow) -> CaseRowOut:
    zh, en, _ = _state_names(row.state)
    return CaseRowOut(
        id=row.id,
        number=row.number,
        title=row.title,
        state=row.state,
        state_zh=zh,
        state_en=en,
        procedure=row.procedure,
        received_at=row.received_at,
        deadlines=[_deadline_out(d) for d in row.deadlines],
    )


# -- who may do what (one place, for the API and the CLI) ---------------------------------------


def _unit(unit_id: int | None) -> str | None:
    return None if unit_id is None else str(unit_id)


def account_role(user: User) -> str:
    """The access table's role of an account that holds no role on the case asked about."""
    return "admin" if user.role == "admin" else "officer"


def actor_of(user: User, role: str) -> Actor:
    return Actor(f"user:{user.id}", actor_name(user), role, user.unit_id)


def held_roles(ctx: CaseContext, user: User, case_id: str) -> list[str]:
    """The user's roles on the case, in :data:`STAFF_ROLES` order."""
    held = service.roles_of(ctx, user.id, case_id)
    return [r for r in STAFF_ROLES if r in held]


def visible_unit(ctx: CaseContext, user: User, case_id: str, verb: str = "case_page") -> int:
    """The unit of the case, if the user may use ``verb`` on it; otherwise 404, the same as
    for a case that does not exist (another unit's cases are not told apart from none)."""
    with ctx.sessions() as session:
        unit_id = session.scalar(select(Case.unit_id).where(Case.id == case_id))
    if unit_id is not None:
        subject = access.Subject(actor_unit=_unit(user.unit_id), case_unit=_unit(unit_id))
        roles = held_roles(ctx, user, case_id) or [account_role(user)]
        if access.can(roles[0], verb, subject):
            return unit_id
    raise CaseApiError(404, "not_found", f"no case {case_id}")


def acting_role(
    ctx: CaseContext, user: User, case_id: str, unit_id: int, action: str, asked: str | None
) -> str:
    """The role the user takes ``action`` in: ``asked`` if they hold it on the case; else
    their only role, or the one of their roles the process table lets take the action. The
    access table must grant that role ``act`` on the case."""
    roles = held_roles(ctx, user, case_id)
    if not roles:
        raise CaseApiError(
            403,
            "not_staffed",
            f"you are not staffed on case {case_id}: ask to be assigned to it",
        )
    if asked is not None:
        if asked not in roles:
            raise CaseApiError(
                403,
                "role_not_held",
                f"you are not staffed as {asked} on case {case_id} (your roles: "
                f"{', '.join(roles)})",
            )
        role = asked
    elif len(roles) == 1:
        role = roles[0]
    else:
        may = {
            r
            for rule in process.default_process().rules
            if rule.action == action
            for r in rule.roles
        }
        able = [r for r in roles if r in may]
        if len(able) != 1:
            raise CaseApiError(
                422,
                "role_required",
                f"you hold the roles {', '.join(roles)} on case {case_id}: say which one you "
                "act in (role)",
                field="role",
            )
        role = able[0]
    _require(role, "act", user, unit_id)
    return role


def clean_payload(action: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as the service takes it: storable text only, penalties checked here (an
    amount is a bounded whole number of fen). :class:`PayloadError` names the field."""
    out: dict[str, Any] = {}
    for name, value in payload.items():
        _check_storable(name, name)
        _check_storable(name, value)
        if name in _PENALTIES and name in {f.name for f in payload_fields(action)}:
            try:
                value = PenaltyIn.model_validate(value).model_dump()
            except ValidationError as exc:
                problem = exc.errors()[0]
                where = ".".join(str(p) for p in problem.get("loc", ()))
                raise PayloadError(
                    name,
                    f"{where + ': ' if where else ''}{problem.get('msg')}; give "
                    '{"kind": "warning"} or {"kind": "fine", "amount_fen": N}',
                ) from None
        out[name] = value
    return out


def _refused(exc: TransitionRefused) -> CaseApiError:
    return CaseApiError(
        409,
        "refused",
        str(exc),
        action=exc.action,
        state=exc.state,
        reasons=[{"guard": r.guard, "zh": r.zh, "en": r.en} for r in exc.reasons],
    )


def take_action(
    ctx: CaseContext,
    user: User,
    case_id: str,
    action: str,
    payload: Mapping[str, Any],
    role: str | None,
) -> Transition:
    """Every check, then :func:`service.act`; the workflow's refusals as :class:`CaseApiError`."""
    unit_id = visible_unit(ctx, user, case_id)
    if action not in process.default_process().actions:
        known = ", ".join(process.default_process().actions)
        raise CaseApiError(404, "unknown_action", f"no action {action!r}; actions: {known}")
    chosen = acting_role(ctx, user, case_id, unit_id, action, role)
    try:
        return service.act(
            ctx, actor_of(user, chosen), case_id, action, clean_payload(action, payload)
        )
    except TransitionRefused as exc:
        raise _refused(exc) from exc
    except UnknownAction as exc:
        raise CaseApiError(409, "not_available", str(exc), actions=list(exc.known)) from exc
    except PayloadError as exc:
        raise CaseApiError(422, "invalid_payload", str(exc), field=exc.field) from exc
    except CaseNotFound as exc:
        raise CaseApiError(404, "not_found", str(exc)) from exc


def view_of(ctx: CaseContext, user: User, case_id: str) -> CaseOut:
    """The case as ``user`` may see it, with the options of each of their roles."""
    visible_unit(ctx, user, case_id)
    roles = held_roles(ctx, user, case_id)
    who = actor_of(user, roles[0] if roles else account_role(user))
    try:
        view = service.case_view(ctx, who, case_id)
    except CaseNotFound as exc:
        raise CaseApiError(404, "not_found", str(exc)) from exc
    return case_out(view, roles)


# -- routes -------------------------------------------------------------------------------------

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such case, or a case of another unit (not told apart)"}
}
_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid API token (or a disabled account)"}
}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "Invalid input: the message (and `field`) say which"}
}


def _ctx(request: Request) -> CaseContext:
    return case_context(services_of(request))


def _call(step: Callable[..., T], *args: Any) -> T:
    try:
        return step(*args)
    except CaseApiError as exc:
        raise exc.http() from exc


def _action_docs() -> str:
    lines = [
        "Take an action of the process (`workflow/cases/process.toml`) in the case. The body "
        "holds the action's payload (`workflow/cases/effects.toml`), plus `role` to choose in "
        "which of your roles on the case you act when more than one may take it. A penalty is "
        '`{"kind": "warning"}` or `{"kind": "fine", "amount_fen": 500000}` (fen); a date '
        "`YYYY-MM-DD`. Nothing is kept when the action is refused.",
        "",
        "| action | payload |",
        "|---|---|",
    ]
    for action in process.default_process().actions:
        fields = payload_fields(action)
        cells = ", ".join(
            f"`{f.name}`{'*' if f.required else ''} ({f.kind}"
            + (f": {' / '.join(f.choices)}" if f.choices else "")
            + ")"
            for f in fields
        )
        lines.append(f"| `{action}` | {cells or '—'} |")
    lines.append("")
    lines.append("`*`: required.")
    return "\n".join(lines)


@router.get(
    "/graph",
    summary="The case process as a Mermaid or Graphviz DOT graph",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, **_AUTH, **_INVALID},
)
def get_graph(
    user: ApiUser,
    drawing: Annotated[
        Literal["mermaid", "dot"], Query(alias="format", description="mermaid or dot")
    ] = "mermaid",
    procedure: Annotated[ProcedureName | None, Query(description="Draw one procedure only")] = None,
) -> PlainTextResponse:
    """Drawn from the table the service obeys (docs/case-process.md shows the same)."""
    draw = graph.mermaid if drawing == "mermaid" else graph.dot
    return PlainTextResponse(draw(procedure), media_type="text/plain; charset=utf-8")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseOut,
    summary="Open a case from a lead",
    responses={
        **_AUTH,
        403: {"description": "Your account may not open cases (no unit, or an administrator)"},
        **_INVALID,
    },
)
def post_case(
    body: CaseIn,
    request: Request,
    response: Response,
    user: ApiUser,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Record the lead (state ``received``, its first event) with its parties, and staff you
    on it as an officer. The case gets its number when it is filed."""
    ctx = _ctx(request)
    unit_id = _call(opening_unit, user)
    case_id, replayed = _call(
        open_lead, ctx, body, actor_of(user, "officer"), unit_id, user, idempotency_key
    )
    response.headers["Location"] = f"/api/cases/{case_id}"
    answer_replayed(response, replayed)
    return _call(view_of, ctx, user, case_id)


def opening_unit(user: User) -> int:
    """The unit a case opened by ``user`` belongs to: theirs, if the access table lets them
    act in their unit's cases (an administrator, or an account with no unit, may not)."""
    subject = access.Subject(actor_unit=_unit(user.unit_id), case_unit=_unit(user.unit_id))
    decision = access.can(account_role(user), "act", subject)
    if not decision or user.unit_id is None:
        raise CaseApiError(403, "forbidden", decision.en)
    return user.unit_id


def open_lead(
    ctx: CaseContext,
    body: CaseIn,
    who: Actor,
    unit_id: int,
    opener: User | None,
    idempotency_key: str | None = None,
) -> tuple[str, bool]:
    """Open the case (every party checked first, so that nothing is half-done) and staff
    ``opener`` on it as an officer; returns the case id, and whether an earlier request with
    the same idempotency key (the opener's own) had opened it already.

    A retry also staffs the opener if the first request stopped between opening the case and
    staffing it (the staffing is a second step, and taking it twice changes nothing)."""
    idempotency: tuple[str, str] | None = None

    def make() -> str:
        parties = _parties(ctx, unit_id, body.parties)
        try:
            case_id = service.open_case(
                ctx,
                who,
                unit_id=unit_id,
                title=body.title,
                summary=body.summary,
                parties=parties,
                source="lead",
                procedure=body.procedure,
                party_kind=body.party_kind,
                shop_url=body.shop_url,
                created_by_id=None if opener is None else opener.id,
                idempotency=idempotency,
            )
        except PayloadError as exc:
            raise CaseApiError(422, "invalid_payload", str(exc), field=exc.field) from exc
        except CaseError as exc:
            raise CaseApiError(422, "invalid_case", str(exc)) from exc
        if opener is not None:
            service.assign(ctx, who, case_id, opener.id, "officer")
        return case_id

    if idempotency_key is None:
        return make(), False
    if opener is None:
        raise CaseApiError(422, "bad_idempotency_key", "an Idempotency-Key needs an account")
    try:
        key = check_key(idempotency_key)
    except PortalError as exc:
        raise CaseApiError(422, exc.code, str(exc)) from exc
    idempotency = (key, request_digest(body.model_dump(mode="json")))
    account, asked = opener, idempotency
    return once(lambda: _replayed_case(ctx, who, account, asked), make)


def _replayed_case(
    ctx: CaseContext, who: Actor, opener: User, idempotency: tuple[str, str]
) -> str | None:
    """The case ``opener``'s earlier request with this key opened, its opener staffed (again:
    that request may have stopped before it), or None; a key reused for another request is
    the API's 422 ``idempotency_key_reused``."""
    try:
        earlier = service.requested_case(ctx, opener.id, *idempotency)
    except PortalError as exc:
        raise CaseApiError(422, exc.code, str(exc)) from exc
    if earlier is not None:
        service.assign(ctx, who, earlier, opener.id, "officer")
    return earlier


def _parties(ctx: CaseContext, unit_id: int, parties: Sequence[PartyIn]) -> list[service.PartyIn]:
    from workflow.merchants import normalize_credit_code

    out = []
    for i, p in enumerate(parties):
        try:
            code = (
                normalize_credit_code(p.credit_code, f"parties.{i}.credit_code")
                if p.credit_code
                else None
            )
        except FieldError as exc:
            raise CaseApiError(422, "invalid_party", str(exc), field=exc.field) from exc
        if p.merchant_id is not None:
            with ctx.sessions() as session:
                merchant = session.get(Merchant, p.merchant_id)
                if merchant is None or merchant.unit_id != unit_id:
                    raise CaseApiError(
                        422,
                        "invalid_party",
                        f"no merchant {p.merchant_id} in your unit",
                        field=f"parties.{i}.merchant_id",
                    )
        out.append(
            service.PartyIn(
                p.name.strip(),
                merchant_id=p.merchant_id,
                credit_code=code,
                shop_url=p.shop_url,
                platform=p.platform,
            )
        )
    return out


@router.get(
    "",
    response_model=list[CaseRowOut],
    summary="Cases of your unit, newest first, with their running deadlines",
    responses={**_AUTH, 403: {"description": "Your account may not list cases"}, **_INVALID},
)
def list_cases(
    request: Request,
    user: ApiUser,
    state: Annotated[
        str | None, Query(max_length=32, description="Only cases in this state")
    ] = None,
    procedure: Annotated[ProcedureName | None, Query(description="Only this procedure")] = None,
    mine: Annotated[bool, Query(description="Only cases you are staffed on")] = False,
    open_only: Annotated[
        bool,
        Query(alias="open", description="true: only cases not closed; false: closed ones too"),
    ] = True,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[CaseRowOut]:
    if state is not None and state not in process.default_process().states:
        states = ", ".join(process.default_process().states)
        raise CaseApiError(
            422, "invalid_request", f"no state {state!r}; states: {states}", field="state"
        ).http()
    subject = access.Subject(actor_unit=_unit(user.unit_id))
    decision = access.can(account_role(user), "case_list", subject)
    if not decision or decision.scope not in ("own_unit", "any"):
        raise CaseApiError(403, "forbidden", decision.en).http()
    rows = service.list_cases(
        _ctx(request),
        actor_of(user, account_role(user)),
        unit_id=user.unit_id if decision.scope == "own_unit" else None,
        state=state,
        procedure=procedure,
        mine=mine,
        open_only=open_only,
        limit=limit,
        offset=offset,
    )
    return [row_out(r) for r in rows]


@router.get(
    "/{case_id}",
    response_model=CaseOut,
    summary="A case: parties, staff, deadlines, events, evidence, documents and your options",
    responses={**_AUTH, **_NOT_FOUND, **_INVALID},
)
def get_case(case_id: CaseId, request: Request, user: ApiUser) -> CaseOut:
    out: CaseOut = _call(view_of, _ctx(request), user, case_id)
    return out


@router.post(
    "/{case_id}/actions/{action}",
    response_model=ActionOut,
    summary="Take an action in the case (register, propose_filing, decide_penalty, ...)",
    description=_action_docs(),
    responses={
        **_AUTH,
        403: {"description": "You are not staffed on the case (or not in the role asked)"},
        404: {"description": "No such case (or another unit's), or no such action"},
        409: {"description": "Refused now: `reasons` gives each one (zh, en)"},
        422: {"description": "The payload: `field` names what is missing or malformed"},
    },
)
def post_action(
    case_id: CaseId,
    action: Annotated[str, PathParam(min_length=1, max_length=64)],
    request: Request,
    user: ApiUser,
    body: ActionIn | None = None,
) -> ActionOut:
    ctx = _ctx(request)
    payload = dict(body.model_extra or {}) if body is not None else {}
    role = body.role if body is not None else None
    transition: Transition = _call(take_action, ctx, user, case_id, action, payload, role)
    return ActionOut(
        action=transition.action,
        role=transition.role,
        from_state=transition.source,
        to_state=transition.target,
        documents=list(transition.documents),
        step=transition.step,
        case=_call(view_of, ctx, user, case_id),
    )


class NotesIn(BaseModel):
    """The notes of an action already taken (``effects.toml`` ``notes``) that its documents
    wait for, e.g. ``{"notes": {"facts": "..."}}`` for ``end_investigation``."""

    notes: dict[Annotated[str, Field(max_length=64)], StorableText] = Field(
        min_length=1, max_length=32
    )
    role: StaffRole | None = Field(None, description="In which of your roles you give them")


def give_notes(ctx: CaseContext, user: User, case_id: str, action: str, body: NotesIn) -> int:
    """Record the notes as a new event (``service.give_notes``), in a role the user holds on
    the case that may take the action."""
    unit_id = visible_unit(ctx, user, case_id)
    held = held_roles(ctx, user, case_id)
    rules = process.default_process().rules
    may = [r for r in held if any(t.action == action and r in t.roles for t in rules)]
    if body.role is not None:
        may = [r for r in may if r == body.role]
    if not may:
        raise CaseApiError(
            403, "not_staffed", f"you hold no role on case {case_id} that may take {action}"
        )
    _require(may[0], "act", user, unit_id)
    try:
        return service.give_notes(ctx, actor_of(user, may[0]), case_id, action, body.notes)
    except CaseNotFound as exc:
        raise CaseApiError(404, "not_found", str(exc)) from exc
    except PayloadError as exc:
        raise CaseApiError(422, "invalid_payload", str(exc), field=exc.field) from exc


@router.post(
    "/{case_id}/notes/{action}",
    response_model=CaseOut,
    summary="Give the notes of an action already taken, for the documents waiting for them",
    responses={
        **_AUTH,
        403: {"description": "You hold no role on the case that may take the action"},
        **_NOT_FOUND,
        422: {"description": "Not a note of the action, or the action was not taken yet"},
    },
)
def post_notes(
    case_id: CaseId,
    action: Annotated[str, PathParam(min_length=1, max_length=64)],
    body: NotesIn,
    request: Request,
    user: ApiUser,
) -> CaseOut:
    """A new event in the case's chain (the action's own event is never changed); the
    worker then makes the documents from the newest text of each note."""
    ctx = _ctx(request)
    _call(give_notes, ctx, user, case_id, action, body)
    out: CaseOut = _call(view_of, ctx, user, case_id)
    return out


def staffing_role(ctx: CaseContext, user: User, case_id: str) -> str:
    """The role in which ``user`` staffs the case: staffing is no action of the process, so
    the access table alone decides (``act`` on the case, in the role they hold on it or, when
    they hold none, as an officer of the unit); the event names their first role."""
    unit_id = visible_unit(ctx, user, case_id)
    roles = held_roles(ctx, user, case_id)
    role = roles[0] if roles else account_role(user)
    _require(role, "act", user, unit_id)
    return role


def _require(role: str, verb: str, user: User, unit_id: int) -> None:
    subject = access.Subject(actor_unit=_unit(user.unit_id), case_unit=_unit(unit_id))
    decision = access.can(role, verb, subject)
    if not decision:
        reason = {"guard": "access", "zh": decision.zh, "en": decision.en}
        raise CaseApiError(403, "forbidden", decision.en, reasons=[reason])


def assign_staff(
    ctx: CaseContext,
    user: User,
    case_id: str,
    role: str,
    *,
    username: str | None = None,
    user_id: int | None = None,
) -> None:
    """Put the account named by ``username`` or ``user_id`` on the case in ``role``."""
    field = "username" if username is not None else "user_id"
    if (username is None) == (user_id is None):
        raise CaseApiError(
            422, "invalid_request", "give username or user_id (one of them)", field="username"
        )
    as_role = staffing_role(ctx, user, case_id)
    with ctx.sessions() as session:
        q = select(User.id).where(
            User.username == username if username is not None else User.id == user_id
        )
        target = session.scalar(q)
    if target is None:
        raise CaseApiError(422, "invalid_request", f"no such account ({field})", field=field)
    try:
        service.assign(ctx, actor_of(user, as_role), case_id, target, role)
    except CaseNotFound as exc:
        raise CaseApiError(404, "not_found", str(exc)) from exc
    except CaseError as exc:
        raise CaseApiError(422, "invalid_request", str(exc), field=field) from exc


@router.post(
    "/{case_id}/staff",
    response_model=list[StaffOut],
    summary="Put an officer, reviewer or head of your unit on the case",
    responses={
        **_AUTH,
        403: {"description": "Your account may not staff cases"},
        **_NOT_FOUND,
        **_INVALID,
    },
)
def post_staff(case_id: CaseId, body: StaffIn, request: Request, user: ApiUser) -> list[StaffOut]:
    """Any officer of the case's unit may staff it (an event naming who did); the badge
    number is kept as it is now. Assigning someone again in the same role changes nothing."""
    ctx = _ctx(request)
    _call(
        lambda: assign_staff(
            ctx, user, case_id, body.role, username=body.username, user_id=body.user_id
        )
    )
    out: CaseOut = _call(view_of, ctx, user, case_id)
    return out.staff


def link_capture(
    ctx: CaseContext, user: User, case_id: str, capture_id: str, description: str | None = None
) -> int:
    """Put a sealed capture the user may view (:func:`auth.can_view`) in the case file, its
    hash taken from the stored capture; returns the evidence id. Gathering evidence is an
    officer's work: the user must be staffed on the case as one."""
    unit_id = visible_unit(ctx, user, case_id, "evidence")
    if "officer" not in held_roles(ctx, user, case_id):
        raise CaseApiError(
            403,
            "not_staffed",
            f"you are not staffed on case {case_id} as an officer: ask to be assigned",
        )
    _require("officer", "act", user, unit_id)
    with ctx.sessions() as session:
        cap = session.get(Capture, capture_id)
        if cap is None or not can_view(user, cap):
            raise CaseApiError(404, "capture_not_found", f"no capture {capture_id}")
        if cap.status != "stored" or not cap.package_sha256:
            raise CaseApiError(
                409,
                "not_sealed",
                f"capture {cap.id} is {cap.status}: only a sealed capture can be evidence",
            )
        sha256, size = cap.package_sha256, cap.package_size
        linked = session.scalar(
            select(CaseEvidence.id).where(
                CaseEvidence.case_id == case_id, CaseEvidence.capture_id == capture_id
            )
        )
    if linked is not None:
        raise CaseApiError(409, "already_linked", f"capture {capture_id} is in the case already")
    _, media_type, suffix = FILE_KINDS["package"]
    try:
        return service.add_evidence(
            ctx,
            actor_of(user, "officer"),
            case_id,
            kind="capture",
            file_name=f"capture-{capture_id}{suffix}",
            sha256=sha256,
            capture_id=capture_id,
            media_type=media_type,
            size=size,
            description=description,
        )
    except CaseNotFound as exc:
        raise CaseApiError(404, "not_found", str(exc)) from exc


@router.post(
    "/{case_id}/evidence",
    status_code=status.HTTP_201_CREATED,
    response_model=EvidenceOut,
    summary="Put a sealed capture in the case file (by its id; its hash from the capture)",
    responses={
        **_AUTH,
        403: {"description": "You are not staffed on the case as an officer"},
        404: {"description": "No such case (or another unit's), or no capture you may view"},
        409: {"description": "The capture is not sealed yet, or is in the case already"},
        **_INVALID,
    },
)
def post_evidence(
    case_id: CaseId, body: EvidenceIn, request: Request, user: ApiUser
) -> EvidenceOut:
    """The event of the case touches the capture's sealed package by its SHA-256."""
    ctx = _ctx(request)
    evidence_id: int = _call(link_capture, ctx, user, case_id, body.capture_id, body.description)
    out: CaseOut = _call(view_of, ctx, user, case_id)
    return next(e for e in out.evidence if e.id == evidence_id)
