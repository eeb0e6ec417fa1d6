"""The officer's conclusion on a screened complaint, recorded as a case event.

The screening only suggests; the officer decides whether to treat the complaint as an
ordinary one or as a professional claimant's, and says why. The conclusion is an event in
the case's chain (``screening_conclusion``) naming the screening it was drawn from (its id,
score and version), so the case file shows what was suggested and what was chosen. It does
not move the case: refusing or not filing a complaint stays an action of the process, taken
by a person, with the complainant told the reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Case, ComplaintScreening
from workflow.cases.service import Actor, CaseContext, PayloadError, record_event

__all__ = ["CONCLUSIONS", "SCREENING_CONCLUSION", "record_conclusion"]

#: The event's name (``cases.event.screening_conclusion`` in the UI's words).
SCREENING_CONCLUSION = "screening_conclusion"
#: What the officer may conclude.
CONCLUSIONS = ("ordinary", "professional")
MAX_REASON = 2000


def record_conclusion(
    ctx: CaseContext, who: Actor, case_id: str, conclusion: str, reason: str
) -> int:
    """Record the conclusion on the complaint's newest screening; returns the event number.
    :class:`PayloadError` names ``conclusion`` or ``reason`` when one is missing or wrong,
    or ``screening`` when the complaint was never screened."""
    if conclusion not in CONCLUSIONS:
        raise PayloadError("conclusion", f"one of {', '.join(CONCLUSIONS)}")
    why = " ".join((reason or "").split())
    if len(why) < 2:
        raise PayloadError("reason", "say why (a sentence the case file will show)")

    def body(session: Session, case: Case) -> Mapping[str, Any]:
        if case.source != "complaint":
            raise PayloadError("case", "only a complaint is screened and concluded on")
        screening = session.scalar(
            select(ComplaintScreening)
            .where(ComplaintScreening.case_id == case.id)
            .order_by(ComplaintScreening.id.desc())
            .limit(1)
        )
        if screening is None:
            raise PayloadError("screening", "screen the complaint first")
        return {
            "conclusion": conclusion,
            "reason": why[:MAX_REASON],
            "screening_id": screening.id,
            "score": screening.score,
            "flagged": screening.flagged,
            "version": screening.version,
        }

    seq = record_event(ctx, who, case_id, SCREENING_CONCLUSION, body)
    assert seq is not None
    return seq
