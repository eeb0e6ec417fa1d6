"""The documents cases owe, made by the worker rather than in the request that took the action.

An action in the console, the portal or the API is committed and answered at once; its
documents (rendered, sealed by the unit, signed by the officers, each signature B-LTA with
time-stamps) take seconds, and must not make an officer wait nor be lost when the web process
stops. So the worker's housekeeping calls :func:`generate_due` at every idle moment: it looks
at the cases that have events it has not worked through (``case_document_cursors``), takes a
lease on each so that two workers never make one case's documents at once, and lets
``workflow.cases.documents`` make what the case owes.

What counts as worked through: every owed document made, or waiting for something only a
person can give (a note, a badge number; the case page names it). A document that failed for
a passing reason (the TSA or the store down) leaves the case un-worked, so the next idle
moment tries again; a later action on the case (new events) always brings it back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from evidence_service.sealing.case_file import case_context
from evidence_service.services import Services
from storage.db import session_scope
from storage.models import Case, CaseDocumentCursor
from workflow.cases.documents import CaseDocuments, Outcome
from workflow.cases.service import Actor

__all__ = ["GENERATOR", "DocumentRun", "generate_due"]

log = logging.getLogger(__name__)

#: Who makes the documents in the case file: the system, on behalf of the case's actions.
GENERATOR = Actor("system", "文书生成（系统）/ document generation", "system", None)
#: How long one worker may hold a case; far longer than a case's documents take.
LEASE = timedelta(minutes=10)


@dataclass
class DocumentRun:
    """What one :func:`generate_due` did, for logs and tests."""

    cases: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def made(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.document_id]


def _now() -> datetime:
    return datetime.now(UTC)


def _due(services: Services, now: datetime, limit: int) -> list[tuple[str, int]]:
    """Cases with events not yet worked through and no live lease, oldest change first."""
    checked = func.coalesce(CaseDocumentCursor.checked_events, 0)
    query = (
        select(Case.id, Case.event_count)
        .outerjoin(CaseDocumentCursor, CaseDocumentCursor.case_id == Case.id)
        .where(Case.event_count > checked)
        .where(or_(CaseDocumentCursor.lease_until.is_(None), CaseDocumentCursor.lease_until < now))
        .order_by(Case.updated_at)
        .limit(limit)
    )
    with services.sessions() as session:
        return [(row[0], int(row[1])) for row in session.execute(query)]


def _claim(services: Services, case_id: str, now: datetime) -> bool:
    """Take the case's lease; False when another worker holds it (or just took it)."""
    until = now + LEASE
    try:
        with session_scope(services.sessions) as session:
            result = session.execute(
                update(CaseDocumentCursor)
                .where(CaseDocumentCursor.case_id == case_id)
                .where(
                    or_(
                        CaseDocumentCursor.lease_until.is_(None),
                        CaseDocumentCursor.lease_until < now,
                    )
                )
                .values(lease_until=until)
            )
            if cast(CursorResult[Any], result).rowcount:
                return True
            if session.get(CaseDocumentCursor, case_id) is not None:
                return False  # leased by someone else
            session.add(CaseDocumentCursor(case_id=case_id, checked_events=0, lease_until=until))
        return True
    except IntegrityError:  # another worker inserted the cursor first: it holds the lease
        return False


def _release(
    services: Services, case_id: str, checked_events: int | None, error: str | None
) -> None:
    values: dict[str, object] = {"lease_until": None, "last_error": error, "checked_at": _now()}
    if checked_events is not None:
        values["checked_events"] = checked_events
    with session_scope(services.sessions) as session:
        session.execute(
            update(CaseDocumentCursor).where(CaseDocumentCursor.case_id == case_id).values(**values)
        )


def generate_due(services: Services, *, limit: int = 20) -> DocumentRun:
    """Make the documents owed by up to ``limit`` cases with new events; never raises for a
    case (its failure is logged and kept on its cursor, and retried at the next call)."""
    run = DocumentRun()
    now = _now()
    documents = CaseDocuments(services.portal, case_context(services))
    for case_id, events in _due(services, now, limit):
        if not _claim(services, case_id, now):
            continue
        run.cases.append(case_id)
        checked: int | None = None
        error: str | None = None
        try:
            outcomes = documents.generate_pending(GENERATOR, case_id)
            run.outcomes.extend(outcomes)
            passing = [o for o in outcomes if o.error and not o.missing]
            waiting = [o for o in outcomes if o.missing]
            if passing:
                error = "; ".join(f"{o.template}: {o.error}" for o in passing)[:2000]
            else:
                # the events seen, plus the add_document event of each document made now
                checked = events + sum(1 for o in outcomes if o.document_id)
                if waiting:
                    error = "; ".join(f"{o.error}" for o in waiting)[:2000]
        except Exception as exc:  # the case could not be read: try again next time
            log.exception("case %s: generating its documents failed", case_id)
            error = f"{type(exc).__name__}: {exc}"[:2000]
        finally:
            _release(services, case_id, checked, error)
    if run.made:
        log.info("made %d case document(s) for %d case(s)", len(run.made), len({*run.cases}))
    return run
