"""Paying a fine online: the notice, the amount due, orders, the provider's callback, receipts.

1. **Notice** (:func:`issue_notice`): once the decision is served, the fine gets a payment
   number (20 digits with a check digit). The surcharge (加处罚款) counts from the day of
   service: :func:`workflow.deadlines.late_payment_surcharge`.
2. **Amount due** (:func:`amount_due`): the fine plus the surcharge as of today -- or, under
   an approved arrangement (:func:`approve_arrangement`: deferral, instalments, partial
   payment; the head of unit, with the schedule), the next instalment. Any other amount is
   refused (:class:`ArrangementRequired`): a partial payment is never accepted unapproved.
3. **Order** (:func:`create_order`): the amount due today, payable until midnight Beijing time
   (the surcharge changes with the date), opened at the channel, which gives the page the
   payer is sent to.
4. **Callback** (:func:`handle_callback`): the provider's notification counts only once its
   signature (over the raw body) and timestamp are verified by the channel, its nonce was
   never seen (a replay is refused), the order exists and the amount is the order's. A second
   notification of the same payment (a retry, new nonce, same transaction) is answered "OK"
   and pays nothing twice. Every callback is kept with its raw body and outcome.
5. **After payment** (:func:`complete_payment`): when the whole debt is settled the case's
   ``record_payment`` action is taken as the ``system`` actor, and each paid order gets an
   electronic receipt (``payment_receipt`` template) sealed by the unit, PAdES B-LTA. Both
   steps are idempotent and retried by :func:`complete_pending` if something was down.

**Every step is in the case's record as it happens**: each is an event in the case's hash
chain (:func:`workflow.cases.service.record_event`), written in the same unit of work as the
payment's own rows, so neither exists without the other: ``payment_notice_issued``, the
arrangement ``payment_arrangement_requested`` / ``_approved`` / ``_refused`` (who, why, the
schedule), ``payment_received`` for each notification that counts (amount, channel order,
transaction, the id of the key whose signature was verified; a duplicate or refused one
records no event: it is in ``payment_callbacks``), ``record_payment`` (the process step) and
``payment_receipt_issued`` (the receipt's SHA-256).

**One set of receipt figures** (:class:`ReceiptFigures`: fine, surcharge, total, paid at,
channel, payment number, payee) is computed here from the paid orders and used by both
receipts: the channel's receipt of each order, and the case file's receipt document, which
copies the figures the ``payment_received`` event that settled the fine recorded
(``settlement``). So the two cannot disagree, the surcharge included.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db import session_scope
from storage.models import (
    Case,
    CaseEvent,
    CaseParty,
    PaymentArrangement,
    PaymentCallback,
    PaymentNotice,
    PaymentOrder,
    PaymentReceipt,
    Unit,
)
from workflow.cases import access
from workflow.cases import service as cases
from workflow.cases.process import ProcessError, TransitionRefused
from workflow.context import PortalContext
from workflow.deadlines import UnconfirmedDeadlineError, late_payment_surcharge
from workflow.deadlines.surcharge import DAILY_RATE_PERCENT
from workflow.document_versions import (
    BEIJING,
    default_legal_basis,
    local_date,
    put_pdf,
    render,
    scratch,
    sign,
    unit_seal_serial,
)

from .channel import CallbackRefused, Notification, OrderRequest, PaymentChannel
from .errors import (
    ArrangementRefused,
    ArrangementRequired,
    ChannelUnavailable,
    NothingDue,
    NoticeNotFound,
    NoticeNotIssuable,
    PaymentError,
    ReceiptNotReady,
)
from .numbers import InvalidPaymentNumber, new_payment_number, normalize_payment_number

log = logging.getLogger(__name__)

__all__ = [
    "ARRANGEMENT_APPROVED",
    "ARRANGEMENT_REFUSED",
    "ARRANGEMENT_REQUESTED",
    "NOTICE_ISSUED",
    "PAYMENT_EVENTS",
    "PAYMENT_RECEIVED",
    "RECEIPT_ISSUED",
    "AmountDue",
    "ArrangementKind",
    "ArrangementView",
    "CallbackResult",
    "CreatedOrder",
    "Instalment",
    "NoticeView",
    "PaymentContext",
    "PaymentView",
    "ReceiptFigures",
    "ReceiptView",
    "amount_due",
    "approve_arrangement",
    "complete_payment",
    "complete_pending",
    "create_order",
    "handle_callback",
    "issue_notice",
    "issue_receipt",
    "order_status",
    "payment_view",
    "receipt_figures",
    "receipt_pdf",
    "refuse_arrangement",
    "request_arrangement",
    "settlement_figures",
    "yuan",
]

ArrangementKind = Literal["deferral", "instalments", "partial"]
#: The most of a callback's body kept in the record (a notification is a few hundred bytes).
MAX_KEPT_BODY = 64 * 1024

#: The case events of the payment flow (not steps of process.toml: the case does not move;
#: ``record_payment`` is the step). Their details are listed where each is recorded.
NOTICE_ISSUED = "payment_notice_issued"
ARRANGEMENT_REQUESTED = "payment_arrangement_requested"
ARRANGEMENT_APPROVED = "payment_arrangement_approved"
ARRANGEMENT_REFUSED = "payment_arrangement_refused"
PAYMENT_RECEIVED = "payment_received"
RECEIPT_ISSUED = "payment_receipt_issued"
PAYMENT_EVENTS = (
    NOTICE_ISSUED,
    ARRANGEMENT_REQUESTED,
    ARRANGEMENT_APPROVED,
    ARRANGEMENT_REFUSED,
    PAYMENT_RECEIVED,
    RECEIPT_ISSUED,
)


@dataclass
class PaymentContext:
    """What the payment flow needs from its host: the case workflow (its sessions, clock and
    transparency log), the portal's document machinery (store, PKI, time-stamping: the
    receipt is sealed like any other document), the one channel (None: online payment is
    off) and the service's public address (callback and return URLs)."""

    cases: cases.CaseContext
    portal: PortalContext
    channel: PaymentChannel | None
    public_url: str

    def now(self) -> dt.datetime:
        return self.cases.now()

    def today(self) -> dt.date:
        return self.cases.today()


def yuan(fen: int) -> str:
    """Fen as the documents write yuan: ``500000`` -> ``5000.00``."""
    sign_ = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign_}{whole}.{part:02d}"


# -- views ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instalment:
    due_on: dt.date
    amount_fen: int


