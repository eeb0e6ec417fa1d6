"""Beijing calendar days and months of stored UTC instants, computed by the database.

The figures group by day and month as an officer in China counts them, and the grouping has
to happen in SQL (200,000 events are not read into Python to be bucketed), so each dialect
gets its own expression: SQLite keeps UTC text and shifts it by eight hours (China has had no
daylight saving time since 1991), PostgreSQL converts the ``timestamptz`` to the zone.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date, SQLColumnExpression, String, cast, func
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["as_date", "beijing_day", "beijing_month"]

_ZONE = "Asia/Shanghai"


def beijing_day(column: SQLColumnExpression[Any], dialect: str) -> ColumnElement[Any]:
    """The Beijing calendar day of an instant (text on SQLite, a date on PostgreSQL)."""
    if dialect == "sqlite":
        return func.date(column, "+8 hours")
    return cast(func.timezone(_ZONE, column), Date)


def beijing_month(column: SQLColumnExpression[Any], dialect: str) -> ColumnElement[str]:
    """``YYYY-MM`` of the Beijing calendar day of an instant."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m", column, "+8 hours", type_=String)
    return func.to_char(func.timezone(_ZONE, column), "YYYY-MM", type_=String)


def as_date(value: object) -> date:
    """A day as either dialect returns it."""
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
