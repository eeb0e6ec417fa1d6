"""The case as it is kept: opening, staffing, evidence, actions, deadlines and the event chain.

Everything a person does to a case goes through :func:`act` (or one of the recording
functions beside it) and becomes one event: appended to the case's hash chain
(:mod:`signing.case_chain`) and, through ``ctx.log_event``, to the service's transparency log,
in the same unit of work as the change it records. What an action records in the case's facts
is data (``effects.toml``); whether it may be taken is the process table's
(``process.toml``, judged by :mod:`workflow.cases.process`); the dates that guards need
("has the statement window ended?") come from the deadline engine.

The case number (e.g. ``示市监处〔2026〕12号``) is given when the case is filed (or decided on
the spot): one sequence per unit and year, incremented under the row's lock and never reused.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any, get_args

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from signing.case_chain import ChainedEvent, event_hash
from storage.db import session_scope
from storage.models import (
    Case,
    CaseDocument,
    CaseEvent,
    CaseEvidence,
    CaseNumberSequence,
    CaseParty,
    CaseStaff,
    ComplaintReceipt,
    Document,
    LogLeaf,
    Merchant,
    Unit,
    User,
)
from workflow.deadlines import CHINA, Deadline, beijing_today, due
from workflow.idempotency import IdempotencyKeyReusedError

from . import case_deadlines, delivery, process
from .delivery import Serves
from .guards import CaseFacts, NoPenaltyGround, Officer, Penalty, ServiceMethod
from .process import Option, Transition

__all__ = [
    "GIVE_NOTES",
    "PARTY_SIGNED",
    "Actor",
    "CaseContext",
    "CaseError",
    "CaseNotFound",
    "CaseView",
    "EventView",
    "PayloadError",
    "act",
    "add_evidence",
    "assign",
    "case_facts",
    "case_view",
    "chained_event",
    "deadlines_of",
    "give_notes",
    "link_party",
    "list_cases",
    "open_case",
    "record_delivery",
    "record_event",
    "record_party_signature",
    "record_service_receipt",
    "requested_case",
    "roles_of",
]

EFFECTS_PATH = Path(__file__).with_name("effects.toml")
_logger = logging.getLogger(__name__)


class CaseError(Exception):
    """A case operation that cannot be done, with a message the user can act on."""


class CaseNotFound(CaseError, LookupError):
    """No such case, or not one this person may see (the two are not told apart)."""


class PayloadError(CaseError, ValueError):
    """An action's input is missing or malformed: ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class Actor:
    """Who acts: ``actor`` is ``user:<id>``, ``merchant:<id>``, ``complainant`` or
    ``system``; ``role`` one of process.toml's roles."""

    actor: str
    name: str
    role: str
    unit_id: int | None = None


@dataclass
class CaseContext:
    """What the case workflow needs from its host (the service builds it)."""

    sessions: sessionmaker[Session]
    #: Appends an event hash (32 bytes) to the transparency log (idempotent).
    log_event: Callable[[bytes], object] | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    today: Callable[[], date] = field(default=beijing_today)
    #: Called after an action is committed (case id, who acted, the transition taken), e.g.
    #: to generate its documents (``workflow.cases.documents``). Its failure never undoes the
    #: action: what it could not do stays pending and is retried.
    after_action: Callable[[str, Actor, Transition], object] | None = None


@contextmanager
def _unit_of_work(ctx: CaseContext) -> Iterator[Session]:
    """One change of a case: committed, then its events' hashes logged."""
    with session_scope(ctx.sessions) as session:
        yield session
        hashes = session.info.pop("case_event_hashes", [])
    _log(ctx, *hashes)


# -- effects (data) -----------------------------------------------------------------------------

_FACT_FIELDS = {f.name for f in fields(CaseFacts)}
_EFFECT_KEYS = {
    "set", "payload", "text", "notes", "today", "dates", "serves", "procedure", "impartial",
}  # fmt: skip
#: The input of an action that chooses the case's procedure (``procedure = true``).
PROCEDURE = "procedure"


@dataclass(frozen=True)
class Effect:
    sets: Mapping[str, Any]
    payload: tuple[str, ...]
    text: tuple[str, ...]
    today: tuple[str, ...]
    dates: tuple[str, ...]
    #: Optional free text (kept in the event's details when given): what the documents need.
    notes: tuple[str, ...] = ()
    #: The action serves a document: how, and which fact gets the legal date of service
    #: (:mod:`workflow.cases.delivery`).
    serves: Serves | None = None
    #: The acting person may choose the case's procedure with this action (``procedure``:
    #: general, simplified or fast_track), e.g. when registering a complaint.
    chooses_procedure: bool = False
    #: Notes naming accounts of the unit that must be different persons and none of them the
    #: case's investigators (who presides over and who records the hearing).
    impartial: tuple[str, ...] = ()


