"""Which deadlines a case runs: the table of ``deadlines.toml`` applied to a case's facts.

The deadline engine (``workflow.deadlines``) counts one period; this module says which
periods a case has, from which of its recorded dates, met by which, and when they apply
(the procedure, the decided penalty, the case not yet filed). It is data so that legal staff
can read and change it beside the rules it names; a table that names an unknown rule, fact
form or condition stops start-up with the entry's number.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from storage.models import Case
from workflow.deadlines import (
    Deadline,
    Suspension,
    SuspensionKind,
    due,
    fixed,
    get_rule,
    or_stated,
)

__all__ = [
    "TABLE_PATH",
    "CaseDeadline",
    "DeadlineTableError",
    "deadlines_of",
    "load_table",
    "table",
]

TABLE_PATH = Path(__file__).with_name("deadlines.toml")
_KEYS = {
    "rule", "fixed", "rule_id", "name_zh", "name_en", "source", "from", "met", "procedures",
    "penalties", "unfiled_in", "suspensions", "each", "stated",
}  # fmt: skip
_PROCEDURES = {"general", "simplified", "fast_track"}
_SUSPENSIONS = {"hearing"}


class DeadlineTableError(ValueError):
    """``deadlines.toml`` is malformed; the message names the entry."""


@dataclass(frozen=True)
class CaseDeadline:
    """One row of the table (see ``deadlines.toml`` for what each field means)."""

    start: str
    rule: str | None = None
    fixed: str | None = None
    rule_id: str = ""
    name_zh: str = ""
    name_en: str = ""
    source: str = ""
    met: str | None = None
    procedures: frozenset[str] | None = None
    penalties: frozenset[str] | None = None  # empty: any decided penalty
    unfiled_in: frozenset[str] | None = None
    suspensions: tuple[str, ...] = ()
    each: str | None = None
    stated: str | None = None

    def applies(self, case: Case, facts: Mapping[str, Any]) -> bool:
        if self.procedures is not None and case.procedure not in self.procedures:
            return False
        if self.unfiled_in is not None and (
            case.number is not None or case.state not in self.unfiled_in
        ):
            return False
        if self.penalties is not None:
            kind = (facts.get("decided_penalty") or {}).get("kind")
            if kind is None or (self.penalties and kind not in self.penalties):
                return False
        return True


def _set(value: Any, where: str, known: set[str] | None = None) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DeadlineTableError(f"{where}: a list of names")
    if known is not None and not set(value) <= known:
        raise DeadlineTableError(
            f"{where}: unknown {sorted(set(value) - known)}; known {sorted(known)}"
        )
    return frozenset(value)


def load_table(path: Path = TABLE_PATH) -> tuple[CaseDeadline, ...]:
    """Read and check the table; every rule it names must exist in ``rules.toml``."""
    try:
        rows = tomllib.loads(path.read_text(encoding="utf-8"))["deadline"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise DeadlineTableError(f"{path}: {exc}") from None
    out = []
    for n, row in enumerate(rows, 1):
        where = f"{path.name} deadline #{n}"
        unknown = set(row) - _KEYS
        if unknown:
            raise DeadlineTableError(f"{where}: unknown keys {sorted(unknown)}")
        kinds = [k for k in ("rule", "fixed", "each") if k in row]
        if len(kinds) != 1:
            raise DeadlineTableError(f"{where}: give exactly one of rule, fixed, each")
        if "from" not in row:
            raise DeadlineTableError(f"{where}: 'from' names the fact the period starts from")
        if "rule" in row:
            try:
                get_rule(row["rule"])
            except Exception as exc:  # the engine's own message names the rule
                raise DeadlineTableError(f"{where}: {exc}") from None
        if "fixed" in row and not all(row.get(k) for k in ("rule_id", "name_zh", "name_en")):
            raise DeadlineTableError(f"{where}: a fixed date needs rule_id, name_zh, name_en")
        penalties = row.get("penalties")
        out.append(
            CaseDeadline(
                start=row["from"],
                rule=row.get("rule"),
                fixed=row.get("fixed"),
                rule_id=row.get("rule_id", ""),
                name_zh=row.get("name_zh", ""),
                name_en=row.get("name_en", ""),
                source=row.get("source", ""),
                met=row.get("met"),
                procedures=_set(row["procedures"], where, _PROCEDURES)
                if "procedures" in row
                else None,
                penalties=frozenset()
                if penalties == "any"
                else (_set(penalties, where) if penalties is not None else None),
                unfiled_in=_set(row["unfiled_in"], where) if "unfiled_in" in row else None,
                suspensions=tuple(_set(row.get("suspensions", []), where, _SUSPENSIONS)),
                each=row.get("each"),
                stated=row.get("stated"),
            )
        )
    return tuple(out)


@cache
def table() -> tuple[CaseDeadline, ...]:
    return load_table()


def _date(facts: Mapping[str, Any], name: str | None) -> date | None:
    value = facts.get(name) if name else None
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _suspensions(names: Sequence[str], facts: Mapping[str, Any]) -> list[Suspension]:
    out = []
    if "hearing" in names:
        start = _date(facts, "hearing_requested_on")
        if start is not None:
            out.append(Suspension(SuspensionKind.HEARING, start, _date(facts, "hearing_held_on")))
    return out


def _one(
    row: CaseDeadline,
    rule: str | None,
    facts: Mapping[str, Any],
    entry: Mapping[str, Any],
    today: date,
) -> Deadline | None:
    started = _date(entry, row.start)
    if started is None:
        return None
    met = _date(entry, row.met)
    if row.fixed is not None:
        set_date = _date(entry, row.fixed)
        if set_date is None:
            return None
        return fixed(
            set_date, started, rule_id=row.rule_id, name_zh=row.name_zh, name_en=row.name_en,
            today=today, met_on=met, source=row.source,
        )  # fmt: skip
    assert rule is not None
    counted = due(rule, started, _suspensions(row.suspensions, facts), today=today, met_on=met)
    return or_stated(counted, _date(entry, row.stated))


def deadlines_of(case: Case, today: date) -> list[Deadline]:
    """The case's running (and met) deadlines, in the table's order."""
    facts = case.facts or {}
    out: list[Deadline] = []
    for row in table():
        if not row.applies(case, facts):
            continue
        if row.each is not None:
            for entry in (facts.get(row.each) or {}).values():
                if isinstance(entry, Mapping) and entry.get("rule"):
                    d = _one(row, str(entry["rule"]), facts, entry, today)
                    if d is not None:
                        out.append(d)
            continue
        d = _one(row, row.rule, facts, facts, today)
        if d is not None:
            out.append(d)
    return out