@dataclass(frozen=True)
class ArrangementView:
    id: int
    kind: str
    schedule: tuple[Instalment, ...]
    reason: str
    approved_by_id: int
    approved_by_name: str
    approved_at: dt.datetime


@dataclass(frozen=True)
class NoticeView:
    number: str
    case_id: str
    unit_id: int
    decision_number: str
    party_name: str
    fine_fen: int
    served_on: dt.date


@dataclass(frozen=True)
class AmountDue:
    """What is to be paid now. ``principal_fen`` is the part of the fine (all of it, or the
    next instalment), ``surcharge_fen`` the late-payment surcharge on it as of ``as_of``."""

    as_of: dt.date
    fine_fen: int
    paid_fen: int
    principal_fen: int
    surcharge_fen: int
    #: The last day to pay this without surcharge (None: the calendar is unconfirmed).
    pay_by: dt.date | None
    days_late: int
    capped: bool
    #: 1-based instalment number and how many there are (None: the whole amount at once).
    instalment: int | None = None
    instalments: int | None = None
    settled: bool = False
    #: False: the amount cannot be known yet (the payment deadline falls in a year whose
    #: working-day calendar is not entered); no order can be made.
    payable: bool = True
    reason: str = ""

    @property
    def total_fen(self) -> int:
        return self.principal_fen + self.surcharge_fen

    @property
    def first_surcharge_day(self) -> dt.date | None:
        return self.pay_by + dt.timedelta(days=1) if self.pay_by else None


@dataclass(frozen=True)
class ReceiptView:
    id: int
    order_id: str
    sha256: str
    size: int
    created_at: dt.datetime
    principal_fen: int
    surcharge_fen: int
    amount_fen: int
    paid_at: dt.datetime | None
    instalment: int | None


@dataclass(frozen=True)
class ReceiptFigures:
    """The figures a receipt states, made here once for both receipts: the channel's receipt
    of one paid order (:func:`issue_receipt`) and the case file's receipt document
    (罚没款收据, ``workflow.cases.documents``), which copies :meth:`fields` from the
    ``payment_received`` event that settled the fine. ``fine_fen`` is the part of the fine
    paid (all of it, or an instalment); money is integer fen until :meth:`fields` writes it
    as the documents do."""

    payment_number: str
    fine_fen: int
    surcharge_fen: int
    paid_at: dt.datetime
    #: How it was paid, as printed: the channel and its transaction number(s).
    channel: str
    payee: str

    @property
    def total_fen(self) -> int:
        return self.fine_fen + self.surcharge_fen

    def fields(self) -> dict[str, str]:
        """The ``payment_receipt`` template's fields (its names; yuan with two decimals;
        the time in Beijing, to the second)."""
        return {
            "payment_number": self.payment_number,
            "fine_yuan": yuan(self.fine_fen),
            "surcharge_yuan": yuan(self.surcharge_fen),
            "total_yuan": yuan(self.total_fen),
            "paid_at": self.paid_at.astimezone(BEIJING).replace(microsecond=0).isoformat(),
            "channel": self.channel,
            "payee": self.payee,
        }


@dataclass(frozen=True)
class PaymentView:
    """The payment page: the notice, what is due today, the arrangement and the receipts."""

    notice: NoticeView
    unit_name: str
    due: AmountDue
    arrangement: ArrangementView | None
    receipts: list[ReceiptView]
    channel_name: str | None
    channel_label_zh: str | None
    channel_label_en: str | None
    channel_is_sandbox: bool


@dataclass(frozen=True)
class CreatedOrder:
    order_id: str
    amount_fen: int
    redirect_url: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class CallbackResult:
    """What became of a callback: ``accepted`` (counted now), ``duplicate`` (already counted:
    answered OK, nothing paid twice) or ``refused`` (``code`` says why)."""

    outcome: Literal["accepted", "duplicate", "refused"]
    code: str
    message: str
    order_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome != "refused"


# -- notices ----------------------------------------------------------------------------------


def _notice_view(n: PaymentNotice) -> NoticeView:
    return NoticeView(
        n.number, n.case_id, n.unit_id, n.decision_number, n.party_name, n.fine_fen, n.served_on
    )


def _notices_actor(unit_id: int) -> cases.Actor:
    return cases.Actor("system", "缴款通知（系统）/ payment notices", "system", unit_id)


def _notice_details(row: PaymentNotice) -> dict[str, Any]:
    """What the ``payment_notice_issued`` event keeps: the number and what it asks for."""
    due = _whole_due(row, row.served_on)
    return {
        "payment_number": row.number,
        "decision_number": row.decision_number,
        "fine_fen": row.fine_fen,
        "fine_yuan": yuan(row.fine_fen),
        "served_on": row.served_on.isoformat(),
        "pay_by": due.pay_by.isoformat() if due.pay_by else None,
    }


def issue_notice(ctx: PaymentContext, case_id: str) -> NoticeView:
    """The case's payment notice, made on first call once a fine was decided and served
    (idempotent: the number never changes), with its ``payment_notice_issued`` event."""
    with ctx.cases.sessions() as session:
        existing = session.scalar(select(PaymentNotice).where(PaymentNotice.case_id == case_id))
        if existing is not None:
            return _notice_view(existing)
        case = session.get(Case, case_id)
        if case is None:
            raise NoticeNotFound(f"no case {case_id}")
        facts = case.facts or {}
        penalty = facts.get("decided_penalty") or {}
        served = facts.get("decision_served_on")
        if penalty.get("kind") != "fine" or not penalty.get("amount_fen"):
            raise NoticeNotIssuable("no fine was decided in this case: there is nothing to pay")
        if not isinstance(served, str) or case.number is None:
            raise NoticeNotIssuable(
                "the decision has not been served yet; the payment notice comes with it"
            )
        party = session.scalar(
            select(CaseParty).where(CaseParty.case_id == case.id).order_by(CaseParty.id)
        )
        values: dict[str, Any] = {
            "case_id": case.id,
            "unit_id": case.unit_id,
            "decision_number": case.number,
            "party_name": party.name if party is not None else case.title,
            "fine_fen": int(penalty["amount_fen"]),
            "served_on": dt.date.fromisoformat(served),
        }
    for _attempt in range(5):
        number = new_payment_number(ctx.today().year, int(values["unit_id"]))
        made: list[NoticeView] = []

        def insert(
            session: Session, _case: Case, number: str = number, made: list[NoticeView] = made
        ) -> dict[str, Any] | None:
            meanwhile = session.scalar(
                select(PaymentNotice).where(PaymentNotice.case_id == case_id)
            )
            if meanwhile is not None:  # made by another call while we read (case now locked)
                made.append(_notice_view(meanwhile))
                return None
            row = PaymentNotice(number=number, created_at=ctx.now(), **values)
            session.add(row)
            session.flush()
            made.append(_notice_view(row))
            return _notice_details(row)

        try:
            cases.record_event(
                ctx.cases, _notices_actor(int(values["unit_id"])), case_id, NOTICE_ISSUED, insert
            )
            return made[0]
        except IntegrityError:  # the same number (1 in 10^13), or a notice made meanwhile
            with ctx.cases.sessions() as session:
                found = session.scalar(
                    select(PaymentNotice).where(PaymentNotice.case_id == case_id)
                )
                if found is not None:
                    return _notice_view(found)
    raise PaymentError("no free payment number was found; try again")


