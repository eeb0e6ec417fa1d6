"""The unit's figures as they are shown, exported and served: one shape for the page, the
CSV file and the API, so that the three cannot disagree.

:func:`rows` flattens them into one row per figure (``figure``, ``item``, ``measure``,
``value``): what ``/stats.csv`` writes and ``GET /api/stats`` returns beside the structured
figures. Shares are percentages and averages are rounded here, once, to one decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .period import Period

__all__ = [
    "ComplianceRow",
    "FigureRow",
    "MonthRow",
    "NoPenaltyShare",
    "StepRow",
    "TypeRow",
    "UnitFigures",
    "percent",
    "rows",
]


def percent(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, one decimal; None when there is nothing to divide."""
    return round(100 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class MonthRow:
    month: str  # YYYY-MM
    opened: int
    closed: int
    complaints: int


@dataclass(frozen=True)
class TypeRow:
    """A violation type and the cases of the period that name it."""

    name: str
    cases: int


@dataclass(frozen=True)
class ComplianceRow:
    """The deadlines of one rule that started in the period: met on time, missed (past the
    due date unmet, or met late) and still open (running, suspended or not yet confirmed)."""

    rule: str
    name_zh: str
    name_en: str
    met: int
    missed: int
    open: int

    @property
    def total(self) -> int:
        return self.met + self.missed + self.open

    @property
    def met_percent(self) -> float | None:
        """Of the deadlines already decided (met or missed): open ones are not yet either."""
        return percent(self.met, self.met + self.missed)


@dataclass(frozen=True)
class NoPenaltyShare:
    """Minor and first-violation cases that ended in the period, and how many of them ended
    by guidance and self-correction (no penalty)."""

    eligible: int
    guided: int

    @property
    def guided_percent(self) -> float | None:
        return percent(self.guided, self.eligible)


@dataclass(frozen=True)
class StepRow:
    """Working days cases spent in one step, over the step visits that ended in the period
    (a case that came back to a step, as after an order to correct, adds its visits up)."""

    step: int
    name_zh: str
    name_en: str
    cases: int
    visits: int
    total_working_days: int

    @property
    def average(self) -> float | None:
        """Working days per case."""
        return round(self.total_working_days / self.cases, 1) if self.cases else None


@dataclass(frozen=True)
class UnitFigures:
    unit_id: int
    unit_name: str
    period: Period
    today: date
    months: list[MonthRow]
    violation_types: list[TypeRow]
    #: cases of the period beyond the ``top`` types, and cases that name no type at all
    other_types: int
    types_not_recorded: int
    compliance: list[ComplianceRow]
    no_penalty: NoPenaltyShare
    steps: list[StepRow]
    #: days counted Monday-to-Friday because their year's official calendar is not known yet
    unconfirmed_days: int
    complaints_received: int
    #: of the complaints received, those screened for professional claimants
    complaints_screened: int

    @property
    def opened(self) -> int:
        return sum(m.opened for m in self.months)

    @property
    def closed(self) -> int:
        return sum(m.closed for m in self.months)


@dataclass(frozen=True)
class FigureRow:
    figure: str
    item: str
    item_zh: str
    item_en: str
    measure: str
    value: int | float | None


def rows(f: UnitFigures) -> list[FigureRow]:
    """Every figure, one row each, in the order the page shows them."""
    out: list[FigureRow] = []

    def add(
        figure: str, item: str, measure: str, value: int | float | None, zh: str = "", en: str = ""
    ) -> None:
        out.append(FigureRow(figure, item, zh, en, measure, value))

    for m in f.months:
        add("cases_by_month", m.month, "opened", m.opened)
        add("cases_by_month", m.month, "closed", m.closed)
        add("cases_by_month", m.month, "complaints", m.complaints)
    for t in f.violation_types:
        add("cases_by_violation_type", t.name, "cases", t.cases)
    by_type = "cases_by_violation_type"
    add(by_type, "", "cases_other_types", f.other_types, "其他类型", "other types")
    add(by_type, "", "cases_not_recorded", f.types_not_recorded, "未记录", "not recorded")
    for c in f.compliance:
        for measure, value in (
            ("met", c.met), ("missed", c.missed), ("open", c.open), ("met_percent", c.met_percent)
        ):  # fmt: skip
            add("deadline_compliance", c.rule, measure, value, c.name_zh, c.name_en)
    add("no_penalty_path", "", "eligible_cases", f.no_penalty.eligible)
    add("no_penalty_path", "", "closed_by_guidance", f.no_penalty.guided)
    add("no_penalty_path", "", "guided_percent", f.no_penalty.guided_percent)
    for s in f.steps:
        item = str(s.step)
        add("working_days_per_step", item, "average", s.average, s.name_zh, s.name_en)
        add("working_days_per_step", item, "cases", s.cases, s.name_zh, s.name_en)
        add("working_days_per_step", item, "visits", s.visits, s.name_zh, s.name_en)
    add("complaints", "", "received", f.complaints_received)
    add("complaints", "", "screened", f.complaints_screened)
    return out
