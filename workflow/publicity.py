"""Publicity of penalty decisions (行政处罚信息公示, step 13): publish, redact, take down.

A penalty decision is published within 20 working days of being made (rule ``publicity`` of
``workflow/deadlines/rules.toml``) on the public page and feed, with personal data redacted,
and shown until its publicity period ends (``publicity.toml``: periods by penalty, per the
SAMR publicity provisions, marked for legal staff to confirm); after that it is taken down.

What is published is a snapshot made at publication (:class:`storage.models.PublicityEntry`):
the content as it was redacted then, never re-rendered from the case, so what the public saw
is what the record says it saw. Redaction (``workflow/redaction.py``, rules in
``redaction.toml``):

* the names of natural persons known to the case (a person as party, legal representatives,
  the complainant) and names after a label (法定代表人：王小明) keep their surname only
  (张三 -> 张*, 欧阳娜娜 -> 欧阳**);
* 18-digit resident ID numbers, mobile numbers (with or without +86, grouped or not) and
  landline numbers (with an area code, or labelled as a phone) are replaced;
* addresses keep the district (区、县、旗) and lose what follows.

On schedule, without a person: :func:`run_due` (the service's housekeeping calls it every
minute or so, from any number of processes) publishes what is decided and not yet published
and takes down what expired. The ``publish`` step and the entry are written in one unit of
work with the case row locked, so a decision is published once however many run it at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db import session_scope
from storage.models import (
    Case,
    CaseDocument,
    CaseParty,
    Document,
    PublicityEntry,
    Unit,
    new_portal_id,
)
from workflow.cases import service as cases
from workflow.cases.process import ProcessError
from workflow.deadlines import due
from workflow.deadlines.counting import CHINA
from workflow.redaction import RedactionRules, mask_name, redact
from workflow.redaction import rules as redaction_rules

__all__ = [
    "RULES_PATH",
    "EntryNotFound",
    "PeriodRule",
    "PublicEntry",
    "PublicityError",
    "PublicityRules",
    "RunSummary",
    "count_entries",
    "entries",
    "entry",
    "feed",
    "last_day_of",
    "load_rules",
    "period_for",
    "publish",
    "publish_due",
    "rules",
    "run_due",
    "take_down_expired",
]

log = logging.getLogger(__name__)
RULES_PATH = Path(__file__).with_name("publicity.toml")
#: States in which a decided case may be published (process.toml's ``publish`` rows).
#: The event that records an entry taken down when its publicity period ended.
TAKE_DOWN = "take_down_publicity"

PUBLISHABLE_STATES = ("decided", "served", "paid", "enforcement_applied")


class PublicityError(Exception):
    """Publicity data or an operation that cannot be done, with a message to act on."""


class EntryNotFound(PublicityError, LookupError):
    """No published entry with this id -- or it was taken down (not told apart)."""


# -- the rules (data) --------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodRule:
    id: str
    penalty: str
    years: int
    zh: str
    en: str
    max_amount_fen: int | None = None
    confirmed: bool = False


@dataclass(frozen=True)
class PublicityRules:
    source: Mapping[str, Any]
    periods: tuple[PeriodRule, ...]
    #: What is redacted from every published text (``workflow/redaction.toml``).
    redaction: RedactionRules


def load_rules(path: Path = RULES_PATH) -> PublicityRules:
    """Read and check ``publicity.toml``; a broken period names its entry."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        periods = tuple(
            PeriodRule(
                id=p["id"],
                penalty=p["penalty"],
                years=int(p["years"]),
                zh=p["zh"],
                en=p["en"],
                max_amount_fen=p.get("max_amount_fen"),
                confirmed=bool(p.get("confirmed", False)),
            )
            for p in data["period"]
        )
        for p in periods:
            if p.penalty not in ("warning", "fine") or p.years <= 0:
                raise PublicityError(f"period {p.id}: penalty warning|fine, years > 0")
        return PublicityRules(
            source=dict(data["source"]),
            periods=periods,
            redaction=redaction_rules(),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, PublicityError):
            raise
        raise PublicityError(f"{path}: {exc!r} is missing or malformed") from None


@cache
def rules() -> PublicityRules:
    return load_rules()


