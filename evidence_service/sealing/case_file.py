"""The case workflow wired to this service: its sessions, and its events in the transparency
log beside the sealed captures (so a case event, like a capture, cannot be changed or
reordered unseen once a tree head covering it is published); and the payment flow on top of
it, the same for the web app (callbacks, the payment page) and the worker's housekeeping
(finishing paid orders whose case action or receipt is missing)."""

from __future__ import annotations

from evidence_service.sealing.transparency import TransparencyLog
from evidence_service.services import Services
from workflow.cases.service import CaseContext
from workflow.payments import PaymentContext
from workflow.payments.sandbox import SandboxBank

__all__ = ["CASE_EVENT_KIND", "case_context", "payment_context"]

#: ``log_leaves.kind`` of a case event's hash.
CASE_EVENT_KIND = "case-event"


def case_context(services: Services) -> CaseContext:
    log = TransparencyLog(services)

    def log_event(event_hash: bytes) -> object:
        return log.append(event_hash, kind=CASE_EVENT_KIND)

    return CaseContext(sessions=services.sessions, log_event=log_event)


def payment_context(services: Services, cases: CaseContext | None = None) -> PaymentContext:
    """The payment flow: the sandbox bank is its one channel when ``payment_sandbox`` is on
    (the only stand-in for a bank), none otherwise (online payment off)."""
    settings = services.settings
    base = settings.effective_public_url
    channel = (
        SandboxBank(settings.data_dir / "sandbox-bank", page_url=f"{base}/sandbox-bank/orders")
        if settings.payment_sandbox
        else None
    )
    return PaymentContext(
        cases=cases or case_context(services),
        portal=services.portal,
        channel=channel,
        public_url=base,
    )
