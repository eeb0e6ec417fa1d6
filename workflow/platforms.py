"""The platform as a partner: an online trading platform's portal account, and the requests a
case sends it -- for assistance (协助调查函: the seller's registration data, order records for a
period) and, after a decision or an order to correct, to take a listing down (协助下架通知书).

Why a platform account is a merchant account marked as a platform (``platform_accounts``):
the platform is an organisation with a unified social credit code like a merchant, is invited
the same way (a one-time setup code handed over by an officer), logs in with the same password
checks, lockout and sessions, gets a signing certificate, and must sign the same
service-address confirmation before anything can be served on it electronically. All of that
is :mod:`workflow.merchants` and :mod:`workflow.serving`, reused as it is; only what the
platform may see differs, and that is the authorisation table's ``platform`` role.

A request's life, each step one event of the case's chain (``EVENTS``):

1. ``platform_request_sent`` -- an officer sends it; the event's details are the letter's own
   data (what is asked, the listing, the deadline the letter states).
2. The letter is made from the case (``workflow.cases.documents``: its builder, the unit's
   seal and the officer's signature), put in the case file, and served on the platform's
   account: ``platform_request_served`` when it reached the account (the legal time of
   electronic service), with its proof of service. From that day its own period runs
   (``rules.toml``: ``platform_assistance_reply`` / ``platform_takedown``), kept in the case's
   facts so the case page and the due-soon queue show it like any other deadline.
3. The platform answers in its portal: a data export, sealed as evidence on arrival by the
   host (``platform_data_received``), or a confirmed takedown
   (``platform_takedown_confirmed``), which the host checks with a fresh sealed capture of
   the listing.
4. ``platform_takedown_checked`` -- the capture's result: the page is gone, answers 404/410,
   or is still there (then the deadline is open again: the takedown was not done).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.db import session_scope
from storage.models import (
    Capture,
    Case,
    CaseEvent,
    CaseParty,
    Document,
    Merchant,
    PlatformAccount,
    PlatformRequest,
)

from . import merchants, serving
from .cases import service
from .cases.documents import CaseDocuments, MissingCaseData
from .cases.service import Actor, CaseContext, CaseNotFound
from .context import Client, OfficerRef, PortalContext
from .deadlines import Deadline, due, or_stated
from .documents.schemas import DataRequest
from .errors import ConflictError, FieldError, NotFoundError

__all__ = [
    "EVENTS",
    "KINDS",
    "Kind",
    "PlatformRow",
    "RequestIn",
    "RequestView",
    "confirm_takedown",
    "deliver",
    "invite_platform",
    "is_platform",
    "open_request",
    "platform_actor",
    "platforms",
    "record_answer",
    "record_rechecks",
    "request_for_platform",
    "requests_for_platform",
    "requests_of_case",
    "start_recheck",
]

SENT = "platform_request_sent"
SERVED = "platform_request_served"
ANSWERED = "platform_data_received"
CONFIRMED = "platform_takedown_confirmed"
RECHECK = "platform_recheck_started"
CHECKED = "platform_takedown_checked"
#: Every event this module appends (each has its ``cases.event.<name>`` message).
EVENTS = (SENT, SERVED, ANSWERED, CONFIRMED, RECHECK, CHECKED)


@dataclass(frozen=True)
class Kind:
    """One kind of request: the document it sends and the deadline rule it runs."""

    key: str
    template: str
    rule: str


KINDS: Mapping[str, Kind] = {
    "assistance": Kind("assistance", "assistance_request", "platform_assistance_reply"),
    "takedown": Kind("takedown", "takedown_request", "platform_takedown"),
}
#: Facts of the case that make a takedown request lawful: a decision, or an order to correct.
TAKEDOWN_AFTER = ("decided_on", "correction_due_on")


def platform_actor(merchant_id: str, name: str, unit_id: int | None) -> Actor:
    """How the case chain names the platform acting in its portal."""
    return Actor(merchants.merchant_actor(merchant_id), name, "platform", unit_id)


# -- accounts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformRow:
    merchant_id: str
    name: str
    credit_code: str
    platform_name: str
    address: str | None
    status: str
    consented: bool


def invite_platform(
    ctx: PortalContext,
    officer: OfficerRef,
    *,
    name: str,
    credit_code: str,
    platform_name: str,
    address: str | None = None,
    client: Client | None = None,
) -> merchants.Invitation:
    """Invite a platform operator as merchants are invited (its one-time setup code is
    returned once), and mark the account as a platform's."""
    platform_name = " ".join((platform_name or "").split())
    if not platform_name or len(platform_name) > 100:
        raise FieldError("platform_name", "the platform's name is required (at most 100)")
    invitation = merchants.invite_merchant(
        ctx, officer, name=name, credit_code=credit_code, client=client
    )
    with session_scope(ctx.sessions) as session:
        session.add(
            PlatformAccount(
                merchant_id=invitation.merchant_id,
                platform_name=platform_name,
                address=" ".join((address or "").split())[:200] or None,
                created_at=ctx.now(),
            )
        )
    return invitation


