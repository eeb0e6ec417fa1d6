"""The deadline engine of the administrative case: pure functions over dates and data files.

Public API (the case workflow codes against exactly this)::

    due(rule_or_period, start_event_date, suspensions=(), extensions=(), *, today=None,
        met_on=None, calendar=None, due_soon_days=3) -> Deadline
        Deadline(due_date | None, confirmed, explanation, days_left, status,
                 last_confirmed_date, unconfirmed_reason, suspended_since, remaining, ...)
        DeadlineStatus: running, due_soon, overdue, suspended, met, unconfirmed
    Period(length, unit=PeriodUnit.WORKING_DAYS | CALENDAR_DAYS, direction=AFTER | BEFORE)
    Suspension(kind: SuspensionKind, start, end=None)
    Extension(length, approved_by, approver_role: Approver, approved_on, reason)
    rules() -> Mapping[str, Rule]; get_rule(id) -> Rule       # rules.toml
    WorkingCalendar(overrides).day(date) -> DayInfo            # calendar_overrides.toml
    late_payment_surcharge(fine_fen, served_on, as_of) -> Surcharge

Errors: ExtensionNotAllowedError / ExtensionTooLateError (both ExtensionRefusedError),
PeriodError, UnknownRuleError, RuleDataError, CalendarDataError, UnconfirmedDeadlineError;
all are DeadlineError. How periods are counted: docs/deadlines.md.
"""

from __future__ import annotations

from workflow.deadlines.counting import (
    CHINA,
    DUE_SOON_DAYS,
    Deadline,
    DeadlineStatus,
    Extension,
    Suspension,
    beijing_today,
    due,
    fixed,
    or_stated,
)
from workflow.deadlines.errors import (
    CalendarDataError,
    DeadlineError,
    ExtensionNotAllowedError,
    ExtensionRefusedError,
    ExtensionTooLateError,
    PeriodError,
    RuleDataError,
    UnconfirmedDateError,
    UnconfirmedDeadlineError,
    UnknownRuleError,
)
from workflow.deadlines.rules import (
    EVENTS,
    RULES_PATH,
    Approver,
    Direction,
    ExtensionTier,
    LegalSource,
    Period,
    PeriodUnit,
    Rule,
    SuspensionKind,
    get_rule,
    load_rules,
    rules,
)
from workflow.deadlines.surcharge import Surcharge, late_payment_surcharge
from workflow.deadlines.workdays import (
    OVERRIDES_PATH,
    CalendarOverrides,
    DayInfo,
    DayKind,
    WorkingCalendar,
    default_calendar,
    library_years,
    load_overrides,
)

__all__ = [
    "CHINA",
    "DUE_SOON_DAYS",
    "EVENTS",
    "OVERRIDES_PATH",
    "RULES_PATH",
    "Approver",
    "CalendarDataError",
    "CalendarOverrides",
    "DayInfo",
    "DayKind",
    "Deadline",
    "DeadlineError",
    "DeadlineStatus",
    "Direction",
    "Extension",
    "ExtensionNotAllowedError",
    "ExtensionRefusedError",
    "ExtensionTier",
    "ExtensionTooLateError",
    "LegalSource",
    "Period",
    "PeriodError",
    "PeriodUnit",
    "Rule",
    "RuleDataError",
    "Surcharge",
    "Suspension",
    "SuspensionKind",
    "UnconfirmedDateError",
    "UnconfirmedDeadlineError",
    "UnknownRuleError",
    "WorkingCalendar",
    "beijing_today",
    "default_calendar",
    "due",
    "fixed",
    "get_rule",
    "late_payment_surcharge",
    "library_years",
    "load_overrides",
    "load_rules",
    "or_stated",
    "rules",
]
