"""The case page's "party" panel (room: register): for each party of the case, and for the
case's shop URL when no party names it, the register's entry, the operator the sealed
captures of the case show (with the capture and WARC record as the source), the party's
earlier cases, and whether this would be a first violation.

The register is asked the way an officer would: by the party's credit code, else its shop
URL, else its exact name; a credit code shown on a captured page is used when the party has
none. Earlier cases are those received before this one (:mod:`workflow.register.record`)."""

from __future__ import annotations

from typing import Any

from evidence_service.sealing.capture_operator import CaptureOperator, case_capture_operators
from evidence_service.web.auth import services_of
from evidence_service.web.case_views import access_role, subject_for_officer
from evidence_service.web.officer.panels.base import Panel, PanelInput
from workflow.cases import access
from workflow.register import Match, lookup, party_record
from workflow.register.names import name_key
from workflow.register.urls import shop_key

__all__ = ["PANEL"]


def _register_match(
    session: Any, code: str | None, url: str | None, name: str | None
) -> Match | None:
    for text in (code, url):
        if text:
            found = lookup(session, text, limit=1).matches
            if found:
                return found[0]
    if name:
        exact = [m for m in lookup(session, name, limit=5).matches if m.matched_by == "name_exact"]
        return exact[0] if len(exact) == 1 else None
    return None


def _key(url: str | None) -> str | None:
    try:
        return shop_key(url).key if url else None
    except ValueError:
        return None


def _operators_for(
    ops: list[CaptureOperator], codes: set[str], url: str | None, name: str | None
) -> list[CaptureOperator]:
    """The captures that show this party: the same credit code, the same shop (the captured
    page's URL), or the same name."""
    key, nk = _key(url), name_key(name or "")
    return [
        o
        for o in ops
        if (o.info.credit_code and o.info.credit_code in codes)
        or (key and _key(o.target_uri) == key)
        or (nk and o.info.company_name and name_key(o.info.company_name) == nk)
    ]


def fill(given: PanelInput) -> dict[str, Any] | None:
    user = given.user
    view = given.view
    case = view.case
    if not access.can(
        access_role(user, sorted(given.roles)), "register", subject_for_officer(user)
    ):
        return None
    services = services_of(given.request)
    operators = case_capture_operators(services, case.id)
    wanted: list[dict[str, Any]] = [
        {"label": p.name, "kind": "party", "code": p.credit_code, "url": p.shop_url, "name": p.name}
        for p in view.parties
    ]
    if case.shop_url and not any(_key(w["url"]) == _key(case.shop_url) for w in wanted):
        wanted.append(
            {
                "label": case.shop_url,
                "kind": "case_shop",
                "code": None,
                "url": case.shop_url,
                "name": None,
            }
        )
    rows = []
    shown: set[int] = set()
    with given.ctx.sessions() as session:
        for w in wanted:
            ops = _operators_for(operators, {w["code"]} - {None}, w["url"], w["name"])
            page_code = next(
                (
                    o.info.credit_code
                    for o in ops
                    if o.info.credit_code and o.info.credit_code_valid
                ),
                None,
            )
            code = w["code"] or page_code
            # the party's own code, its shop, then what its page shows, then its exact name
            match = _register_match(session, w["code"], w["url"], None) or _register_match(
                session, page_code, None, w["name"]
            )
            if match is not None:
                ops += [
                    o
                    for o in _operators_for(operators, {match.credit_code}, None, None)
                    if o not in ops
                ]
            shown.update(id(o) for o in ops)
            record = party_record(
                session,
                unit_id=case.unit_id,
                credit_code=(match.credit_code if match else None) or code,
                shop_urls=[
                    u
                    for u in [
                        w["url"],
                        case.shop_url,
                        *(s.shop_url for s in (match.shops if match else [])),
                    ]
                    if u
                ],
                exclude_case=case.id,
                before=case.received_at,
            )
            rows.append(
                {
                    **w,
                    "match": match,
                    "operators": [o.as_json() for o in ops],
                    "record": record.as_json(),
                    "query": code or w["url"] or w["name"] or "",
                }
            )
    others = [o.as_json() for o in operators if id(o) not in shown]
    if not rows and not others:
        return None  # no party, no shop, no operator read: nothing to show
    return {"rows": rows, "other_operators": others, "captures_read": bool(operators)}


PANEL = Panel("register", "_panel_register.html", fill)
