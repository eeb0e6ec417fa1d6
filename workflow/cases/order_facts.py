"""What a confirmed order fact is on a case: a field read from a sealed capture of the case,
confirmed or corrected by an officer, with the pointer to where it came from.

Why an event and not a table: the facts are part of the case file a court reads. Recorded as
one event of the case's hash chain (``confirm_order_facts``), each fact keeps the capture's id
and package hash, the WARC record (id, target URI, byte offset and length in the WARC) and the
span of the payload it was read from, the value extracted and, when the officer corrected it,
the corrected value beside it, never in its place. A later event for the same field supersedes
the earlier one; neither is changed.

The proposals themselves are made elsewhere (reading a WARC is no business of the workflow):
the caller gives them as :class:`ProposedFact` with the officer's :class:`Decision` for each.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Case, CaseEvidence

from .service import Actor, CaseContext, PayloadError, record_event

__all__ = [
    "CONFIRM_ORDER_FACTS",
    "ConfirmedFact",
    "Decision",
    "ProposedFact",
    "SourcePointer",
    "confirmed_facts",
    "proposal_id",
    "record_order_facts",
]

#: The event that records order facts confirmed or corrected by an officer.
CONFIRM_ORDER_FACTS = "confirm_order_facts"
DECISIONS = ("confirm", "correct")
_MAX_VALUE = 500


@dataclass(frozen=True)
class SourcePointer:
    """Where a fact was read: the sealed package, its WARC and the record in it."""

    capture_id: str
    package_sha256: str
    warc_path: str
    record_id: str
    target_uri: str
    offset: int
    length: int
    span: tuple[int, int] | None


@dataclass(frozen=True)
class ProposedFact:
    """A field as extraction proposes it (``value`` normalised, ``source_text`` as on the page,
    the buyer's account redacted in both)."""

    id: str
    field: str
    value: str
    source_text: str
    method: str
    rule: str
    source: SourcePointer


@dataclass(frozen=True)
class Decision:
    """The officer's word on one proposal: ``confirm`` it, or ``correct`` it to ``value``
    (already normalised by the caller)."""

    proposal: str
    decision: Literal["confirm", "correct"]
    value: str | None = None


@dataclass(frozen=True)
class ConfirmedFact:
    """A fact as the case holds it (from its newest event for the capture and field)."""

    event_seq: int
    field: str
    value: str
    extracted: str
    corrected: str | None
    decision: str
    source_text: str
    method: str
    source: SourcePointer


def proposal_id(capture_id: str, record_id: str, field: str) -> str:
    """A stable id of a proposal: the same capture, record and field give the same id, so
    that a decision made on the page names what it decides even after re-extraction."""
    digest = hashlib.sha256(f"{capture_id}\n{record_id}\n{field}".encode()).hexdigest()
    return digest[:20]


def _checked(
    proposals: Sequence[ProposedFact], decisions: Sequence[Decision]
) -> list[dict[str, Any]]:
    by_id = {p.id: p for p in proposals}
    seen: set[str] = set()
    fields: set[tuple[str, str]] = set()
    out = []
    if not decisions:
        raise PayloadError("facts", "confirm or correct at least one proposed fact")
    for d in decisions:
        proposal = by_id.get(d.proposal)
        if proposal is None:
            raise PayloadError(
                "proposal", f"no proposed fact {d.proposal!r} in this capture: extract again"
            )
        if d.proposal in seen:
            raise PayloadError("proposal", f"{proposal.field}: decided twice")
        key = (proposal.source.record_id, proposal.field)
        if key in fields:
            raise PayloadError("proposal", f"{proposal.field}: decided twice")
        seen.add(d.proposal)
        fields.add(key)
        if d.decision not in DECISIONS:
            raise PayloadError("decision", f"{proposal.field}: confirm or correct")
        corrected = None
        if d.decision == "correct":
            corrected = (d.value or "").strip()
            if not corrected:
                raise PayloadError(
                    "value", f"{proposal.field}: a correction needs the corrected value"
                )
            if len(corrected) > _MAX_VALUE:
                raise PayloadError("value", f"{proposal.field}: at most {_MAX_VALUE} characters")
        source = asdict(proposal.source)
        source["span"] = list(proposal.source.span) if proposal.source.span else None
        out.append(
            {
                "field": proposal.field,
                "decision": d.decision,
                "extracted": proposal.value,
                "corrected": corrected,
                "value": corrected if corrected is not None else proposal.value,
                "source_text": proposal.source_text,
                "method": proposal.method,
                "rule": proposal.rule,
                "proposal": proposal.id,
                "source": source,
            }
        )
    return out


def record_order_facts(
    ctx: CaseContext,
    who: Actor,
    case_id: str,
    capture_id: str,
    proposals: Sequence[ProposedFact],
    decisions: Sequence[Decision],
) -> int:
    """Record the officer's decisions as one ``confirm_order_facts`` event; returns its number.

    Refused (:class:`PayloadError`, nothing kept) when the capture is not evidence of this
    case under the package the proposals were read from, a decision names no proposal or
    decides one twice, or a correction gives no value."""
    facts = _checked(proposals, decisions)
    hashes = {p.source.package_sha256 for p in proposals}

    def body(session: Session, case: Case) -> Mapping[str, Any]:
        linked = set(
            session.scalars(
                select(CaseEvidence.sha256).where(
                    CaseEvidence.case_id == case.id,
                    CaseEvidence.kind == "capture",
                    CaseEvidence.capture_id == capture_id,
                )
            )
        )
        if not linked:
            raise PayloadError("capture_id", f"capture {capture_id} is not evidence of this case")
        if not hashes <= linked:
            raise PayloadError(
                "capture_id",
                f"capture {capture_id}: the facts were read from a package the case does not hold",
            )
        return {
            "capture_id": capture_id,
            "package_sha256": next(iter(hashes)) if hashes else next(iter(linked)),
            "facts": facts,
        }

    seq = record_event(ctx, who, case_id, CONFIRM_ORDER_FACTS, body)
    assert seq is not None
    return seq


def _pointer(raw: Mapping[str, Any]) -> SourcePointer:
    span = raw.get("span")
    return SourcePointer(
        capture_id=str(raw.get("capture_id", "")),
        package_sha256=str(raw.get("package_sha256", "")),
        warc_path=str(raw.get("warc_path", "")),
        record_id=str(raw.get("record_id", "")),
        target_uri=str(raw.get("target_uri", "")),
        offset=int(raw.get("offset", 0)),
        length=int(raw.get("length", 0)),
        span=(int(span[0]), int(span[1])) if isinstance(span, list) and len(span) == 2 else None,
    )


def confirmed_facts(events: Iterable[Any]) -> list[ConfirmedFact]:
    """The order facts the case holds now, from its events (anything with ``seq``, ``action``
    and ``details``, e.g. :class:`workflow.cases.service.EventView`): for each capture, record
    and field the newest decision, in the order first recorded."""
    newest: dict[tuple[str, str, str], ConfirmedFact] = {}
    for event in events:
        if event.action != CONFIRM_ORDER_FACTS:
            continue
        for raw in event.details.get("facts", []):
            source = _pointer(raw.get("source", {}))
            fact = ConfirmedFact(
                event_seq=int(event.seq),
                field=str(raw.get("field", "")),
                value=str(raw.get("value", "")),
                extracted=str(raw.get("extracted", "")),
                corrected=raw.get("corrected"),
                decision=str(raw.get("decision", "")),
                source_text=str(raw.get("source_text", "")),
                method=str(raw.get("method", "")),
                source=source,
            )
            newest[(source.capture_id, source.record_id, fact.field)] = fact
    return list(newest.values())