def is_platform(session: Session, merchant_id: str) -> bool:
    return session.get(PlatformAccount, merchant_id) is not None


def platforms(ctx: PortalContext | CaseContext) -> list[PlatformRow]:
    """Every platform account. Platforms are partners of every unit (one account per
    platform, as its credit code is its login), so any unit's officer may address one."""
    with ctx.sessions() as session:
        rows = session.execute(
            select(Merchant, PlatformAccount)
            .join(PlatformAccount, PlatformAccount.merchant_id == Merchant.id)
            .order_by(PlatformAccount.platform_name)
        )
        return [
            PlatformRow(
                m.id,
                m.name,
                m.credit_code,
                p.platform_name,
                p.address,
                m.status,
                m.consent_signed_at is not None,
            )
            for m, p in rows
        ]


# -- requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestIn:
    """What the officer gives when sending a request (the rest comes from the case)."""

    kind: str
    platform_id: str
    contact_phone: str
    #: Assistance: the matter investigated and the data asked for.
    matter: str = ""
    data_requested: Sequence[Mapping[str, Any]] = ()
    reply_method: str = ""
    #: Takedown: the listing and why.
    listing_url: str = ""
    listing_title: str = ""
    reason: str = ""
    contact_address: str = ""
    #: The date the letter states, when the officer gives one. Needed only while the period
    #: runs into a year whose working days are not entered yet (the count cannot say its
    #: last day); never earlier than the count allows. Otherwise the counted date is stated.
    due_on: dt.date | None = None


@dataclass(frozen=True)
class RequestView:
    id: str
    case_id: str
    case_number: str | None
    case_title: str
    kind: str
    state: str
    platform_id: str
    platform_name: str
    due_on: dt.date
    listing_url: str | None
    document_id: str | None
    error: str | None
    created_at: dt.datetime
    served_at: dt.datetime | None
    answered_at: dt.datetime | None
    evidence_id: int | None
    capture_id: str | None
    recheck: str | None
    checked_at: dt.datetime | None
    #: What the letter asks (the sending event's details).
    asked: Mapping[str, Any] = field(default_factory=dict)
    #: The period's start (the day of service) and the day it was met, as the case keeps them.
    served_on: dt.date | None = None
    met_on: dt.date | None = None

    def deadline(self, today: dt.date) -> Deadline | None:
        """The request's running (or met) deadline; None before it is served."""
        if self.served_on is None:
            return None
        counted = due(KINDS[self.kind].rule, self.served_on, today=today, met_on=self.met_on)
        return or_stated(counted, self.due_on)

    @property
    def template(self) -> str:
        return KINDS[self.kind].template


def _check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FieldError("listing_url", "the listing's address, starting with http:// or https://")
    return url


