"""The legal basis chosen on a case (issue 11): an event beside the process
(:data:`workflow.legal.choice.EVENT`), recorded the way ``give_notes`` is
(:func:`service.record_event`), with what the unit's current catalogue suggested on the facts
the officer ticked and the captured pages' text, what was chosen, and the reason for any
departure. The documents then take their provisions, legal basis and discretion from it
(``documents.py``) unless the officer typed their own.

The suggestions are computed again here, inside the unit of work that records the choice and
from the catalogue version current then, so that what the event says was suggested is what
the ranking gives for the recorded inputs, not what a page showed minutes earlier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Case, CaseEvent
from workflow.legal import versions
from workflow.legal.choice import EVENT, ChoiceError, ChoiceIn, judge
from workflow.legal.ranking import Observed, Suggestion, suggest

from . import process, service
from .service import Actor, CaseContext, PayloadError

__all__ = ["CHOOSING_ROLES", "EVENT", "choose", "latest_choice", "suggestions"]

#: Who records the legal basis: the officers handling the case (the reviewer checks it in
#: the legal review; the head decides on the penalty).
CHOOSING_ROLES = ("officer",)


def suggestions(
    ctx: CaseContext, unit_id: int, observed: Observed
) -> tuple[versions.Version, list[Suggestion]]:
    """The unit's current catalogue version and its ranked entries for ``observed``."""
    now = versions.current(ctx.sessions, unit_id)
    return now, suggest(now.catalogue, observed)


def choose(ctx: CaseContext, who: Actor, case_id: str, observed: Observed, choice: ChoiceIn) -> int:
    """Record ``choice`` on the case; returns the event's number. Raises
    :class:`service.PayloadError` (``field`` names the input: entry, band, amount, reason,
    role) or :class:`service.CaseNotFound`; nothing is kept then."""
    if who.role not in CHOOSING_ROLES:
        raise PayloadError("role", f"a {who.role} does not choose the legal basis; an officer does")

    def body(session: Session, case: Case) -> Mapping[str, Any]:
        if process.default_process().states[case.state].terminal:
            raise PayloadError("case", "the case is closed: its legal basis can no longer change")
        now = versions.current_in(session, case.unit_id)
        ranked = suggest(now.catalogue, observed)
        try:
            return judge(now.catalogue, now.version, now.sha256, observed, ranked, choice)
        except ChoiceError as exc:
            raise PayloadError(exc.field, str(exc).split(": ", 1)[-1]) from None

    seq = service.record_event(ctx, who, case_id, EVENT, body)
    assert seq is not None
    return seq


def latest_choice(ctx: CaseContext, case_id: str) -> dict[str, Any] | None:
    """The details of the case's newest choice (with its event ``seq``), or None."""
    with ctx.sessions() as session:
        event = session.scalar(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.action == EVENT)
            .order_by(CaseEvent.seq.desc())
            .limit(1)
        )
        return None if event is None else {"seq": event.seq, **event.details}
