"""The case page's ``platform`` panel: the case's requests to platforms (for assistance, to
take a listing down), each with its state, the deadline it runs and what the platform
answered; and the forms that send them (an officer staffed on the case only).

Looking at the panel also records the result of any re-capture of a taken-down listing that
finished since (``workflow.platforms.record_rechecks``), so the case shows it as soon as the
sealed capture is stored."""

from __future__ import annotations

from typing import Any

from evidence_service.web.case_views import badge
from evidence_service.web.officer.panels.base import Panel, PanelInput
from evidence_service.web.platform.officer import defaults
from workflow import platforms
from workflow.cases.service import Actor

__all__ = ["PANEL"]


def fill(given: PanelInput) -> dict[str, Any] | None:
    ctx, view = given.ctx, given.view
    platforms.record_rechecks(ctx, view.case.id)
    who = Actor(f"user:{given.user.id}", given.user.username, "officer", given.user.unit_id)
    today = ctx.today()
    rows = []
    for r in platforms.requests_of_case(ctx, who, view.case.id):
        d = r.deadline(today)
        rows.append({"r": r, "badge": badge(d, given.lang) if d is not None else None})
    facts = view.case.facts or {}
    query = given.request.query_params
    problem = given.request.session.pop("platform_problem", None) if query.get("done") else None
    return {
        "case_id": view.case.id,
        "requests": rows,
        "platforms": [p for p in platforms.platforms(ctx) if p.status == "active"],
        "can_send": "officer" in given.roles,
        "takedown_open": any(facts.get(name) for name in platforms.TAKEDOWN_AFTER),
        "listing_url": view.case.shop_url or "",
        "wording": defaults()["wording"],
        "data_kinds": defaults()["data_kinds"],
        "letter_due": {k: platforms.letter_deadline(k, today) for k in platforms.KINDS},
        "done": query.get("done") in ("platform", "recheck") and not query.get("platform_error"),
        "error": query.get("platform_error", ""),
        "problem": problem,
    }


PANEL = Panel("platform", "_panel_platform.html", fill)
