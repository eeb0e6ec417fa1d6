"""The working-day calendar: what chinese-calendar knows, what the override table adds, and
that a day nobody knows is refused rather than guessed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import chinese_calendar
import pytest

from workflow.deadlines import (
    OVERRIDES_PATH,
    CalendarDataError,
    DayKind,
    Period,
    PeriodUnit,
    UnconfirmedDateError,
    WorkingCalendar,
    default_calendar,
    due,
    library_years,
    load_overrides,
)

MakeCalendar = Callable[[str], WorkingCalendar]

#: A made-up arrangement for tests only (the real 2027 notice is entered by legal staff).
TEST_2027 = """
[[year]]
year = 2027
notice = "TEST NOTICE 2027 (not the official one)"

[[day]]
from = 2027-02-05
to = 2027-02-11
kind = "holiday"
name_en = "Spring Festival"
name_zh = "春节"
source = "TEST NOTICE 2027"

[[day]]
date = 2027-02-14
kind = "workday"
name_en = "Spring Festival"
name_zh = "春节"
source = "TEST NOTICE 2027"
"""


def test_the_library_years_are_the_ones_chinese_calendar_answers_for() -> None:
    years = library_years()
    assert years.start == 2004 and 2026 in years
    for year in (years.start, years.stop - 1):
        chinese_calendar.is_workday(date(year, 3, 1))  # no error inside the range
    for year in (years.start - 1, years.stop):
        with pytest.raises(NotImplementedError):
            chinese_calendar.is_workday(date(year, 3, 1))


def test_day_kinds_of_2026() -> None:
    cal = WorkingCalendar()
    makeup = cal.day(date(2026, 2, 14))
    assert (makeup.kind, makeup.name_en, makeup.name_zh) == (
        DayKind.MAKEUP_WORKDAY,
        "Spring Festival",
        "春节",
    )
    assert makeup.is_working
    holiday = cal.day(date(2026, 2, 16))
    assert holiday.kind is DayKind.HOLIDAY and not holiday.is_working
    assert holiday.source.startswith("chinese-calendar ")
    assert cal.day(date(2026, 2, 21)).kind is DayKind.HOLIDAY  # a Saturday inside the break
    assert cal.day(date(2026, 3, 7)).kind is DayKind.WEEKEND
    plain = cal.day(date(2026, 3, 9))
    assert (plain.kind, plain.name_en) == (DayKind.WORKDAY, None)
    assert cal.day(date(2026, 9, 20)).kind is DayKind.MAKEUP_WORKDAY  # a Sunday


@pytest.mark.skipif(2027 in library_years(), reason="chinese-calendar knows 2027 now")
def test_a_day_of_an_unknown_year_is_refused_not_guessed() -> None:
    cal = WorkingCalendar()
    assert not cal.is_confirmed(date(2027, 3, 1))
    with pytest.raises(UnconfirmedDateError) as caught:
        cal.day(date(2027, 3, 1))  # a Monday: Monday-to-Friday would have said "working"
    assert caught.value.day == date(2027, 3, 1)
    assert "2027" in caught.value.reason and "calendar_overrides.toml" in caught.value.reason


def test_the_packaged_override_table_loads() -> None:
    overrides = load_overrides(OVERRIDES_PATH)
    assert overrides.path == OVERRIDES_PATH
    assert default_calendar().overrides.days == overrides.days
    # every entry names its source notice
    assert all(entry.source for entry in overrides.days.values())
    assert all(year.notice for year in overrides.years.values())


def test_a_year_entered_from_its_notice_becomes_confirmed(calendar_from: MakeCalendar) -> None:
    cal = calendar_from(TEST_2027)
    assert cal.day(date(2027, 3, 1)).kind is DayKind.WORKDAY  # unlisted Monday
    assert cal.day(date(2027, 3, 6)).kind is DayKind.WEEKEND
    assert cal.day(date(2027, 2, 8)).kind is DayKind.HOLIDAY
    sunday = cal.day(date(2027, 2, 14))
    assert sunday.kind is DayKind.MAKEUP_WORKDAY and sunday.source == "TEST NOTICE 2027"
    # received Thu 4 Feb: 5-11 Feb holiday, Fri 12 (1), Sat 13 skipped, Sun 14 make-up (2),
    # 15-19 Feb (3-7)
    deadline = due("complaint_acceptance", date(2027, 2, 4), today=date(2027, 2, 4), calendar=cal)
    assert deadline.due_date == date(2027, 2, 19) and deadline.confirmed
    assert (
        "2027-02-05 to 2027-02-11 (7 days): Spring Festival 春节 holiday, per TEST NOTICE 2027, "
        "skipped" in deadline.explanation
    )
    assert (
        "make-up working day 2027-02-14 (Sun, Spring Festival 春节, per TEST NOTICE 2027) counted"
        in deadline.explanation
    )


def test_a_single_day_entered_wins_over_the_library(calendar_from: MakeCalendar) -> None:
    cal = calendar_from(
        '[[day]]\ndate = 2026-03-09\nkind = "holiday"\nname_zh = "临时休假"\n'
        'source = "示例市人民政府通知 (test)"\n'
    )
    info = cal.day(date(2026, 3, 9))
    assert info.kind is DayKind.HOLIDAY and info.source == "示例市人民政府通知 (test)"
    assert cal.day(date(2026, 3, 10)).kind is DayKind.WORKDAY  # the rest stays the library's
    # Fri 6 Mar + 1 working day: Mon 9 Mar is now off, so Tue 10 Mar
    deadline = due(Period(1, PeriodUnit.WORKING_DAYS), date(2026, 3, 6), calendar=cal)
    assert deadline.due_date == date(2026, 3, 10)
    assert "2026-03-09 (Mon): 临时休假 holiday, per 示例市人民政府通知 (test), skipped" in (
        deadline.explanation
    )
    # a single day of an unknown year is known; the rest of that year is not
    cal = calendar_from('[[day]]\ndate = 2028-01-03\nkind = "workday"\nsource = "x"\n')
    assert cal.day(date(2028, 1, 3)).kind is DayKind.WORKDAY
    with pytest.raises(UnconfirmedDateError):
        cal.day(date(2028, 1, 4))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[day]]\ndate = "2027-01-01"\nkind = "holiday"\nsource = "x"\n', "no quotes"),
        ('[[day]]\ndate = 2027-01-01\nkind = "off"\nsource = "x"\n', "kind must be"),
        ('[[day]]\ndate = 2027-01-01\nkind = "holiday"\n', "missing ['source']"),
        ('[[day]]\ndate = 2027-01-01\nkind = "holiday"\nsource = ""\n', "non-empty"),
        ('[[day]]\ndate = 2027-01-01\nkind = "holiday"\nsource = "x"\nnote = 1\n', "unknown key"),
        (
            '[[day]]\nfrom = 2027-01-03\nto = 2027-01-01\nkind = "holiday"\nsource = "x"\n',
            "not a range",
        ),
        ('[[day]]\nfrom = 2027-01-03\nkind = "holiday"\nsource = "x"\n', "both from and to"),
        ('[[day]]\ndate = 2027-01-01\nkind = "holiday"\nsource = "x"\n' * 2, "listed twice"),
        ("[[year]]\nyear = 2027\n", "missing ['notice']"),
        ('[[year]]\nyear = "2027"\nnotice = "x"\n', "year must be"),
        ('[[year]]\nyear = 2027\nnotice = "x"\n' * 2, "declared twice"),
        ("[holidays]\n", "unknown section"),
        ("[[day]\n", "not valid TOML"),
    ],
)
def test_a_bad_override_table_names_the_entry_to_fix(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "calendar_overrides.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarDataError) as caught:
        load_overrides(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_override_table_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CalendarDataError, match="missing"):
        load_overrides(tmp_path / "nope.toml")