@cache
def effects() -> Mapping[str, Effect]:
    """``effects.toml``, checked against the process's actions and CaseFacts' fields."""
    data = tomllib.loads(EFFECTS_PATH.read_text(encoding="utf-8"))
    actions = {a.id for a in process.default_process().actions.values()}
    out: dict[str, Effect] = {}
    for action, entry in data.items():
        if action not in actions:
            raise CaseError(f"effects.toml: [{action}] is not an action of process.toml")
        unknown = set(entry) - _EFFECT_KEYS
        if unknown:
            raise CaseError(f"effects.toml: [{action}] has unknown keys {sorted(unknown)}")
        for name in [*entry.get("set", {}), *entry.get("payload", [])]:
            if name not in _FACT_FIELDS:
                raise CaseError(f"effects.toml: [{action}] names {name!r}, not a case fact")
        out[action] = Effect(
            sets=dict(entry.get("set", {})),
            payload=tuple(entry.get("payload", ())),
            text=tuple(entry.get("text", ())),
            today=tuple(entry.get("today", ())),
            dates=tuple(entry.get("dates", ())),
            notes=tuple(entry.get("notes", ())),
            serves=_serves(action, entry.get("serves")),
            chooses_procedure=bool(entry.get("procedure", False)),
            impartial=tuple(entry.get("impartial", ())),
        )
        stray = set(out[action].impartial) - set(out[action].notes)
        if stray:
            raise CaseError(f"effects.toml: [{action}] impartial names {sorted(stray)}, not notes")
    return out


def _serves(action: str, entry: Any) -> Serves | None:
    if entry is None:
        return None
    try:
        return Serves.parse(action, entry)
    except ValueError as exc:
        raise CaseError(f"effects.toml: {exc}") from None


#: The effect of an action effects.toml does not list: it sets, asks and notes nothing.
NO_EFFECT = Effect({}, (), (), (), ())


def _penalty(name: str, value: Any) -> Penalty:
    if isinstance(value, Penalty):
        return value
    if not isinstance(value, Mapping) or value.get("kind") not in ("warning", "fine"):
        raise PayloadError(name, 'give {"kind": "warning"} or {"kind": "fine", "amount_fen": N}')
    try:
        return Penalty(value["kind"], int(value.get("amount_fen") or 0))
    except (TypeError, ValueError) as exc:
        raise PayloadError(name, str(exc)) from None


def _payload_value(name: str, value: Any) -> Any:
    """A payload fact as CaseFacts holds it (JSON-friendly when stored)."""
    if name in ("notified_penalty", "decided_penalty"):
        p = _penalty(name, value)
        return {"kind": p.kind, "amount_fen": p.amount_fen}
    if name == "no_penalty_ground":
        if value not in get_args(NoPenaltyGround):
            raise PayloadError(name, f"one of {', '.join(get_args(NoPenaltyGround))}")
        return value
    if name == "service_method":
        if value not in get_args(ServiceMethod):
            raise PayloadError(name, f"one of {', '.join(get_args(ServiceMethod))}")
        return value
    if not isinstance(value, bool):
        raise PayloadError(name, "true or false")
    return value


