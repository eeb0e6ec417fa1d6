"""Screening one complaint: the facts found, the score they give, the result kept.

A screening never decides anything about the complaint: it stores a score and the facts
behind it, each pointing at the other complaints it rests on, for the officer to weigh. It
runs when a complaint arrives (the public form) and whenever an officer asks; every run is a
new row (``complaint_screenings``), the newest being the complaint's. Others count if they
arrived within the period before *or after* the complaint, so a screening asked for later
also sees the complaints that followed it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from storage.db import session_scope
from storage.models import Case, ComplaintKey, ComplaintProfile, ComplaintScreening

from . import text
from .identifiers import IDENTITY_KINDS
from .index import BEIJING, TEXT_KIND, index_complaint
from .rules import FactRule, Operating, Rules

__all__ = [
    "KIND_NAMES",
    "TRIGGERS",
    "NotAComplaint",
    "PointsAt",
    "ScreenedCount",
    "Screener",
    "ScreeningFact",
    "ScreeningResult",
    "count_screened",
    "latest",
    "screen",
]

TRIGGERS = ("arrival", "on_demand", "batch")
#: How the identifier kinds are named in explanations.
KIND_NAMES: dict[str, tuple[str, str]] = {
    "phone": ("电话", "phone"),
    "email": ("邮箱", "e-mail"),
    "id_number": ("身份证号", "ID number"),
    "address": ("地址", "address"),
}
#: At most this many other complaints are kept per fact (the counts are exact).
MAX_POINTERS = 30


class NotAComplaint(LookupError):
    """The case is no complaint (or does not exist): only complaints are screened."""


@dataclass(frozen=True)
class Screener:
    """What a screening needs: the database, the rules, the operating point, the clock."""

    sessions: sessionmaker[Session]
    rules: Rules
    operating: Operating = field(default_factory=Operating)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def version(self) -> str:
        return f"{self.rules.label}/flag{self.operating.flag_score}/p{self.operating.period_days}"


@dataclass(frozen=True)
class PointsAt:
    """Another complaint a fact rests on, and why (``why``: the identifier or similarity)."""

    case_id: str
    unit_id: int
    received_at: datetime
    name: str | None
    merchant: str
    why: str

    def to_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "unit_id": self.unit_id,
            "received_at": self.received_at.isoformat(),
            "name": self.name,
            "merchant": self.merchant,
            "why": self.why,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PointsAt:
        return cls(
            data["case_id"],
            int(data["unit_id"]),
            datetime.fromisoformat(data["received_at"]),
            data.get("name"),
            data.get("merchant", ""),
            data.get("why", ""),
        )


@dataclass(frozen=True)
class ScreeningFact:
    """One finding: its points (weight x strength), the values its explanation states, the
    explanation in Chinese and English, and the complaints it points at."""

    fact: str
    points: float
    strength: float
    values: dict[str, Any]
    zh: str
    en: str
    points_at: list[PointsAt]

    def to_json(self) -> dict[str, Any]:
        return {
            "fact": self.fact,
            "points": self.points,
            "strength": self.strength,
            "values": self.values,
            "zh": self.zh,
            "en": self.en,
            "points_at": [p.to_json() for p in self.points_at],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScreeningFact:
        return cls(
            data["fact"],
            float(data["points"]),
            float(data["strength"]),
            dict(data.get("values") or {}),
            data.get("zh", ""),
            data.get("en", ""),
            [PointsAt.from_json(p) for p in data.get("points_at") or []],
        )


@dataclass(frozen=True)
class ScreeningResult:
    id: int
    case_id: str
    unit_id: int
    score: int
    flagged: bool
    flag_score: int
    period_days: int
    version: str
    facts: list[ScreeningFact]
    trigger: str
    screened_by: str
    screened_at: datetime

    @classmethod
    def of(cls, row: ComplaintScreening) -> ScreeningResult:
        return cls(
            row.id,
            row.case_id,
            row.unit_id,
            row.score,
            row.flagged,
            row.flag_score,
            row.period_days,
            row.version,
            [ScreeningFact.from_json(f) for f in row.facts or []],
            row.trigger,
            row.screened_by,
            row.screened_at,
        )


# -- the facts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Other:
    case_id: str
    unit_id: int
    received_at: datetime
    name_key: str | None
    merchant_key: str
    purchased_on: date | None
    folded: str = ""


def _others(session: Session, ids: Sequence[str], lo: datetime, hi: datetime) -> dict[str, _Other]:
    if not ids:
        return {}
    out: dict[str, _Other] = {}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        rows = session.execute(
            select(
                ComplaintProfile.case_id,
                ComplaintProfile.unit_id,
                ComplaintProfile.received_at,
                ComplaintProfile.name_key,
                ComplaintProfile.merchant_key,
                ComplaintProfile.purchased_on,
            ).where(
                ComplaintProfile.case_id.in_(chunk),
                ComplaintProfile.received_at >= lo,
                ComplaintProfile.received_at <= hi,
            )
        )
        for r in rows:
            out[r[0]] = _Other(*r)
    return out


def _explain(rule: FactRule, values: dict[str, Any]) -> tuple[str, str]:
    zh_values = {k: (v[0] if isinstance(v, tuple) else v) for k, v in values.items()}
    en_values = {k: (v[1] if isinstance(v, tuple) else v) for k, v in values.items()}
    return rule.zh.format(**zh_values), rule.en.format(**en_values)


def _fact(
    rule: FactRule, measure: float, values: dict[str, Any], points_at: list[PointsAt]
) -> ScreeningFact | None:
    strength = rule.strength(measure)
    if strength <= 0:
        return None
    zh, en = _explain(rule, values)
    stored = {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()}
    points = round(rule.weight * strength, 1)
    return ScreeningFact(
        rule.name, points, round(strength, 3), stored, zh, en, points_at[:MAX_POINTERS]
    )


def _pointer(o: _Other, names: dict[str, str | None], why: str) -> PointsAt:
    return PointsAt(o.case_id, o.unit_id, o.received_at, names.get(o.case_id), o.merchant_key, why)


def _mask(kind: str, value: str) -> str:
    """An identifier as shown in an explanation: enough to recognise, not the whole."""
    if kind == "phone" and len(value) >= 11:
        return value[:3] + "****" + value[-4:]
    if kind == "id_number":
        return value[:6] + "********" + value[-4:]
    if kind == "email" and "@" in value:
        local, domain = value.split("@", 1)
        return local[:2] + "***@" + domain
    return value


def _gap(received: datetime, purchased: date | None) -> int | None:
    if purchased is None:
        return None
    return (received.astimezone(BEIJING).date() - purchased).days


def compute(
    session: Session, case: Case, rules: Rules, operating: Operating
) -> tuple[int, list[ScreeningFact]]:
    """The score and the facts of one complaint, from the index (its own profile and keys
    written first if missing)."""
    me = index_complaint(session, case, rules)
    period = timedelta(days=operating.period_days)
    lo, hi = me.received_at - period, me.received_at + period
    mine = list(
        session.execute(
            select(ComplaintKey.kind, ComplaintKey.value).where(ComplaintKey.case_id == me.case_id)
        )
    )
    identifiers = [(k, v) for k, v in mine if k != TEXT_KIND]
    text_keys = [v for k, v in mine if k == TEXT_KIND]

    linked: dict[str, list[tuple[str, str]]] = {}
    if identifiers:
        rows = session.execute(
            select(ComplaintKey.case_id, ComplaintKey.kind, ComplaintKey.value).where(
                or_(
                    *(and_(ComplaintKey.kind == k, ComplaintKey.value == v) for k, v in identifiers)
                ),
                ComplaintKey.case_id != me.case_id,
            )
        )
        for case_id, kind, value in rows:
            linked.setdefault(case_id, []).append((kind, value))

    candidates: list[str] = []
    rule_dup = rules["near_duplicate_text"]
    if len(me.folded) >= rule_dup.number("min_chars") and text_keys:
        shared = func.count()
        candidates = list(
            session.scalars(
                select(ComplaintKey.case_id)
                .where(
                    ComplaintKey.kind == TEXT_KIND,
                    ComplaintKey.value.in_(text_keys),
                    ComplaintKey.case_id != me.case_id,
                )
                .group_by(ComplaintKey.case_id)
                .having(shared >= text.MIN_SHARED)
                .order_by(shared.desc())
                .limit(int(rule_dup.number("candidates")))
            )
        )
    others = _others(session, sorted(set(linked) | set(candidates)), lo, hi)
    names = (
        dict(
            session.execute(
                select(Case.id, Case.complainant_name).where(Case.id.in_(list(others)))
            ).all()
        )
        if others
        else {}
    )
    facts: list[ScreeningFact | None] = []
    days = operating.period_days

    # the same person: linked by phone, ID number or e-mail
    person = {
        cid: kinds
        for cid, kinds in linked.items()
        if cid in others and any(k in IDENTITY_KINDS for k, _ in kinds)
    }
    rule = rules["repeat_complainant"]
    merchants = {me.merchant_key, *(others[c].merchant_key for c in person)}
    units = {me.unit_id, *(others[c].unit_id for c in person)}
    count = len(person) + 1
    if len(merchants) >= rule.number("min_merchants"):
        pointers = [
            _pointer(
                others[c],
                names,
                ", ".join(sorted({k for k, _ in person[c] if k in IDENTITY_KINDS})),
            )
            for c in sorted(person, key=lambda c: others[c].received_at)
        ]
        facts.append(
            _fact(
                rule,
                count,
                {"count": count, "days": days, "merchants": len(merchants), "units": len(units)},
                pointers,
            )
        )

    # one identifier behind many names
    rule = rules["shared_identifier"]
    best: tuple[int, str, str, list[str]] | None = None
    for kind, value in identifiers:
        behind = [c for c, kinds in linked.items() if c in others and (kind, value) in kinds]
        named = {others[c].name_key for c in behind} | {me.name_key}
        named.discard(None)
        if best is None or len(named) > best[0]:
            best = (len(named), kind, value, behind)
    if best is not None:
        n, kind, value, behind = best
        pointers = [
            _pointer(others[c], names, KIND_NAMES[kind][1])
            for c in sorted(behind, key=lambda c: others[c].received_at)
            if others[c].name_key != me.name_key
        ]
        facts.append(
            _fact(
                rule,
                n,
                {"what": KIND_NAMES[kind], "value": _mask(kind, value), "count": n},
                pointers,
            )
        )

    # near-duplicate texts (a re-submission by the same person against the same merchant
    # is not counted: it is one complaint told twice)
    if candidates:
        cutoff = rule_dup.number("min_similarity")
        texts = dict(
            session.execute(
                select(ComplaintProfile.case_id, ComplaintProfile.folded).where(
                    ComplaintProfile.case_id.in_([c for c in candidates if c in others])
                )
            ).all()
        )
        dups: list[tuple[float, _Other, bool]] = []
        for cid, folded in texts.items():
            score = text.similarity(me.folded, folded, cutoff)
            if score < cutoff:
                continue
            o = others[cid]
            same = cid in person or (me.name_key is not None and o.name_key == me.name_key)
            if same and o.merchant_key == me.merchant_key:
                continue
            dups.append((score, o, same))
        dups.sort(key=lambda d: (-d[0], d[1].received_at))
        pointers = [
            _pointer(o, names, f"{score:.0f}%" + (" same" if same else " other"))
            for score, o, same in dups
        ]
        facts.append(
            _fact(
                rule_dup,
                len(dups),
                {
                    "count": len(dups),
                    "others": sum(1 for d in dups if not d[2]),
                    "similarity": int(cutoff),
                },
                pointers,
            )
        )

    # buying and complaining within days, many times
    rule = rules["purchase_then_complain"]
    quick = rule.number("max_days")
    gap = _gap(me.received_at, me.purchased_on)
    if gap is not None and 0 <= gap <= quick:
        fast = [
            c
            for c in person
            if (g := _gap(others[c].received_at, others[c].purchased_on)) is not None
            and 0 <= g <= quick
        ]
        pointers = [
            _pointer(others[c], names, f"{_gap(others[c].received_at, others[c].purchased_on)}d")
            for c in sorted(fast, key=lambda c: others[c].received_at)
        ]
        facts.append(
            _fact(rule, len(fast) + 1, {"gap": gap, "count": len(fast) + 1, "days": days}, pointers)
        )

    # a demand for punitive compensation
    rule = rules["compensation_demand"]
    said = "".join(unicodedata.normalize("NFKC", f"{case.title}{case.summary or ''}").split())
    words = [
        w
        for w in rule.extra["keywords"]
        if "".join(unicodedata.normalize("NFKC", w).split()) in said
    ]
    facts.append(_fact(rule, len(words), {"keywords": "、".join(words)}, []))

    kept = [f for f in facts if f is not None]
    kept.sort(key=lambda f: -f.points)
    score = int(min(100, round(sum(f.points for f in kept))))
    return score, kept


def screen(screener: Screener, case_id: str, *, trigger: str, by: str) -> ScreeningResult:
    """Screen the complaint and keep the result (a new row). Raises :class:`NotAComplaint`."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}")
    with session_scope(screener.sessions) as session:
        case = session.get(Case, case_id)
        if case is None or case.source != "complaint":
            raise NotAComplaint(f"case {case_id} is no complaint: only complaints are screened")
        score, facts = compute(session, case, screener.rules, screener.operating)
        row = ComplaintScreening(
            case_id=case.id,
            unit_id=case.unit_id,
            version=screener.version,
            score=score,
            flag_score=screener.operating.flag_score,
            flagged=score >= screener.operating.flag_score,
            period_days=screener.operating.period_days,
            facts=[f.to_json() for f in facts],
            trigger=trigger,
            screened_by=by[:200],
            screened_at=screener.now(),
        )
        session.add(row)
        session.flush()
        return ScreeningResult.of(row)


