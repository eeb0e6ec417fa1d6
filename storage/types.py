"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the only kind the database accepts)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant in time: stored as UTC, always returned as an aware UTC ``datetime``.

    SQLite has no time zones (it would hand back naive values) and PostgreSQL returns
    ``timestamptz`` in the session's zone; both are normalised here. A naive value is refused
    rather than guessed at: the evidence record's times must be unambiguous.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} refused: use an aware UTC time (utcnow())"
            )
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # Stored as text; one fixed form keeps string comparison equal to time comparison.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw text from a hand-written SQLite row
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_type() -> TypeEngine[Any]:
    """JSON, as ``jsonb`` on PostgreSQL (indexable, compact) and JSON text on SQLite."""
    return JSON().with_variant(JSONB(), "postgresql")