def period_for(kind: str, amount_fen: int = 0, r: PublicityRules | None = None) -> PeriodRule:
    """The publicity period of a decided penalty: the first row of ``publicity.toml`` that
    matches."""
    for p in (r or rules()).periods:
        if p.penalty == kind and (p.max_amount_fen is None or amount_fen <= p.max_amount_fen):
            return p
    raise PublicityError(f"publicity.toml has no period for a {kind} of {amount_fen} fen")


def last_day_of(published_on: dt.date, years: int) -> dt.date:
    """The last day shown: the same calendar day ``years`` later (29 February: the 28th)."""
    try:
        return published_on.replace(year=published_on.year + years)
    except ValueError:
        return published_on.replace(year=published_on.year + years, day=28)


@dataclass(frozen=True)
class PublicEntry:
    """An entry as the public page and feed show it (already redacted)."""

    id: str
    decision_number: str
    unit_name: str
    decided_on: dt.date
    published_on: dt.date
    last_day: dt.date
    period_years: int
    period_zh: str
    period_en: str
    content: Mapping[str, Any]

    def to_json(self, base_url: str = "") -> dict[str, Any]:
        return {
            "id": self.id,
            "url": f"{base_url.rstrip('/')}/publicity/{self.id}",
            "decision_number": self.decision_number,
            "unit": self.unit_name,
            "decided_on": self.decided_on.isoformat(),
            "published_on": self.published_on.isoformat(),
            "shown_until": self.last_day.isoformat(),
            "period_years": self.period_years,
            **dict(self.content),
        }


def _yuan(fen: int) -> str:
    whole, part = divmod(fen, 100)
    return f"{whole}.{part:02d}"


def _decision_data(session: Any, case_id: str) -> dict[str, Any]:
    row = session.execute(
        select(Document.data)
        .join(CaseDocument, CaseDocument.document_id == Document.id)
        .where(CaseDocument.case_id == case_id, CaseDocument.template == "penalty_decision")
        .order_by(CaseDocument.event_seq.desc())
        .limit(1)
    ).first()
    return dict(row[0]) if row is not None and isinstance(row[0], Mapping) else {}


def _basis(items: Any) -> list[str]:
    out = []
    for item in items or []:
        if isinstance(item, Mapping):
            text = f"{item.get('rule', '')}{item.get('article', '')}".strip()
            if text:
                out.append(text)
    return out


def _content(session: Any, case: Case, r: PublicityRules) -> dict[str, Any]:
    """The redacted content of a case's decision as published."""
    facts = case.facts or {}
    penalty = facts.get("decided_penalty") or {}
    kind, amount = penalty.get("kind"), int(penalty.get("amount_fen") or 0)
    party_row = session.scalar(
        select(CaseParty).where(CaseParty.case_id == case.id).order_by(CaseParty.id)
    )
    decision = _decision_data(session, case.id)
    given = decision.get("party")
    doc_party: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    person = case.party_kind == "natural_person" or doc_party.get("kind") == "individual"
    party_name = (party_row.name if party_row is not None else None) or doc_party.get("name") or ""
    names = [case.complainant_name or "", str(doc_party.get("legal_representative") or "")]
    if person:
        names += [party_name, str(doc_party.get("name") or "")]
    party: dict[str, Any] = {
        "kind": "natural_person" if person else "organisation",
        "name": mask_name(party_name, r.redaction)
        if person
        else redact(party_name, names=names, r=r.redaction),
    }
    if not person:
        code = (party_row.credit_code if party_row is not None else None) or doc_party.get(
            "credit_code"
        )
        if code:
            party["credit_code"] = code
        if doc_party.get("legal_representative"):
            party["legal_representative"] = mask_name(
                str(doc_party["legal_representative"]), r.redaction
            )
        for key in ("shop_name", "platform"):
            if doc_party.get(key):
                party[key] = redact(str(doc_party[key]), names=names, r=r.redaction)
    if doc_party.get("address"):
        party["address"] = redact(str(doc_party["address"]), names=names, r=r.redaction)
    described = (
        {"zh": "警告", "en": "warning"}
        if kind == "warning"
        else {"zh": f"罚款 {_yuan(amount)} 元", "en": f"fine of {_yuan(amount)} yuan"}
    )
    facts_text = str(decision.get("facts") or case.summary or "")
    return {
        "title": redact(case.title, names=names, r=r.redaction),
        "party": party,
        "facts": redact(facts_text, names=names, r=r.redaction),
        "violated_provisions": [
            redact(b, names=names, r=r.redaction)
            for b in _basis(decision.get("violated_provisions"))
        ],
        "legal_basis": [
            redact(b, names=names, r=r.redaction) for b in _basis(decision.get("legal_basis"))
        ],
        "penalty": {"kind": kind, "amount_fen": amount if kind == "fine" else 0, **described},
    }