def _apply_effect(
    stored: dict[str, Any], effect: Effect, payload: Mapping[str, Any], today: date
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The case's facts after the action, and the details the event keeps."""
    facts = dict(stored)
    details: dict[str, Any] = {}
    allowed = set(effect.payload) | set(effect.text) | set(effect.dates) | set(effect.notes)
    if effect.chooses_procedure:
        allowed.add(PROCEDURE)  # judged by _take: it is the case's, not a fact
    if effect.serves is not None:
        allowed |= {effect.serves.method, *delivery.PARTICULARS}
    extra = set(payload) - allowed
    if extra:
        raise PayloadError(sorted(extra)[0], "this action does not take it")
    facts.update(effect.sets)
    for name in effect.payload:
        if name in payload:
            facts[name] = details[name] = _payload_value(name, payload[name])
    for name in effect.text:
        text = str(payload.get(name) or "").strip()
        if not text:
            raise PayloadError(name, "required")
        details[name] = text[:20_000]
    for name in effect.notes:
        note = str(payload.get(name) or "").strip()
        if note:
            details[name] = note[:20_000]
    for name in effect.dates:
        try:
            facts[name] = details[name] = date.fromisoformat(str(payload.get(name))).isoformat()
        except ValueError:
            raise PayloadError(name, "a date, YYYY-MM-DD") from None
    for name in effect.today:
        facts[name] = today.isoformat()
    if effect.serves is not None:
        try:
            served, details["service"] = delivery.record_sending(
                effect.serves, payload, today, facts
            )
        except delivery.ParticularsError as exc:
            raise PayloadError(exc.field, exc.message) from None
        facts.update(served)
    return facts, details


# -- facts and deadlines ------------------------------------------------------------------------


def _date(facts: Mapping[str, Any], name: str) -> date | None:
    value = facts.get(name)
    return date.fromisoformat(value) if isinstance(value, str) else None


def _ended(deadline: Deadline, today: date) -> bool:
    """A period has ended once its due date is behind us; an unconfirmed one has not (the
    law's calendar for it is not known yet, so nothing may rely on its end)."""
    return deadline.due_date is not None and today > deadline.due_date


def deadlines_of(case: Case, today: date) -> list[Deadline]:
    """The case's running (and met) deadlines, from the dates its actions recorded; which
    ones, from which date and when, is the table of ``deadlines.toml``."""
    return case_deadlines.deadlines_of(case, today)


def case_facts(
    case: Case,
    staff: Sequence[CaseStaff],
    names: Mapping[int, str],
    today: date,
    stored: Mapping[str, Any] | None = None,
) -> CaseFacts:
    """The guards' facts: what the actions recorded, the officers with their badges, and
    what the deadline engine says about the dates."""
    f = dict(case.facts or {}) if stored is None else dict(stored)
    values: dict[str, Any] = {k: v for k, v in f.items() if k in _FACT_FIELDS}
    for name in ("notified_penalty", "decided_penalty"):
        if isinstance(values.get(name), Mapping):
            values[name] = _penalty(name, values[name])
    values["procedure"] = case.procedure
    values["party_kind"] = case.party_kind
    values["has_complainant"] = case.source == "complaint"
    values["officers"] = tuple(
        Officer(names.get(s.user_id, str(s.user_id)), s.badge_number or "")
        for s in staff
        if s.role == "officer" and s.badge_number
    )
    served = _date(f, "notification_served_on")
    if served is not None:
        values["statement_window_ended"] = _ended(due("statement_defence", served), today)
    hearing_on, notified_on = _date(f, "hearing_on"), _date(f, "hearing_notice_served_on")
    if hearing_on is not None and notified_on is not None:
        latest = due("hearing_notice", hearing_on).due_date
        values["hearing_notice_period_met"] = latest is not None and notified_on <= latest
    filed = _date(f, "filed_on")
    if filed is not None and case.procedure == "fast_track":
        values["fast_track_deadline_passed"] = _ended(due("fast_track_decision", filed), today)
    decision_served = _date(f, "decision_served_on")
    if decision_served is not None:
        values["payment_period_ended"] = _ended(due("fine_payment", decision_served), today)
    correction_due = _date(f, "correction_due_on")
    if correction_due is not None:
        values["correction_period_ended"] = today > correction_due
    for effect in effects().values():
        if effect.serves is not None and effect.serves.flag:
            served_on = delivery.served_date(f, effect.serves)
            values[effect.serves.flag] = served_on is not None and served_on <= today
    return CaseFacts(**values)


# -- events -------------------------------------------------------------------------------------


def _append_event(
    ctx: CaseContext,
    session: Session,
    case: Case,
    who: Actor,
    action: str,
    *,
    from_state: str | None,
    to_state: str | None,
    details: Mapping[str, Any] | None = None,
    touches: Sequence[Mapping[str, Any]] = (),
) -> CaseEvent:
    seq = (case.event_count or 0) + 1
    chained = ChainedEvent(
        case=case.id,
        seq=seq,
        at=ctx.now().astimezone(UTC).replace(microsecond=0),
        actor=who.actor,
        actor_name=who.name,
        role=who.role,
        action=action,
        from_state=from_state,
        to_state=to_state,
        details=dict(details or {}),
        touches=[dict(t) for t in touches],
        prev=case.chain_head,
    )
    digest = event_hash(chained)
    row = CaseEvent(
        case_id=case.id,
        seq=seq,
        at=chained.at,
        actor=who.actor,
        actor_name=who.name,
        role=who.role,
        action=action,
        from_state=from_state,
        to_state=to_state,
        details=chained.details,
        touches=list(chained.touches),
        prev_hash=case.chain_head,
        hash=digest,
    )
    session.add(row)
    case.event_count = seq
    case.chain_head = digest
    session.flush()
    session.info.setdefault("case_event_hashes", []).append(digest)
    return row


def chained_event(row: CaseEvent) -> ChainedEvent:
    """A stored event as it is hashed (to check a chain or export it)."""
    return ChainedEvent(
        case=row.case_id,
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        actor_name=row.actor_name,
        role=row.role,
        action=row.action,
        from_state=row.from_state,
        to_state=row.to_state,
        details=dict(row.details or {}),
        touches=[dict(t) for t in (row.touches or [])],
        prev=row.prev_hash,
    )


def _log(ctx: CaseContext, *hashes: str) -> None:
    """Put committed events' hashes in the transparency log. After the commit, not inside
    it: the log is its own unit of work (and on SQLite, its own write lock). An event the
    log could not take now is found by :func:`unlogged_events` and logged later."""
    if ctx.log_event is None:
        return
    for digest in hashes:
        try:
            ctx.log_event(bytes.fromhex(digest))
        except Exception:  # caught up by housekeeping (log_unlogged_events); the event is kept
            _logger.warning("case event %s not logged yet; housekeeping will retry", digest)


def _next_number(session: Session, unit: Unit, year: int) -> str:
    seq_row = session.get(CaseNumberSequence, (unit.id, year), with_for_update=True)
    if seq_row is None:
        seq_row = CaseNumberSequence(unit_id=unit.id, year=year, last=0)
        session.add(seq_row)
    seq_row.last = (seq_row.last or 0) + 1
    prefix = unit.case_number_prefix or f"{unit.name[:1]}市监处"
    return f"{prefix}〔{year}〕{seq_row.last}号"


# -- the operations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PartyIn:
    name: str
    merchant_id: str | None = None
    credit_code: str | None = None
    shop_url: str | None = None
    platform: str | None = None


def open_case(
    ctx: CaseContext,
    who: Actor,
    *,
    unit_id: int,
    title: str,
    summary: str,
    parties: Sequence[PartyIn] = (),
    source: str = "lead",
    procedure: str = "general",
    party_kind: str = "organisation",
    shop_url: str | None = None,
    complainant_name: str | None = None,
    complainant_contact: str | None = None,
    created_by_id: int | None = None,
    idempotency: tuple[str, str] | None = None,
    receipt_code_hash: str | None = None,
) -> str:
    """Register a lead (officer) or a complaint (complainant): the case in state
    ``received``, its first event, and its parties. Returns the case id.

    ``created_by_id``: the account opening it (a lead). ``idempotency``: the (key, request
    digest) of a client's request, kept so that its retry finds this case
    (:func:`requested_case`); a second case with the same opener and key is refused by the
    database (``IntegrityError``). ``receipt_code_hash``: a complaint's receipt (the hash of
    the code shown to the complainant), kept in the same transaction as the case, so that no
    complaint exists that its complainant cannot look up."""
    action = "submit_complaint" if source == "complaint" else "record_lead"
    if not title.strip():
        raise PayloadError("title", "required")
    with _unit_of_work(ctx) as session:
        if session.get(Unit, unit_id) is None:
            raise CaseError(f"no unit {unit_id}")
        case = Case(
            unit_id=unit_id,
            title=title.strip()[:200],
            procedure=procedure,
            state=process.default_process().start,
            source=source,
            party_kind=party_kind,
            shop_url=shop_url,
            summary=summary,
            complainant_name=complainant_name,
            complainant_contact=complainant_contact,
            created_by_id=created_by_id,
            idempotency_key=None if idempotency is None else idempotency[0],
            request_digest=None if idempotency is None else idempotency[1],
            facts={},
            received_at=ctx.now(),
        )
        session.add(case)
        session.flush()
        for p in parties:
            session.add(
                CaseParty(
                    case_id=case.id,
                    merchant_id=p.merchant_id,
                    name=p.name,
                    credit_code=p.credit_code,
                    shop_url=p.shop_url,
                    platform=p.platform,
                )
            )
        if receipt_code_hash is not None:
            session.add(ComplaintReceipt(code_hash=receipt_code_hash, case_id=case.id))
        _take(ctx, session, case, who, action, {"summary": summary})
        return case.id


def requested_case(ctx: CaseContext, user_id: int | None, key: str, digest: str) -> str | None:
    """The case this account's earlier request with idempotency ``key`` opened, if it asked
    the same (``digest``: :func:`workflow.idempotency.request_digest` of the request);
    :class:`~workflow.idempotency.IdempotencyKeyReusedError` if it asked something else.
    ``user_id`` None: a complaint, which no account opens (its key is its form's)."""
    opener = Case.created_by_id.is_(None) if user_id is None else Case.created_by_id == user_id
    with ctx.sessions() as session:
        earlier = session.scalars(select(Case).where(opener, Case.idempotency_key == key)).first()
        if earlier is None:
            return None
        if earlier.request_digest != digest:
            raise IdempotencyKeyReusedError(
                f"this Idempotency-Key was already used for another request (case {earlier.id}, "
                f"{earlier.title}); use a new key for each case"
            )
        return earlier.id


def reissue_receipt(ctx: CaseContext, case_id: str, receipt_code_hash: str) -> None:
    """A new receipt for a complaint, in place of the one it had: the complaint form sent
    again answers the complaint it made with a new code (only the hash of a code is kept, so
    the first cannot be shown again), and the code shown before stops working, so that one
    complaint never has two live codes."""
    with _unit_of_work(ctx) as session:
        case = session.get(Case, case_id)
        if case is None or case.source != "complaint":
            raise CaseNotFound(f"no complaint {case_id}")
        session.execute(delete(ComplaintReceipt).where(ComplaintReceipt.case_id == case_id))
        session.flush()
        session.add(ComplaintReceipt(code_hash=receipt_code_hash, case_id=case_id))


def assign(ctx: CaseContext, who: Actor, case_id: str, user_id: int, role: str = "officer") -> None:
    """Put an officer, reviewer or head on the case (an event); the badge number is kept
    as it is now."""
    with _unit_of_work(ctx) as session:
        case = _case_for(session, who, case_id)
        user = session.get(User, user_id)
        if user is None or user.disabled or user.unit_id != case.unit_id:
            raise CaseError(f"user {user_id} is not an active account of the case's unit")
        if session.get(CaseStaff, (case.id, user_id, role)) is not None:
            return
        session.add(
            CaseStaff(case_id=case.id, user_id=user_id, role=role, badge_number=user.badge_number)
        )
        _append_event(
            ctx,
            session,
            case,
            who,
            "assign",
            from_state=case.state,
            to_state=case.state,
            details={
                "user_id": user_id,
                "name": user.display_name,
                "role": role,
                "badge_number": user.badge_number,
            },
        )


def add_evidence(
    ctx: CaseContext,
    who: Actor,
    case_id: str,
    *,
    kind: str,
    file_name: str,
    sha256: str,
    capture_id: str | None = None,
    object_key: str | None = None,
    media_type: str = "application/octet-stream",
    size: int | None = None,
    description: str | None = None,
    proof: Mapping[str, Any] | None = None,
) -> int:
    """Attach evidence (a sealed capture, or an uploaded file already stored immutably with
    its hash): an event that touches it by hash. ``proof``: how an upload was sealed (its
    record and time-stamp objects, the trusted time), kept in the event. Returns the
    evidence id."""
    with _unit_of_work(ctx) as session:
        case = _case_for(session, who, case_id)
        event = _append_event(
            ctx,
            session,
            case,
            who,
            "attach_evidence",
            from_state=case.state,
            to_state=case.state,
            details={
                "kind": kind,
                "file_name": file_name,
                "description": description or "",
                **({"proof": dict(proof)} if proof else {}),
            },
            touches=[{"kind": kind, "id": capture_id or object_key, "sha256": sha256}],
        )
        row = CaseEvidence(
            case_id=case.id,
            kind=kind,
            capture_id=capture_id,
            object_key=object_key,
            file_name=file_name,
            media_type=media_type,
            size=size,
            sha256=sha256,
            description=description,
            event_seq=event.seq,
        )
        session.add(row)
        session.flush()
        return row.id


def link_party(ctx: CaseContext, who: Actor, case_id: str, party_id: int, merchant_id: str) -> None:
    """Link a party of the case (``CaseParty``) to its portal account (an officer's step, an
    event in the case chain, like :func:`assign`). From then on the merchant sees the case in
    the portal, and the case's documents kept as the unit's while the party had no account
    become the merchant's (those served on it are visible to it).

    Refused (:class:`CaseError`) for anyone but an officer of the case's unit, an account of
    another unit, a credit code that differs from the party's, or a party linked already."""
    if who.role != "officer":
        raise CaseError("only an officer links a party to its portal account")
    with _unit_of_work(ctx) as session:
        case = _case_for(session, who, case_id)
        party = session.get(CaseParty, party_id)
        if party is None or party.case_id != case.id:
            raise CaseError(f"party {party_id} is not a party of this case")
        merchant = session.get(Merchant, merchant_id)
        if merchant is None or merchant.unit_id != case.unit_id:
            raise CaseError(f"merchant {merchant_id} is not a portal account of the case's unit")
        if party.merchant_id is not None:
            if party.merchant_id == merchant.id:
                return
            raise CaseError(f"{party.name} is already linked to another portal account")
        if party.credit_code and party.credit_code.upper() != merchant.credit_code.upper():
            raise CaseError(
                f"{merchant.name} has the credit code {merchant.credit_code}, the party "
                f"{party.name} {party.credit_code}: link the party's own account"
            )
        party.merchant_id = merchant.id
        if not party.credit_code:
            party.credit_code = merchant.credit_code
        orphans = select(CaseDocument.document_id).where(CaseDocument.case_id == case.id)
        for doc in session.scalars(
            select(Document).where(Document.id.in_(orphans), Document.merchant_id.is_(None))
        ):
            doc.merchant_id = merchant.id
        _append_event(
            ctx,
            session,
            case,
            who,
            "link_party",
            from_state=case.state,
            to_state=case.state,
            details={
                "party_id": party.id,
                "party_name": party.name,
                "merchant_id": merchant.id,
                "merchant_name": merchant.name,
                "credit_code": merchant.credit_code,
            },
        )


def _serving_event(session: Session, case: Case, event_seq: int) -> tuple[CaseEvent, Serves]:
    event = session.scalar(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.seq == event_seq)
    )
    effect = effects().get(event.action) if event is not None else None
    if event is None or effect is None or effect.serves is None:
        raise CaseError(f"event {event_seq} of the case serves no document")
    return event, effect.serves


