"""Counting a period as the law counts it, with suspensions and extensions.

* The day of the event is not counted: the period starts the next day.
* Calendar days: every day counts; a last day that is a weekend or public holiday moves to the
  first working day after it (a period counted *back* before an event moves to the working day
  before it instead, so the act is never planned later than the law allows).
* Working days: weekends and holidays are skipped; make-up working days (调休) count.
* Days inside a suspension that the rule lists (hearing, announcement, testing...) are not
  counted; the count resumes the day after the suspension ends. An open suspension (no end
  yet) leaves the due date unknown until it ends.
* An extension adds days in the period's unit. It must be approved by the approver the rule
  names, within the rule's maximum, and no later than the due date in force when it was
  approved; otherwise it is refused with :class:`ExtensionRefusedError`. The extended period
  is counted from the same event (90 + 30 days = 120 days from filing), and only its last day
  is moved off a non-working day.
* A day whose year neither chinese-calendar nor the override table knows stops the count:
  the deadline is returned *unconfirmed*, with the last date the count could establish and
  why -- never guessed as Monday-to-Friday.

Every decision taken on the way is written to ``Deadline.explanation`` in words an officer
can check against a paper calendar.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from workflow.deadlines.errors import (
    ExtensionNotAllowedError,
    ExtensionTooLateError,
    PeriodError,
    UnconfirmedDateError,
)
from workflow.deadlines.rules import (
    APPROVER_NAMES,
    EVENTS,
    MAX_PERIOD_DAYS,
    Approver,
    Direction,
    Period,
    PeriodUnit,
    Rule,
    SuspensionKind,
    get_rule,
)
from workflow.deadlines.workdays import DayInfo, DayKind, WorkingCalendar, default_calendar
from workflow.deadlines.workdays import describe as day_label

__all__ = [
    "CHINA",
    "DUE_SOON_DAYS",
    "Deadline",
    "DeadlineStatus",
    "Extension",
    "Suspension",
    "beijing_today",
    "due",
    "fixed",
]

#: Deadlines are dates in Beijing whatever the server's time zone.
CHINA = ZoneInfo("Asia/Shanghai")
#: A deadline this many calendar days away or fewer is "due soon".
DUE_SOON_DAYS = 3
ONE_DAY = timedelta(days=1)


def beijing_today() -> date:
    return datetime.now(CHINA).date()


class DeadlineStatus(StrEnum):
    RUNNING = "running"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"  # past the due date and not met (or met late)
    SUSPENDED = "suspended"  # today is inside a suspension that pauses the period
    MET = "met"  # the act was done on or before the due date
    UNCONFIRMED = "unconfirmed"  # past the last confirmed date: cannot tell until entered


@dataclass(frozen=True)
class Suspension:
    """A period not counted (a hearing, a public announcement, testing...); both ends are
    included; ``end=None`` while it is still going on."""

    kind: SuspensionKind
    start: date
    end: date | None = None
    note: str = ""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", SuspensionKind(self.kind))
        except ValueError as exc:
            known = ", ".join(k.value for k in SuspensionKind)
            raise PeriodError(f"unknown suspension kind {self.kind!r}; known: {known}") from exc
        if self.end is not None and self.end < self.start:
            raise PeriodError(
                f"{self.kind} suspension ends ({self.end}) before it starts ({self.start})"
            )

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Extension:
    """An extension granted by a named person, recorded with its reason and length (in the
    period's unit)."""

    length: int
    approved_by: str
    approver_role: Approver
    approved_on: date
    reason: str

    def __post_init__(self) -> None:
        if isinstance(self.length, bool) or not isinstance(self.length, int) or self.length < 1:
            raise PeriodError(f"an extension's length must be 1 day or more, not {self.length!r}")
        if not self.approved_by.strip():
            raise PeriodError("an extension needs the name of the person who approved it")
        if not self.reason.strip():
            raise PeriodError("an extension needs its reason")
        try:
            object.__setattr__(self, "approver_role", Approver(self.approver_role))
        except ValueError as exc:
            known = ", ".join(a.value for a in Approver)
            raise PeriodError(
                f"unknown approver role {self.approver_role!r}; known: {known}"
            ) from exc


@dataclass(frozen=True)
class Deadline:
    """A computed deadline. ``due_date`` is None while it is unconfirmed (a day of a year not
    yet in the calendar is needed) or paused by an open suspension."""

    period: Period  # as the rule gives it, before extensions
    length: int  # with extensions
    start_event_date: date
    due_date: date | None
    confirmed: bool
    explanation: tuple[str, ...]
    today: date
    days_left: int | None  # calendar days from today to the due date; negative when overdue
    status: DeadlineStatus
    rule_id: str | None = None
    name_zh: str | None = None
    name_en: str | None = None
    #: When unconfirmed: the last date of the count whose calendar is known (a calendar-day
    #: period: its last day, whose status is unknown), and the earliest the due date can be.
    last_confirmed_date: date | None = None
    not_before: date | None = None
    unconfirmed_reason: str | None = None
    #: An open suspension pausing the count, and the days still to count when it began.
    suspended_since: date | None = None
    remaining: int | None = None
    suspended_days: int = 0
    extensions: tuple[Extension, ...] = ()
    met_on: date | None = None
    sources: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (dates as ISO text)."""

        def iso(value: date | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "rule": self.rule_id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "period": {
                "length": self.period.length,
                "unit": self.period.unit.value,
                "direction": self.period.direction.value,
            },
            "length": self.length,
            "from": self.start_event_date.isoformat(),
            "due_date": iso(self.due_date),
            "confirmed": self.confirmed,
            "last_confirmed_date": iso(self.last_confirmed_date),
            "not_before": iso(self.not_before),
            "unconfirmed_reason": self.unconfirmed_reason,
            "suspended_since": iso(self.suspended_since),
            "remaining": self.remaining,
            "suspended_days": self.suspended_days,
            "extensions": [
                {
                    "length": e.length,
                    "approved_by": e.approved_by,
                    "approver_role": e.approver_role.value,
                    "approved_on": e.approved_on.isoformat(),
                    "reason": e.reason,
                }
                for e in self.extensions
            ],
            "today": self.today.isoformat(),
            "days_left": self.days_left,
            "status": self.status.value,
            "met_on": iso(self.met_on),
            "sources": list(self.sources),
            "explanation": list(self.explanation),
        }


# -- the count --------------------------------------------------------------------------------


@dataclass
class _Count:
    due: date | None
    steps: list[str]
    suspended_days: int = 0
    last_confirmed: date | None = None
    unconfirmed_reason: str | None = None
    suspended_since: date | None = None
    remaining: int | None = None


class _Steps:
    """Explanation lines, with runs of skipped days merged into one line."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._run: tuple[str, date, date] | None = None  # (what, first, last)

    def skip(self, day: date, what: str) -> None:
        """Note a skipped day; a day next to the current run (either way: counts run forward
        or back) with the same reason extends it."""
        if self._run and self._run[0] == what:
            _, first, last = self._run
            if last + ONE_DAY == day:
                self._run = (what, first, day)
                return
            if first - ONE_DAY == day:
                self._run = (what, day, last)
                return
        self.flush()
        self._run = (what, day, day)

    def add(self, line: str) -> None:
        self.flush()
        self.lines.append(line)

    def flush(self) -> None:
        if self._run is None:
            return
        what, first, last = self._run
        self._run = None
        if first == last:
            self.lines.append(f"{day_label(first)}: {what}")
        else:
            n = (last - first).days + 1
            self.lines.append(f"{first.isoformat()} to {last.isoformat()} ({n} days): {what}")


def _off(info: DayInfo) -> str:
    """``weekend`` / ``Spring Festival 春节 holiday`` / ``holiday, per <notice>``."""
    if info.kind is DayKind.WEEKEND:
        return "weekend"
    text = f"{info.names} holiday" if info.names else "holiday"
    return f"{text}, per {info.source}" if info.listed else text


def _suspension_at(day: date, suspensions: Sequence[Suspension]) -> Suspension | None:
    return next((s for s in suspensions if s.covers(day)), None)


def _count_after(
    length: int,
    unit: PeriodUnit,
    start: date,
    suspensions: Sequence[Suspension],
    calendar: WorkingCalendar,
) -> _Count:
    steps = _Steps()
    counted, suspended_days, day = 0, 0, start
    steps.add(f"event on {day_label(start)} is not counted; counting starts {day + ONE_DAY}")
    while counted < length:
        day += ONE_DAY
        suspension = _suspension_at(day, suspensions)
        if suspension is not None:
            if suspension.end is None:
                steps.add(
                    f"{suspension.kind} suspension since {suspension.start} is still open: "
                    f"{length - counted} day(s) left to count when it ends"
                )
                return _Count(
                    None,
                    steps.lines,
                    suspended_days,
                    suspended_since=suspension.start,
                    remaining=length - counted,
                )
            steps.skip(day, f"suspended ({suspension.kind}), not counted")
            suspended_days += 1
            continue
        if unit is PeriodUnit.WORKING_DAYS:
            try:
                info = calendar.day(day)
            except UnconfirmedDateError as exc:
                steps.add(f"{counted} of {length} working days counted up to {day - ONE_DAY}")
                steps.add(f"unconfirmed: {exc.reason}")
                return _Count(
                    None,
                    steps.lines,
                    suspended_days,
                    last_confirmed=day - ONE_DAY,
                    unconfirmed_reason=exc.reason,
                    remaining=length - counted,
                )
            if not info.is_working:
                steps.skip(day, f"{_off(info)}, skipped")
                continue
            if info.kind is DayKind.MAKEUP_WORKDAY:
                steps.add(f"make-up working day {day_label(day, info.label)} counted")
        counted += 1
    if unit is PeriodUnit.WORKING_DAYS:
        steps.add(f"working day {length} of {length} is {day_label(day)}: due {day}")
        return _Count(day, steps.lines, suspended_days)
    steps.add(f"day {length} of {length} (the last day) is {day_label(day)}")
    last, first_off = day, None
    while True:
        suspension = _suspension_at(day, suspensions)
        if suspension is not None and suspension.end is None:
            steps.add(
                f"{suspension.kind} suspension since {suspension.start} is still open: "
                "the period ends on the first working day after it"
            )
            return _Count(
                None, steps.lines, suspended_days, suspended_since=suspension.start, remaining=0
            )
        try:
            info = calendar.day(day)
        except UnconfirmedDateError as exc:
            steps.add(f"unconfirmed: whether {day} is a working day is not known yet: {exc.reason}")
            return _Count(
                None,
                steps.lines,
                suspended_days,
                last_confirmed=last,
                unconfirmed_reason=exc.reason,
                remaining=0,
            )
        if info.is_working and suspension is None:
            break
        if first_off is None:
            kind = suspension.kind if suspension else ""
            first_off = _off(info) if not info.is_working else f"day of a {kind} suspension"
        day += ONE_DAY
    if first_off is not None:
        steps.add(
            f"last day {day_label(last)} is a {first_off}: moved to {day_label(day)}, "
            f"the first working day after it; due {day}"
        )
    elif info.kind is DayKind.MAKEUP_WORKDAY:
        steps.add(
            f"last day {day_label(day, info.label)} is a make-up working day: due that day, {day}"
        )
    else:
        steps.add(f"last day {day_label(day)} is a working day: due {day}")
    return _Count(day, steps.lines, suspended_days)


def _count_before(length: int, unit: PeriodUnit, event: date, calendar: WorkingCalendar) -> _Count:
    steps = _Steps()
    counted, day = 0, event
    steps.add(f"event on {day_label(event)} is not counted; counting back from {event - ONE_DAY}")
    try:
        while counted < length:
            day -= ONE_DAY
            if unit is PeriodUnit.WORKING_DAYS:
                info = calendar.day(day)
                if not info.is_working:
                    steps.skip(day, f"{_off(info)}, skipped")
                    continue
                if info.kind is DayKind.MAKEUP_WORKDAY:
                    steps.add(f"make-up working day {day_label(day, info.label)} counted")
            counted += 1
        steps.add(f"{counted} {unit.value.replace('_', ' ')} before {event} is {day_label(day)}")
        last = day
        info = calendar.day(day)
        while not info.is_working:
            if day == last:
                steps.add(f"{day_label(day)} is a {_off(info)}: moved back to a working day")
            day -= ONE_DAY
            info = calendar.day(day)
    except UnconfirmedDateError as exc:
        steps.add(f"unconfirmed: {exc.reason}")
        return _Count(
            None,
            steps.lines,
            last_confirmed=None,
            unconfirmed_reason=exc.reason,
            remaining=length - counted,
        )
    if day != last:
        steps.add(f"latest day is {day_label(day)}")
    steps.add(f"due {day} (the last day the act may be done)")
    return _Count(day, steps.lines)


def _count(
    period: Period,
    length: int,
    start: date,
    suspensions: Sequence[Suspension],
    calendar: WorkingCalendar,
) -> _Count:
    if period.direction is Direction.BEFORE:
        return _count_before(length, period.unit, start, calendar)
    return _count_after(length, period.unit, start, suspensions, calendar)


# -- suspensions and extensions -----------------------------------------------------------------


def _applicable(
    rule: Rule | None, period: Period, suspensions: Iterable[Suspension], notes: list[str]
) -> list[Suspension]:
    chosen = []
    for suspension in suspensions:
        if not isinstance(suspension, Suspension):
            raise PeriodError(f"not a Suspension: {suspension!r}")
        span = f"{suspension.start} to {suspension.end or 'open'}"
        if period.direction is Direction.BEFORE:
            notes.append(
                f"{suspension.kind} suspension {span} does not apply to a period "
                "counted back before an event"
            )
            continue
        if rule is not None and suspension.kind not in rule.suspended_by:
            paused_by = ", ".join(sorted(rule.suspended_by)) or "nothing"
            notes.append(
                f"{suspension.kind} suspension {span} does not pause {rule.id} "
                f"(paused only by: {paused_by})"
            )
            continue
        chosen.append(suspension)
    return sorted(chosen, key=lambda s: s.start)


def _apply_extensions(
    rule: Rule | None,
    period: Period,
    start: date,
    extensions: Iterable[Extension],
    suspensions: Sequence[Suspension],
    calendar: WorkingCalendar,
    notes: list[str],
) -> tuple[int, tuple[Extension, ...]]:
    """Check each extension in the order approved; return the extended length."""
    ordered = sorted(extensions, key=lambda e: e.approved_on)
    rule_id = rule.id if rule else None
    if not ordered:
        return period.length, ()
    tiers = rule.extensions if rule else ()
    if not tiers:
        why = "this rule cannot be extended" if rule else "a bare period has no extension rule"
        raise ExtensionNotAllowedError(rule_id, why)
    length = period.length
    used = [0] * len(tiers)
    granted = [0] * len(tiers)
    for ext in ordered:
        if not isinstance(ext, Extension):
            raise PeriodError(f"not an Extension: {ext!r}")
        index = next((i for i, t in enumerate(tiers) if t.by is ext.approver_role), None)
        if index is None:
            allowed = " or ".join(APPROVER_NAMES[t.by] for t in tiers)
            raise ExtensionNotAllowedError(
                rule_id,
                f"only the {allowed} may extend it, not the {APPROVER_NAMES[ext.approver_role]}",
            )
        earlier = [t for i, t in enumerate(tiers[:index]) if granted[i] == 0]
        if earlier:
            raise ExtensionNotAllowedError(
                rule_id,
                f"an extension by the {APPROVER_NAMES[ext.approver_role]} comes only after one "
                f"by the {APPROVER_NAMES[earlier[0].by]}",
            )
        tier = tiers[index]
        if tier.max_days is not None and used[index] + ext.length > tier.max_days:
            raise ExtensionNotAllowedError(
                rule_id,
                f"the {APPROVER_NAMES[tier.by]} may extend it by {tier.max_days} days at most "
                f"({used[index]} already granted, {ext.length} asked)",
            )
        if ext.approved_on <= start:
            raise ExtensionNotAllowedError(
                rule_id, f"approved on {ext.approved_on}, not after the event on {start}"
            )
        current = _count(period, length, start, suspensions, calendar)
        if current.due is not None and ext.approved_on > current.due:
            raise ExtensionTooLateError(
                rule_id,
                f"approved on {ext.approved_on}, after the period ended on {current.due}: an "
                "extension must be granted before the period runs out",
            )
        if (
            current.due is None
            and current.last_confirmed
            and ext.approved_on > current.last_confirmed
        ):
            notes.append(
                f"extension approved on {ext.approved_on}: whether that was in time can "
                "be checked once the calendar is confirmed"
            )
        used[index] += ext.length
        granted[index] += 1
        length += ext.length
        notes.append(
            f"extended by {ext.length} {period.unit.value.replace('_', ' ')}: approved by "
            f"{ext.approved_by} ({APPROVER_NAMES[ext.approver_role]}) on {ext.approved_on}; "
            f"reason: {ext.reason}"
        )
    return length, tuple(ordered)


# -- the API ----------------------------------------------------------------------------------


def due(
    rule_or_period: Rule | Period | str,
    start_event_date: date,
    suspensions: Iterable[Suspension] = (),
    extensions: Iterable[Extension] = (),
    *,
    today: date | None = None,
    met_on: date | None = None,
    calendar: WorkingCalendar | None = None,
    due_soon_days: int = DUE_SOON_DAYS,
) -> Deadline:
    """The deadline of a rule (or a bare period) for an event on ``start_event_date``.

    ``today`` defaults to today in Beijing; ``met_on`` is the day the act was done, if it was.
    Raises :class:`ExtensionRefusedError` for an extension the rule does not allow or that
    came too late, :class:`PeriodError` for inputs that make no sense.
    """
    if isinstance(rule_or_period, str):
        rule: Rule | None = get_rule(rule_or_period)
    elif isinstance(rule_or_period, Rule):
        rule = rule_or_period
    elif isinstance(rule_or_period, Period):
        rule = None
    else:
        raise PeriodError(f"expected a Rule, a Period or a rule id, not {rule_or_period!r}")
    period = rule.period if rule else rule_or_period
    assert isinstance(period, Period)
    if type(start_event_date) is not date:
        raise PeriodError(f"the event date must be a date, not {start_event_date!r}")
    calendar = calendar or default_calendar()
    today = today or beijing_today()
    notes: list[str] = []
    if rule is not None:
        event = EVENTS[rule.from_event][1]
        notes.append(f"{rule.id}: {period.describe} {period.direction.value} {event}")
    else:
        notes.append(f"{period.describe} {period.direction.value} the event")
    chosen = _applicable(rule, period, suspensions, notes)
    length, granted = _apply_extensions(
        rule, period, start_event_date, extensions, chosen, calendar, notes
    )
    count = _count(period, length, start_event_date, chosen, calendar)
    explanation = (*notes, *count.steps)
    if met_on is not None:
        explanation = (*explanation, f"done on {met_on}")
    status = _status(count, period, today, met_on, chosen, due_soon_days)
    return Deadline(
        period=period,
        length=length,
        start_event_date=start_event_date,
        due_date=count.due,
        confirmed=count.unconfirmed_reason is None,
        explanation=explanation,
        today=today,
        days_left=(count.due - today).days if count.due else None,
        status=status,
        rule_id=rule.id if rule else None,
        name_zh=rule.name_zh if rule else None,
        name_en=rule.name_en if rule else None,
        last_confirmed_date=count.last_confirmed,
        not_before=_not_before(count),
        unconfirmed_reason=count.unconfirmed_reason,
        suspended_since=count.suspended_since,
        remaining=count.remaining,
        suspended_days=count.suspended_days,
        extensions=granted,
        met_on=met_on,
        sources=tuple(s.citation for s in rule.sources) if rule else (),
    )


def fixed(
    due_on: date,
    set_on: date,
    *,
    rule_id: str,
    name_zh: str,
    name_en: str,
    today: date | None = None,
    met_on: date | None = None,
    source: str = "",
    due_soon_days: int = DUE_SOON_DAYS,
) -> Deadline:
    """A deadline whose date a decision set rather than a rule counts: the date an order to
    correct gives (责令限期改正), or the date a letter states. No count is made (the date is
    the decision's), so it is always confirmed; its status is read as a counted one's is. A
    date before the day it was set is shown as it is: overdue from the start."""
    today = today or beijing_today()
    explanation = [
        f"{rule_id}: the date {due_on} was set on {set_on}{f' ({source})' if source else ''}"
    ]
    if met_on is not None:
        explanation.append(f"done on {met_on}")
        status = DeadlineStatus.MET if met_on <= due_on else DeadlineStatus.OVERDUE
    elif today > due_on:
        status = DeadlineStatus.OVERDUE
    elif (due_on - today).days <= due_soon_days:
        status = DeadlineStatus.DUE_SOON
    else:
        status = DeadlineStatus.RUNNING
    return Deadline(
        period=Period(
            min(max(1, (due_on - set_on).days), MAX_PERIOD_DAYS), PeriodUnit.CALENDAR_DAYS
        ),
        length=max(0, (due_on - set_on).days),
        start_event_date=set_on,
        due_date=due_on,
        confirmed=True,
        explanation=tuple(explanation),
        today=today,
        days_left=(due_on - today).days,
        status=status,
        rule_id=rule_id,
        name_zh=name_zh,
        name_en=name_en,
        met_on=met_on,
        sources=(source,) if source else (),
    )


#: Why a stated date stands in for a count (shown with the deadline).
STATED_SOURCE = "the date the letter states; the working-day count cannot say it yet"


def or_stated(counted: Deadline, stated: date | None) -> Deadline:
    """``counted``, or the date a letter states when the count cannot say its day yet.

    A letter (a platform's data request, a takedown notice) may state its own date while its
    period runs into a year whose working days are not entered; the count then has no due
    date, and the letter's date (never earlier than the count allows, checked when it was
    given) is the deadline. A suspended count stays the count: it has no day because it is
    paused, not because the calendar is unknown."""
    if counted.due_date is not None or counted.suspended_since is not None or stated is None:
        return counted
    rule = counted.rule_id or "stated"
    return fixed(
        stated,
        counted.start_event_date,
        rule_id=rule,
        name_zh=counted.name_zh or rule,
        name_en=counted.name_en or rule,
        today=counted.today,
        met_on=counted.met_on,
        source=STATED_SOURCE,
    )


def _status(
    count: _Count,
    period: Period,
    today: date,
    met_on: date | None,
    suspensions: Sequence[Suspension],
    due_soon_days: int,
) -> DeadlineStatus:
    if count.due is not None:
        if met_on is not None:
            return DeadlineStatus.MET if met_on <= count.due else DeadlineStatus.OVERDUE
        if today > count.due:
            return DeadlineStatus.OVERDUE
        if _suspension_at(today, suspensions) is not None:
            return DeadlineStatus.SUSPENDED
        if (count.due - today).days <= due_soon_days:
            return DeadlineStatus.DUE_SOON
        return DeadlineStatus.RUNNING
    if count.suspended_since is not None:  # an open suspension: the period cannot run out
        if met_on is not None:
            return DeadlineStatus.MET
        if today >= count.suspended_since:
            return DeadlineStatus.SUSPENDED
        return DeadlineStatus.RUNNING  # it cannot end before the suspension begins
    # unconfirmed: the period cannot end before not_before (periods after an event only)
    earliest = _not_before(count)
    if earliest is None or period.direction is Direction.BEFORE:
        return DeadlineStatus.UNCONFIRMED
    if met_on is not None:
        return DeadlineStatus.MET if met_on <= earliest else DeadlineStatus.UNCONFIRMED
    if today > earliest:
        return DeadlineStatus.UNCONFIRMED
    if (earliest - today).days <= due_soon_days:
        return DeadlineStatus.DUE_SOON
    return DeadlineStatus.RUNNING


def _not_before(count: _Count) -> date | None:
    """The earliest an unconfirmed due date can be: each working day still to count needs at
    least one more calendar day (a calendar-day period: its last day, which may move later)."""
    if count.last_confirmed is None or count.unconfirmed_reason is None:
        return None
    return count.last_confirmed + timedelta(days=count.remaining or 0)