def _entry_values(session: Session, case: Case, today: dt.date) -> dict[str, Any]:
    """The entry of a case's decision as it is published today (the redacted snapshot)."""
    r = rules()
    facts = case.facts or {}
    decided = facts.get("decided_on")
    penalty = facts.get("decided_penalty") or {}
    if not decided or penalty.get("kind") not in ("warning", "fine") or case.number is None:
        raise PublicityError(f"case {case.id} has no penalty decision to publish")
    decided_on = dt.date.fromisoformat(decided)
    published_on = dt.date.fromisoformat(facts.get("published_on") or today.isoformat())
    period = period_for(penalty["kind"], int(penalty.get("amount_fen") or 0), r)
    return {
        "case_id": case.id,
        "unit_id": case.unit_id,
        "decision_number": case.number,
        "decided_on": decided_on,
        "published_on": published_on,
        "due_on": due("publicity", decided_on).due_date,
        "last_day": last_day_of(published_on, period.years),
        "period_rule": period.id,
        "period_years": period.years,
        "content": _content(session, case, r),
    }


def _entry_of(session: Session, case_id: str) -> str | None:
    return session.scalar(select(PublicityEntry.id).where(PublicityEntry.case_id == case_id))


def _store_entry(ctx: cases.CaseContext, case_id: str) -> tuple[str, bool]:
    """The entry of a case whose ``publish`` step was taken already (e.g. by an officer in
    the console) but whose snapshot was not made: made from its decision now (idempotent)."""
    try:
        with session_scope(ctx.sessions) as session:
            existing = _entry_of(session, case_id)
            if existing is not None:
                return existing, False
            case = session.get(Case, case_id)
            if case is None:
                raise EntryNotFound(f"no case {case_id}")
            row = PublicityEntry(
                id=new_portal_id(),
                published_at=ctx.now(),
                **_entry_values(session, case, ctx.today()),
            )
            session.add(row)
            session.flush()
            return row.id, True
    except IntegrityError:  # published meanwhile by another process
        with ctx.sessions() as session:
            made = _entry_of(session, case_id)
            if made is None:
                raise
            return made, False


class _AlreadyPublished(Exception):
    """Another call published the case first (its entry id): nothing to do."""

    def __init__(self, entry_id: str) -> None:
        super().__init__(entry_id)
        self.entry_id = entry_id


def publish(ctx: cases.CaseContext, who: cases.Actor, case_id: str, *, base_url: str = "") -> str:
    """Publish the case's penalty decision: see :func:`_publish`. Returns the entry id."""
    return _publish(ctx, who, case_id, base_url)[0]


def _publish(
    ctx: cases.CaseContext, who: cases.Actor, case_id: str, base_url: str
) -> tuple[str, bool]:
    """Publish the case's penalty decision: the ``publish`` action (the process's guards
    decide whether it may be taken; its event keeps the entry's address when ``base_url`` is
    given) and the redacted snapshot, in one unit of work: both or neither. Returns the entry
    id and whether this call published it; a case published before returns its entry without
    acting again, even when two processes publish it at the same moment (the case row is
    locked while the entry is looked for and written, and ``publicity_entries.case_id`` is
    unique)."""
    with ctx.sessions() as session:
        case = session.get(Case, case_id)
        if case is None or (who.unit_id is not None and case.unit_id != who.unit_id):
            raise cases.CaseNotFound(f"no case {case_id}")
        existing = _entry_of(session, case_id)
        already = bool((case.facts or {}).get("published"))
    if existing is not None:
        return existing, False
    if already:  # the step is in the case's record; only the snapshot is missing
        return _store_entry(ctx, case_id)
    entry_id = new_portal_id()
    url = f"{base_url.rstrip('/')}/publicity/{entry_id}" if base_url else ""
    accepted = set(getattr(cases.effects().get("publish"), "notes", ()))

    def keep(session: Session, case: Case) -> None:
        found = _entry_of(session, case_id)
        if found is not None:
            raise _AlreadyPublished(found)
        values = _entry_values(session, case, ctx.today())
        session.add(PublicityEntry(id=entry_id, published_at=ctx.now(), **values))
        session.flush()

    try:
        cases.act(
            ctx,
            who,
            case_id,
            "publish",
            {"url": url} if url and "url" in accepted else {},
            also=keep,
        )
    except _AlreadyPublished as done:
        return done.entry_id, False
    except IntegrityError:  # PostgreSQL: the other process's entry won the unique case_id
        with ctx.sessions() as session:
            made = _entry_of(session, case_id)
        if made is None:
            raise
        return made, False
    return entry_id, True


