"""The public complaint form (``/complaints/new``) and the complainant's outcome page
(``/complaints/{code}``), without a login.

A complaint opens a case (source ``complaint``, state ``received``) in the unit chosen; the
complainant gets a receipt code, shown once, of which only the SHA-256 is kept. The code is
the complainant's only key: the outcome page shows the outcome of that one complaint (and
the reasons, where the law says the complainant is told them), nothing of the case behind it
-- no parties' details, staff, evidence or events. The access table is asked all the same
(``complaint_outcome`` for the ``complainant`` role, scope ``own_complaint``).

A complaint sent twice (its reply lost, or the form sent again after going back) is one
complaint: the same words from the same browser session find the complaint they made (a key
of the session and the words is kept, hashed, with it), which gets a new receipt code, the one
shown before no longer working (only a code's hash is kept, so it cannot be shown again).
Other words, or another session, make another complaint.

Abuse: the form carries the session's CSRF token; submissions are limited per client address
and wrong codes are counted per address (``workflow/throttle.py``), so neither flooding the
register nor guessing codes gets far. Codes carry 80 random bits.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from evidence_service.web.api.screening import screen_arrival
from evidence_service.web.auth import check_csrf, client_of, services_of
from evidence_service.web.case_views import case_ctx, helpers, short_time
from evidence_service.web.i18n import language
from evidence_service.web.pages import render
from storage.models import Case, CaseEvent, ComplaintReceipt, Unit
from workflow.cases import access, service
from workflow.cases.service import Actor, PartyIn
from workflow.errors import ThrottledError
from workflow.idempotency import once, request_digest
from workflow.throttle import Throttle, ThrottleRule

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

#: Per client address: complaints submitted (every one counts; the fifth in an hour locks).
COMPLAINT_CLIENT = ThrottleRule(5, timedelta(hours=1), timedelta(hours=1))
#: Per client address: receipt codes that name no complaint.
RECEIPT_CLIENT = ThrottleRule(10, timedelta(minutes=15), timedelta(minutes=30))
_THROTTLE = Throttle()
#: Crockford's base32 without the letters people misread (I, L, O, U).
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE = re.compile(r"^[0-9A-Z]{16}$")

#: What a complainant is told, by the case's state: the outcome, not the case.
OUTCOMES: dict[str, str] = {
    "new": "received",
    "received": "received",
    "verifying": "verifying",
    "filing_review": "verifying",
    "non_filing_review": "verifying",
    "not_accepted": "not_accepted",
    "not_filed": "not_filed",
    "closed_not_filed": "not_filed",
    "decided": "decided",
    "served": "decided",
    "paid": "decided",
    "enforcement_applied": "decided",
    "closed": "closed",
}
#: The events whose reasons the complainant is given (refusing, not filing).
REASON_EVENTS = ("refuse_complaint", "propose_non_filing")


def new_code() -> str:
    """16 characters of Crockford base32 (80 bits), shown as four groups of four."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(16))


def normalise(code: str) -> str | None:
    """The code as issued, from what was typed (dashes, spaces, case and the letters
    people mistake for digits do not matter), or None if it cannot be one."""
    cleaned = re.sub(r"[\s\-]", "", code).upper().translate(str.maketrans("OIL", "011"))
    return cleaned if _CODE.match(cleaned) else None


def code_hash(code: str) -> str:
    return hashlib.sha256(f"complaint-receipt:{code}".encode()).hexdigest()


