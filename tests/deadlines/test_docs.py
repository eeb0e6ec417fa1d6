"""docs/deadlines.md stays true: its worked examples are computed here with the same function,
and its rules table lists every rule of rules.toml with its length and unit."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from workflow.deadlines import (
    Approver,
    Extension,
    Period,
    PeriodUnit,
    Suspension,
    SuspensionKind,
    due,
    rules,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "deadlines.md"
ROW = re.compile(r"^\| (\d+) \| (\d{4}-\d\d-\d\d) \| (.+?) \| (\S+) \| .+ \|$")
ISO = r"(\d{4}-\d\d-\d\d)"


def _examples() -> list[tuple[str, date, str, str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### Worked examples", 1)[1].split("\n## ", 1)[0]
    rows = [ROW.match(line) for line in section.splitlines() if line.startswith("| ")]
    found = [(m[1], date.fromisoformat(m[2]), m[3], m[4]) for m in rows if m]
    assert len(found) >= 10, "the worked examples table is missing or unreadable"
    return found


def _compute(event: date, period: str) -> date | None:
    """Read a period column: ``7 working days``, ``4 calendar days``, ```decision```,
    ```decision`; hearing D to D``, ```decision`; +30 head_of_unit D``."""
    target, *extras = [part.strip() for part in period.split(";")]
    suspensions, extensions = [], []
    for extra in extras:
        if m := re.fullmatch(rf"(\w+) {ISO} to {ISO}", extra):
            start, end = date.fromisoformat(m[2]), date.fromisoformat(m[3])
            suspensions.append(Suspension(SuspensionKind(m[1]), start, end))
        elif m := re.fullmatch(rf"\+(\d+) (\w+) {ISO}", extra):
            on = date.fromisoformat(m[3])
            extensions.append(Extension(int(m[1]), "doc", Approver(m[2]), on, "doc example"))
        else:
            raise AssertionError(f"cannot read {extra!r} in the examples table")
    if m := re.fullmatch(r"(\d+) (working|calendar) days", target):
        unit = PeriodUnit.WORKING_DAYS if m[2] == "working" else PeriodUnit.CALENDAR_DAYS
        what: Period | str = Period(int(m[1]), unit)
    elif m := re.fullmatch(r"`(\w+)`", target):
        what = m[1]
    else:
        raise AssertionError(f"cannot read the period {target!r} in the examples table")
    return due(what, event, suspensions, extensions, today=event).due_date


@pytest.mark.parametrize(("number", "event", "period", "expected"), _examples())
def test_each_worked_example_holds(number: str, event: date, period: str, expected: str) -> None:
    result = _compute(event, period)
    if expected == "unconfirmed":
        assert result is None, f"example {number}"
    else:
        assert result == date.fromisoformat(expected), f"example {number}"


def test_the_rules_table_lists_every_rule_with_its_period() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## The rules", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if "| `" in line}
    assert set(rows) == {f"`{rule_id}`" for rule_id in rules()}
    for rule in rules().values():
        unit = "working days" if rule.period.unit is PeriodUnit.WORKING_DAYS else "calendar days"
        assert f"| {rule.period.length} {unit}" in rows[f"`{rule.id}`"], rule.id