def _served_on(session: Session, case: Case, serves: Serves, served: date) -> None:
    facts = dict(case.facts or {})
    facts[serves.on] = served.isoformat()
    case.facts = facts


def record_service_receipt(
    ctx: CaseContext,
    who: Actor,
    case_id: str,
    event_seq: int,
    received_on: date,
    receiver: str | None = None,
) -> None:
    """The return receipt of a postal service came back: the document was served on the day
    the receipt says (``received_on``), which becomes the date later deadlines count from.
    ``event_seq``: the event that posted it."""
    if who.role != "officer":
        raise CaseError("only an officer records a postal receipt")
    with _unit_of_work(ctx) as session:
        case = _case_for(session, who, case_id)
        event, serves = _serving_event(session, case, event_seq)
        sent = dict(event.details.get("service") or {})
        if sent.get("method") != "postal":
            raise CaseError(f"event {event_seq} did not serve its document by post")
        receipts = session.scalars(
            select(CaseEvent.details).where(
                CaseEvent.case_id == case.id, CaseEvent.action == "record_service_receipt"
            )
        )
        if any((d or {}).get("event_seq") == event_seq for d in receipts):
            raise CaseError(f"the receipt of event {event_seq} is recorded already")
        posted = date.fromisoformat(str(sent.get("posted_on")))
        if received_on < posted or received_on > ctx.today():
            raise PayloadError(
                "received_on",
                f"between the posting ({posted.isoformat()}) and today, not "
                f"{received_on.isoformat()}",
            )
        _served_on(session, case, serves, received_on)
        _append_event(
            ctx,
            session,
            case,
            who,
            "record_service_receipt",
            from_state=case.state,
            to_state=case.state,
            details={
                "event_seq": event_seq,
                "action": event.action,
                "tracking_number": sent.get("tracking_number"),
                "received_on": received_on.isoformat(),
                **({"receiver": receiver.strip()[:100]} if receiver and receiver.strip() else {}),
            },
        )