def grouped(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _client_key(request: Request, what: str) -> str:
    return f"ip:{client_of(request).ip or 'unknown'}:{what}"


def _units(request: Request) -> list[Unit]:
    with services_of(request).sessions() as session:
        units = list(session.scalars(select(Unit).order_by(Unit.name)))
        session.expunge_all()
    return units


def _form(
    request: Request,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    error: dict[str, Any] | None = None,
) -> Response:
    return render(
        request,
        "complaint_new.html",
        status_code,
        user=None,
        units=_units(request),
        form=form or {},
        error=error,
    )


@router.get("/complaints/new")
def complaint_form(request: Request) -> Response:
    return _form(request)


@router.get("/complaints")
def lookup(request: Request, code: str = "") -> Response:
    """The "check your complaint" box: to the outcome page of the code typed."""
    found = normalise(code) if code else None
    if code and found is None:
        return render(request, "complaint_lookup.html", 422, user=None, code=code, bad=True)
    if found:
        return RedirectResponse(f"/complaints/{grouped(found)}", status_code=303)
    return render(request, "complaint_lookup.html", user=None, code="", bad=False)


@router.post("/complaints")
async def submit(
    request: Request,
    csrf: str = Form(""),
    unit_id: int = Form(0, ge=0, le=2**63 - 1),
    shop_name: str = Form(""),
    shop_url: str = Form(""),
    platform: str = Form(""),
    title: str = Form(""),
    summary: str = Form(""),
    name: str = Form(""),
    contact: str = Form(""),
) -> Response:
    check_csrf(request, csrf)
    kept = {
        "unit_id": str(unit_id),
        "shop_name": shop_name.strip(),
        "shop_url": shop_url.strip(),
        "platform": platform.strip(),
        "title": title.strip(),
        "summary": summary.strip(),
        "name": name.strip(),
        "contact": contact.strip(),
    }
    units = {u.id for u in _units(request)}
    if len(units) == 1 and unit_id == 0:
        unit_id = next(iter(units))
    for field_name in ("shop_name", "shop_url", "title", "summary", "contact"):
        if not kept[field_name]:
            return _form(request, 422, kept, {"field": field_name, "key": "cases.err.required"})
    if unit_id not in units:
        return _form(request, 422, kept, {"field": "unit_id", "key": "cases.err.choice"})
    if not re.match(r"^https?://[^\s/]+", kept["shop_url"]):
        return _form(request, 422, kept, {"field": "shop_url", "key": "cases.err.url"})
    services = services_of(request)
    key = _client_key(request, "complaint")
    now = datetime.now(UTC)
    try:
        with services.session() as session:
            _THROTTLE.check(session, key, now)
            _THROTTLE.fail(session, key, COMPLAINT_CLIENT, now)
    except ThrottledError as exc:
        page = _form(request, 429, kept, {"field": "", "key": "complaint.err.throttled"})
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    who = Actor("complainant", kept["name"][:200] or "—", "complainant", None)
    ctx = case_ctx(request)
    code = new_code()  # its receipt is kept with the complaint, in one transaction
    # what the complainant wrote: sent again from this session, it is the same complaint
    digest = request_digest({**kept, "unit_id": unit_id})
    form_key = _form_key(csrf, digest)

    def make() -> str:
        return service.open_case(
            ctx,
            who,
            unit_id=unit_id,
            title=kept["title"][:200],
            summary=kept["summary"][:20_000],
            parties=[
                PartyIn(
                    kept["shop_name"][:200],
                    shop_url=kept["shop_url"],
                    platform=kept["platform"][:100] or None,
                )
            ],
            source="complaint",
            shop_url=kept["shop_url"],
            complainant_name=kept["name"][:200] or None,
            complainant_contact=kept["contact"][:200],
            idempotency=(form_key, digest),
            receipt_code_hash=code_hash(code),
        )

    def opened() -> tuple[str, bool]:
        # The key holds the words' digest, so an earlier complaint under it asked the same.
        return once(lambda: service.requested_case(ctx, None, form_key, digest), make)

    case_id, replayed = await run_in_threadpool(opened)
    if replayed:
        await run_in_threadpool(service.reissue_receipt, ctx, case_id, code_hash(code))
        return RedirectResponse(f"/complaints/{grouped(code)}?new=1&again=1", status_code=303)
    await run_in_threadpool(screen_arrival, services, case_id)  # never fails the complaint
    return RedirectResponse(f"/complaints/{grouped(code)}?new=1", status_code=303)


def _form_key(session_token: str, digest: str) -> str:
    """The key of a complaint: its words as sent from this browser session (the session's
    CSRF token, checked above, names the session). Not a key in the page: going back to the
    form and sending it again loads the form anew (a new page, a new key), but the browser
    fills in the words it had, and the same words from the same session are the same
    complaint. Another session, or other words, make another complaint."""
    return "complaint:" + hashlib.sha256(f"{session_token}\n{digest}".encode()).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """What the complainant may know: when the complaint came in, where it stands, since
    when, and the reasons they are owed."""

    received_at: datetime
    outcome: str
    since: datetime | None
    reasons: list[str]
    number: str | None


def _outcome(ctx: Any, case_id: str) -> Outcome | None:
    with ctx.sessions() as session:
        case = session.get(Case, case_id)
        if case is None:
            return None
        events = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
            )
        )
    outcome = OUTCOMES.get(case.state, "investigating")
    changed = [e for e in events if e.from_state != e.to_state]
    reasons = [
        str(e.details.get("reasons"))
        for e in events
        if e.action in REASON_EVENTS and e.details.get("reasons")
    ]
    filed = outcome in ("investigating", "decided", "closed")
    return Outcome(
        received_at=case.received_at,
        outcome=outcome,
        since=changed[-1].at if changed else None,
        reasons=reasons if outcome in ("not_accepted", "not_filed") else [],
        number=case.number if filed else None,
    )


@router.get("/complaints/{code}")
def outcome_page(request: Request, code: str) -> Response:
    services = services_of(request)
    key = _client_key(request, "receipt")
    now = datetime.now(UTC)
    found = normalise(code)
    with services.session() as session:
        try:
            _THROTTLE.check(session, key, now)
        except ThrottledError as exc:
            page = render(
                request, "complaint_lookup.html", 429, user=None, code="", bad=False, throttled=True
            )
            page.headers["Retry-After"] = str(exc.retry_after)
            return page
        receipt = session.get(ComplaintReceipt, code_hash(found)) if found else None
        if receipt is None:
            _THROTTLE.fail(session, key, RECEIPT_CLIENT, now)
        else:
            session.expunge(receipt)
    if receipt is None or found is None:
        return render(request, "complaint_lookup.html", 404, user=None, code=code, bad=True)
    decision = access.can(
        "complainant",
        "complaint_outcome",
        access.Subject(actor_party=code_hash(found), complainant=receipt.code_hash),
    )
    outcome = _outcome(case_ctx(request), receipt.case_id) if decision else None
    if outcome is None:
        return render(request, "complaint_lookup.html", 404, user=None, code=code, bad=True)
    page = render(
        request,
        "complaint_outcome.html",
        user=None,
        code=grouped(found),
        outcome=outcome,
        new=request.query_params.get("new") == "1",
        again=request.query_params.get("again") == "1",
        short_time=short_time,
        **{k: v for k, v in helpers(language(request)).items() if k == "pick"},
    )
    page.headers["Cache-Control"] = "no-store"
    return page
