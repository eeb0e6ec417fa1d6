"""How well the screening finds professional claimants on complaints with known answers.

Precision (of the complaints flagged, how many were a professional's), recall (of the
professionals' complaints, how many were flagged) and F1, for the screening at its flag
score and, side by side, for the baseline a unit would otherwise use: the count-only rule
(flag a complaint when the same phone, ID number or e-mail filed at least ``min``
complaints of ``repeat_complainant`` within the period).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import ComplaintKey, ComplaintProfile

from .identifiers import IDENTITY_KINDS
from .rules import Operating, Rules

__all__ = ["Quality", "count_only_baseline", "quality"]


@dataclass(frozen=True)
class Quality:
    flagged: int
    true_positives: int
    positives: int
    precision: float
    recall: float
    f1: float


def quality(flags: Sequence[bool], truth: Sequence[bool]) -> Quality:
    """Precision, recall and F1 of ``flags`` against ``truth`` (same order)."""
    tp = sum(1 for f, t in zip(flags, truth, strict=True) if f and t)
    flagged, positives = sum(flags), sum(truth)
    precision = tp / flagged if flagged else 0.0
    recall = tp / positives if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Quality(flagged, tp, positives, precision, recall, f1)


def count_only_baseline(
    sessions: sessionmaker[Session], case_ids: Sequence[str], rules: Rules, operating: Operating
) -> list[bool]:
    """The count-only rule for each complaint (from the same index the screening uses)."""
    need = rules["repeat_complainant"].min
    period = timedelta(days=operating.period_days)
    with sessions() as session:
        when = dict(
            session.execute(select(ComplaintProfile.case_id, ComplaintProfile.received_at)).all()
        )
        by_key: dict[tuple[str, str], list[str]] = {}
        keys_of: dict[str, list[tuple[str, str]]] = {}
        for case_id, kind, value in session.execute(
            select(ComplaintKey.case_id, ComplaintKey.kind, ComplaintKey.value).where(
                ComplaintKey.kind.in_(IDENTITY_KINDS)
            )
        ):
            by_key.setdefault((kind, value), []).append(case_id)
            keys_of.setdefault(case_id, []).append((kind, value))
    out = []
    for case_id in case_ids:
        at = when[case_id]
        same = {
            other
            for key in keys_of.get(case_id, [])
            for other in by_key[key]
            if abs(when[other] - at) <= period
        }
        out.append(len(same | {case_id}) >= need)
    return out
