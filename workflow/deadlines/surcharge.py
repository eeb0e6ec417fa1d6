"""The late-payment surcharge (加处罚款): 3 % of the fine per day late, never more than the fine.

Money is integer fen (分) throughout -- a float would lose fen on large fines. The surcharge
runs from the day after the payment deadline: the 16th day after service, or later when the
15th day is a weekend or holiday and the deadline moves to the next working day (the payment
period is counted like every other period, by :func:`workflow.deadlines.due`). The amount is
computed on the whole number of days at once (fine x 3 % x days) and rounded half up to the
fen, so it does not drift with per-day rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from workflow.deadlines.counting import due
from workflow.deadlines.errors import PeriodError, UnconfirmedDeadlineError
from workflow.deadlines.workdays import WorkingCalendar

__all__ = ["DAILY_RATE_PERCENT", "PAYMENT_RULE", "Surcharge", "late_payment_surcharge"]

DAILY_RATE_PERCENT = 3
PAYMENT_RULE = "fine_payment"


@dataclass(frozen=True)
class Surcharge:
    fine_fen: int
    served_on: date
    payment_due: date  # the last day to pay without surcharge
    as_of: date  # the day paid, or today
    days_late: int
    surcharge_fen: int
    capped: bool  # the cap (the fine itself) was reached
    #: False: the deadline may still move past ``payment_due`` (its next days are in a year not
    #: yet in the calendar); nothing is owed yet either way.
    payment_due_confirmed: bool = True

    @property
    def first_surcharge_day(self) -> date:
        return self.payment_due + timedelta(days=1)

    @property
    def total_fen(self) -> int:
        """Fine plus surcharge."""
        return self.fine_fen + self.surcharge_fen


def late_payment_surcharge(
    fine_fen: int, served_on: date, as_of: date, *, calendar: WorkingCalendar | None = None
) -> Surcharge:
    """The surcharge owed on ``as_of`` (the day of payment, or today) for a fine of
    ``fine_fen`` whose decision was served on ``served_on``.

    Raises :class:`UnconfirmedDeadlineError` when the payment deadline depends on a day of a
    year not yet in the calendar and ``as_of`` is past the period's last day.
    """
    if isinstance(fine_fen, bool) or not isinstance(fine_fen, int):
        raise PeriodError(f"the fine must be an integer number of fen, not {fine_fen!r}")
    if fine_fen <= 0:
        raise PeriodError(f"the fine must be positive, not {fine_fen} fen")
    if as_of < served_on:
        raise PeriodError(f"as_of {as_of} is before the decision was served ({served_on})")
    deadline = due(PAYMENT_RULE, served_on, today=as_of, calendar=calendar)
    payment_due = deadline.due_date
    if payment_due is None:
        reached = deadline.last_confirmed_date
        if reached is not None and as_of <= reached:
            return Surcharge(fine_fen, served_on, reached, as_of, 0, 0, False, False)
        raise UnconfirmedDeadlineError(
            f"the payment deadline of a decision served on {served_on} is unconfirmed "
            f"({deadline.unconfirmed_reason}); the surcharge cannot be computed yet"
        )
    days_late = max(0, (as_of - payment_due).days)
    exact_times_100 = fine_fen * DAILY_RATE_PERCENT * days_late  # fen x 100
    amount = (exact_times_100 + 50) // 100  # round half up to the fen
    capped = amount >= fine_fen
    return Surcharge(
        fine_fen, served_on, payment_due, as_of, days_late, min(amount, fine_fen), capped
    )