def _notice(session: Session, number: str) -> PaymentNotice:
    try:
        normalized = normalize_payment_number(number)
    except InvalidPaymentNumber as exc:
        raise NoticeNotFound(str(exc), field="number") from None
    row = session.scalar(select(PaymentNotice).where(PaymentNotice.number == normalized))
    if row is None:
        raise NoticeNotFound(
            "no payment notice has this number; check it against the notice", field="number"
        )
    return row


# -- arrangements -----------------------------------------------------------------------------


def _arrangement(session: Session, notice_id: int) -> PaymentArrangement | None:
    return session.scalar(
        select(PaymentArrangement)
        .where(PaymentArrangement.notice_id == notice_id)
        .order_by(PaymentArrangement.id.desc())
        .limit(1)
    )


def _schedule(row: PaymentArrangement) -> tuple[Instalment, ...]:
    return tuple(
        Instalment(dt.date.fromisoformat(str(i["due_on"])), int(i["amount_fen"]))
        for i in row.schedule
    )


def _arrangement_view(row: PaymentArrangement | None) -> ArrangementView | None:
    if row is None:
        return None
    return ArrangementView(
        row.id,
        row.kind,
        _schedule(row),
        row.reason,
        row.approved_by_id,
        row.approved_by_name,
        row.approved_at,
    )


def _check_schedule(
    kind: str,
    schedule: Sequence[Instalment],
    fine_fen: int,
    normal_due: dt.date | None,
    today: dt.date,
) -> None:
    if kind not in ("deferral", "instalments", "partial"):
        raise ArrangementRefused(
            "kind: one of deferral (暂缓), instalments (分期) or partial", field="kind"
        )
    if not schedule:
        raise ArrangementRefused("schedule: give at least one date and amount", field="schedule")
    for i, item in enumerate(schedule, 1):
        if isinstance(item.amount_fen, bool) or not isinstance(item.amount_fen, int):
            raise ArrangementRefused(f"schedule[{i}]: amounts are whole fen", field="schedule")
        if item.amount_fen <= 0:
            raise ArrangementRefused(
                f"schedule[{i}]: the amount must be positive", field="schedule"
            )
    dates = [i.due_on for i in schedule]
    if any(b <= a for a, b in itertools.pairwise(dates)):
        raise ArrangementRefused("schedule: the dates must follow one another", field="schedule")
    if dates[0] < today:
        raise ArrangementRefused("schedule: the first date is in the past", field="schedule")
    total = sum(i.amount_fen for i in schedule)
    if total != fine_fen:
        raise ArrangementRefused(
            f"schedule: the amounts add up to {yuan(total)} yuan, the fine is "
            f"{yuan(fine_fen)} yuan",
            field="schedule",
        )
    if kind == "deferral":
        if len(schedule) != 1:
            raise ArrangementRefused(
                "a deferral is one later date for the whole fine", field="schedule"
            )
        if normal_due is not None and dates[0] <= normal_due:
            raise ArrangementRefused(
                f"a deferral moves the date beyond the normal deadline ({normal_due})",
                field="schedule",
            )
    elif len(schedule) < 2:
        raise ArrangementRefused(f"{kind}: give two or more dates and amounts", field="schedule")


def _schedule_json(schedule: Sequence[Instalment]) -> list[dict[str, Any]]:
    return [{"due_on": i.due_on.isoformat(), "amount_fen": i.amount_fen} for i in schedule]


def _reason(reason: str, what: str) -> str:
    why = (reason or "").strip()
    if not why:
        raise ArrangementRefused(f"reason: record {what}", field="reason")
    return why[:2000]


def _head_of(ctx: PaymentContext, who: cases.Actor, case_id: str, verb: str) -> int:
    """The user id of ``who`` if it is the head of unit staffed on the case (the one who
    decides on an arrangement), else :class:`ArrangementRefused`."""
    if who.role != "head" or not who.actor.startswith("user:"):
        raise ArrangementRefused(f"only the head of unit (机关负责人) {verb} an arrangement")
    user_id = int(who.actor.split(":", 1)[1])
    if "head" not in cases.roles_of(ctx.cases, user_id, case_id):
        raise ArrangementRefused(f"the head who {verb} must be staffed on the case as its head")
    return user_id


def _check_head_access(who: cases.Actor, case: Case) -> None:
    decision = access.can(
        "head", "act", access.Subject(actor_unit=str(who.unit_id), case_unit=str(case.unit_id))
    )
    if not decision:
        raise ArrangementRefused(decision.en)


def _nothing_paid(session: Session, row: PaymentNotice) -> None:
    paid = session.scalar(
        select(PaymentOrder.id).where(
            PaymentOrder.notice_id == row.id, PaymentOrder.status == "paid"
        )
    )
    if paid is not None:
        raise ArrangementRefused("a payment was already made on this notice")


def _pending_request(session: Session, case_id: str) -> CaseEvent | None:
    """The party's request for an arrangement that no approval or refusal answered yet (the
    case's chain is its record: a request has no table of its own)."""
    last = session.scalar(
        select(CaseEvent)
        .where(
            CaseEvent.case_id == case_id,
            CaseEvent.action.in_(
                (ARRANGEMENT_REQUESTED, ARRANGEMENT_APPROVED, ARRANGEMENT_REFUSED)
            ),
        )
        .order_by(CaseEvent.seq.desc())
        .limit(1)
    )
    return last if last is not None and last.action == ARRANGEMENT_REQUESTED else None


