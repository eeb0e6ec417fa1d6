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
"""

from __future__ import annotations

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
    "AmountDue",
    "ArrangementKind",
    "ArrangementView",
    "CallbackResult",
    "CreatedOrder",
    "Instalment",
    "NoticeView",
    "PaymentContext",
    "PaymentView",
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
    "receipt_pdf",
    "yuan",
]

ArrangementKind = Literal["deferral", "instalments", "partial"]
#: The most of a callback's body kept in the record (a notification is a few hundred bytes).
MAX_KEPT_BODY = 64 * 1024


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


def issue_notice(ctx: PaymentContext, case_id: str) -> NoticeView:
    """The case's payment notice, made on first call once a fine was decided and served
    (idempotent: the number never changes)."""
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
        try:
            with session_scope(ctx.cases.sessions) as session:
                row = PaymentNotice(number=number, created_at=ctx.now(), **values)
                session.add(row)
                session.flush()
                return _notice_view(row)
        except IntegrityError:  # the same number (1 in 10^13), or a notice made meanwhile
            with ctx.cases.sessions() as session:
                made = session.scalar(select(PaymentNotice).where(PaymentNotice.case_id == case_id))
                if made is not None:
                    return _notice_view(made)
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
    the schedule. Only a head staffed on the case approves; nothing may be paid yet."""
    why = (reason or "").strip()
    if not why:
        raise ArrangementRefused(
            "reason: record why the payment is deferred or split", field="reason"
        )
    if who.role != "head" or not who.actor.startswith("user:"):
        raise ArrangementRefused("only the head of unit (机关负责人) approves an arrangement")
    user_id = int(who.actor.split(":", 1)[1])
    if "head" not in cases.roles_of(ctx.cases, user_id, case_id):
        raise ArrangementRefused("the head approving must be staffed on the case as its head")
    notice = issue_notice(ctx, case_id)
    with session_scope(ctx.cases.sessions) as session:
        case = session.get(Case, case_id)
        assert case is not None
        decision = access.can(
            "head", "act", access.Subject(actor_unit=str(who.unit_id), case_unit=str(case.unit_id))
        )
        if not decision:
            raise ArrangementRefused(decision.en)
        row = _notice(session, notice.number)
        paid = session.scalar(
            select(PaymentOrder.id).where(
                PaymentOrder.notice_id == row.id, PaymentOrder.status == "paid"
            )
        )
        if paid is not None:
            raise ArrangementRefused("a payment was already made on this notice")
        normal = _whole_due(row, ctx.today()).pay_by
        _check_schedule(kind, schedule, row.fine_fen, normal, ctx.today())
        arrangement = PaymentArrangement(
            notice_id=row.id,
            kind=kind,
            schedule=[
                {"due_on": i.due_on.isoformat(), "amount_fen": i.amount_fen} for i in schedule
            ],
            reason=why[:2000],
            approved_by_id=user_id,
            approved_by_name=who.name,
            approved_at=ctx.now(),
        )
        session.add(arrangement)
        session.flush()
        view = _arrangement_view(arrangement)
        assert view is not None
        return view


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
    try:
        with session_scope(ctx.cases.sessions) as session:
            result = _judge(session, note, channel.name)
            nonce = None if result.code == "replay" else note.nonce
            _record_callback(session, channel.name, body, result, at=now, nonce=nonce, ip=ip)
    except IntegrityError:  # the same notification arrived twice at once: one counted
        result = _refused("replay", f"nonce {note.nonce} was received before", note.order_id)
        with session_scope(ctx.cases.sessions) as session:
            _record_callback(session, channel.name, body, result, at=now, nonce=None, ip=ip)
    if result.outcome == "refused":
        log.warning("payment callback refused: %s", result.message)
    elif result.order_id is not None:
        complete_payment(ctx, result.order_id)
    return result


# -- after payment: the case, the receipt ----------------------------------------------------------


def _system(unit_id: int) -> cases.Actor:
    return cases.Actor("system", "缴款渠道回调 / payment channel", "system", unit_id)


def _notes(action: str, **values: str) -> dict[str, str]:
    """Of ``values``, the optional notes the action keeps (``effects.toml`` ``notes``: what
    the case's own documents read, e.g. the payment number on the case file's receipt)."""
    accepted = set(getattr(cases.effects().get(action), "notes", ()))
    return {k: v for k, v in values.items() if k in accepted and v}


def _channel_label(ctx: PaymentContext, channel: str) -> str:
    if ctx.channel is not None and ctx.channel.name == channel:
        return ctx.channel.label_zh
    return channel


def complete_payment(ctx: PaymentContext, order_id: str) -> None:
    """What follows a counted payment, each step at most once: ``record_payment`` on the case
    when the debt is settled (as ``system``), then the sealed receipt. A failure is logged and
    noted on the order; :func:`complete_pending` tries again."""
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
        try:
            notes = _notes("record_payment", payment_number=number, payment_channel=channel_label)
            cases.act(ctx.cases, _system(unit_id), case_id, "record_payment", notes)
            note, recorded = "record_payment taken", True
        except TransitionRefused as exc:
            note = "record_payment refused: " + "; ".join(r.en for r in exc.reasons)
        except (ProcessError, cases.CaseError) as exc:  # e.g. the case was marked paid by hand
            note = f"record_payment not taken: {exc}"
    elif not recorded:
        note = f"instalment {due.instalment or '?'} of {due.instalments}: case not yet paid"
    if note is not None:
        with session_scope(ctx.cases.sessions) as session:
            row = session.get(PaymentOrder, order_id)
            assert row is not None
            row.case_recorded = recorded
            row.case_note = note
    if has_receipt is None:
        try:
            issue_receipt(ctx, order_id)
        except Exception:  # TSA or store down: the payment stands, the receipt comes later
            log.exception("receipt of payment order %s not issued yet", order_id)


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
    sandbox = order.channel == "sandbox"
    channel_label = "沙箱银行（模拟渠道，非真实银行）" if sandbox else order.channel
    return {
        "case_number": notice.decision_number,
        "issuing_unit": unit.name,
        "date": local_date(now),
        "legal_basis": default_legal_basis("payment_receipt"),
        "payment_number": notice.number,
        "party": payer,
        "decision": {"title": "行政处罚决定书", "number": notice.decision_number},
        "fine_yuan": yuan(order.principal_fen),
        "surcharge_yuan": yuan(order.surcharge_fen),
        "total_yuan": yuan(order.amount_fen),
        "paid_at": order.paid_at.astimezone(BEIJING).isoformat(),
        "channel": f"{channel_label}，交易号 {order.txn_id}",
        "payee": "沙箱模拟收款账户" if sandbox else f"{unit.name}罚没款收缴账户",
    }


def issue_receipt(ctx: PaymentContext, order_id: str) -> ReceiptView:
    """The sealed electronic receipt (电子缴款凭证) of a paid order, made once: rendered from
    the order, signed by the unit's seal (certifying, B-LTA), kept in the object store."""
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
            unit_id, unit_name = notice.unit_id, data["issuing_unit"]
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
        try:
            with session_scope(ctx.cases.sessions) as session:
                session.add(
                    PaymentReceipt(
                        order_id=order_id,
                        object_key=stored.key,
                        sha256=stored.sha256,
                        size=stored.size,
                        signer_serial=seal,
                        created_at=now,
                    )
                )
        except IntegrityError:  # made meanwhile by a concurrent retry: keep the first
            pass
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
