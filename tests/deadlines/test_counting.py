"""Periods counted as the law counts them, with the clock moved by time-machine across
weekends, the Spring Festival, make-up working days and National Day.

Every expected date below was worked out by hand on the State Council's 2026 arrangement
(春节 2月15日至23日放假, 2月14日、28日上班; 国庆 10月1日至7日放假, 9月20日、10月10日上班;
清明 4月4日至6日; 劳动节 5月1日至5日) and is explained in the test where it is not obvious.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import chinese_calendar
import pytest
import time_machine

from workflow.deadlines import (
    CHINA,
    Approver,
    DeadlineStatus,
    Direction,
    Extension,
    ExtensionNotAllowedError,
    ExtensionTooLateError,
    Period,
    PeriodError,
    PeriodUnit,
    Suspension,
    SuspensionKind,
    beijing_today,
    due,
)

WD = PeriodUnit.WORKING_DAYS
CD = PeriodUnit.CALENDAR_DAYS


def beijing(year: int, month: int, day: int, hour: int = 10) -> datetime:
    """That hour in Beijing (the server itself runs in UTC)."""
    return datetime(year, month, day, hour, tzinfo=CHINA)


# -- today is Beijing's date ---------------------------------------------------------------------


def test_today_is_the_date_in_beijing_not_the_servers() -> None:
    # 17:00 UTC on 12 March is 01:00 on 13 March in Beijing
    with time_machine.travel(datetime(2026, 3, 12, 17, 0, tzinfo=UTC), tick=False):
        assert beijing_today() == date(2026, 3, 13)
        assert due(Period(1, CD), date(2026, 3, 12)).today == date(2026, 3, 13)


# -- weekends -------------------------------------------------------------------------------------


def test_working_days_skip_weekends_and_the_clock_moves_the_status() -> None:
    # complaint received Fri 6 March: 9-13 March are days 1-5, 16 and 17 March days 6 and 7
    with time_machine.travel(beijing(2026, 3, 6), tick=False):
        deadline = due("complaint_acceptance", date(2026, 3, 6))
        assert deadline.due_date == date(2026, 3, 17)
        assert deadline.confirmed
        assert (deadline.status, deadline.days_left) == (DeadlineStatus.RUNNING, 11)
        assert "2026-03-07 to 2026-03-08 (2 days): weekend, skipped" in deadline.explanation
        assert "2026-03-14 to 2026-03-15 (2 days): weekend, skipped" in deadline.explanation
        assert "event on 2026-03-06 (Fri) is not counted" in deadline.explanation[1]
    with time_machine.travel(beijing(2026, 3, 14), tick=False):
        deadline = due("complaint_acceptance", date(2026, 3, 6))
        assert (deadline.status, deadline.days_left) == (DeadlineStatus.DUE_SOON, 3)
    with time_machine.travel(beijing(2026, 3, 17, 23), tick=False):
        assert due("complaint_acceptance", date(2026, 3, 6)).status is DeadlineStatus.DUE_SOON
    with time_machine.travel(beijing(2026, 3, 18, 0), tick=False):
        deadline = due("complaint_acceptance", date(2026, 3, 6))
        assert (deadline.status, deadline.days_left) == (DeadlineStatus.OVERDUE, -1)
        done = due("complaint_acceptance", date(2026, 3, 6), met_on=date(2026, 3, 17))
        assert done.status is DeadlineStatus.MET
        late = due("complaint_acceptance", date(2026, 3, 6), met_on=date(2026, 3, 18))
        assert late.status is DeadlineStatus.OVERDUE


def test_a_calendar_period_ending_on_a_weekend_moves_to_monday() -> None:
    # 7 days from Sun 1 March end on Sun 8 March: moved to Mon 9 March
    deadline = due(Period(7, CD), date(2026, 3, 1), today=date(2026, 3, 1))
    assert deadline.due_date == date(2026, 3, 9)
    assert deadline.explanation[-1] == (
        "last day 2026-03-08 (Sun) is a weekend: moved to 2026-03-09 (Mon), "
        "the first working day after it; due 2026-03-09"
    )


# -- Spring Festival ------------------------------------------------------------------------------


def test_spring_festival_2026_is_skipped_and_its_make_up_saturdays_count() -> None:
    # received Thu 12 Feb: 13 Feb (1), Sat 14 Feb make-up (2), 15-23 Feb holiday,
    # 24-27 Feb (3-6), Sat 28 Feb make-up (7). Monday-to-Friday would have said 23 Feb.
    with time_machine.travel(beijing(2026, 2, 12), tick=False):
        deadline = due("complaint_acceptance", date(2026, 2, 12))
        assert deadline.due_date == date(2026, 2, 28)
        assert deadline.status is DeadlineStatus.RUNNING and deadline.days_left == 16
        steps = deadline.explanation
        assert "make-up working day 2026-02-14 (Sat, Spring Festival 春节) counted" in steps
        assert "2026-02-15 to 2026-02-23 (9 days): Spring Festival 春节 holiday, skipped" in steps
        assert "make-up working day 2026-02-28 (Sat, Spring Festival 春节) counted" in steps
        assert steps[-1] == "working day 7 of 7 is 2026-02-28 (Sat): due 2026-02-28"
    # during the holiday the deadline keeps running (holidays are not a suspension)
    with time_machine.travel(beijing(2026, 2, 18), tick=False):
        assert due("complaint_acceptance", date(2026, 2, 12)).status is DeadlineStatus.RUNNING
    with time_machine.travel(beijing(2026, 3, 2), tick=False):
        assert due("complaint_acceptance", date(2026, 2, 12)).status is DeadlineStatus.OVERDUE


def _library_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 2, 1))
    except NotImplementedError:
        return False
    return True


def test_spring_festival_2027_is_unconfirmed_while_no_one_knows_it() -> None:
    """chinese-calendar 1.11 does not know 2027; the packaged override table has no 2027 yet:
    a period through the 2027 Spring Festival is unconfirmed, never Monday-to-Friday."""
    deadline = due("complaint_acceptance", date(2027, 2, 3), today=date(2027, 2, 3))
    if _library_knows(2027):  # a later chinese-calendar: the festival must be skipped then
        assert deadline.confirmed and any("Spring Festival" in s for s in deadline.explanation)
        return
    assert deadline.due_date is None and not deadline.confirmed
    assert deadline.remaining == 7
    # seven working days need at least seven days: it cannot end before 10 Feb
    assert deadline.not_before == date(2027, 2, 10)
    assert deadline.status is DeadlineStatus.RUNNING
    later = due("complaint_acceptance", date(2027, 2, 3), today=date(2027, 2, 11))
    assert later.status is DeadlineStatus.UNCONFIRMED  # it may or may not have ended
    assert "2027-02-04 is in 2027" in (deadline.unconfirmed_reason or "")
    assert "override table" in (deadline.unconfirmed_reason or "")


@pytest.mark.skipif(_library_knows(2027), reason="chinese-calendar knows 2027 now")
def test_a_count_into_an_unknown_year_stops_at_the_last_confirmed_date() -> None:
    # received Thu 24 Dec 2026: 25, 28, 29, 30, 31 Dec are days 1-5; 2027 is unknown
    with time_machine.travel(beijing(2026, 12, 24), tick=False):
        deadline = due("complaint_acceptance", date(2026, 12, 24))
        assert (deadline.due_date, deadline.confirmed) == (None, False)
        assert deadline.last_confirmed_date == date(2026, 12, 31)
        assert deadline.remaining == 2 and deadline.not_before == date(2027, 1, 2)
        assert deadline.days_left is None
        assert deadline.status is DeadlineStatus.RUNNING  # it cannot end before 1 Jan
        assert "5 of 7 working days counted up to 2026-12-31" in deadline.explanation
        assert deadline.explanation[-1].startswith("unconfirmed: 2027-01-01 is in 2027")
    with time_machine.travel(beijing(2026, 12, 28), tick=False):
        assert due("complaint_acceptance", date(2026, 12, 24)).status is DeadlineStatus.RUNNING
    with time_machine.travel(beijing(2026, 12, 30), tick=False):
        assert due("complaint_acceptance", date(2026, 12, 24)).status is DeadlineStatus.DUE_SOON
    with time_machine.travel(beijing(2027, 1, 4), tick=False):
        deadline = due("complaint_acceptance", date(2026, 12, 24))
        assert deadline.status is DeadlineStatus.UNCONFIRMED
        # done before the unknown days: certainly in time
        done = due("complaint_acceptance", date(2026, 12, 24), met_on=date(2026, 12, 30))
        assert done.status is DeadlineStatus.MET


@pytest.mark.skipif(_library_knows(2027), reason="chinese-calendar knows 2027 now")
def test_a_calendar_period_whose_last_day_is_in_an_unknown_year_is_unconfirmed() -> None:
    # served Sun 20 Dec 2026: day 15 is Mon 4 Jan 2027 -- a working day? nobody knows yet
    deadline = due("fine_payment", date(2026, 12, 20), today=date(2026, 12, 21))
    assert (deadline.due_date, deadline.confirmed) == (None, False)
    assert deadline.last_confirmed_date == deadline.not_before == date(2027, 1, 4)
    assert "day 15 of 15 (the last day) is 2027-01-04 (Mon)" in deadline.explanation
    assert deadline.explanation[-1].startswith("unconfirmed: whether 2027-01-04 is a working")


# -- make-up working days and National Day ------------------------------------------------


def test_a_make_up_sunday_counts_as_a_working_day() -> None:
    # notification served Thu 17 Sep: Fri 18 (1), Sat 19 skipped, Sun 20 make-up (2),
    # 21-23 Sep (3-5). Monday-to-Friday would have said 24 Sep.
    deadline = due("statement_defence", date(2026, 9, 17), today=date(2026, 9, 17))
    assert deadline.due_date == date(2026, 9, 23)
    assert "make-up working day 2026-09-20 (Sun, National Day 国庆节) counted" in (
        deadline.explanation
    )
    assert "2026-09-19 (Sat): weekend, skipped" in deadline.explanation


def test_a_calendar_period_ending_on_a_make_up_saturday_ends_that_day() -> None:
    # 10 days from Wed 30 Sep end on Sat 10 Oct, a make-up working day: not moved
    deadline = due(Period(10, CD), date(2026, 9, 30), today=date(2026, 9, 30))
    assert deadline.due_date == date(2026, 10, 10)
    assert deadline.explanation[-1] == (
        "last day 2026-10-10 (Sat, National Day 国庆节) is a make-up working day: "
        "due that day, 2026-10-10"
    )


def test_a_calendar_period_ending_in_national_day_moves_to_8_october() -> None:
    deadline = due(Period(4, CD), date(2026, 9, 30), today=date(2026, 9, 30))
    assert deadline.due_date == date(2026, 10, 8)
    assert deadline.explanation[-1] == (
        "last day 2026-10-04 (Sun) is a National Day 国庆节 holiday: moved to 2026-10-08 (Thu), "
        "the first working day after it; due 2026-10-08"
    )
    # the payment period of a decision served Fri 18 Sep ends Sat 3 Oct: moved to 8 Oct
    assert due("fine_payment", date(2026, 9, 18)).due_date == date(2026, 10, 8)


def test_working_days_across_national_day_with_the_clock_moving() -> None:
    # decision made Mon 28 Sep: 29, 30 Sep (1-2), 1-7 Oct holiday, 8, 9 Oct (3-4),
    # Sat 10 Oct make-up (5), Sun 11 skipped, 12, 13 Oct (6-7)
    with time_machine.travel(beijing(2026, 9, 28), tick=False):
        deadline = due("decision_service", date(2026, 9, 28))
        assert deadline.due_date == date(2026, 10, 13)
        assert (deadline.status, deadline.days_left) == (DeadlineStatus.RUNNING, 15)
        assert "2026-10-01 to 2026-10-07 (7 days): National Day 国庆节 holiday, skipped" in (
            deadline.explanation
        )
    with time_machine.travel(beijing(2026, 10, 10), tick=False):
        deadline = due("decision_service", date(2026, 9, 28))
        assert (deadline.status, deadline.days_left) == (DeadlineStatus.DUE_SOON, 3)
    with time_machine.travel(beijing(2026, 10, 14), tick=False):
        assert due("decision_service", date(2026, 9, 28)).status is DeadlineStatus.OVERDUE


def test_a_hearing_notice_is_counted_back_over_national_day() -> None:
    # hearing Fri 9 Oct: back over 8 Oct (1), the 1-7 Oct holiday, 30, 29, 28 Sep (2-4),
    # Sun 27 and Sat 26 Sep and the Mid-autumn Fri 25 Sep skipped, 24, 23, 22 Sep (5-7)
    deadline = due("hearing_notice", date(2026, 10, 9), today=date(2026, 9, 1))
    assert deadline.due_date == date(2026, 9, 22)
    assert "2026-10-01 to 2026-10-07 (7 days): National Day 国庆节 holiday, skipped" in (
        deadline.explanation
    )


def test_a_calendar_period_counted_back_moves_to_the_working_day_before() -> None:
    # 7 days before Sun 15 Mar 2026 is Sun 8 Mar: the act must be done by Fri 6 Mar
    deadline = due(Period(7, CD, Direction.BEFORE), date(2026, 3, 15), today=date(2026, 3, 1))
    assert deadline.due_date == date(2026, 3, 6)


def test_a_calendar_period_ending_on_a_public_holiday() -> None:
    # case filed Mon 5 Jan: day 90 is Sun 5 Apr, in the Tomb-sweeping break (4-6 Apr)
    deadline = due("decision", date(2026, 1, 5), today=date(2026, 1, 5))
    assert deadline.due_date == date(2026, 4, 7)
    assert (
        "is a Tomb-sweeping Day 清明 holiday: moved to 2026-04-07 (Tue)"
        in (deadline.explanation[-1])
    )
    assert deadline.days_left == 92


# -- suspensions ----------------------------------------------------------------------------------


def test_a_hearing_suspends_the_decision_period() -> None:
    hearing = Suspension(SuspensionKind.HEARING, date(2026, 3, 2), date(2026, 3, 11))
    deadline = due("decision", date(2026, 1, 5), [hearing], today=date(2026, 3, 5))
    # 10 days not counted: day 90 moves from Sun 5 Apr to Wed 15 Apr (a working day)
    assert deadline.due_date == date(2026, 4, 15)
    assert deadline.suspended_days == 10
    assert deadline.status is DeadlineStatus.SUSPENDED
    assert "2026-03-02 to 2026-03-11 (10 days): suspended (hearing), not counted" in (
        deadline.explanation
    )
    after = due("decision", date(2026, 1, 5), [hearing], today=date(2026, 3, 12))
    assert after.status is DeadlineStatus.RUNNING


def test_an_open_suspension_leaves_the_due_date_unknown_until_it_ends() -> None:
    appraisal = Suspension(SuspensionKind.APPRAISAL, date(2026, 3, 2))
    deadline = due("decision", date(2026, 1, 5), [appraisal], today=date(2026, 3, 20))
    assert deadline.due_date is None and deadline.confirmed
    assert deadline.suspended_since == date(2026, 3, 2)
    assert deadline.remaining == 35  # 6 Jan - 1 Mar are days 1-55
    assert deadline.status is DeadlineStatus.SUSPENDED
    before = due("decision", date(2026, 1, 5), [appraisal], today=date(2026, 2, 1))
    assert before.status is DeadlineStatus.RUNNING
    # it ends: counting resumes the next day; 35 days from 21 Mar end on Fri 24 Apr
    ended = Suspension(SuspensionKind.APPRAISAL, date(2026, 3, 2), date(2026, 3, 20))
    assert due("decision", date(2026, 1, 5), [ended]).due_date == date(2026, 4, 24)


def test_a_suspension_the_rule_does_not_list_is_ignored_and_said_so() -> None:
    hearing = Suspension(SuspensionKind.HEARING, date(2026, 3, 2), date(2026, 3, 11))
    plain = due("fast_track_decision", date(2026, 3, 2))
    deadline = due("fast_track_decision", date(2026, 3, 2), [hearing])
    assert deadline.due_date == plain.due_date == date(2026, 4, 1)
    note = "hearing suspension 2026-03-02 to 2026-03-11 does not pause fast_track_decision"
    assert any(s.startswith(note) for s in deadline.explanation)
    # the sealing/seizure period is paused by testing, not by a hearing
    testing = Suspension(SuspensionKind.TESTING, date(2026, 3, 2), date(2026, 3, 11))
    assert due("sealing_seizure", date(2026, 3, 1), [testing]).suspended_days == 10
    assert due("sealing_seizure", date(2026, 3, 1), [hearing]).suspended_days == 0


def test_a_suspension_inside_a_working_day_period() -> None:
    # Fri 6 Mar + 5 working days, appraisal on Tue 10 and Wed 11 Mar: 9, 12, 13, 16, 17 Mar
    appraisal = Suspension(SuspensionKind.APPRAISAL, date(2026, 3, 10), date(2026, 3, 11))
    assert due(Period(5, WD), date(2026, 3, 6), [appraisal]).due_date == date(2026, 3, 17)
    assert due(Period(5, WD), date(2026, 3, 6)).due_date == date(2026, 3, 13)


def test_bad_suspensions_are_refused() -> None:
    with pytest.raises(PeriodError, match=r"ends .* before it starts"):
        Suspension(SuspensionKind.HEARING, date(2026, 3, 2), date(2026, 3, 1))
    with pytest.raises(PeriodError, match="unknown suspension kind 'holiday'"):
        Suspension("holiday", date(2026, 3, 2))  # type: ignore[arg-type]


# -- extensions -----------------------------------------------------------------------------------


def head(length: int, on: date, who: str = "王局长") -> Extension:
    return Extension(length, who, Approver.HEAD_OF_UNIT, on, "案情复杂 / complex facts")


def collective(length: int, on: date) -> Extension:
    return Extension(length, "局务会", Approver.COLLECTIVE_DISCUSSION, on, "需要补充鉴定")


def test_the_head_extends_the_decision_by_30_days_then_the_collective_further() -> None:
    filed = date(2026, 1, 5)
    once = due("decision", filed, extensions=[head(30, date(2026, 4, 1))])
    # 120 days from 5 Jan end on Tue 5 May, in the Labour Day break (1-5 May): Wed 6 May
    assert once.due_date == date(2026, 5, 6) and once.length == 120
    assert any(
        "extended by 30 calendar days: approved by 王局长 (head of unit (负责人)) on 2026-04-01; "
        "reason: 案情复杂 / complex facts" in s
        for s in once.explanation
    )
    # approved on the (moved) last day itself: still in time
    twice = due(
        "decision", filed, extensions=[head(30, date(2026, 4, 1)), collective(30, date(2026, 5, 6))]
    )
    assert twice.due_date == date(2026, 6, 4) and len(twice.extensions) == 2


def test_an_extension_after_the_period_ended_is_refused() -> None:
    filed = date(2026, 1, 5)  # due 7 Apr
    assert due("decision", filed, extensions=[head(30, date(2026, 4, 7))]).due_date
    with pytest.raises(ExtensionTooLateError, match="after the period ended on 2026-04-07"):
        due("decision", filed, extensions=[head(30, date(2026, 4, 8))])
    # a hearing suspended the period: the same approval date is in time then
    hearing = Suspension(SuspensionKind.HEARING, date(2026, 3, 2), date(2026, 3, 11))
    extended = due("decision", filed, [hearing], [head(30, date(2026, 4, 8))])
    assert extended.due_date == date(2026, 5, 15)  # 130 counted days from 5 Jan: Fri 15 May


@pytest.mark.parametrize(
    ("rule", "extensions", "message"),
    [
        ("decision", [head(31, date(2026, 2, 1))], "by 30 days at most"),
        ("decision", [head(20, date(2026, 2, 1)), head(20, date(2026, 2, 2))], "20 already"),
        ("decision", [collective(30, date(2026, 2, 1))], "comes only after one by the head"),
        ("complaint_acceptance", [head(5, date(2026, 1, 6))], "this rule cannot be extended"),
        ("lead_verification", [collective(5, date(2026, 1, 6))], "only the head of unit"),
        ("decision", [head(10, date(2026, 1, 5))], "not after the event"),
    ],
)
def test_extensions_the_rule_does_not_allow_are_refused(
    rule: str, extensions: list[Extension], message: str
) -> None:
    with pytest.raises(ExtensionNotAllowedError, match=message):
        due(rule, date(2026, 1, 5), extensions=extensions)


def test_a_bare_period_cannot_be_extended() -> None:
    with pytest.raises(ExtensionNotAllowedError, match="bare period"):
        due(Period(5, WD), date(2026, 3, 6), extensions=[head(5, date(2026, 3, 7))])


def test_verification_is_extended_in_working_days() -> None:
    # lead received Mon 2 Mar: 15 working days end Mon 23 Mar; +15 skip the Tomb-sweeping
    # Monday 6 Apr and end Tue 14 Apr
    received = date(2026, 3, 2)
    assert due("lead_verification", received).due_date == date(2026, 3, 23)
    extended = due("lead_verification", received, extensions=[head(15, date(2026, 3, 20))])
    assert extended.due_date == date(2026, 4, 14)
    assert "extended by 15 working days" in " ".join(extended.explanation)


def test_extensions_must_be_named_and_reasoned() -> None:
    with pytest.raises(PeriodError, match="name of the person"):
        Extension(30, " ", Approver.HEAD_OF_UNIT, date(2026, 2, 1), "x")
    with pytest.raises(PeriodError, match="reason"):
        Extension(30, "王局长", Approver.HEAD_OF_UNIT, date(2026, 2, 1), "")
    with pytest.raises(PeriodError, match="1 day or more"):
        Extension(0, "王局长", Approver.HEAD_OF_UNIT, date(2026, 2, 1), "x")


# -- inputs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, -1, 3661, 2.5, True])
def test_nonsense_periods_are_refused(length: object) -> None:
    with pytest.raises(PeriodError):
        Period(length, WD)  # type: ignore[arg-type]


def test_an_unknown_unit_is_a_period_error() -> None:
    with pytest.raises(PeriodError, match="'weeks' is not a valid PeriodUnit"):
        Period(2, "weeks")  # type: ignore[arg-type]


def test_a_datetime_is_not_an_event_date() -> None:
    with pytest.raises(PeriodError, match="must be a date"):
        due(Period(1, WD), datetime(2026, 3, 6, 12))


def test_the_deadline_as_json_carries_everything_the_case_shows() -> None:
    record = due("decision", date(2026, 1, 5), today=date(2026, 4, 6)).to_dict()
    assert record["due_date"] == "2026-04-07" and record["status"] == "due_soon"
    assert record["days_left"] == 1 and record["confirmed"] is True
    assert record["period"] == {"length": 90, "unit": "calendar_days", "direction": "after"}
    assert record["sources"][0].startswith("中华人民共和国行政处罚法")
    assert record["explanation"][-1].endswith("due 2026-04-07")