def request_arrangement(
    ctx: PaymentContext,
    who: cases.Actor,
    case_id: str,
    *,
    kind: ArrangementKind,
    schedule: Sequence[Instalment],
    reason: str,
) -> int:
    """The party asks for a deferral, instalments or partial payment (the 申请 of 经申请和批准),
    itself (a merchant of the case) or through an officer of the case who writes it down.
    Recorded as the ``payment_arrangement_requested`` event (kind, schedule, reason, who), for
    the head to approve (:func:`approve_arrangement`) or refuse (:func:`refuse_arrangement`).
    The schedule must be one the head could approve. Returns the event's number."""
    why = _reason(reason, "why the party asks (e.g. its financial hardship)")
    if who.role == "merchant" and who.actor.startswith("merchant:"):
        merchant_id = who.actor.split(":", 1)[1]
        with ctx.cases.sessions() as session:
            party = session.scalar(
                select(CaseParty.id).where(
                    CaseParty.case_id == case_id, CaseParty.merchant_id == merchant_id
                )
            )
        if party is None:
            raise ArrangementRefused("only a party of the case asks for an arrangement")
    elif who.role == "officer" and who.actor.startswith("user:"):
        user_id = int(who.actor.split(":", 1)[1])
        if "officer" not in cases.roles_of(ctx.cases, user_id, case_id):
            raise ArrangementRefused("the officer must be staffed on the case")
    else:
        raise ArrangementRefused(
            "the party asks for an arrangement (or an officer of the case for it)"
        )
    notice = issue_notice(ctx, case_id)

    def record(session: Session, _case: Case) -> dict[str, Any]:
        row = _notice(session, notice.number)
        _nothing_paid(session, row)
        waiting = _pending_request(session, case_id)
        if waiting is not None:
            raise ArrangementRefused(
                f"a request (event {waiting.seq}) is waiting for the head of unit's decision"
            )
        normal = _whole_due(row, ctx.today()).pay_by
        _check_schedule(kind, schedule, row.fine_fen, normal, ctx.today())
        return {
            "payment_number": row.number,
            "kind": kind,
            "schedule": _schedule_json(schedule),
            "reason": why,
        }

    seq = cases.record_event(ctx.cases, who, case_id, ARRANGEMENT_REQUESTED, record)
    assert seq is not None
    return seq


def approve_arrangement(
    ctx: PaymentContext,
    who: cases.Actor,
    case_id: str,
    *,
    kind: ArrangementKind,
    schedule: Sequence[Instalment],
    reason: str,
) -> ArrangementView:
    """Record the head of unit's approval of a deferral, instalment plan or partial payment
    (行政处罚法: 当事人确有经济困难，经申请和批准，可以暂缓或者分期缴纳): who, when, why and
    the schedule, in ``payment_arrangements`` and as the ``payment_arrangement_approved``
    event (which names the request it answers, when the request was recorded here; one made
    on paper is cited in ``reason``). Only a head staffed on the case approves; nothing may
    be paid yet."""
    why = _reason(reason, "why the payment is deferred or split")
    user_id = _head_of(ctx, who, case_id, "approves")
    notice = issue_notice(ctx, case_id)
    views: list[ArrangementView] = []

    def approve(session: Session, case: Case) -> dict[str, Any]:
        _check_head_access(who, case)
        row = _notice(session, notice.number)
        _nothing_paid(session, row)
        normal = _whole_due(row, ctx.today()).pay_by
        _check_schedule(kind, schedule, row.fine_fen, normal, ctx.today())
        request = _pending_request(session, case_id)
        arrangement = PaymentArrangement(
            notice_id=row.id,
            kind=kind,
            schedule=_schedule_json(schedule),
            reason=why,
            approved_by_id=user_id,
            approved_by_name=who.name,
            approved_at=ctx.now(),
        )
        session.add(arrangement)
        session.flush()
        view = _arrangement_view(arrangement)
        assert view is not None
        views.append(view)
        return {
            "payment_number": row.number,
            "arrangement_id": arrangement.id,
            "kind": kind,
            "schedule": list(arrangement.schedule),
            "reason": why,
            "approved_by": who.name,
            "approved_by_id": user_id,
            "request_seq": request.seq if request is not None else None,
        }

    cases.record_event(ctx.cases, who, case_id, ARRANGEMENT_APPROVED, approve)
    return views[0]


def refuse_arrangement(ctx: PaymentContext, who: cases.Actor, case_id: str, *, reason: str) -> int:
    """The head of unit refuses the party's pending request (its reason, who): the
    ``payment_arrangement_refused`` event; the fine stays due as served. Returns the
    event's number."""
    why = _reason(reason, "why the request is refused")
    user_id = _head_of(ctx, who, case_id, "refuses")
    notice = issue_notice(ctx, case_id)

    def refuse(session: Session, case: Case) -> dict[str, Any]:
        _check_head_access(who, case)
        request = _pending_request(session, case_id)
        if request is None:
            raise ArrangementRefused("there is no request for an arrangement to decide on")
        return {
            "payment_number": notice.number,
            "request_seq": request.seq,
            "reason": why,
            "refused_by": who.name,
            "refused_by_id": user_id,
        }

    seq = cases.record_event(ctx.cases, who, case_id, ARRANGEMENT_REFUSED, refuse)
    assert seq is not None
    return seq


# -- what is due ------------------------------------------------------------------------------


def _whole_due(notice: PaymentNotice, today: dt.date, paid_fen: int = 0) -> AmountDue:
    fine = notice.fine_fen
    as_of = max(today, notice.served_on)
    try:
        s = late_payment_surcharge(fine, notice.served_on, as_of)
    except UnconfirmedDeadlineError as exc:
        return AmountDue(
            as_of, fine, paid_fen, fine, 0, None, 0, False, payable=False, reason=str(exc)
        )
    return AmountDue(
        as_of,
        fine,
        paid_fen,
        fine,
        s.surcharge_fen,
        s.payment_due if s.payment_due_confirmed else None,
        s.days_late,
        s.capped,
    )


def _instalment_surcharge(amount_fen: int, due_on: dt.date, as_of: dt.date) -> tuple[int, int]:
    """(days late, surcharge) of an instalment paid after its approved date: the statutory
    3 % a day on the instalment, capped at it, rounded half up on the whole amount as
    :func:`~workflow.deadlines.late_payment_surcharge` does. Counting from the day after the
    approved date is this service's reading, to be confirmed by legal staff."""
    days = max(0, (as_of - due_on).days)
    amount = (amount_fen * DAILY_RATE_PERCENT * days + 50) // 100
    return days, min(amount, amount_fen)


