"""The case page's ``watch`` panel: the case's watches (a page captured again every N hours
until it is corrected), each with its timeline drawn, and the notice when a condition is met
(the in-app notification: shown to every officer who opens the case). An officer staffed on
the case starts a watch here; while the order to correct runs (state ``correcting``) the form
is open by default, and a met watch offers to confirm the correction with its capture.

Looking at the panel also moves the watches on (judges finished runs, records a met
condition), so the case shows a result as soon as the sealed capture is stored."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from evidence_service.sealing import monitor
from evidence_service.web.auth import services_of
from evidence_service.web.officer.panels.base import Panel, PanelInput
from evidence_service.web.officer.watches import timeline
from workflow.deadlines import CHINA

__all__ = ["PANEL"]


def _default_until(due: object, max_days: int) -> str:
    """A week past the correction's due date (the page is checked after the period ends),
    else two weeks from today; never beyond the longest watch."""
    today = datetime.now(CHINA).date()
    try:
        day = date.fromisoformat(str(due)) + timedelta(days=7)
    except ValueError:
        day = today + timedelta(days=14)
    return min(
        max(day, today + timedelta(days=1)), today + timedelta(days=max_days - 1)
    ).isoformat()


def fill(given: PanelInput) -> dict[str, Any] | None:
    services = services_of(given.request)
    view = given.view
    monitor.settle(services)
    watches = monitor.list_watches(services, given.user.unit_id, case_id=view.case.id)
    correcting = view.case.state == "correcting"
    query = given.request.query_params
    problem = given.request.session.pop("watch_problem", None) if query.get("watch_error") else None
    facts = view.case.facts or {}
    due = facts.get("correction_due_on")
    until = (
        due
        if isinstance(due, str)
        else (datetime.now(CHINA) + timedelta(days=14)).date().isoformat()
    )
    return {
        "case_id": view.case.id,
        "rows": [{"w": w, "timeline": timeline(w, given.lang)} for w in watches],
        "met": [w for w in watches if w.state == "met"],
        "can_start": "officer" in given.roles,
        "correcting": correcting,
        "url": view.case.shop_url or "",
        "until": until,
        "conditions": monitor.CONDITIONS,
        "done": query.get("done") in ("watch", "watch_confirmed") and not query.get("watch_error"),
        "confirmed": query.get("done") == "watch_confirmed",
        "error": query.get("watch_error", ""),
        "problem": problem,
    }


PANEL = Panel("watch", "_panel_watch.html", fill)
