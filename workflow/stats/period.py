"""The period the unit's figures cover: whole months, as a Beijing calendar counts them.

Months are the unit a head of unit reports in ("January to March"), and a case received at
23:30 UTC on 31 March was received on 1 April in Beijing, so the bounds are Beijing midnights
turned into UTC instants: the queries then compare stored UTC times with two constants and
can use the columns' indexes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from workflow.deadlines import CHINA

__all__ = ["MAX_MONTHS", "Month", "Period", "PeriodError"]

#: The longest period one request may ask for (ten years of monthly rows is already a lot to
#: read; anything longer is a typo more often than a wish).
MAX_MONTHS = 120
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(ValueError):
    """A period that cannot be read; the message says what to write instead."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str, name: str = "month") -> Month:
        m = _MONTH.match(text.strip())
        if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
            raise PeriodError(f"{name}: write the month as YYYY-MM (e.g. 2026-03), not {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def next(self) -> Month:
        return Month(self.year + (self.month == 12), self.month % 12 + 1)

    def minus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 - months
        return Month(index // 12, index % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=CHINA).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """From the first day of ``start`` to the last day of ``end`` (both months included)."""

    start: Month
    end: Month

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError(f"the period ends ({self.end}) before it starts ({self.start})")
        if len(self) > MAX_MONTHS:
            raise PeriodError(
                f"a period of {len(self)} months is too long: ask for at most {MAX_MONTHS}"
            )

    @classmethod
    def parse(cls, start: str | None, end: str | None, today: date) -> Period:
        """From ``YYYY-MM`` texts; missing ends give the twelve months up to ``today``'s."""
        last = Month.parse(end, "to") if end else Month.of(today)
        first = Month.parse(start, "from") if start else last.minus(11)
        return cls(first, last)

    def __len__(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    def months(self) -> Iterator[Month]:
        m = self.start
        while m <= self.end:
            yield m
            m = m.next()

    @property
    def first_day(self) -> date:
        return self.start.first_day()

    @property
    def after_day(self) -> date:
        """The day after the period (exclusive bound)."""
        return self.end.next().first_day()

    @property
    def utc_from(self) -> datetime:
        return _utc_midnight(self.first_day)

    @property
    def utc_until(self) -> datetime:
        """Exclusive: the first instant after the period."""
        return _utc_midnight(self.after_day)

    def covers(self, day: date) -> bool:
        return self.first_day <= day < self.after_day