def _due(session: Session, notice: PaymentNotice, today: dt.date) -> AmountDue:
    paid = list(
        session.scalars(
            select(PaymentOrder).where(
                PaymentOrder.notice_id == notice.id, PaymentOrder.status == "paid"
            )
        )
    )
    paid_fen = sum(o.principal_fen for o in paid)
    arrangement = _arrangement(session, notice.id)
    if arrangement is None:
        if any(o.instalment is None for o in paid) or paid_fen >= notice.fine_fen:
            return AmountDue(today, notice.fine_fen, paid_fen, 0, 0, None, 0, False, settled=True)
        return _whole_due(notice, today, paid_fen)
    schedule = _schedule(arrangement)
    done = {o.instalment for o in paid if o.arrangement_id == arrangement.id}
    for number, item in enumerate(schedule, 1):
        if number in done:
            continue
        days, surcharge = _instalment_surcharge(item.amount_fen, item.due_on, today)
        return AmountDue(
            today,
            notice.fine_fen,
            paid_fen,
            item.amount_fen,
            surcharge,
            item.due_on,
            days,
            surcharge >= item.amount_fen,
            instalment=number,
            instalments=len(schedule),
        )
    return AmountDue(
        today,
        notice.fine_fen,
        paid_fen,
        0,
        0,
        None,
        0,
        False,
        instalments=len(schedule),
        settled=True,
    )


def amount_due(ctx: PaymentContext, number: str, today: dt.date | None = None) -> AmountDue:
    with ctx.cases.sessions() as session:
        return _due(session, _notice(session, number), today or ctx.today())


def _receipt_views(session: Session, notice_id: int) -> list[ReceiptView]:
    rows = session.execute(
        select(PaymentReceipt, PaymentOrder)
        .join(PaymentOrder, PaymentOrder.id == PaymentReceipt.order_id)
        .where(PaymentOrder.notice_id == notice_id)
        .order_by(PaymentReceipt.id)
    )
    return [
        ReceiptView(
            r.id,
            o.id,
            r.sha256,
            r.size,
            r.created_at,
            o.principal_fen,
            o.surcharge_fen,
            o.amount_fen,
            o.paid_at,
            o.instalment,
        )
        for r, o in rows
    ]


def payment_view(ctx: PaymentContext, number: str) -> PaymentView:
    with ctx.cases.sessions() as session:
        notice = _notice(session, number)
        unit = session.get(Unit, notice.unit_id)
        channel = ctx.channel
        return PaymentView(
            notice=_notice_view(notice),
            unit_name=unit.name if unit is not None else "",
            due=_due(session, notice, ctx.today()),
            arrangement=_arrangement_view(_arrangement(session, notice.id)),
            receipts=_receipt_views(session, notice.id),
            channel_name=channel.name if channel else None,
            channel_label_zh=channel.label_zh if channel else None,
            channel_label_en=channel.label_en if channel else None,
            channel_is_sandbox=bool(channel and channel.sandbox),
        )


# -- orders -----------------------------------------------------------------------------------


def _end_of_beijing_day(now: dt.datetime) -> dt.datetime:
    local = now.astimezone(BEIJING)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), BEIJING)
    return midnight.astimezone(dt.UTC)


def create_order(
    ctx: PaymentContext, number: str, *, amount_fen: int | None = None
) -> CreatedOrder:
    """An order for what is due today (``amount_fen``, when given, must be that amount: a
    partial payment needs an approved arrangement), opened at the channel."""
    channel = ctx.channel
    if channel is None:
        raise ChannelUnavailable("online payment is not available: no payment channel is set up")
    now = ctx.now()
    with session_scope(ctx.cases.sessions) as session:
        notice = _notice(session, number)
        due = _due(session, notice, ctx.today())
        if due.settled:
            raise NothingDue("the fine is paid: there is nothing more to pay")
        if not due.payable:
            raise PaymentError(f"the amount due cannot be computed yet: {due.reason}")
        if amount_fen is not None and amount_fen != due.total_fen:
            what = (
                f"instalment {due.instalment} of {due.instalments}"
                if due.instalment
                else "the fine with its surcharge"
            )
            raise ArrangementRequired(
                f"{yuan(amount_fen)} yuan is not the amount due ({what}: {yuan(due.total_fen)} "
                "yuan); a partial, deferred or instalment payment needs the head of unit's "
                "approval first",
                field="amount_fen",
            )
        arrangement = _arrangement(session, notice.id) if due.instalment else None
        order = PaymentOrder(
            notice_id=notice.id,
            channel=channel.name,
            arrangement_id=arrangement.id if arrangement is not None else None,
            instalment=due.instalment,
            principal_fen=due.principal_fen,
            surcharge_fen=due.surcharge_fen,
            amount_fen=due.total_fen,
            status="created",
            created_at=now,
            expires_at=_end_of_beijing_day(now),
        )
        session.add(order)
        session.flush()
        order_id, expires, normalized = order.id, order.expires_at, notice.number
        subject = f"罚款 {notice.decision_number}"
    base = ctx.public_url.rstrip("/")
    try:
        opened = channel.create_order(
            OrderRequest(
                order_id=order_id,
                amount_fen=due.total_fen,
                subject=subject,
                notify_url=f"{base}/payments/callback/{channel.name}",
                return_url=f"{base}/pay/{normalized}?order={order_id}",
                expires_at=expires,
            )
        )
    except OSError as exc:
        raise ChannelUnavailable(f"the payment channel cannot be reached now ({exc})") from None
    with session_scope(ctx.cases.sessions) as session:
        row = session.get(PaymentOrder, order_id)
        assert row is not None
        row.channel_order_id = opened.channel_order_id
    return CreatedOrder(order_id, due.total_fen, opened.redirect_url, expires)


def order_status(ctx: PaymentContext, number: str, order_id: str) -> str | None:
    """For the payer back from the channel: ``paid`` once the notification was counted,
    ``waiting`` while the channel says paid but its notification has not been counted, None
    otherwise (or for an order not of this notice)."""
    with ctx.cases.sessions() as session:
        row = session.execute(
            select(PaymentOrder.status, PaymentOrder.channel_order_id)
            .join(PaymentNotice, PaymentNotice.id == PaymentOrder.notice_id)
            .where(PaymentOrder.id == order_id, PaymentNotice.number == number)
        ).first()
    if row is None:
        return None
    if row[0] == "paid":
        return "paid"
    if ctx.channel is not None and row[1]:
        try:
            return "waiting" if ctx.channel.query(row[1]) == "paid" else None
        except (LookupError, OSError):
            return None
    return None


