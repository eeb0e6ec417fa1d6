"""The unit's figures on the hand-built cases of :mod:`tests.stats.data`, whose answers are
worked out by hand there: each figure, the period filter, the Beijing month boundary, unit
scoping -- on SQLite, and once on PostgreSQL (the day and month expressions differ)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, make_session_factory, migrate
from tests.stats.data import TODAY, Built, build
from workflow.stats import (
    Month,
    Period,
    PeriodError,
    UnitFigures,
    UnknownUnit,
    default_definition,
    rows,
    unit_figures,
    warm,
)
from workflow.stats.compute import forget_counted_deadlines
from workflow.stats.definition import DEFINITION_PATH, StatsDefinitionError, load_definition
from workflow.stats.working_days import ordinals

MARCH = Period(Month(2026, 3), Month(2026, 3))


def _db(url: str) -> Iterator[tuple[sessionmaker[Session], Built]]:
    migrate(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    yield sessions, build(sessions)
    engine.dispose()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sessionmaker[Session], Built]]:
    yield from _db(f"sqlite:///{tmp_path_factory.mktemp('stats') / 'e.db'}")


@pytest.fixture(scope="module")
def march(db: tuple[sessionmaker[Session], Built]) -> UnitFigures:
    sessions, built = db
    return unit_figures(sessions, built.unit_a, MARCH, TODAY)


def test_cases_by_month_count_beijing_months(march: UnitFigures) -> None:
    # C1 C2 C4 C7 C10 and C8 (23:30 on 31 March in Beijing, 15:30 UTC); not C9 (00:30 on
    # 1 April in Beijing although 31 March in UTC)
    assert [(m.month, m.opened, m.closed, m.complaints) for m in march.months] == [
        ("2026-03", 6, 4, 2)
    ]
    assert march.complaints_received == 2
    # C2 was screened (twice: still one complaint), C7 not; B1's unit screens its own
    assert march.complaints_screened == 1


def test_cases_by_violation_type(march: UnitFigures) -> None:
    # C1 虚假宣传; C2 the catalogue entry chosen (over its proposal); C8's later proposal
    # (trimmed) over its first; B1 is unit B's
    assert [(t.name, t.cases) for t in march.violation_types] == [
        ("商品宣传无事实依据", 1), ("未亮照经营", 1), ("虚假宣传", 1),
    ]  # fmt: skip
    assert (march.other_types, march.types_not_recorded) == (0, 3)  # C4, C7, C10


def test_types_beyond_the_top_are_summed_as_other(db: tuple[sessionmaker[Session], Built]) -> None:
    sessions, built = db
    one = replace(default_definition(), violation_top=1)
    f = unit_figures(sessions, built.unit_a, MARCH, TODAY, one)
    assert [(t.name, t.cases) for t in f.violation_types] == [("商品宣传无事实依据", 1)]
    assert f.other_types == 2


def test_deadline_compliance_by_rule(march: UnitFigures) -> None:
    got = {c.rule: (c.met, c.missed, c.open, c.met_percent) for c in march.compliance}
    assert got == {
        "lead_verification": (0, 1, 0, 0.0),  # C10: 15 working days from 16 March, unmet
        "decision": (0, 0, 2, None),  # C1, C2 filed in March: 90 days not over
        "decision_service": (1, 1, 0, 50.0),  # C3 served in 1 working day, C5 after 14
        "fine_payment": (1, 0, 0, 100.0),  # C5 paid in 5 days
        "publicity": (0, 1, 0, 0.0),  # C5 decided 2 March, not published
    }
    assert "statement_defence" not in got  # the party's window, not the unit's deadline
    assert list(got) == ["lead_verification", "decision", "decision_service", "fine_payment",
                         "publicity"]  # fmt: skip


def test_compliance_depends_on_today(db: tuple[sessionmaker[Session], Built]) -> None:
    """Before C10's fifteen working days ran out its deadline was open, not missed."""
    sessions, built = db
    f = unit_figures(sessions, built.unit_a, MARCH, TODAY.replace(day=1))
    got = {c.rule: (c.met, c.missed, c.open) for c in f.compliance}
    assert got["lead_verification"] == (0, 0, 1)
    assert got["publicity"] == (0, 1, 0)  # due 30 March: missed by 1 April already


def test_no_penalty_path_share(march: UnitFigures) -> None:
    # ended in March and listed or on a list ground: C3 (decision, first violation), C4 (not
    # filed, corrected), C5 (listed but fined); C7 (refused complaint) is not one
    assert (march.no_penalty.eligible, march.no_penalty.guided) == (3, 2)
    assert march.no_penalty.guided_percent == 66.7


def test_working_days_per_step(march: UnitFigures) -> None:
    got = {s.step: (s.cases, s.visits, s.total_working_days, s.average) for s in march.steps}
    assert got == {
        1: (4, 4, 2, 0.5),  # C1 1, C2 0 (same day), C4 0, C7 1 (refused: the case ended)
        2: (3, 3, 21, 7.0),  # C1 2, C2 5, C4 14 (ended not filed on 27 March)
        3: (2, 2, 2, 1.0),  # C1 1, C2 1
        4: (2, 3, 10, 5.0),  # C1 2 + 2 around the order to correct, C2 6
        5: (1, 1, 4, 4.0),  # C1: 10 to 16 March
        10: (1, 1, 1, 1.0),  # C3: Friday 20 to Monday 23 March
        11: (1, 1, 2, 2.0),  # C3
    }
    assert march.unconfirmed_days == 0


