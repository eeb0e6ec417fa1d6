"""The case page's ``screening`` panel (complaints only): the newest screening's score and
each fact behind it, with the other complaints it points at (linked when they are of the
officer's unit), the conclusions recorded, and the buttons to screen again and to conclude.
What is shown is :func:`evidence_service.web.api.screening.screening_out`, as the API gives it."""

from __future__ import annotations

import re
from typing import Any

from evidence_service.web.api.cases import CaseApiError
from evidence_service.web.api.screening import screening_out
from evidence_service.web.case_views import access_role, subject_for_officer
from evidence_service.web.i18n import translate
from evidence_service.web.officer.panels.base import Panel, PanelInput
from workflow.cases import access
from workflow.screening import CONCLUSIONS
from workflow.screening.screen import KIND_NAMES

__all__ = ["ERRORS", "PANEL"]

#: ``screening_error`` codes the forms come back with, and their message keys.
ERRORS = {
    "reason": "screening.err.reason",
    "conclusion": "screening.err.conclusion",
    "screening": "screening.err.not_screened",
    "not_staffed": "screening.err.forbidden",
    "forbidden": "screening.err.forbidden",
}


_SIMILAR = re.compile(r"(\d+)% (same|other)")
_DAYS = re.compile(r"(\d+)d")
_EN_KIND = {en: key for key, (_, en) in KIND_NAMES.items()}


def why_text(why: str, lang: str) -> str:
    """What links another complaint to this one, in the page's language. The screening
    records it compactly (``93% same``, ``phone, e-mail``, ``2d``), as the API gives it."""
    if m := _SIMILAR.fullmatch(why):
        return translate(lang, f"screening.why.similar.{m[2]}").format(percent=m[1])
    if m := _DAYS.fullmatch(why):
        return translate(lang, "screening.why.days").format(days=m[1])
    names = [p.strip() for p in why.split(",")]
    if names and all(n in KIND_NAMES or n in _EN_KIND for n in names):
        zh = lang == "zh"
        return ("、" if zh else ", ").join(
            KIND_NAMES[_EN_KIND.get(n, n)][0 if zh else 1] for n in names
        )
    return why


def fill(given: PanelInput) -> dict[str, Any] | None:
    case = given.view.case
    if case.source != "complaint":
        return None
    try:
        out = screening_out(given.ctx, given.user, case.id)
    except CaseApiError:
        return None
    role = access_role(given.user, sorted(given.roles))
    may_act = bool(access.can(role, "act", subject_for_officer(given.user, case.unit_id)))
    query = given.request.query_params
    error = query.get("screening_error", "")
    return {
        "case_id": case.id,
        "s": out,
        "may_act": may_act,
        "conclusions": CONCLUSIONS,
        "why": lambda why: why_text(why, given.lang),
        "done": query.get("screening_done", ""),
        "error": ERRORS.get(error, "screening.err.failed" if error else ""),
    }


PANEL = Panel("screening", "_panel_screening.html", fill)
