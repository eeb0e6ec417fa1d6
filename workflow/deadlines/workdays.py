"""Which days are working days in China: chinese-calendar plus an override table kept by staff.

The State Council publishes each year's holiday arrangement (with its make-up working days,
调休) late in the year before, and ``chinese-calendar`` learns it only in a later release. A
deadline that needs a day of a year nobody has entered yet must not be guessed as
Monday-to-Friday: :meth:`WorkingCalendar.day` raises :class:`UnconfirmedDateError` for such a
day, and the counting turns that into an *unconfirmed* deadline.

The override table (``calendar_overrides.toml``, edited by legal staff) can

* declare a whole year from its official notice (``[[year]]``): the days it lists are holidays
  or make-up working days, every other day is Monday-to-Friday -- the year becomes confirmed;
* declare single days (``[[day]]``), in any year: they win over chinese-calendar, so a late
  change (an extra holiday, a correction) takes effect without waiting for a library release.

Each entry names its source notice, which the explanation of a deadline repeats.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import cache, lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import chinese_calendar
from chinese_calendar.constants import Holiday

from workflow.deadlines.errors import CalendarDataError, UnconfirmedDateError

__all__ = [
    "OVERRIDES_PATH",
    "CalendarOverrides",
    "DayInfo",
    "DayKind",
    "OverrideDay",
    "OverrideYear",
    "WorkingCalendar",
    "default_calendar",
    "library_years",
    "load_overrides",
]

OVERRIDES_PATH = Path(__file__).with_name("calendar_overrides.toml")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ZH_NAMES = {h.value: h.chinese for h in Holiday}


def _library_label() -> str:
    try:
        return f"chinese-calendar {version('chinese-calendar')}"
    except PackageNotFoundError:  # pragma: no cover - installed from a checkout
        return "chinese-calendar"


LIBRARY = _library_label()


class DayKind(StrEnum):
    WORKDAY = "workday"
    MAKEUP_WORKDAY = "makeup_workday"  # a Saturday or Sunday worked in exchange (调休上班)
    WEEKEND = "weekend"
    HOLIDAY = "holiday"  # a public holiday, or a weekday given off for one


@dataclass(frozen=True)
class DayInfo:
    """One day of the official calendar and where that knowledge came from."""

    day: date
    kind: DayKind
    name_en: str | None  # "Spring Festival" for holidays and their make-up working days
    name_zh: str | None  # "春节"
    source: str  # "chinese-calendar 1.11.0", or the notice of an override entry
    listed: bool = False  # a [[day]] entry of the override table

    @property
    def is_working(self) -> bool:
        return self.kind in (DayKind.WORKDAY, DayKind.MAKEUP_WORKDAY)

    @property
    def names(self) -> str | None:
        """``Spring Festival 春节``."""
        found = [n for n in (self.name_en, self.name_zh) if n]
        return " ".join(found) if found else None

    @property
    def label(self) -> str:
        """``Spring Festival 春节`` -- for explanations; a [[day]] entry of the override table
        names its source notice, which is what an officer checks it against."""
        text = self.names or self.kind.value.replace("_", " ")
        return f"{text}, per {self.source}" if self.listed else text


@dataclass(frozen=True)
class OverrideYear:
    """A year entered from its official notice: unlisted days are Monday-to-Friday."""

    year: int
    notice: str


@dataclass(frozen=True)
class OverrideDay:
    day: date
    working: bool
    name_en: str | None
    name_zh: str | None
    source: str


@dataclass(frozen=True)
class CalendarOverrides:
    years: Mapping[int, OverrideYear]
    days: Mapping[date, OverrideDay]
    path: Path | None = None


@cache
def _library_knows(year: int) -> bool:
    """Whether chinese-calendar has the official arrangement of ``year`` (it raises
    NotImplementedError for others)."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def library_years() -> range:
    """The years the installed chinese-calendar knows (2004-2026 for 1.11)."""
    known = sorted(d.year for d in chinese_calendar.holidays)
    first, last = known[0], known[-1]
    while _library_knows(last + 1):  # a release may know a year before listing a holiday
        last += 1
    return range(first, last + 1)


class WorkingCalendar:
    """The official calendar: chinese-calendar, corrected and extended by the overrides."""

    def __init__(self, overrides: CalendarOverrides | None = None) -> None:
        self.overrides = overrides or CalendarOverrides(years={}, days={})

    def is_confirmed(self, day: date) -> bool:
        return (
            day in self.overrides.days
            or day.year in self.overrides.years
            or _library_knows(day.year)
        )

    def day(self, day: date) -> DayInfo:
        """What ``day`` is; raises :class:`UnconfirmedDateError` when nobody knows yet."""
        entry = self.overrides.days.get(day)
        if entry is not None:
            if entry.working:
                kind = DayKind.MAKEUP_WORKDAY if day.weekday() >= 5 else DayKind.WORKDAY
            else:
                kind = DayKind.HOLIDAY
            return DayInfo(day, kind, entry.name_en, entry.name_zh, entry.source, listed=True)
        if _library_knows(day.year):
            return self._from_library(day)
        year = self.overrides.years.get(day.year)
        if year is not None:
            kind = DayKind.WEEKEND if day.weekday() >= 5 else DayKind.WORKDAY
            return DayInfo(day, kind, None, None, year.notice)
        years = library_years()
        raise UnconfirmedDateError(
            day,
            f"{day.isoformat()} is in {day.year}, which neither {LIBRARY} "
            f"(knows {years.start}-{years.stop - 1}) nor the override table "
            f"({self._table_name()}) covers yet: enter the State Council's notice on the "
            f"{day.year} public holidays in that table",
        )

    def _table_name(self) -> str:
        return self.overrides.path.name if self.overrides.path else "calendar_overrides.toml"

    @staticmethod
    def _from_library(day: date) -> DayInfo:
        working = chinese_calendar.is_workday(day)
        _, name = chinese_calendar.get_holiday_detail(day)
        weekend = day.weekday() >= 5
        if working:
            kind = DayKind.MAKEUP_WORKDAY if weekend else DayKind.WORKDAY
        elif name is None:
            kind = DayKind.WEEKEND
        else:
            kind = DayKind.HOLIDAY
        if kind is DayKind.WORKDAY:
            name = None  # a plain working day, whatever festival the library links it to
        return DayInfo(day, kind, name, _ZH_NAMES.get(name) if name else None, LIBRARY)