def latest(sessions: sessionmaker[Session], case_id: str) -> ScreeningResult | None:
    """The complaint's newest screening, or None if it was never screened."""
    with sessions() as session:
        row = session.scalar(
            select(ComplaintScreening)
            .where(ComplaintScreening.case_id == case_id)
            .order_by(ComplaintScreening.id.desc())
            .limit(1)
        )
        return ScreeningResult.of(row) if row is not None else None


@dataclass(frozen=True)
class ScreenedCount:
    complaints: int
    screened: int
    flagged: int


def count_screened(
    sessions: sessionmaker[Session], unit_id: int | None, since: datetime, until: datetime
) -> ScreenedCount:
    """For the unit's figures: complaints received in [since, until), how many of them were
    screened, and how many of those the newest screening flagged."""
    with sessions() as session:
        cases = select(Case.id).where(
            Case.source == "complaint", Case.received_at >= since, Case.received_at < until
        )
        if unit_id is not None:
            cases = cases.where(Case.unit_id == unit_id)
        ids = cases.subquery()
        newest = (
            select(func.max(ComplaintScreening.id))
            .where(ComplaintScreening.case_id.in_(select(ids.c.id)))
            .group_by(ComplaintScreening.case_id)
            .subquery()
        )
        complaints = session.scalar(select(func.count()).select_from(ids)) or 0
        screened = session.scalar(select(func.count()).select_from(newest)) or 0
        flagged = (
            session.scalar(
                select(func.count())
                .select_from(ComplaintScreening)
                .where(ComplaintScreening.id.in_(select(newest.c[0])), ComplaintScreening.flagged)
            )
            or 0
        )
    return ScreenedCount(int(complaints), int(screened), int(flagged))
