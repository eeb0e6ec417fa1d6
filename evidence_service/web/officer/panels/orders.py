"""The case page's order-data panel: for each sealed capture of the case, *Extract order data*
shows the fields its WARC gives (each with the record and offset it came from) in a form where
the officer confirms or corrects each; below, the facts the case holds already.

Extraction runs when the officer asks for it (``?orders=<capture id>``), not on every view of
the case page: it reads the whole sealed package from the store."""

from __future__ import annotations

from typing import Any

from evidence_service.sealing.case_orders import OrderFactsUnavailable, propose_order_facts
from evidence_service.web.auth import services_of
from evidence_service.web.officer.panels.base import Panel, PanelInput
from workflow.cases.order_facts import confirmed_facts

__all__ = ["ERRORS", "PANEL"]

#: ``orders_error`` codes the confirm form comes back with, and their message keys.
ERRORS = {
    "value": "orders.err.value",
    "facts": "orders.err.facts",
    "proposal": "orders.err.proposal",
    "decision": "orders.err.proposal",
    "capture_id": "orders.err.capture",
    "not_evidence": "orders.err.capture",
    "not_sealed": "orders.err.capture",
    "unreadable": "orders.err.unreadable",
}


def fill(given: PanelInput) -> dict[str, Any] | None:
    view = given.view
    captures = [e for e in view.evidence if e.kind == "capture" and e.capture_id]
    query = given.request.query_params
    chosen = query.get("orders", "")
    error = ERRORS.get(query.get("orders_error", ""))
    proposals: list[Any] = []
    if chosen and any(e.capture_id == chosen for e in captures):
        try:
            proposals = list(
                propose_order_facts(services_of(given.request), view.case.id, chosen).facts
            )
        except OrderFactsUnavailable as exc:
            error = ERRORS.get(exc.code, "orders.err.unreadable")
    else:
        chosen = ""
    return {
        "case_id": view.case.id,
        "captures": captures,
        "chosen": chosen,
        "proposals": proposals,
        "confirmed": confirmed_facts(view.events),
        "can_decide": "officer" in given.roles,
        "error": error,
        "done": query.get("orders_done") == "1",
    }


PANEL = Panel("orders", "_panel_orders.html", fill)
