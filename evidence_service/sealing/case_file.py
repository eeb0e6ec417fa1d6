"""The case workflow wired to this service: its sessions, and its events in the transparency
log beside the sealed captures (so a case event, like a capture, cannot be changed or
reordered unseen once a tree head covering it is published)."""

from __future__ import annotations

from evidence_service.sealing.transparency import TransparencyLog
from evidence_service.services import Services
from workflow.cases.service import CaseContext

__all__ = ["CASE_EVENT_KIND", "case_context"]

#: ``log_leaves.kind`` of a case event's hash.
CASE_EVENT_KIND = "case-event"


def case_context(services: Services) -> CaseContext:
    log = TransparencyLog(services)

    def log_event(event_hash: bytes) -> object:
        return log.append(event_hash, kind=CASE_EVENT_KIND)

    return CaseContext(sessions=services.sessions, log_event=log_event)