def record_delivery(
    ctx: CaseContext,
    who: Actor,
    case_id: str,
    event_seq: int,
    document_id: str,
    served_at: datetime,
) -> None:
    """An electronically served document reached the party's portal account at
    ``served_at`` (the legal time of electronic service): recorded in the chain, and its date
    becomes the date of service (correcting the sending's date if it reached the account
    later)."""
    with _unit_of_work(ctx) as session:
        case = _case_for(session, who, case_id)
        event, serves = _serving_event(session, case, event_seq)
        _served_on(session, case, serves, served_at.astimezone(CHINA).date())
        _append_event(
            ctx,
            session,
            case,
            who,
            "deliver_document",
            from_state=case.state,
            to_state=case.state,
            details={
                "event_seq": event_seq,
                "action": event.action,
                "document_id": document_id,
                "served_at": served_at.astimezone(UTC).isoformat(),
            },
        )


def link_document(
    ctx: CaseContext,
    who: Actor,
    case_id: str,
    document_id: str,
    template: str,
    sha256: str,
    for_event: int | None = None,
) -> None:
    """Put a generated document in the case file (an event touching it by hash);
    ``for_event``: the event whose action owed it (documents may be made out of order, when
    an earlier one waits for data)."""
    with _unit_of_work(ctx) as session:
        case = _case_for(session, who, case_id)
        event = _append_event(
            ctx,
            session,
            case,
            who,
            "add_document",
            from_state=case.state,
            to_state=case.state,
            details={
                "template": template,
                **({"for_event": for_event} if for_event is not None else {}),
            },
            touches=[{"kind": "document", "id": document_id, "sha256": sha256}],
        )
        session.add(
            CaseDocument(
                case_id=case.id, document_id=document_id, template=template, event_seq=event.seq
            )
        )