# -- callbacks --------------------------------------------------------------------------------


def _record_callback(
    session: Session,
    channel: str,
    body: bytes,
    result: CallbackResult,
    *,
    at: dt.datetime,
    nonce: str | None,
    ip: str | None,
) -> None:
    session.add(
        PaymentCallback(
            channel=channel[:32],
            received_at=at,
            nonce=nonce,
            order_id=(result.order_id or None) and str(result.order_id)[:64],
            outcome=result.outcome,
            code=result.code,
            message=result.message[:2000],
            body_sha256=hashlib.sha256(body).hexdigest(),
            body=body[:MAX_KEPT_BODY].decode("utf-8", errors="replace"),
            ip=ip[:64] if ip else None,
        )
    )


def _refused(code: str, message: str, order_id: str | None = None) -> CallbackResult:
    return CallbackResult("refused", code, message, order_id)


def _judge(session: Session, note: Notification, channel: str) -> CallbackResult:
    """What a verified notification means for our order (the order row locked)."""
    seen = session.scalar(
        select(PaymentCallback.id).where(
            PaymentCallback.channel == channel, PaymentCallback.nonce == note.nonce
        )
    )
    if seen is not None:
        return _refused("replay", f"nonce {note.nonce} was received before", note.order_id)
    order = session.get(PaymentOrder, note.order_id, with_for_update=True)
    if order is None or order.channel != channel:
        return _refused("unknown_order", f"we have no order {note.order_id}", note.order_id)
    if order.channel_order_id and note.channel_order_id != order.channel_order_id:
        return _refused(
            "unknown_order",
            f"order {order.id} is {order.channel_order_id} at the channel, not "
            f"{note.channel_order_id}",
            order.id,
        )
    if note.amount_fen != order.amount_fen:
        return _refused(
            "wrong_amount",
            f"{yuan(note.amount_fen)} yuan notified, the order is for {yuan(order.amount_fen)} "
            "yuan: not counted (refund or correct at the channel)",
            order.id,
        )
    if order.status == "paid":
        if order.txn_id == note.txn_id:
            return CallbackResult(
                "duplicate", "duplicate", f"transaction {note.txn_id} was counted before", order.id
            )
        return _refused(
            "already_paid",
            f"order {order.id} was paid by transaction {order.txn_id}; {note.txn_id} is a "
            "second payment (refund it)",
            order.id,
        )
    if note.paid_at > order.expires_at:
        return _refused(
            "order_expired",
            f"paid at {note.paid_at.isoformat()}, after the order expired "
            f"({order.expires_at.isoformat()})",
            order.id,
        )
    order.status = "paid"
    order.paid_at = note.paid_at
    order.txn_id = note.txn_id
    return CallbackResult("accepted", "paid", f"transaction {note.txn_id} counted", order.id)


def handle_callback(
    ctx: PaymentContext,
    channel_name: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    ip: str | None = None,
) -> CallbackResult:
    """Judge and record one callback (see the module docstring); on a newly counted payment,
    :func:`complete_payment` (case action and receipt) before returning."""
    now = ctx.now()
    channel = ctx.channel
    if channel is None or channel_name != channel.name:
        result = _refused("wrong_channel", f"no payment channel {channel_name!r} here")
        with session_scope(ctx.cases.sessions) as session:
            _record_callback(session, channel_name, body, result, at=now, nonce=None, ip=ip)
        return result
    try:
        note = channel.verify_callback(body, headers, now=now)
    except CallbackRefused as refused:
        order_id = refused.notification.order_id if refused.notification else None
        result = _refused(refused.code, refused.message, order_id)
        with session_scope(ctx.cases.sessions) as session:
            _record_callback(session, channel.name, body, result, at=now, nonce=None, ip=ip)
        log.warning("payment callback refused: %s", result.message)
        return result
    with ctx.cases.sessions() as session:
        owner = session.execute(
            select(PaymentNotice.case_id, PaymentNotice.unit_id)
            .join(PaymentOrder, PaymentOrder.notice_id == PaymentNotice.id)
            .where(PaymentOrder.id == note.order_id)
        ).first()
    judged: list[CallbackResult] = []

    def judge(session: Session, _case: Case | None = None) -> dict[str, Any] | None:
        result = _judge(session, note, channel.name)
        nonce = None if result.code == "replay" else note.nonce
        _record_callback(session, channel.name, body, result, at=now, nonce=nonce, ip=ip)
        judged.append(result)
        if result.outcome != "accepted" or result.order_id is None:
            return None
        return _received_details(session, result.order_id, note, body, ctx.today())

    try:
        if owner is None:  # no such order: nothing of a case to record
            with session_scope(ctx.cases.sessions) as session:
                judge(session)
        else:  # counted and in the case's record in one unit of work, or neither
            cases.record_event(ctx.cases, _system(owner[1]), owner[0], PAYMENT_RECEIVED, judge)
        result = judged[-1]
    except IntegrityError:  # the same notification arrived twice at once: one counted
        result = _refused("replay", f"nonce {note.nonce} was received before", note.order_id)
        with session_scope(ctx.cases.sessions) as session:
            _record_callback(session, channel.name, body, result, at=now, nonce=None, ip=ip)
    if result.outcome == "refused":
        log.warning("payment callback refused: %s", result.message)
    elif result.order_id is not None:
        complete_payment(ctx, result.order_id)
    return result


def _received_details(
    session: Session, order_id: str, note: Notification, body: bytes, today: dt.date
) -> dict[str, Any]:
    """What the ``payment_received`` event keeps of a counted payment: the money, the
    channel's order and transaction, the key whose signature was verified, the hash of the
    notification as received, this payment's receipt figures and -- when it settles the debt
    -- the figures of the whole (``settlement``: what the case's receipt states)."""
    order = session.get(PaymentOrder, order_id)
    assert order is not None and order.paid_at is not None
    notice = session.get(PaymentNotice, order.notice_id)
    assert notice is not None
    unit = session.get(Unit, notice.unit_id)
    assert unit is not None
    due = _due(session, notice, today)
    details: dict[str, Any] = {
        "payment_number": notice.number,
        "order_id": order.id,
        "channel": order.channel,
        "channel_order_id": order.channel_order_id or note.channel_order_id,
        "txn_id": order.txn_id,
        "amount_fen": order.amount_fen,
        "principal_fen": order.principal_fen,
        "surcharge_fen": order.surcharge_fen,
        "instalment": order.instalment,
        "paid_at": order.paid_at.astimezone(dt.UTC).isoformat(),
        "key_id": note.key_id,
        "notification_sha256": hashlib.sha256(body).hexdigest(),
        "receipt": _order_figures(order, notice, unit).fields(),
        "settled": due.settled,
    }
    if due.settled:
        details["settlement"] = _settlement_figures(session, notice, unit).fields()
    return details


