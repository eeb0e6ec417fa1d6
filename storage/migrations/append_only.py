"""Append-only tables, for the migrations that make them (0003, 0005, 0007).

A row of an audit trail, a document version, a case event or a payment record is never
changed nor deleted, by this code or by anyone with the database's password who did not also
drop the trigger. PostgreSQL raises through one function, ``evidence_refuse_change()``
(created by 0003_portal); SQLite aborts with a message naming the table.
"""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op

__all__ = ["create_refuse_function", "drop_refuse_function", "make_append_only", "undo"]


def _postgres() -> bool:
    return bool(op.get_context().dialect.name == "postgresql")


def create_refuse_function() -> None:
    """The PostgreSQL trigger function every append-only table uses (no-op on SQLite)."""
    if _postgres():
        op.execute(
            "CREATE FUNCTION evidence_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME; END $$"
        )


def drop_refuse_function() -> None:
    if _postgres():
        op.execute("DROP FUNCTION IF EXISTS evidence_refuse_change()")


def make_append_only(tables: Iterable[str]) -> None:
    """Refuse every UPDATE and DELETE of ``tables``' rows."""
    for table in tables:
        if _postgres():
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION evidence_refuse_change()"
            )
            continue
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END"
            )


def undo(tables: Iterable[str]) -> None:
    """Drop the triggers :func:`make_append_only` made (downgrades)."""
    for table in tables:
        if _postgres():
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        else:
            for event in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")