def record_event(
    ctx: CaseContext,
    who: Actor,
    case_id: str,
    action: str,
    details: Mapping[str, Any] | Callable[[Session, Case], Mapping[str, Any] | None],
) -> int | None:
    """Append one event that records something beside the process, without moving the case
    (as ``assign``, ``add_evidence`` and ``link_document`` do for their own rows): a payment
    notice issued, a payment counted, a receipt issued. ``action`` must not be a step of
    ``process.toml`` (those go through :func:`act` and its guards).

    ``details`` may be a function run in the same unit of work with the case row locked: it
    writes the caller's own rows and returns the event's details, or None to record no event
    (its rows are still kept); rows and event are committed together or not at all. Returns
    the event's number, or None."""
    if action in process.default_process().actions:
        raise CaseError(f"{action} is a step of the case process: take it with act()")
    with _unit_of_work(ctx) as session:
        case = _case_for(session, who, case_id)
        body = details(session, case) if callable(details) else details
        if body is None:
            return None
        event = _append_event(
            ctx,
            session,
            case,
            who,
            action,
            from_state=case.state,
            to_state=case.state,
            details=body,
        )
        return event.seq


#: The event that records the party's signature of a case document in the portal.
PARTY_SIGNED = "party_signed_document"


def record_party_signature(
    ctx: CaseContext, merchant_id: str, merchant_name: str, document_id: str, sha256: str
) -> list[int]:
    """The party signed (or uploaded its own signed copy of) a document in the portal: an
    event in the chain of every case whose file holds that document, naming the signed
    version by its SHA-256, so that the party's step is recorded as it happens. Returns the
    events' numbers (none when the document belongs to no case)."""
    with ctx.sessions() as session:
        cases = list(
            session.execute(
                select(CaseDocument.case_id, Case.unit_id)
                .join(Case, Case.id == CaseDocument.case_id)
                .where(CaseDocument.document_id == document_id)
            )
        )
    out = []
    for case_id, unit_id in cases:
        who = Actor(f"merchant:{merchant_id}", merchant_name, "merchant", unit_id)
        seq = record_event(
            ctx, who, case_id, PARTY_SIGNED, {"document_id": document_id, "sha256": sha256}
        )
        if seq is not None:
            out.append(seq)
    return out


#: The event that gives an earlier action's notes afterwards (``give_notes``).
GIVE_NOTES = "give_notes"


def give_notes(
    ctx: CaseContext, who: Actor, case_id: str, action: str, notes: Mapping[str, Any]
) -> int:
    """Give the notes of an action already taken (``effects.toml`` ``notes``), for the
    documents still waiting for them: an officer who left out the facts of the investigation
    end report gives them now, and the document is made from them.

    A new event in the chain (the earlier one is never changed); the documents read the
    newest text of each note, whether given with the action or later. Only a role that may
    take the action may give its notes, and only after the case took it."""
    allowed = effects().get(action, NO_EFFECT).notes
    if not allowed:
        raise PayloadError(action, f"{action} has no notes to give")
    given: dict[str, str] = {}
    for name, value in notes.items():
        if name not in allowed:
            raise PayloadError(
                name, f"{action} has no note {name!r}; its notes: {', '.join(allowed)}"
            )
        text = str(value or "").strip()
        if text:
            given[name] = text[:20000]
    if not given:
        raise PayloadError(action, f"give at least one of {', '.join(allowed)}")
    rules = process.default_process().rules
    roles = {r for rule in rules if rule.action == action for r in rule.roles}
    if who.role not in roles:
        raise PayloadError("role", f"a {who.role} may not give the notes of {action}")

    def body(session: Session, case: Case) -> Mapping[str, Any]:
        taken = session.scalar(
            select(CaseEvent.seq)
            .where(CaseEvent.case_id == case.id, CaseEvent.action == action)
            .order_by(CaseEvent.seq.desc())
            .limit(1)
        )
        if taken is None:
            raise PayloadError(action, f"the case has not taken {action} yet")
        impartial = effects()[action].impartial
        if impartial and set(impartial) & set(given):
            own, later = _notes_read(session, case.id, int(taken))
            staff, _ = _staff(session, case.id)
            # what is given now, and the seats as the documents will then read them
            _check_impartial(session, case, staff, impartial, given)
            _check_impartial(session, case, staff, impartial, {**later, **given, **own})
        return {"for_action": action, "for_event": int(taken), **given}

    seq = record_event(ctx, who, case_id, GIVE_NOTES, body)
    assert seq is not None
    return seq