# -- receipt figures ----------------------------------------------------------------------------


def _is_sandbox(channel: str) -> bool:
    return channel == "sandbox"


def _channel_name(channel: str) -> str:
    return "沙箱银行（模拟渠道，非真实银行）" if _is_sandbox(channel) else channel


def _payee(channel: str, unit: Unit) -> str:
    return "沙箱模拟收款账户" if _is_sandbox(channel) else f"{unit.name}罚没款收缴账户"


def _order_figures(order: PaymentOrder, notice: PaymentNotice, unit: Unit) -> ReceiptFigures:
    assert order.paid_at is not None
    return ReceiptFigures(
        payment_number=notice.number,
        fine_fen=order.principal_fen,
        surcharge_fen=order.surcharge_fen,
        paid_at=order.paid_at,
        channel=f"{_channel_name(order.channel)}，交易号 {order.txn_id}"[:200],
        payee=_payee(order.channel, unit),
    )


def _settlement_figures(session: Session, notice: PaymentNotice, unit: Unit) -> ReceiptFigures:
    """The figures of everything paid on the notice (one order, or every instalment)."""
    paid = list(
        session.scalars(
            select(PaymentOrder)
            .where(PaymentOrder.notice_id == notice.id, PaymentOrder.status == "paid")
            .order_by(PaymentOrder.paid_at, PaymentOrder.id)
        )
    )
    if not paid:
        raise ReceiptNotReady(f"nothing was paid on payment number {notice.number}")
    if len(paid) == 1:
        return _order_figures(paid[0], notice, unit)
    last = paid[-1]
    assert last.paid_at is not None
    channels = list(dict.fromkeys(_channel_name(o.channel) for o in paid))
    txns = "、".join(str(o.txn_id) for o in paid)
    return ReceiptFigures(
        payment_number=notice.number,
        fine_fen=sum(o.principal_fen for o in paid),
        surcharge_fen=sum(o.surcharge_fen for o in paid),
        paid_at=last.paid_at,
        channel=f"{'、'.join(channels)}，{len(paid)} 笔，交易号 {txns}"[:200],
        payee=_payee(last.channel, unit),
    )


def receipt_figures(ctx: PaymentContext, order_id: str) -> ReceiptFigures:
    """The figures of one paid order's receipt."""
    with ctx.cases.sessions() as session:
        order = session.get(PaymentOrder, order_id)
        if order is None or order.status != "paid":
            raise ReceiptNotReady(f"order {order_id} is not paid")
        notice = session.get(PaymentNotice, order.notice_id)
        assert notice is not None
        unit = session.get(Unit, notice.unit_id)
        assert unit is not None
        return _order_figures(order, notice, unit)


def settlement_figures(ctx: PaymentContext, number: str) -> ReceiptFigures:
    """The figures of all that was paid on the notice ``number`` (the case's receipt)."""
    with ctx.cases.sessions() as session:
        notice = _notice(session, number)
        unit = session.get(Unit, notice.unit_id)
        assert unit is not None
        return _settlement_figures(session, notice, unit)


# -- after payment: the case, the receipt ----------------------------------------------------------


def _system(unit_id: int) -> cases.Actor:
    return cases.Actor("system", "缴款渠道回调 / payment channel", "system", unit_id)


def _receipts_actor(unit_id: int) -> cases.Actor:
    return cases.Actor("system", "电子缴款凭证（系统）/ payment receipts", "system", unit_id)


def _notes(action: str, **values: str) -> dict[str, str]:
    """Of ``values``, the optional notes the action keeps (``effects.toml`` ``notes``: what
    the case's own documents read, e.g. the payment number on the case file's receipt)."""
    accepted = set(getattr(cases.effects().get(action), "notes", ()))
    return {k: v for k, v in values.items() if k in accepted and v}


def _channel_label(ctx: PaymentContext, channel: str) -> str:
    if ctx.channel is not None and ctx.channel.name == channel:
        return ctx.channel.label_zh
    return channel


class _AlreadyRecorded(Exception):
    """Another process took ``record_payment`` for this order first (nothing to do)."""


def complete_payment(ctx: PaymentContext, order_id: str) -> None:
    """What follows a counted payment, each step at most once: ``record_payment`` on the case
    when the debt is settled (as ``system``, with the payment number and channel as its
    notes), then the sealed receipt. The order is marked as recorded in the action's own unit
    of work, so two processes finishing the same payment (the bank called back twice) take
    the action once. A failure is logged and noted on the order; :func:`complete_pending`
    tries again."""
    with ctx.cases.sessions() as session:
        order = session.get(PaymentOrder, order_id)
        if order is None or order.status != "paid":
            return
        notice = session.get(PaymentNotice, order.notice_id)
        assert notice is not None
        due = _due(session, notice, ctx.today())
        recorded, case_id, unit_id = order.case_recorded, notice.case_id, notice.unit_id
        number, channel_label = notice.number, _channel_label(ctx, order.channel)
        has_receipt = session.scalar(
            select(PaymentReceipt.id).where(PaymentReceipt.order_id == order_id)
        )
    note: str | None = None
    if not recorded and due.settled:

        def mark(session: Session, _case: Case) -> None:
            row = session.get(PaymentOrder, order_id, with_for_update=True)
            assert row is not None
            if row.case_recorded:
                raise _AlreadyRecorded(order_id)
            row.case_recorded = True
            row.case_note = "record_payment taken"

        try:
            notes = _notes("record_payment", payment_number=number, payment_channel=channel_label)
            cases.act(ctx.cases, _system(unit_id), case_id, "record_payment", notes, also=mark)
        except _AlreadyRecorded:
            pass
        except TransitionRefused as exc:
            note = "record_payment refused: " + "; ".join(r.en for r in exc.reasons)
        except (ProcessError, cases.CaseError) as exc:  # e.g. the case was marked paid by hand
            note = f"record_payment not taken: {exc}"
    elif not recorded:
        note = f"instalment {due.instalment or '?'} of {due.instalments}: case not yet paid"
    if note is not None:
        with session_scope(ctx.cases.sessions) as session:
            row = session.get(PaymentOrder, order_id, with_for_update=True)
            assert row is not None
            if not row.case_recorded:  # a concurrent completion may have recorded it
                row.case_note = note
    if has_receipt is None:
        try:
            issue_receipt(ctx, order_id)
        except Exception:  # TSA or store down: the payment stands, the receipt comes later
            log.exception("receipt of payment order %s not issued yet", order_id)


