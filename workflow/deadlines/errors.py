"""Errors of the deadline engine, one class per thing a caller can act on.

A case workflow catches :class:`ExtensionRefusedError` to tell the officer why an extension
cannot be recorded, :class:`CalendarDataError` / :class:`RuleDataError` to tell legal staff
which line of their data file is wrong, and :class:`UnconfirmedDateError` (mostly handled
inside the engine, which turns it into an *unconfirmed* deadline) to ask for the next year's
holiday notice.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

__all__ = [
    "CalendarDataError",
    "DeadlineError",
    "ExtensionNotAllowedError",
    "ExtensionRefusedError",
    "ExtensionTooLateError",
    "PeriodError",
    "RuleDataError",
    "UnconfirmedDateError",
    "UnconfirmedDeadlineError",
    "UnknownRuleError",
]


class DeadlineError(Exception):
    """Base class: something about a deadline cannot be computed or recorded."""


class PeriodError(DeadlineError, ValueError):
    """A period, suspension or extension given by the caller makes no sense (a length of 0,
    a suspension that ends before it starts...)."""


class DataFileError(DeadlineError):
    """A data file kept by legal staff is wrong; the message names the file and the entry."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


class CalendarDataError(DataFileError):
    """``calendar_overrides.toml`` is malformed (bad date, unknown key, missing source...)."""


class RuleDataError(DataFileError):
    """``rules.toml`` is malformed (unknown unit or event, no legal source...)."""


class UnknownRuleError(DeadlineError, KeyError):
    """No rule with this id in ``rules.toml``."""

    def __init__(self, rule_id: str, known: list[str]) -> None:
        super().__init__(f"no deadline rule {rule_id!r}; known rules: {', '.join(known)}")
        self.rule_id = rule_id

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class UnconfirmedDateError(DeadlineError):
    """Neither chinese-calendar nor the override table says whether ``day`` is a working day
    (its year's State Council holiday notice has not been entered yet)."""

    def __init__(self, day: date, reason: str) -> None:
        super().__init__(reason)
        self.day = day
        self.reason = reason


class UnconfirmedDeadlineError(DeadlineError):
    """A result needs a due date that is still unconfirmed (e.g. a late-payment surcharge
    whose payment deadline depends on a day of a year not yet in the calendar)."""


class ExtensionRefusedError(DeadlineError):
    """An extension cannot be recorded; ``reason`` says why in words for the officer."""

    def __init__(self, rule_id: str | None, reason: str) -> None:
        label = f"extension of {rule_id}" if rule_id else "extension"
        super().__init__(f"{label} refused: {reason}")
        self.rule_id = rule_id
        self.reason = reason


class ExtensionNotAllowedError(ExtensionRefusedError):
    """The rule does not allow this extension: none at all, not by this approver, not in this
    order, or longer than its maximum."""


class ExtensionTooLateError(ExtensionRefusedError):
    """The extension was approved after the period had already ended (an extension must be
    granted before the period runs out)."""