def _publish_due(ctx: cases.CaseContext, base_url: str) -> tuple[list[str], list[tuple[str, str]]]:
    with ctx.sessions() as session:
        published = select(PublicityEntry.case_id)
        rows = session.execute(
            select(Case.id, Case.unit_id, Case.facts).where(
                Case.state.in_(PUBLISHABLE_STATES), Case.id.not_in(published)
            )
        ).all()
    made: list[str] = []
    failed: list[tuple[str, str]] = []
    for case_id, unit_id, facts in rows:
        f = facts or {}
        if f.get("no_penalty_decision") or (f.get("decided_penalty") or {}).get("kind") is None:
            continue
        who = cases.Actor("system", "公示（系统）/ publicity job", "system", unit_id)
        try:
            entry_id, now_published = _publish(ctx, who, case_id, base_url)
        except (ProcessError, PublicityError, cases.CaseError) as exc:  # the others still go
            log.warning("case %s not published: %s", case_id, exc)
            failed.append((case_id, str(exc)))
            continue
        if now_published:  # not one that another process published meanwhile
            made.append(entry_id)
    return made, failed


def publish_due(ctx: cases.CaseContext, *, base_url: str = "") -> list[str]:
    """Publish (as ``system``) every penalty decision not yet published: the job that keeps
    the 20-working-day limit. Returns the entries published by this call."""
    return _publish_due(ctx, base_url)[0]


@dataclass(frozen=True)
class RunSummary:
    """What one :func:`run_due` did: the entries it published (ids), how many it took down,
    and the decisions it could not publish (case id, why), which are tried again next time."""

    as_of: dt.date
    published: tuple[str, ...]
    taken_down: int
    failed: tuple[tuple[str, str], ...] = ()


def run_due(
    ctx: cases.CaseContext, now: dt.datetime | None = None, *, base_url: str = ""
) -> RunSummary:
    """Publicity without a person, for the service's housekeeping loop: publish every decided
    penalty not yet published (the ``publish`` step taken by ``system``, in the case's chain,
    well within the 20 working days) and take down the entries whose period ended.

    Idempotent and safe to run every minute from several processes at once: what is
    published and taken down is decided in the database (the case row locked while its
    entry is looked for and written, a unique entry per case, a takedown that updates only
    entries still shown), never in memory. ``now`` (default: the context's clock) is the
    moment it runs as, for the event times and the day that decides what expired.
    ``base_url``: the service's public address, for the entry's address in the event."""
    if now is not None:
        moment = now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)
        ctx = dataclasses.replace(
            ctx, now=lambda: moment, today=lambda: moment.astimezone(CHINA).date()
        )
    made, failed = _publish_due(ctx, base_url)
    taken = take_down_expired(ctx)
    return RunSummary(ctx.today(), tuple(made), taken, tuple(failed))


def _visible(today: dt.date) -> Any:
    return (PublicityEntry.last_day >= today) & PublicityEntry.taken_down_at.is_(None)


def _public(row: PublicityEntry, unit_name: str, r: PublicityRules) -> PublicEntry:
    period = next((p for p in r.periods if p.id == row.period_rule), None)
    return PublicEntry(
        id=row.id,
        decision_number=row.decision_number,
        unit_name=unit_name,
        decided_on=row.decided_on,
        published_on=row.published_on,
        last_day=row.last_day,
        period_years=row.period_years,
        period_zh=period.zh if period else row.period_rule,
        period_en=period.en if period else row.period_rule,
        content=dict(row.content),
    )