def issue_due_notices(ctx: PaymentContext, limit: int = 200) -> list[NoticeView]:
    """Issue the payment notice of every case whose fine's decision was served and that has
    none yet (housekeeping): the party then sees its payment number in the portal and can pay
    online. Idempotent, like :func:`issue_notice`; a case that cannot have one is skipped."""
    with ctx.cases.sessions() as session:
        rows = session.execute(
            select(Case.id, Case.facts)
            .outerjoin(PaymentNotice, PaymentNotice.case_id == Case.id)
            .where(Case.state == "served", PaymentNotice.number.is_(None))
            .order_by(Case.updated_at)
            .limit(limit)
        ).all()
    out = []
    for case_id, facts in rows:
        penalty = (facts or {}).get("decided_penalty") or {}
        if penalty.get("kind") != "fine" or not (facts or {}).get("decision_served_on"):
            continue
        try:
            out.append(issue_notice(ctx, case_id))
        except NoticeNotIssuable as exc:
            log.info("case %s: no payment notice yet: %s", case_id, exc)
    return out


def complete_pending(ctx: PaymentContext) -> int:
    """Finish paid orders whose case action or receipt is missing (housekeeping)."""
    with ctx.cases.sessions() as session:
        ids = list(
            session.scalars(
                select(PaymentOrder.id)
                .outerjoin(PaymentReceipt, PaymentReceipt.order_id == PaymentOrder.id)
                .where(PaymentOrder.status == "paid")
                .where((PaymentReceipt.id.is_(None)) | (PaymentOrder.case_recorded.is_(False)))
            )
        )
    for order_id in ids:
        complete_payment(ctx, order_id)
    return len(ids)


def _receipt_data(session: Session, order: PaymentOrder, now: dt.datetime) -> dict[str, Any]:
    notice = session.get(PaymentNotice, order.notice_id)
    assert notice is not None and order.paid_at is not None
    case = session.get(Case, notice.case_id)
    unit = session.get(Unit, notice.unit_id)
    assert case is not None and unit is not None
    party = session.scalar(
        select(CaseParty).where(CaseParty.case_id == case.id).order_by(CaseParty.id)
    )
    name = party.name if party is not None else notice.party_name
    payer: dict[str, Any]
    if case.party_kind == "natural_person":
        payer = {"kind": "individual", "name": name}
    else:
        payer = {
            "kind": "organization",
            "name": name,
            "credit_code": party.credit_code if party is not None else None,
        }
    return {
        "case_number": notice.decision_number,
        "issuing_unit": unit.name,
        "date": local_date(now),
        "legal_basis": default_legal_basis("payment_receipt"),
        "party": payer,
        "decision": {"title": "行政处罚决定书", "number": notice.decision_number},
        **_order_figures(order, notice, unit).fields(),
    }


def issue_receipt(ctx: PaymentContext, order_id: str) -> ReceiptView:
    """The sealed electronic receipt (电子缴款凭证) of a paid order, made once: rendered from
    the order's :class:`ReceiptFigures`, signed by the unit's seal (certifying, B-LTA), kept in
    the object store, and its SHA-256 recorded in the case (``payment_receipt_issued``)."""
    now = ctx.now()
    with ctx.cases.sessions() as session:
        order = session.get(PaymentOrder, order_id)
        if order is None or order.status != "paid":
            raise ReceiptNotReady(f"order {order_id} is not paid")
        existing = session.scalar(select(PaymentReceipt).where(PaymentReceipt.order_id == order_id))
        if existing is None:
            data = _receipt_data(session, order, now)
            notice = session.get(PaymentNotice, order.notice_id)
            assert notice is not None
            unit_id, unit_name, case_id = notice.unit_id, data["issuing_unit"], notice.case_id
            instalment = order.instalment
    if existing is None:
        portal = ctx.portal
        seal = unit_seal_serial(portal, unit_id)
        with scratch(portal) as rendered, scratch(portal) as signed:
            render(portal, "payment_receipt", data, rendered)
            sign(
                portal,
                rendered,
                signed,
                signer=seal,
                reason="电子缴款凭证 / Payment receipt",
                location=unit_name,
                certify=True,
            )
            stored = put_pdf(portal, signed)

        def keep(session: Session, _case: Case) -> dict[str, Any] | None:
            made = session.scalar(
                select(PaymentReceipt.id).where(PaymentReceipt.order_id == order_id)
            )
            if made is not None:  # made meanwhile by a concurrent retry: keep the first
                return None
            row = PaymentReceipt(
                order_id=order_id,
                object_key=stored.key,
                sha256=stored.sha256,
                size=stored.size,
                signer_serial=seal,
                created_at=now,
            )
            session.add(row)
            session.flush()
            return {
                "payment_number": data["payment_number"],
                "order_id": order_id,
                "instalment": instalment,
                "receipt_id": row.id,
                "sha256": stored.sha256,
                "size": stored.size,
                "signer_serial": seal,
                "total_yuan": data["total_yuan"],
            }

        with contextlib.suppress(IntegrityError):  # made meanwhile (unique order_id): the first
            cases.record_event(ctx.cases, _receipts_actor(unit_id), case_id, RECEIPT_ISSUED, keep)
    with ctx.cases.sessions() as session:
        order = session.get(PaymentOrder, order_id)
        assert order is not None
        views = [v for v in _receipt_views(session, order.notice_id) if v.order_id == order_id]
    return views[0]


def receipt_pdf(ctx: PaymentContext, number: str, receipt_id: int) -> tuple[ReceiptView, bytes]:
    """A receipt of the notice ``number`` and its signed PDF."""
    with ctx.cases.sessions() as session:
        notice = _notice(session, number)
        views = [v for v in _receipt_views(session, notice.id) if v.id == receipt_id]
        if not views:
            raise ReceiptNotReady(f"no receipt {receipt_id} for this payment number")
        key = session.scalar(
            select(PaymentReceipt.object_key).where(PaymentReceipt.id == receipt_id)
        )
    assert key is not None
    return views[0], ctx.portal.store.read_bytes(key)
