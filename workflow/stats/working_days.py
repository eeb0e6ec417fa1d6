"""Working days between days, for the time a case spends in each step.

The average of many spans ``working_days(a, b)`` is ``mean(ordinal(b)) - mean(ordinal(a))``
where ``ordinal(d)`` counts the working days up to ``d``: so the database only has to count
step entries and exits per day (a few thousand rows for any period), never hand over the
events themselves, and the average is still exact to the official calendar (holidays and
make-up working days included).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from workflow.deadlines import UnconfirmedDateError, WorkingCalendar, default_calendar

__all__ = ["Ordinals", "ordinals"]


@dataclass(frozen=True)
class Ordinals:
    """``of[d]``: working days from the first day asked about up to and including ``d``.
    ``unconfirmed``: days counted as Monday-to-Friday because their year's holidays are not
    known yet (the figures built on them say so)."""

    of: Mapping[date, int]
    unconfirmed: int


def ordinals(days: Iterable[date], calendar: WorkingCalendar | None = None) -> Ordinals:
    wanted = set(days)
    if not wanted:
        return Ordinals({}, 0)
    cal = calendar or default_calendar()
    day, last = min(wanted), max(wanted)
    count = unconfirmed = 0
    out: dict[date, int] = {}
    while day <= last:
        try:
            working = cal.day(day).is_working
        except UnconfirmedDateError:
            working = day.weekday() < 5
            unconfirmed += 1
        count += working
        if day in wanted:
            out[day] = count
        day += timedelta(days=1)
    return Ordinals(out, unconfirmed)
