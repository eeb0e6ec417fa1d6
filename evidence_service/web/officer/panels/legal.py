"""The case page's ``legal`` panel (issue 11): the facts the officer ticks, the catalogue
entries they and the captured pages point to (best first, each with its reasons, band and
amount range), the choice the case recorded, and the form that records a new one.

The panel ranks on the facts of its own form (a GET of the case page with ``legal=1``), and
otherwise on the facts of the case's last choice, so that the page shows what was chosen on
what. Every entry is marked when legal staff have not confirmed it yet."""

from __future__ import annotations

from typing import Any

from evidence_service.web.i18n import MESSAGES
from evidence_service.web.legal import choice_of, page_observed, reason_text, suggestion_out
from evidence_service.web.officer.panels.base import Panel, PanelInput
from workflow.cases.process import default_process
from workflow.legal import versions
from workflow.legal.ranking import suggest

__all__ = ["PANEL"]

KINDS = ("violation", "mitigating", "aggravating")


def fill(given: PanelInput) -> dict[str, Any] | None:
    case = given.view.case
    now = versions.current(given.ctx.sessions, case.unit_id)
    cat = now.catalogue
    observed, problem = page_observed(given.request, cat, case.id, given.view.events)
    q = given.request.query_params
    chosen = choice_of(given.view.events)
    error = (q.get("legal_error") or problem or "")[:64]
    if chosen is not None:
        chosen = {
            **chosen,
            "title": cat.entry(str(chosen["entry"])).title(given.lang)
            if cat.has(str(chosen.get("entry")))
            else chosen.get("entry_title"),
            "reasons_text": [
                [reason_text(cat, r, given.lang) for r in s.get("reasons", [])]
                for s in chosen.get("suggested", [])
            ],
        }
    return {
        "version": now,
        "catalogue": cat,
        "facts": {
            kind: [
                (f.tag, f.zh if given.lang == "zh" else f.en)
                for f in cat.facts.values()
                if f.kind == kind
            ]
            for kind in (*KINDS, "amount")
        },
        "ticked": observed.ticked,
        "amounts": {k: str(v) for k, v in observed.amounts.items()},
        "text_chars": len(observed.page_text),
        "suggestions": [suggestion_out(cat, s, given.lang) for s in suggest(cat, observed)],
        "chosen": chosen,
        "may_choose": "officer" in given.roles
        and not default_process().states[case.state].terminal,
        "error": error,
        "error_key": f"legal.err.{error}"
        if f"legal.err.{error}" in MESSAGES
        else "legal.err.other",
        "form": {k: q.get(f"legal_{k}", "") for k in ("entry", "band", "amount", "reason")},
        "done": bool(q.get("legal_done")),
        "unconfirmed": sum(1 for e in cat.entries if e.needs_confirmation),
    }


PANEL = Panel("legal", "_panel_legal.html", fill)
