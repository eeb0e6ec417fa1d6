"""The party's record: earlier cases, complaints and decisions against the same operator, and
whether the violation at hand would be its first (首次违法: no earlier penalty decision).

What an officer may see follows the authorisation table: cases of their own unit in full;
of other units only decisions already published (行政处罚信息公示), which anyone may see.
"First violation" is therefore judged on what this unit can see, and the page says so.

A case concerns the operator when one of its parties has the operator's credit code (given
on the party, or through its portal account) or the case or a party names one of its shops
(compared by the normalised shop URL)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from storage.models import Case, CaseParty, Merchant, PublicityEntry
from workflow.register.urls import shop_key

__all__ = ["EarlierCase", "PartyRecord", "party_record"]


@dataclass(frozen=True)
class EarlierCase:
    case_id: str
    number: str | None
    title: str | None  # None for another unit's case (only its published decision is known)
    state: str | None
    source: str
    received_at: datetime
    own_unit: bool
    #: "penalty", "no_penalty" or None (not decided).
    decision: str | None
    penalty: dict[str, Any] | None
    decided_on: str | None
    matched_by: str

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "received_at": self.received_at.isoformat()}


@dataclass(frozen=True)
class PartyRecord:
    cases: list[EarlierCase]
    complaints: int
    decisions: int
    penalties: int

    @property
    def first_violation(self) -> bool:
        """No earlier penalty decision that this unit can see."""
        return self.penalties == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "cases": [c.as_json() for c in self.cases],
            "complaints": self.complaints,
            "decisions": self.decisions,
            "penalties": self.penalties,
            "first_violation": self.first_violation,
            "judged_on": "own unit's cases and other units' published decisions",
        }


def _key(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return shop_key(url).key
    except ValueError:
        return None


def _decision(facts: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    if facts.get("no_penalty_decision"):
        return "no_penalty", None
    penalty = facts.get("decided_penalty")
    if isinstance(penalty, dict) and penalty.get("kind"):
        return "penalty", penalty
    return None, None


def party_record(
    session: Session,
    *,
    unit_id: int | None,
    credit_code: str | None = None,
    shop_urls: Iterable[str] = (),
    exclude_case: str | None = None,
    before: datetime | None = None,
) -> PartyRecord:
    """The cases concerning the operator with ``credit_code`` or one of ``shop_urls``; with
    ``exclude_case``/``before`` only those received earlier than the case at hand."""
    found: dict[str, str] = {}
    code = (credit_code or "").strip().upper()
    if code:
        accounts = select(Merchant.id).where(Merchant.credit_code == code)
        for case_id in session.scalars(
            select(CaseParty.case_id).where(
                or_(CaseParty.credit_code == code, CaseParty.merchant_id.in_(accounts))
            )
        ):
            found.setdefault(case_id, "credit_code")
    keys = {k for k in (_key(u) for u in shop_urls) if k}
    if keys and unit_id is not None:
        # Pasted URLs are kept as typed, so they are compared normalised; the database first
        # narrows them to the shops' domains (``%taobao.com%``: every alias of a host ends in
        # it). Only this unit's cases are looked at (the others are not this officer's).
        domains = sorted({".".join(k.split("/", 1)[0].split(".")[-2:]) for k in keys})
        party_urls = session.execute(
            select(CaseParty.case_id, CaseParty.shop_url)
            .join(Case, Case.id == CaseParty.case_id)
            .where(
                Case.unit_id == unit_id,
                or_(
                    *(func.lower(CaseParty.shop_url).contains(d, autoescape=True) for d in domains)
                ),
            )
        )
        case_urls = session.execute(
            select(Case.id, Case.shop_url).where(
                Case.unit_id == unit_id,
                or_(*(func.lower(Case.shop_url).contains(d, autoescape=True) for d in domains)),
            )
        )
        for case_id, url in [*party_urls, *case_urls]:
            if _key(url) in keys:
                found.setdefault(case_id, "shop_url")
    found.pop(exclude_case or "", None)
    if not found:
        return PartyRecord([], 0, 0, 0)
    published = set(
        session.scalars(
            select(PublicityEntry.case_id).where(
                PublicityEntry.case_id.in_(list(found)), PublicityEntry.taken_down_at.is_(None)
            )
        )
    )
    out: list[EarlierCase] = []
    for case in session.scalars(select(Case).where(Case.id.in_(list(found)))):
        if before is not None and case.received_at >= before:
            continue
        own = unit_id is not None and case.unit_id == unit_id
        if not own and case.id not in published:
            continue
        decision, penalty = _decision(dict(case.facts or {}))
        out.append(
            EarlierCase(
                case_id=case.id,
                number=case.number,
                title=case.title if own else None,
                state=case.state if own else None,
                source=case.source,
                received_at=case.received_at,
                own_unit=own,
                decision=decision,
                penalty=penalty,
                decided_on=(case.facts or {}).get("decided_on"),
                matched_by=found[case.id],
            )
        )
    out.sort(key=lambda c: c.received_at, reverse=True)
    return PartyRecord(
        out,
        complaints=sum(1 for c in out if c.source == "complaint"),
        decisions=sum(1 for c in out if c.decision is not None),
        penalties=sum(1 for c in out if c.decision == "penalty"),
    )