def describe(day: date, note: str | None = None) -> str:
    """``2026-02-16 (Mon)``, ``2026-02-14 (Sat, Spring Festival 春节)``."""
    extra = f", {note}" if note else ""
    return f"{day.isoformat()} ({WEEKDAYS[day.weekday()]}{extra})"


# -- the override table -----------------------------------------------------------------------

_YEAR_KEYS = {"year", "notice"}
_DAY_KEYS = {"date", "from", "to", "kind", "name_en", "name_zh", "source"}


def load_overrides(path: Path = OVERRIDES_PATH) -> CalendarOverrides:
    """Read and check the override table; every problem names the entry to fix."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CalendarDataError(path, "the override table is missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CalendarDataError(path, f"not valid TOML: {exc}") from exc
    unknown = set(data) - {"year", "day"}
    if unknown:
        raise CalendarDataError(
            path, f"unknown section(s) {sorted(unknown)}: use [[year]], [[day]]"
        )
    years: dict[int, OverrideYear] = {}
    for n, entry in enumerate(_tables(path, data, "year"), 1):
        where = f"[[year]] entry {n}"
        _check_keys(path, where, entry, _YEAR_KEYS, required={"year", "notice"})
        year = entry["year"]
        if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
            raise CalendarDataError(path, f"{where}: year must be a year like 2027, not {year!r}")
        if year in years:
            raise CalendarDataError(path, f"{where}: year {year} is declared twice")
        years[year] = OverrideYear(year, _text(path, where, entry, "notice"))
    days: dict[date, OverrideDay] = {}
    for n, entry in enumerate(_tables(path, data, "day"), 1):
        where = f"[[day]] entry {n}"
        _check_keys(path, where, entry, _DAY_KEYS, required={"kind", "source"})
        kind = entry["kind"]
        if kind not in ("holiday", "workday"):
            raise CalendarDataError(
                path, f'{where}: kind must be "holiday" or "workday", not {kind!r}'
            )
        source = _text(path, where, entry, "source")
        names = {k: _text(path, where, entry, k) for k in ("name_en", "name_zh") if k in entry}
        for day in _dates(path, where, entry):
            if day in days:
                raise CalendarDataError(path, f"{where}: {day.isoformat()} is listed twice")
            days[day] = OverrideDay(
                day, kind == "workday", names.get("name_en"), names.get("name_zh"), source
            )
    return CalendarOverrides(years=years, days=days, path=path)


def _tables(path: Path, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise CalendarDataError(path, f"{key} must be written as [[{key}]] tables")
    return value


def _check_keys(
    path: Path, where: str, entry: dict[str, Any], allowed: set[str], required: set[str]
) -> None:
    unknown = set(entry) - allowed
    if unknown:
        raise CalendarDataError(
            path, f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    missing = required - set(entry)
    if missing:
        raise CalendarDataError(path, f"{where}: missing {sorted(missing)}")


def _text(path: Path, where: str, entry: dict[str, Any], key: str) -> str:
    value = entry[key]
    if not isinstance(value, str) or not value.strip():
        raise CalendarDataError(path, f"{where}: {key} must be a non-empty text")
    return value.strip()


def _dates(path: Path, where: str, entry: dict[str, Any]) -> list[date]:
    """``date = 2027-01-01``, or ``from = ...`` and ``to = ...`` (both included)."""
    single, first, last = entry.get("date"), entry.get("from"), entry.get("to")
    if single is not None and (first is not None or last is not None):
        raise CalendarDataError(path, f"{where}: give either date, or from and to; not both")
    if single is not None:
        return [_date(path, where, "date", single)]
    if first is None or last is None:
        raise CalendarDataError(path, f"{where}: give date, or both from and to")
    start, end = _date(path, where, "from", first), _date(path, where, "to", last)
    if end < start or (end - start).days > 31:
        raise CalendarDataError(
            path, f"{where}: from {start} to {end} is not a range of at most 32 days"
        )
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _date(path: Path, where: str, key: str, value: Any) -> date:
    # TOML has a date type: 2027-01-01 without quotes (a datetime is refused too)
    if type(value) is not date:
        raise CalendarDataError(
            path,
            f"{where}: {key} must be a date written like 2027-01-01 (no quotes), not {value!r}",
        )
    return value


@lru_cache(maxsize=1)
def default_calendar() -> WorkingCalendar:
    """The calendar of the packaged override table (read once per process)."""
    return WorkingCalendar(load_overrides(OVERRIDES_PATH))
