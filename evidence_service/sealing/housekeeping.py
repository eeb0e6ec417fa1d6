"""What a capture worker does when it has nothing to capture. Every few seconds: make the
documents cases owe (``case_documents``) and move the watched URLs on (``monitor``: start the
runs that are due, judge the finished ones). Every half minute: log case events the log missed,
publish decisions due and take down those whose period ended, record the re-captures of
listings platforms took down, issue the payment notices of
served fines, finish paid orders a stopped process left undone, publish the transparency
log's tree head when due (and with it the new proofs sidecars), and seal and archive the files
of ended cases (``case_archive``). Once a day per process: renew
the archive time-stamps of packages whose certificates near expiry and audit the log.

Its own module because it uses both the log and the renewal, which must not use each other
both ways. Nothing here raises: a failure is logged and tried again at the next idle moment.
"""

from __future__ import annotations

import logging
import time

from evidence_service.sealing.case_archive import archive_ended_cases
from evidence_service.sealing.case_documents import generate_due
from evidence_service.sealing.case_file import case_context, payment_context
from evidence_service.sealing.monitor import tick as watch_tick
from evidence_service.sealing.renewal import publish_tree_head_if_due, renew_due
from evidence_service.sealing.transparency import TransparencyLog
from evidence_service.services import Services
from workflow import platforms, publicity
from workflow.cases.service import log_unlogged_events
from workflow.payments import complete_pending, issue_due_notices

log = logging.getLogger(__name__)

__all__ = ["FREQUENT_EVERY_S", "RENEW_EVERY_S", "frequent", "periodic"]

#: How often an idle worker looks for case documents to make: an officer who just took an
#: action waits for its documents, so this is seconds, not the 30 s of ``periodic``.
FREQUENT_EVERY_S = 2.0

_LAST_RENEWAL: dict[str, float] = {}
RENEW_EVERY_S = 24 * 3600.0


def frequent(services: Services) -> None:
    """Make the documents owed by cases with new events (rendered, sealed, signed, linked),
    and start and judge the watches' runs. Cheap when there is nothing to do: a few indexed
    queries."""
    try:
        generate_due(services)
    except Exception:
        log.exception("generating case documents failed; retrying later")
    try:
        watch_tick(services)
    except Exception:
        log.exception("running the watches failed; retrying later")


def periodic(services: Services) -> None:
    """Publish an STH when due (tree grew, last one older than 10 minutes) and, once a day per
    process, renew packages whose certificates near expiry and audit the log."""
    try:  # case events the log could not take when they were committed
        log_unlogged_events(case_context(services))
    except Exception:
        log.exception("logging pending case events failed; retrying later")
    cases = case_context(services)
    try:  # decisions due for publication, publications whose period ended (publicity.toml)
        done = publicity.run_due(cases, base_url=services.settings.effective_public_url)
        for case_id, why in done.failed:
            log.warning("case %s could not be published: %s", case_id, why)
    except Exception:
        log.exception("publishing or taking down decisions failed; retrying later")
    try:  # re-captures of taken-down listings that finished: their result on the case, even
        # when nobody opens the case page (the platform's deadline opens again if still there)
        platforms.record_rechecks(cases)
    except Exception:
        log.exception("recording the re-checks of taken-down listings failed; retrying later")
    pay = payment_context(services, cases)
    try:  # fines whose decision was served: the payment number the party pays with
        issue_due_notices(pay)
    except Exception:
        log.exception("issuing payment notices failed; retrying later")
    try:  # paid orders whose case action or receipt a stopped process left undone
        complete_pending(pay)
    except Exception:
        log.exception("finishing paid orders failed; retrying later")
    try:
        publish_tree_head_if_due(services)
    except Exception:
        log.exception("publishing the transparency log's tree head failed; retrying later")
    try:  # ended cases: their file sealed and archived once every event is under a tree head
        archive_ended_cases(services)
    except Exception:
        log.exception("archiving case files failed; retrying later")
    key = str(services.settings.data_dir)
    last = _LAST_RENEWAL.get(key)
    if last is not None and time.monotonic() - last < RENEW_EVERY_S:
        return
    _LAST_RENEWAL[key] = time.monotonic()
    try:
        renew_due(services)
    except Exception:
        log.exception("renewing archive time-stamps failed; retrying tomorrow")
    try:  # the subtree cache makes tampering with stored entries invisible to proofs of
        # other entries; the daily audit recomputes everything from the raw entries
        for problem in TransparencyLog(services).audit():
            log.error("transparency log audit: %s", problem)
    except Exception:
        log.exception("auditing the transparency log failed")