def act(
    ctx: CaseContext,
    who: Actor,
    case_id: str,
    action: str,
    payload: Mapping[str, Any] | None = None,
    *,
    also: Callable[[Session, Case], object] | None = None,
) -> Transition:
    """Take ``action`` on the case: its facts recorded, the guards judged, the state moved,
    the event appended, in one unit of work. Raises :class:`process.TransitionRefused` (with
    every reason) or :class:`PayloadError`; nothing is kept then.

    ``also``: the caller's own rows that belong to the action (a publicity entry, the
    payment order marked as recorded), written in the same unit of work once the action was
    judged, with the case row locked: committed together with the event, or, when it raises,
    neither -- which is how a caller running in several processes takes an action once."""
    with _unit_of_work(ctx) as session:
        case = _case_for(session, who, case_id)
        transition = _take(ctx, session, case, who, action, dict(payload or {}))
        if also is not None:
            also(session, case)
    if ctx.after_action is not None:
        try:
            ctx.after_action(case_id, who, transition)
        except Exception:  # the action is committed; what the hook missed stays pending
            _logger.exception("after %s on case %s: follow-up failed", action, case_id)
    return transition


def _take(
    ctx: CaseContext,
    session: Session,
    case: Case,
    who: Actor,
    action: str,
    payload: dict[str, Any],
) -> Transition:
    today = ctx.today()
    effect = effects().get(action, NO_EFFECT)
    stored, details = _apply_effect(case.facts or {}, effect, payload, today)
    chosen = payload.get(PROCEDURE) if effect.chooses_procedure else None
    if chosen not in (None, "", case.procedure):
        if chosen not in process.default_process().procedures:
            procedures = ", ".join(process.default_process().procedures)
            raise PayloadError(PROCEDURE, f"one of {procedures}")
        # judged under the procedure chosen; a refusal rolls the change back with the rest
        details.update(procedure=chosen, procedure_was=case.procedure)
        case.procedure = str(chosen)
    staff, names = _staff(session, case.id)
    _check_impartial(session, case, staff, effect.impartial, details)
    facts = case_facts(case, staff, names, today, stored)
    transition = process.take(case.state, action, who.role, case.procedure, facts)
    from_state = case.state
    if (
        transition.target != from_state
        and transition.target in ("investigating", "on_the_spot")
        and (case.number is None)
    ):
        unit = session.get(Unit, case.unit_id)
        assert unit is not None
        case.number = _next_number(session, unit, today.year)
        details["case_number"] = case.number
    case.facts = stored
    case.state = transition.target
    if process.default_process().states[transition.target].terminal:
        case.closed_at = ctx.now()
    _append_event(
        ctx,
        session,
        case,
        who,
        action,
        from_state=from_state,
        to_state=transition.target,
        details=details,
    )
    return transition


def _notes_read(
    session: Session, case_id: str, taken: int
) -> tuple[dict[str, str], dict[str, str]]:
    """The notes of the action taken as event ``taken``, as its documents read them
    (``workflow.cases.documents``, ``own``): (given with the action, the newest given for it
    afterwards by ``give_notes``). A note the action was given wins over a later one."""
    own: dict[str, str] = {}
    later: dict[str, str] = {}
    for e in session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, CaseEvent.seq >= taken)
        .order_by(CaseEvent.seq)
    ):
        details = e.details or {}
        if e.seq == taken:
            into = own
        elif e.action == GIVE_NOTES and details.get("for_event") == taken:
            into = later
        else:
            continue
        into.update({k: str(v).strip() for k, v in details.items() if str(v or "").strip()})
    return own, later


def _check_impartial(
    session: Session,
    case: Case,
    staff: Sequence[CaseStaff],
    names: Sequence[str],
    notes: Mapping[str, Any],
) -> None:
    """The accounts ``notes`` name under ``names`` (login names) are accounts of the case's
    unit, each a different person, and none of them an investigator of the case: a hearing
    presided or recorded by the people who investigated it is not a hearing the law knows
    (市场监督管理行政处罚听证办法: 办案人员不得担任听证主持人、听证员和记录员). Refused when
    the action is taken, not found out when its document is made (or signed by one
    certificate in two places)."""
    given = {n: str(notes[n]).strip() for n in names if str(notes.get(n) or "").strip()}
    if not given:
        return
    accounts = dict(
        session.execute(
            select(User.username, User.id).where(
                User.username.in_(set(given.values())), User.unit_id == case.unit_id
            )
        ).all()
    )
    investigators = {s.user_id for s in staff if s.role == "officer"}
    seen: dict[int, str] = {}
    for name, login in given.items():
        uid = accounts.get(login)
        if uid is None:
            raise PayloadError(name, f"{login!r} is not the login name of an account of the unit")
        if uid in investigators:
            raise PayloadError(
                name,
                f"{login!r} investigates this case and cannot also act as {name} "
                "(办案人员不得担任听证主持人、听证员和记录员)",
            )
        if uid in seen:
            raise PayloadError(
                name, f"{login!r} is already the {seen[uid]}; one person cannot be both"
            )
        seen[uid] = name


def _staff(session: Session, case_id: str) -> tuple[list[CaseStaff], dict[int, str]]:
    staff = list(session.scalars(select(CaseStaff).where(CaseStaff.case_id == case_id)))
    ids = [s.user_id for s in staff]
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    names = {uid: name for uid, name in rows}
    return staff, names


def _case_for(session: Session, who: Actor, case_id: str) -> Case:
    case = session.get(Case, case_id, with_for_update=True)
    if case is None or (who.unit_id is not None and case.unit_id != who.unit_id):
        raise CaseNotFound(f"no case {case_id}")
    return case


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventView:
    seq: int
    at: datetime
    actor_name: str
    role: str
    action: str
    from_state: str | None
    to_state: str | None
    details: Mapping[str, Any]
    hash: str