def test_working_days_follow_the_official_calendar() -> None:
    from datetime import date

    o = ordinals([date(2026, 4, 3), date(2026, 4, 7), date(2026, 2, 13), date(2026, 2, 24)])
    assert o.of[date(2026, 4, 7)] - o.of[date(2026, 4, 3)] == 1  # Qingming: 4-6 April off
    # Spring Festival 2026: 15-23 February off, Saturday 14 and 28 February worked
    assert o.of[date(2026, 2, 24)] - o.of[date(2026, 2, 13)] == 2
    beyond = ordinals([date(2030, 1, 7), date(2030, 1, 14)])  # a year not yet published
    assert beyond.of[date(2030, 1, 14)] - beyond.of[date(2030, 1, 7)] == 5
    assert beyond.unconfirmed == 8


def test_the_period_filter(db: tuple[sessionmaker[Session], Built]) -> None:
    sessions, built = db
    april = unit_figures(sessions, built.unit_a, Period(Month(2026, 4), Month(2026, 4)), TODAY)
    assert [(m.opened, m.closed) for m in april.months] == [(1, 1)]  # C9; C6
    assert (april.no_penalty.eligible, april.no_penalty.guided) == (1, 1)  # C6
    assert [(t.name, t.cases) for t in april.violation_types] == []  # C9 names none
    # C8's step visits all ended in April; it was verified twice (sent back once), the
    # second time from Friday 3 April over Qingming to Tuesday 7 April: 1 working day
    got = {s.step: (s.cases, s.visits, s.total_working_days) for s in april.steps}
    assert got == {1: (1, 1, 1), 2: (1, 2, 2), 3: (1, 1, 1)}
    q1 = unit_figures(sessions, built.unit_a, Period(Month(2026, 1), Month(2026, 3)), TODAY)
    assert [(m.month, m.opened, m.closed) for m in q1.months] == [
        ("2026-01", 1, 0), ("2026-02", 2, 0), ("2026-03", 6, 4),
    ]  # fmt: skip
    decision = {c.rule: (c.met, c.missed, c.open) for c in q1.compliance}["decision"]
    assert decision == (2, 0, 2)  # + C3 (filed 5 Jan, decided 20 Mar), C5 (20 Jan, 2 Mar)
    assert q1.opened == 9 and q1.closed == 4


def test_units_see_their_own_figures(db: tuple[sessionmaker[Session], Built]) -> None:
    sessions, built = db
    b = unit_figures(sessions, built.unit_b, MARCH, TODAY)
    assert [(m.opened, m.closed) for m in b.months] == [(1, 0)]
    assert [(t.name, t.cases) for t in b.violation_types] == [("虚假宣传", 1)]
    assert {s.step: s.total_working_days for s in b.steps} == {1: 0, 2: 1}
    with pytest.raises(UnknownUnit):
        unit_figures(sessions, 999_999, MARCH, TODAY)


def test_rows_are_one_per_figure(march: UnitFigures) -> None:
    flat = {(r.figure, r.item, r.measure): r.value for r in rows(march)}
    assert flat[("cases_by_month", "2026-03", "opened")] == 6
    assert flat[("deadline_compliance", "decision_service", "met_percent")] == 50.0
    assert flat[("working_days_per_step", "2", "average")] == 7.0
    assert flat[("complaints", "", "screened")] == 1
    assert len(flat) == len(rows(march))


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [("2026-3", None, "YYYY-MM"), ("2026-13", None, "YYYY-MM"), ("2026-05", "2026-04", "before"),
     ("2010-01", "2026-04", "too long")],
)  # fmt: skip
def test_a_bad_period_says_what_to_write(start: str, end: str | None, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        Period.parse(start, end, TODAY)


def test_the_default_period_is_the_last_twelve_months() -> None:
    p = Period.parse(None, None, TODAY)
    assert (str(p.start), str(p.end), len(p)) == ("2025-05", "2026-04", 12)


@pytest.mark.postgres
def test_the_same_figures_on_postgresql(
    pg_database: Callable[[], str], march: UnitFigures, tmp_path: Path
) -> None:
    for sessions, built in _db(pg_database()):
        pg = unit_figures(sessions, built.unit_a, MARCH, TODAY)
        assert rows(replace(pg, unit_id=march.unit_id)) == rows(march)
        q1 = Period(Month(2026, 1), Month(2026, 4))
        assert [m.opened for m in unit_figures(sessions, built.unit_a, q1, TODAY).months] == [
            1, 2, 6, 1,
        ]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('exclude_rules = ["statement_defence"]', 'exclude_rules = ["statement_defense"]',
         "no rule statement_defense"),
        ('non_filing_end = "closed_not_filed"', 'non_filing_end = "closed"_x', "not valid TOML"),
        ('non_filing_end = "closed_not_filed"', 'non_filing_end = "not_closed"', "no state"),
        ("top = 8", "top = 0", "violation_type.top"),
        ('number = 14\nzh = "结案"', 'number = 15\nzh = "结案"', "no name for step 14"),
    ],
)  # fmt: skip
def test_a_wrong_definition_is_refused_naming_the_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = DEFINITION_PATH.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "figures.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(StatsDefinitionError, match=message):
        load_definition(path)


def test_warming_counts_every_case_once_and_changes_no_figure(
    db: tuple[sessionmaker[Session], Built],
) -> None:
    sessions, built = db
    period = Period.parse(None, None, TODAY)
    forget_counted_deadlines()
    cold = [unit_figures(sessions, u, period, TODAY) for u in (built.unit_a, built.unit_b)]
    forget_counted_deadlines()
    counted = warm(sessions, TODAY)
    assert counted > 0  # every case with a deadline in the default period, both units
    assert warm(sessions, TODAY) == 0  # warm already: nothing counted again
    assert [unit_figures(sessions, u, period, TODAY) for u in (built.unit_a, built.unit_b)] == cold