def _data_requested(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise FieldError(f"data_requested[{i}]", "an object with kind and description")
        try:
            model = DataRequest.model_validate(
                {k: v for k, v in item.items() if v not in (None, "")}
            )
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "kind"
            message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
            raise FieldError(f"data_requested[{i}].{where}", message) from None
        out.append(model.model_dump(mode="json", exclude_none=True))
    if not out:
        raise FieldError("data_requested", "ask for at least one kind of data")
    return out


def _letter_details(
    session: Session, case: Case, form: RequestIn, kind: Kind, today: dt.date
) -> dict[str, Any]:
    """The sending event's details: checked here, so that a request that cannot make a
    valid letter is refused before anything is recorded."""
    merchant = session.get(Merchant, form.platform_id) if form.platform_id else None
    account = session.get(PlatformAccount, form.platform_id) if form.platform_id else None
    if merchant is None or account is None:
        raise FieldError("platform_id", "no such platform account; invite the platform first")
    if merchant.status != "active" or merchant.consent_signed_at is None:
        raise ConflictError(
            f"{merchant.name} has not finished setting up its account (送达地址确认书 unsigned), "
            "so nothing can be served on it electronically yet",
            code="no_consent",
        )
    phone = " ".join(form.contact_phone.split())
    if len(phone) < 5:
        raise FieldError("contact_phone", "the phone number the platform answers to")
    details: dict[str, Any] = {
        "kind": kind.key,
        "platform": {
            "name": merchant.name,
            "credit_code": merchant.credit_code,
            "address": account.address,
            "platform": account.platform_name,
        },
        "platform_id": merchant.id,
        "rule": kind.rule,
        "contact_phone": phone,
    }
    if form.contact_address.strip():
        details["contact_address"] = " ".join(form.contact_address.split())[:200]
    if kind.key == "assistance":
        if not form.matter.strip():
            raise FieldError("matter", "the matter investigated, as the letter states it")
        details["matter"] = form.matter.strip()[:20_000]
        details["data_requested"] = _data_requested(form.data_requested)
        if form.reply_method.strip():
            details["reply_method"] = form.reply_method.strip()[:200]
    else:
        facts = case.facts or {}
        if not any(facts.get(name) for name in TAKEDOWN_AFTER):
            raise ConflictError(
                "a listing is taken down after a decision or an order to correct: decide the "
                "case or order the correction first",
                code="not_decided",
            )
        url = form.listing_url.strip() or _party_listing(session, case)
        details["listing_url"] = _check_url(url)
        if form.listing_title.strip():
            details["listing_title"] = form.listing_title.strip()[:200]
        if not form.reason.strip():
            raise FieldError("reason", "the violation found on the listing")
        details["reason"] = form.reason.strip()[:20_000]
    # last: what the officer wrote is checked first, so the date is asked for only once
    # the rest of the letter is right
    due_on, set_by = _stated_due_on(kind, today, form.due_on)
    details["due_on"], details["due_on_set_by"] = due_on.isoformat(), set_by
    return details


def letter_deadline(kind: str, today: dt.date) -> Deadline:
    """The period a letter of ``kind`` sent today gives, as counted: its ``due_date`` is the
    date the letter states, or None while the count runs into a year whose working days are
    not entered yet (then the officer states a date, not before ``not_before``)."""
    return due(KINDS[kind].rule, today, today=today)


def _stated_due_on(kind: Kind, today: dt.date, given: dt.date | None) -> tuple[dt.date, str]:
    """The date the letter states and who set it: ``calendar`` (the rule counted from today)
    or ``officer``. The officer gives it only while the count runs into a year whose working
    days are not entered yet; it may not be earlier than the count could possibly end."""
    deadline = letter_deadline(kind.key, today)
    if deadline.due_date is not None:
        if given is not None and given != deadline.due_date:
            raise FieldError(
                "due_on",
                f"the letter states {deadline.due_date.isoformat()}, the end of {deadline.length} "
                "working days counted by the calendar; leave the date empty",
            )
        return deadline.due_date, "calendar"
    earliest = deadline.not_before
    if given is None:
        after = f" (not before {earliest.isoformat()})" if earliest else ""
        raise ConflictError(
            f"the {deadline.length} working days of {kind.rule} run into a year whose working "
            f"days are not entered yet ({deadline.unconfirmed_reason}); give the date the "
            f"letter states{after}, or enter that year in calendar_overrides.toml",
            code="deadline_unconfirmed",
        )
    if earliest is not None and given < earliest:
        raise FieldError(
            "due_on",
            f"not before {earliest.isoformat()}: {deadline.length} working days from "
            f"{today.isoformat()} cannot end sooner",
        )
    return given, "officer"


def _party_listing(session: Session, case: Case) -> str:
    party_url = session.scalar(
        select(CaseParty.shop_url).where(CaseParty.case_id == case.id).order_by(CaseParty.id)
    )
    return case.shop_url or party_url or ""


def open_request(ctx: CaseContext, who: Actor, case_id: str, form: RequestIn) -> str:
    """Record the sending of a request (its row and the ``platform_request_sent`` event, in
    one unit of work); returns the request's id. :func:`deliver` then makes and serves the
    letter."""
    kind = KINDS.get(form.kind)
    if kind is None:
        raise FieldError("kind", f"one of {', '.join(KINDS)}")
    today = ctx.today()
    made: dict[str, str] = {}

    def write(session: Session, case: Case) -> Mapping[str, Any]:
        details = _letter_details(session, case, form, kind, today)
        row = PlatformRequest(
            case_id=case.id,
            platform_id=form.platform_id,
            kind=kind.key,
            state="sending",
            event_seq=(case.event_count or 0) + 1,
            listing_url=details.get("listing_url"),
            due_on=dt.date.fromisoformat(details["due_on"]),
            created_by_id=int(who.actor.split(":", 1)[1])
            if who.actor.startswith("user:")
            else None,
            created_at=ctx.now(),
        )
        session.add(row)
        session.flush()
        made["id"] = row.id
        return {"request_id": row.id, **details}

    service.record_event(ctx, who, case_id, SENT, write)
    return made["id"]


def _row(session: Session, request_id: str) -> PlatformRequest:
    row = session.get(PlatformRequest, request_id) if request_id else None
    if row is None:
        raise NotFoundError(f"no request {request_id}")
    return row


def _set_deadline(case: Case, row: PlatformRequest, **changes: str | None) -> None:
    """The request's period in the case's facts (``service.deadlines_of`` counts it)."""
    facts = dict(case.facts or {})
    entries = dict(facts.get("platform_requests") or {})
    entry = dict(entries.get(row.id) or {"rule": KINDS[row.kind].rule})
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    entries[row.id] = entry
    facts["platform_requests"] = entries
    case.facts = facts


def deliver(
    portal: PortalContext,
    ctx: CaseContext,
    documents: CaseDocuments,
    officer: OfficerRef,
    who: Actor,
    request_id: str,
    *,
    client: Client | None = None,
) -> RequestView:
    """Make the request's letter (if not made yet), serve it on the platform's account
    and make its proof of service; records ``platform_request_served``. Safe to call again
    after a failure: what was done is not done twice. A letter the case cannot fill yet is
    left with its reason on the request (``error``) and :class:`MissingCaseData` raised."""
    with ctx.sessions() as session:
        row = _row(session, request_id)
        case_id, kind, seq, platform_id = (
            row.case_id,
            KINDS[row.kind],
            row.event_seq,
            row.platform_id,
        )
        document_id, state = row.document_id, row.state
    if state != "sending":
        return _view_of(ctx, request_id)
    if document_id is None:
        try:
            outcome = documents.make_letter(who, case_id, kind.template, seq, platform_id)
        except MissingCaseData as exc:
            _note_error(ctx, request_id, str(exc))
            raise
        document_id = outcome.document_id
        with session_scope(ctx.sessions) as session:
            _row(session, request_id).document_id = document_id
    assert document_id is not None
    with portal.sessions() as session:
        doc = session.get(Document, document_id)
        already = doc.served_at if doc is not None else None
    served_at = already or serving.serve(portal, officer, document_id, client=client)
    proof_id = serving.make_proof_of_service(portal, officer, document_id, client=client)

    def served(session: Session, case: Case) -> Mapping[str, Any] | None:
        row = _row(session, request_id)
        if row.state != "sending":
            return None
        row.state, row.served_at, row.error = "served", served_at, None
        served_on = served_at.astimezone(service.CHINA).date().isoformat()
        _set_deadline(case, row, served_on=served_on, stated_due_on=row.due_on.isoformat())
        return {
            "request_id": row.id,
            "kind": row.kind,
            "document_id": document_id,
            "proof_of_service": proof_id,
            "served_at": served_at.astimezone(dt.UTC).isoformat(),
            "delivered_to": f"portal account {platform_id}",
        }

    service.record_event(ctx, who, case_id, SERVED, served)
    return _view_of(ctx, request_id)


def _note_error(ctx: CaseContext, request_id: str, error: str) -> None:
    with session_scope(ctx.sessions) as session:
        _row(session, request_id).error = error[:2000]


def _view(session: Session, row: PlatformRequest) -> RequestView:
    case = session.get(Case, row.case_id)
    account = session.get(PlatformAccount, row.platform_id)
    assert case is not None and account is not None
    sent = session.get(CaseEvent, (row.case_id, row.event_seq))
    entry = ((case.facts or {}).get("platform_requests") or {}).get(row.id) or {}
    return RequestView(
        id=row.id,
        case_id=row.case_id,
        case_number=case.number,
        case_title=case.title,
        kind=row.kind,
        state=row.state,
        platform_id=row.platform_id,
        platform_name=account.platform_name,
        due_on=row.due_on,
        listing_url=row.listing_url,
        document_id=row.document_id,
        error=row.error,
        created_at=row.created_at,
        served_at=row.served_at,
        answered_at=row.answered_at,
        evidence_id=row.evidence_id,
        capture_id=row.capture_id,
        recheck=row.recheck,
        checked_at=row.checked_at,
        asked=dict(sent.details) if sent is not None else {},
        served_on=_day(entry.get("served_on")),
        met_on=_day(entry.get("met_on")),
    )


def _day(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else None


def _view_of(ctx: CaseContext | PortalContext, request_id: str) -> RequestView:
    with ctx.sessions() as session:
        return _view(session, _row(session, request_id))


def requests_of_case(ctx: CaseContext, who: Actor, case_id: str) -> list[RequestView]:
    """The case's requests, newest first (``who`` must be of the case's unit)."""
    with ctx.sessions() as session:
        case = session.get(Case, case_id)
        if case is None or (who.unit_id is not None and case.unit_id != who.unit_id):
            raise CaseNotFound(f"no case {case_id}")
        rows = session.scalars(
            select(PlatformRequest)
            .where(PlatformRequest.case_id == case_id)
            .order_by(PlatformRequest.created_at.desc(), PlatformRequest.id)
        )
        return [_view(session, r) for r in rows]


def requests_for_platform(ctx: PortalContext, platform_id: str) -> list[RequestView]:
    """What the platform sees: the requests served on it (a request reaches the platform
    when its letter reaches the account), newest first."""
    with ctx.sessions() as session:
        rows = session.scalars(
            select(PlatformRequest)
            .where(
                PlatformRequest.platform_id == platform_id, PlatformRequest.served_at.is_not(None)
            )
            .order_by(PlatformRequest.served_at.desc(), PlatformRequest.id)
        )
        return [_view(session, r) for r in rows]


def request_for_platform(ctx: PortalContext, platform_id: str, request_id: str) -> RequestView:
    """One request served on this platform, else :class:`NotFoundError` (another platform's
    request and an id that does not exist are not told apart)."""
    with ctx.sessions() as session:
        row = session.get(PlatformRequest, request_id) if request_id else None
        if row is None or row.platform_id != platform_id or row.served_at is None:
            raise NotFoundError(f"no request {request_id}")
        return _view(session, row)


def record_answer(
    ctx: CaseContext,
    who: Actor,
    request_id: str,
    *,
    evidence_id: int,
    file_name: str,
    sha256: str,
) -> int | None:
    """The platform's data export, already sealed as the case's evidence (``evidence_id``),
    answers a request for assistance: ``platform_data_received``; the reply deadline is met
    on the day the first export arrived."""
    platform_id = who.actor.split(":", 1)[1]
    with ctx.sessions() as session:
        case_id = _answerable(session, request_id, platform_id, "assistance").case_id

    def answered(session: Session, case: Case) -> Mapping[str, Any]:
        row = _answerable(session, request_id, platform_id, "assistance")
        now = ctx.now()
        if row.answered_at is None:
            row.answered_at = now
            _set_deadline(case, row, met_on=ctx.today().isoformat())
        row.state, row.evidence_id = "answered", evidence_id
        return {
            "request_id": row.id,
            "evidence_id": evidence_id,
            "file_name": file_name,
            "sha256": sha256,
        }

    return service.record_event(ctx, who, case_id, ANSWERED, answered)


def _answerable(session: Session, request_id: str, platform_id: str, kind: str) -> PlatformRequest:
    row = session.get(PlatformRequest, request_id) if request_id else None
    if row is None or row.platform_id != platform_id or row.served_at is None:
        raise NotFoundError(f"no request {request_id}")
    if row.kind != kind:
        what = "uploads its data" if kind == "assistance" else "confirms a takedown"
        raise ConflictError(f"this request is not one the platform {what} for", code="wrong_kind")
    return row


def confirm_takedown(
    ctx: CaseContext, who: Actor, request_id: str, *, note: str = "", capture_id: str | None
) -> int | None:
    """The platform says it took the listing down: ``platform_takedown_confirmed``, naming
    the capture the host queued to check it (None: an officer starts it later)."""
    platform_id = who.actor.split(":", 1)[1]
    with ctx.sessions() as session:
        row = _answerable(session, request_id, platform_id, "takedown")
        if row.state in ("confirmed", "checked") and row.recheck != "still_there":
            raise ConflictError("the takedown was confirmed already", code="already_confirmed")
        case_id = row.case_id

    def confirmed(session: Session, case: Case) -> Mapping[str, Any]:
        row = _answerable(session, request_id, platform_id, "takedown")
        row.state, row.answered_at = "confirmed", ctx.now()
        row.capture_id, row.recheck, row.checked_at = capture_id, None, None
        _set_deadline(case, row, met_on=ctx.today().isoformat())
        return {
            "request_id": row.id,
            "listing_url": row.listing_url,
            "note": note.strip()[:2000],
            "recheck_capture": capture_id,
        }

    return service.record_event(ctx, who, case_id, CONFIRMED, confirmed)


def start_recheck(ctx: CaseContext, who: Actor, request_id: str, capture_id: str) -> int | None:
    """An officer checks a confirmed takedown (again) with a new capture of the listing."""
    with ctx.sessions() as session:
        row = _row(session, request_id)
        if row.kind != "takedown" or row.state not in ("confirmed", "checked"):
            raise ConflictError("the platform has not confirmed a takedown", code="not_confirmed")
        case_id = row.case_id

    def started(session: Session, case: Case) -> Mapping[str, Any]:
        row = _row(session, request_id)
        row.state, row.capture_id, row.recheck, row.checked_at = "confirmed", capture_id, None, None
        return {"request_id": row.id, "capture_id": capture_id, "listing_url": row.listing_url}

    return service.record_event(ctx, who, case_id, RECHECK, started)


def recheck_result(capture: Capture) -> str | None:
    """What a capture of a taken-down listing shows: ``not_found`` (404 or 410),
    ``gone`` (nothing loaded, another error status, or sent elsewhere), ``still_there``
    (the listing answered at its address); None while the capture is running."""
    if capture.status == "failed":
        return "gone"
    if capture.status != "stored":
        return None
    status = capture.http_status or 0
    if status in (404, 410):
        return "not_found"
    if status >= 400:
        return "gone"
    if capture.final_url and _same_page(capture.final_url, capture.requested_url) is False:
        return "gone"
    return "still_there"


def _same_page(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.netloc, pa.path.rstrip("/"), pa.query) == (pb.netloc, pb.path.rstrip("/"), pb.query)


def record_rechecks(ctx: CaseContext, case_id: str | None = None) -> list[str]:
    """Record the result of every finished re-capture not recorded yet
    (``platform_takedown_checked``, touching the sealed package by its hash); returns the
    requests checked. Called when the case page, its API or the worker's housekeeping look."""
    with ctx.sessions() as session:
        query = select(PlatformRequest.id, PlatformRequest.case_id).where(
            PlatformRequest.state == "confirmed", PlatformRequest.capture_id.is_not(None)
        )
        if case_id is not None:
            query = query.where(PlatformRequest.case_id == case_id)
        waiting = list(session.execute(query))
    done = []
    system = Actor("system", "system", "system")
    for request_id, owner in waiting:

        def checked(session: Session, case: Case, request_id: str = request_id) -> Any:
            row = _row(session, request_id)
            capture = session.get(Capture, row.capture_id) if row.capture_id else None
            result = recheck_result(capture) if capture is not None else None
            if row.state != "confirmed" or capture is None or result is None:
                return None
            row.state, row.recheck, row.checked_at = "checked", result, ctx.now()
            if result == "still_there":  # not taken down: the period is open again
                _set_deadline(case, row, met_on=None)
            return {
                "request_id": row.id,
                "result": result,
                "capture_id": capture.id,
                "http_status": capture.http_status,
                "final_url": capture.final_url,
                "package_sha256": capture.package_sha256,
                "error_code": capture.error_code,
            }

        if service.record_event(ctx, system, owner, CHECKED, checked) is not None:
            done.append(request_id)
    return done
