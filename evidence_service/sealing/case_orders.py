"""Order facts from a case's sealed captures: read the package from the store, extract the
facts from its WARC (:mod:`capture.order_facts`), and record what the officer confirmed or
corrected (:mod:`workflow.cases.order_facts`).

Why the proposals are read again when the officer decides, instead of trusting what the page
sent back: the case must record what the sealed package says, so the value extracted and its
pointer (record, offset, span) come from the package each time; the officer only adds a
decision and, for a correction, the corrected value (normalised like an extracted one, e.g.
``¥1,299`` -> ``1299.00 CNY``).
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from capture.order_facts import OrderPage, extract_order_facts
from capture.order_rules import NormaliseError, default_rules
from capture.wacz import WARC_PATH
from evidence_service.services import Services
from storage.errors import StorageError
from storage.models import Capture, CaseEvidence
from workflow.cases.order_facts import (
    Decision,
    ProposedFact,
    SourcePointer,
    proposal_id,
    record_order_facts,
)
from workflow.cases.service import Actor, CaseContext, PayloadError

__all__ = [
    "OrderFactsUnavailable",
    "Proposals",
    "confirm_order_facts",
    "propose_order_facts",
]


class OrderFactsUnavailable(Exception):
    """The capture's facts cannot be read now: ``code`` says why (``not_evidence``,
    ``not_sealed``, ``unreadable``), the message what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Proposals:
    capture_id: str
    package_sha256: str
    requested_url: str
    facts: tuple[ProposedFact, ...]


def _evidence_capture(services: Services, case_id: str, capture_id: str) -> Capture:
    with services.sessions() as session:
        linked = session.scalar(
            select(CaseEvidence.sha256).where(
                CaseEvidence.case_id == case_id,
                CaseEvidence.kind == "capture",
                CaseEvidence.capture_id == capture_id,
            )
        )
        cap = session.get(Capture, capture_id) if linked is not None else None
        if cap is not None:
            session.expunge(cap)
    if linked is None or cap is None:
        raise OrderFactsUnavailable(
            "not_evidence", f"capture {capture_id} is not evidence of this case: attach it first"
        )
    if cap.status != "stored" or not cap.package_key or cap.package_sha256 != linked:
        raise OrderFactsUnavailable(
            "not_sealed",
            f"capture {capture_id} has no sealed package matching the case's record "
            f"({cap.status}): order facts are read only from the sealed package",
        )
    return cap


def _pages(services: Services, cap: Capture) -> list[OrderPage]:
    assert cap.package_key is not None
    with tempfile.TemporaryFile() as tmp:
        try:
            services.store.copy_to(cap.package_key, tmp)
            tmp.seek(0)
            with zipfile.ZipFile(tmp) as package, package.open(WARC_PATH) as warc:
                return extract_order_facts(warc)
        except (StorageError, zipfile.BadZipFile, KeyError, OSError) as exc:
            raise OrderFactsUnavailable(
                "unreadable",
                f"the package of capture {cap.id} cannot be read ({exc}); try again later, or "
                "verify the package",
            ) from exc


def propose_order_facts(services: Services, case_id: str, capture_id: str) -> Proposals:
    """The facts the capture's sealed WARC shows, one proposal per page and field."""
    cap = _evidence_capture(services, case_id, capture_id)
    sha256 = cap.package_sha256 or ""
    facts = []
    for page in _pages(services, cap):
        for fact in page.facts:
            source = SourcePointer(
                capture_id=cap.id,
                package_sha256=sha256,
                warc_path=WARC_PATH,
                record_id=fact.record.record_id,
                target_uri=fact.record.target_uri,
                offset=fact.record.offset,
                length=fact.record.length,
                span=fact.span,
            )
            facts.append(
                ProposedFact(
                    id=proposal_id(cap.id, fact.record.record_id, fact.field),
                    field=fact.field,
                    value=fact.value,
                    source_text=fact.source_text,
                    method=fact.method,
                    rule=fact.rule,
                    source=source,
                )
            )
    return Proposals(cap.id, sha256, cap.requested_url, tuple(facts))


def confirm_order_facts(
    services: Services,
    ctx: CaseContext,
    who: Actor,
    case_id: str,
    capture_id: str,
    decisions: Sequence[Decision],
) -> int:
    """Record the decisions (corrections normalised first) as one case event; its number.
    :class:`PayloadError` names a bad decision, :class:`OrderFactsUnavailable` a capture
    that cannot be read."""
    proposals = propose_order_facts(services, case_id, capture_id)
    fields = {p.id: p.field for p in proposals.facts}
    rules = default_rules()
    normalised = []
    for d in decisions:
        if d.decision == "correct" and d.value and d.value.strip() and d.proposal in fields:
            try:
                value = rules.normalise(fields[d.proposal], d.value)
            except NormaliseError as exc:
                raise PayloadError("value", str(exc)) from None
            d = Decision(d.proposal, "correct", value)
        normalised.append(d)
    return record_order_facts(ctx, who, case_id, capture_id, proposals.facts, normalised)
