"""The closed case's electronic file, sealed and archived (归档) without anyone asking.

Step 14 of the process: after the closing approval "the complete electronic case file is
sealed and archived". The officer's export button makes a case file on demand; this module
makes *the* one of record once a case has ended: the worker's housekeeping finds ended cases
without an archive, waits until no document the case owes is still to be made (the closing
approval itself is made by the worker a few seconds after the head's action), writes the case
file (``case_export``: events with
their log proofs, every document version, every package, the index, a time-stamped signed
manifest), keeps it in the immutable object store, and appends ``archive_case_file`` to the
case's chain naming the file by its SHA-256 (in the event's hashed details). That event
is the last of the case: the file cannot hold it, but it holds the file, so the archive
cannot be swapped unseen.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from evidence_service.sealing.case_export import CaseExportError, CaseExportPending, export_case
from evidence_service.sealing.case_file import case_context
from evidence_service.services import Services
from storage.models import Case, CaseEvent
from workflow.cases import documents, service
from workflow.cases.service import Actor

__all__ = ["ARCHIVER", "ARCHIVE_EVENT", "Archived", "archive_ended_cases"]

log = logging.getLogger(__name__)

#: The case event that records the archived file.
ARCHIVE_EVENT = "archive_case_file"
ARCHIVER = Actor("system", "案卷归档（系统）/ case file archive", "system", None)


@dataclass(frozen=True)
class Archived:
    case_id: str
    object_key: str
    sha256: str
    size: int


def _ended_without_archive(services: Services, limit: int) -> list[str]:
    # archived up to its last event: an event after the archive (the publicity taken down
    # years later) calls for a new archive, which the case's last event then names
    archived = exists().where(
        CaseEvent.case_id == Case.id,
        CaseEvent.action == ARCHIVE_EVENT,
        CaseEvent.seq == Case.event_count,
    )
    with services.sessions() as session:
        return list(
            session.scalars(
                select(Case.id)
                .where(Case.closed_at.is_not(None), ~archived)
                .order_by(Case.closed_at)
                .limit(limit)
            )
        )


def archive_ended_cases(services: Services, *, limit: int = 5) -> list[Archived]:
    """Seal and archive the file of up to ``limit`` ended cases that have none; a case not
    ready yet (a document still owed, an event not yet under a published tree head, the TSA
    or store down) is left for the next call. Never raises for one case."""
    ctx = case_context(services)
    out = []
    for case_id in _ended_without_archive(services, limit):
        if documents.owed(documents.load_snapshot(ctx, case_id)):
            continue  # the closing approval (or another document) is still being made
        services.settings.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=services.settings.work_dir) as folder:
            path = Path(folder) / "case.zip"
            try:
                result = export_case(services, case_id, path, exported_by="system")
            except CaseExportPending as exc:
                log.info("case %s: archive later: %s", case_id, exc)
                continue
            except CaseExportError:
                log.exception("case %s: its file could not be archived", case_id)
                continue
            stored = services.store.put_file(path, content_type="application/zip")
        if stored.sha256 != result.sha256:  # the store verifies what it keeps; so do we
            log.error("case %s: the store kept other bytes than the case file", case_id)
            continue
        details = {
            "object_key": stored.key,
            "sha256": stored.sha256,
            "size": stored.size,
            "manifest_sha256": result.manifest_sha256,
            "events": result.events,
            "documents": result.documents,
            "evidence": result.evidence,
        }

        def record(
            session: Session, case: Case, details: dict[str, object] = details
        ) -> dict[str, object] | None:
            last = session.scalar(
                select(CaseEvent.action).where(
                    CaseEvent.case_id == case.id, CaseEvent.seq == case.event_count
                )
            )
            if last == ARCHIVE_EVENT:
                return None  # another worker was first
            if case.event_count != details["events"]:
                return None  # an event came after the export: archived again next time
            return details

        if service.record_event(ctx, ARCHIVER, case_id, ARCHIVE_EVENT, record) is not None:
            out.append(Archived(case_id, stored.key, stored.sha256, stored.size))
            log.info("case %s: file archived (%s, %d bytes)", case_id, stored.sha256, stored.size)
    return out