@dataclass(frozen=True)
class CaseView:
    case: Case
    parties: list[CaseParty]
    staff: list[tuple[CaseStaff, str]]
    events: list[EventView]
    evidence: list[CaseEvidence]
    documents: list[CaseDocument]
    deadlines: list[Deadline]
    options: list[Option]
    facts: CaseFacts


def case_view(ctx: CaseContext, who: Actor, case_id: str) -> CaseView:
    """Everything the case page shows, with the actions ``who`` may take now (allowed or
    refused with reasons: only the legal ones are offered as buttons)."""
    today = ctx.today()
    with ctx.sessions() as session:
        case = session.get(Case, case_id)
        if case is None or (who.unit_id is not None and case.unit_id != who.unit_id):
            raise CaseNotFound(f"no case {case_id}")
        staff, names = _staff(session, case.id)
        facts = case_facts(case, staff, names, today)
        events = [
            EventView(
                e.seq,
                e.at,
                e.actor_name,
                e.role,
                e.action,
                e.from_state,
                e.to_state,
                e.details,
                e.hash,
            )
            for e in session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
            )
        ]
        parties = list(session.scalars(select(CaseParty).where(CaseParty.case_id == case.id)))
        evidence = list(
            session.scalars(
                select(CaseEvidence)
                .where(CaseEvidence.case_id == case.id)
                .order_by(CaseEvidence.id)
            )
        )
        documents = list(
            session.scalars(
                select(CaseDocument)
                .where(CaseDocument.case_id == case.id)
                .order_by(CaseDocument.event_seq)
            )
        )
        session.expunge_all()
    # A platform (room platform) reads and adds to a case but takes no step of the process.
    acts = who.role != "platform"
    options = process.available(case.state, who.role, case.procedure, facts) if acts else []
    return CaseView(
        case=case,
        parties=parties,
        staff=[(s, names.get(s.user_id, "")) for s in staff],
        events=events,
        evidence=evidence,
        documents=documents,
        deadlines=deadlines_of(case, today),
        options=options,
        facts=facts,
    )


@dataclass(frozen=True)
class CaseRow:
    id: str
    number: str | None
    title: str
    state: str
    procedure: str
    received_at: datetime
    deadlines: list[Deadline]


def list_cases(
    ctx: CaseContext,
    who: Actor,
    *,
    unit_id: int | None,
    state: str | None = None,
    procedure: str | None = None,
    mine: bool = False,
    open_only: bool = True,
    limit: int = 100,
    offset: int = 0,
) -> list[CaseRow]:
    """The cases of a unit (newest first), each with its running deadlines; ``mine``: only
    cases ``who`` is staffed on; ``procedure``: only cases in that procedure."""
    today = ctx.today()
    with ctx.sessions() as session:
        q = select(Case).order_by(Case.received_at.desc()).limit(limit).offset(offset)
        if unit_id is not None:
            q = q.where(Case.unit_id == unit_id)
        if state:
            q = q.where(Case.state == state)
        if procedure:
            q = q.where(Case.procedure == procedure)
        if open_only:
            q = q.where(Case.closed_at.is_(None))
        if mine and who.actor.startswith("user:"):
            uid = int(who.actor.split(":", 1)[1])
            q = q.where(Case.id.in_(select(CaseStaff.case_id).where(CaseStaff.user_id == uid)))
        rows = list(session.scalars(q))
        session.expunge_all()
    return [
        CaseRow(
            c.id, c.number, c.title, c.state, c.procedure, c.received_at, deadlines_of(c, today)
        )
        for c in rows
    ]


def count_cases(ctx: CaseContext, unit_id: int | None) -> int:
    with ctx.sessions() as session:
        q = select(func.count()).select_from(Case)
        if unit_id is not None:
            q = q.where(Case.unit_id == unit_id)
        return int(session.scalar(q) or 0)


def unlogged_events(ctx: CaseContext, limit: int = 1000) -> list[str]:
    """Hashes of case events not yet in the transparency log (the log was down when they
    were committed), oldest first, for housekeeping to log."""
    with ctx.sessions() as session:
        q = (
            select(CaseEvent.hash)
            .where(~CaseEvent.hash.in_(select(LogLeaf.leaf_input)))
            .order_by(CaseEvent.at)
            .limit(limit)
        )
        return list(session.scalars(q))


def log_unlogged_events(ctx: CaseContext) -> int:
    """Log what :func:`unlogged_events` finds; returns how many were tried."""
    pending = unlogged_events(ctx)
    _log(ctx, *pending)
    return len(pending)


def roles_of(ctx: CaseContext, user_id: int, case_id: str) -> set[str]:
    """The roles (officer, reviewer, head) a user holds on a case: staff act in these."""
    with ctx.sessions() as session:
        return set(
            session.scalars(
                select(CaseStaff.role).where(
                    CaseStaff.case_id == case_id, CaseStaff.user_id == user_id
                )
            )
        )


def find_case(ctx: CaseContext, ref: str) -> str:
    """The id of the case ``ref`` names, by its id or its case number (示市监处〔2026〕12号).

    One look-up for everything that takes a case from a person (the ``evidence case``
    commands, the export), because people give whichever they have at hand: the number is on
    every document, the id in every link. Who may see the case is checked by the caller (as
    for an id). Raises :class:`CaseNotFound` saying what was given and what is accepted."""
    value = ref.strip()
    with ctx.sessions() as session:
        found = session.scalar(
            select(Case.id).where((Case.id == value) | (Case.number == value)).limit(1)
        )
    if found is None:
        raise CaseNotFound(f"no case {ref!r} (give its id or its case number)")
    return str(found)