def entries(
    ctx: cases.CaseContext, *, today: dt.date | None = None, limit: int = 50, offset: int = 0
) -> list[PublicEntry]:
    """The entries shown today, newest first (taken-down ones are not)."""
    day = today or ctx.today()
    r = rules()
    with ctx.sessions() as session:
        rows = session.execute(
            select(PublicityEntry, Unit.name)
            .join(Unit, Unit.id == PublicityEntry.unit_id)
            .where(_visible(day))
            .order_by(PublicityEntry.published_on.desc(), PublicityEntry.published_at.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        return [_public(row, name, r) for row, name in rows]


def count_entries(ctx: cases.CaseContext, *, today: dt.date | None = None) -> int:
    day = today or ctx.today()
    with ctx.sessions() as session:
        q = select(func.count()).select_from(PublicityEntry).where(_visible(day))
        return int(session.scalar(q) or 0)


def entry(ctx: cases.CaseContext, entry_id: str, *, today: dt.date | None = None) -> PublicEntry:
    day = today or ctx.today()
    with ctx.sessions() as session:
        found = session.execute(
            select(PublicityEntry, Unit.name)
            .join(Unit, Unit.id == PublicityEntry.unit_id)
            .where(PublicityEntry.id == entry_id, _visible(day))
        ).first()
        if found is None:
            raise EntryNotFound(f"no published decision {entry_id}")
        return _public(found[0], found[1], rules())


def feed(
    ctx: cases.CaseContext, base_url: str, *, today: dt.date | None = None, limit: int = 500
) -> dict[str, Any]:
    """The JSON feed: the source of the rules, and every entry shown today."""
    day = today or ctx.today()
    r = rules()
    shown: Sequence[PublicEntry] = entries(ctx, today=day, limit=limit)
    return {
        "title": "行政处罚信息公示 / Published penalty decisions",
        "as_of": day.isoformat(),
        "source": {
            "name_zh": r.source.get("name_zh"),
            "name_en": r.source.get("name_en"),
            "confirmed": bool(r.source.get("confirmed", False)),
        },
        "entries": [e.to_json(base_url) for e in shown],
    }


def take_down_expired(ctx: cases.CaseContext, *, today: dt.date | None = None) -> int:
    """Take down the entries whose period ended: each is marked and recorded in its case's
    chain as ``take_down_publicity`` (by ``system``: which entry, its last day, the period's
    rule), so the case file shows when the decision stopped being public. An expired entry is
    not shown from the day after its last day whether or not this ran; this records when it
    went. Each entry is marked by one UPDATE of an entry still shown, inside the event's unit
    of work with its case locked, so two processes running it at once take it down, and
    record it, once; the count says how many this call took down."""
    day = today or ctx.today()
    with ctx.sessions() as session:
        due_rows = session.execute(
            select(PublicityEntry.id, PublicityEntry.case_id, PublicityEntry.unit_id).where(
                PublicityEntry.last_day < day, PublicityEntry.taken_down_at.is_(None)
            )
        ).all()
    taken = 0
    for entry_id, case_id, unit_id in due_rows:
        who = cases.Actor("system", "公示（系统）/ publicity job", "system", unit_id)

        def mark(session: Session, case: Case, entry_id: str = entry_id) -> dict[str, Any] | None:
            result = session.execute(
                update(PublicityEntry)
                .where(PublicityEntry.id == entry_id, PublicityEntry.taken_down_at.is_(None))
                .values(taken_down_at=ctx.now())
                .execution_options(synchronize_session=False)
            )
            if not getattr(result, "rowcount", 0):
                return None  # another process took it down meanwhile
            row = session.get(PublicityEntry, entry_id)
            assert row is not None
            return {
                "publicity_entry": entry_id,
                "decision_number": row.decision_number,
                "published_on": row.published_on.isoformat(),
                "last_day": row.last_day.isoformat(),
                "period_rule": row.period_rule,
            }

        if cases.record_event(ctx, who, case_id, TAKE_DOWN, mark) is not None:
            taken += 1
    return taken
