"""The late-payment surcharge: 3 % of the fine per day late, capped at the fine, in fen."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.deadlines import (
    PeriodError,
    UnconfirmedDeadlineError,
    late_payment_surcharge,
    library_years,
)

SERVED = date(2026, 3, 2)  # Mon; the 15th day, Tue 17 Mar, is a working day


def test_nothing_is_owed_up_to_the_fifteenth_day() -> None:
    result = late_payment_surcharge(100_000, SERVED, date(2026, 3, 17))
    assert result.payment_due == date(2026, 3, 17)
    assert result.first_surcharge_day == date(2026, 3, 18)  # the 16th day after service
    assert (result.days_late, result.surcharge_fen, result.capped) == (0, 0, False)


@pytest.mark.parametrize(
    ("as_of", "days", "fen"),
    [
        (date(2026, 3, 18), 1, 3_000),  # 1,000 yuan x 3 % = 30 yuan
        (date(2026, 3, 20), 3, 9_000),
        (date(2026, 4, 19), 33, 99_000),
        (date(2026, 4, 20), 34, 100_000),  # 102 %: capped at the fine
        (date(2027, 3, 1), 349, 100_000),
    ],
)
def test_three_percent_a_day_capped_at_the_fine(as_of: date, days: int, fen: int) -> None:
    result = late_payment_surcharge(100_000, SERVED, as_of)
    assert (result.days_late, result.surcharge_fen) == (days, fen)
    assert result.capped is (days >= 34)
    assert result.total_fen == 100_000 + fen
    assert isinstance(result.surcharge_fen, int)


def test_the_surcharge_starts_after_a_moved_payment_deadline() -> None:
    # served Fri 18 Sep: the 15th day, Sat 3 Oct, is in National Day: pay by Thu 8 Oct
    result = late_payment_surcharge(50_000, date(2026, 9, 18), date(2026, 10, 8))
    assert (result.payment_due, result.surcharge_fen) == (date(2026, 10, 8), 0)
    later = late_payment_surcharge(50_000, date(2026, 9, 18), date(2026, 10, 9))
    assert (later.days_late, later.surcharge_fen) == (1, 1_500)


def test_rounding_is_half_up_to_the_fen_on_the_whole_amount() -> None:
    assert late_payment_surcharge(50, SERVED, date(2026, 3, 18)).surcharge_fen == 2  # 1.5
    assert late_payment_surcharge(1, SERVED, date(2026, 3, 18)).surcharge_fen == 0  # 0.03
    # 17 days of 0.03 fen: 0.51 fen -> 1 (per-day rounding would have said 0)
    assert late_payment_surcharge(1, SERVED, date(2026, 4, 3)).surcharge_fen == 1


@given(
    fine=st.integers(min_value=1, max_value=10**12),
    late=st.integers(min_value=0, max_value=400),
)
def test_the_surcharge_is_exact_integer_money(fine: int, late: int) -> None:
    result = late_payment_surcharge(fine, SERVED, date(2026, 3, 17) + timedelta(days=late))
    exact = Fraction(fine * 3 * late, 100)
    assert result.days_late == late
    assert result.surcharge_fen == min(fine, int(exact + Fraction(1, 2)))
    assert 0 <= result.surcharge_fen <= fine


@pytest.mark.parametrize("fine", [1000.0, 0, -5, True, "1000"])
def test_the_fine_must_be_positive_integer_fen(fine: object) -> None:
    with pytest.raises(PeriodError):
        late_payment_surcharge(fine, SERVED, date(2026, 4, 1))  # type: ignore[arg-type]


def test_as_of_before_service_is_refused() -> None:
    with pytest.raises(PeriodError, match="before the decision was served"):
        late_payment_surcharge(100, SERVED, date(2026, 3, 1))


@pytest.mark.skipif(2027 in library_years(), reason="chinese-calendar knows 2027 now")
def test_an_unconfirmed_payment_deadline_owes_nothing_before_it_and_refuses_after() -> None:
    # served 20 Dec 2026: the 15th day is Mon 4 Jan 2027, whose calendar is not known yet
    early = late_payment_surcharge(100_000, date(2026, 12, 20), date(2027, 1, 4))
    assert (early.surcharge_fen, early.payment_due_confirmed) == (0, False)
    with pytest.raises(UnconfirmedDeadlineError, match="unconfirmed"):
        late_payment_surcharge(100_000, date(2026, 12, 20), date(2027, 1, 6))
