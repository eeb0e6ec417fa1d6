"""The whole database as portable JSON lines, read in one consistent snapshot, and loaded back.

Why not ``pg_dump`` or SQLite's file: a backup must restore into either backend (a unit that
outgrows SQLite moves to PostgreSQL by restoring its last backup), and it must be taken while
the service runs. So every table of the schema is read inside one snapshot -- PostgreSQL: one
``REPEATABLE READ, READ ONLY, DEFERRABLE`` transaction; SQLite: the online backup API copies
the file first -- and each row becomes one JSON object. Values JSON cannot carry are tagged
(``{"$dt": ...}`` for instants, ``{"$date": ...}``, ``{"$b64": ...}``, ``{"$dec": ...}``).

Loading happens in one transaction on the target: the schema is created by the same
migrations (to the revision the dump was made at), the rows are inserted table by table in
foreign-key order, PostgreSQL's sequences are moved past the restored ids, and only then is it
committed. A failure anywhere leaves the target as it was.

A leaf like the rest of ``storage``: nothing here knows what the rows mean, except which
columns hold object-store keys (:data:`OBJECT_KEY_COLUMNS`), so a backup can prove it holds
every object the rows name.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, Connection, Integer, MetaData, Table, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeDecorator

from .db import alembic_config, head_revision, make_engine, normalize_url
from .errors import StorageError
from .models import Base

#: Columns whose values are keys of the object store (``sha256/<hex>`` or ``<hex>``). Keys
#: also appear inside JSON payloads (case events), which is why a backup copies every object
#: the store holds; these are the ones a backup checks by name.
OBJECT_KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "captures": (
        "package_key",
        "screenshot_key",
        "pdf_key",
        "provenance_key",
        "provenance_html_key",
        "manifest_key",
        "certificate_key",
        "proofs_key",
        "video_key",
    ),
    "capture_comparisons": ("report_key", "highlight_a_key", "highlight_b_key"),
    "document_versions": ("object_key",),
    "document_attachments": ("object_key",),
    "case_evidence": ("object_key",),
    "payment_receipts": ("object_key",),
}

_BATCH = 500
_ALEMBIC_TABLE = "alembic_version"


class DumpError(StorageError):
    """A dump cannot be made or loaded; the message says which table or row and why."""


@dataclass(frozen=True)
class TableInfo:
    name: str
    rows: int


def schema_tables() -> list[Table]:
    """The schema's tables in foreign-key order (parents first): the order rows are loaded."""
    return list(Base.metadata.sorted_tables)


# -- reading -------------------------------------------------------------------------------------


class Snapshot:
    """One consistent view of the whole database, open for reading."""

    def __init__(self, conn: Connection, revision: str | None) -> None:
        self._conn = conn
        self.revision = revision
        self.dialect = conn.dialect.name

    def rows(self, table: Table) -> Iterator[bytes]:
        """The table's rows in primary-key order, one JSON line each (streamed from the server)."""
        json_columns = {c.name for c in table.columns if _is_json(c.type)}
        order = list(table.primary_key.columns) or list(table.columns)
        result = self._conn.execution_options(stream_results=True, yield_per=_BATCH).execute(
            select(table).order_by(*order)
        )
        for row in result.mappings():
            record = {
                name: (value if name in json_columns else _encode(table.name, name, value))
                for name, value in row.items()
            }
            yield json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"

    def referenced_keys(self) -> Iterator[tuple[str, str]]:
        """``(where, key)`` for every object key a row names (``where``: table.column)."""
        tables = Base.metadata.tables
        for table_name, columns in OBJECT_KEY_COLUMNS.items():
            table = tables[table_name]
            for column in columns:
                col = table.columns[column]
                for (key,) in self._conn.execute(select(col).where(col.is_not(None))):
                    if key:
                        yield f"{table_name}.{column}", str(key)


@contextmanager
def snapshot(url: str) -> Iterator[Snapshot]:
    """The database at ``url`` read in one snapshot, while other processes go on writing.

    Refuses a database not at this software's schema revision: its rows could not be read by
    these table definitions (run ``evidence init`` to migrate it first).
    """
    u = normalize_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        with _sqlite_copy(u.database or "") as copy:
            engine = make_engine(f"sqlite:///{copy}")
            try:
                with engine.connect() as conn:
                    yield _checked(conn)
            finally:
                engine.dispose()
        return
    if backend != "postgresql":
        raise DumpError(f"cannot back up a {backend} database: only SQLite and PostgreSQL")
    engine = make_engine(u)
    try:
        with engine.connect() as plain:
            conn = plain.execution_options(
                isolation_level="REPEATABLE READ",
                postgresql_readonly=True,
                postgresql_deferrable=True,
            )
            with conn.begin():
                yield _checked(conn)
    finally:
        engine.dispose()


def _checked(conn: Connection) -> Snapshot:
    revision = MigrationContext.configure(conn).get_current_revision()
    head = head_revision()
    if revision != head:
        raise DumpError(
            f"the database is at schema revision {revision or 'none'}, this software's is "
            f"{head}: run `evidence init` (it migrates) and back up again"
        )
    known = {t.name for t in schema_tables()} | {_ALEMBIC_TABLE}
    extra = sorted(set(inspect(conn).get_table_names()) - known)
    if extra:
        raise DumpError(
            f"the database has tables this software does not know: {', '.join(extra)}; "
            "back up with the software version that made them"
        )
    return Snapshot(conn, revision)


@contextmanager
def _sqlite_copy(database: str) -> Iterator[Path]:
    """A private copy of a live SQLite database, made with its online backup API (a consistent
    snapshot even while writers commit), removed afterwards."""
    if not database or database == ":memory:" or not Path(database).is_file():
        raise DumpError(f"no SQLite database at {database!r}")
    fd, name = tempfile.mkstemp(prefix=".backup-", suffix=".db", dir=Path(database).parent)
    os.close(fd)
    copy = Path(name)
    try:
        copy_sqlite(Path(database), copy)
        yield copy
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(str(copy) + suffix)


def copy_sqlite(source: Path, dest: Path) -> None:
    """Copy a SQLite file that may be in use, consistently (``sqlite3`` backup API)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise DumpError(f"cannot copy the SQLite database {source}: {exc}") from exc
    finally:
        src.close()


# -- the target ----------------------------------------------------------------------------------


def nonempty_tables(url: str) -> list[TableInfo]:
    """Tables of the database at ``url`` that hold rows (besides Alembic's own)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found: list[TableInfo] = []
            for name in inspect(conn).get_table_names():
                if name == _ALEMBIC_TABLE:
                    continue
                table = Table(name, MetaData(), autoload_with=conn)
                count = conn.execute(select(text("count(*)")).select_from(table)).scalar_one()
                if count:
                    found.append(TableInfo(name, int(count)))
            return found
    finally:
        engine.dispose()


def load(
    url: str, revision: str, tables: Iterable[tuple[Table, Iterable[bytes]]], *, replace: bool
) -> dict[str, int]:
    """Load dumped rows into the database at ``url``, all in one transaction.

    ``tables``: each schema table with its JSON lines, in :func:`schema_tables` order.
    ``replace``: drop whatever tables are there first (within the same transaction);
    otherwise the caller has checked the target is empty. Returns the rows loaded per table.
    Any exception the row iterables raise (a checksum found wrong while reading) rolls all
    of it back.
    """
    head = head_revision()
    if revision != head:
        raise DumpError(
            f"the backup is at schema revision {revision}, this software's is {head}: "
            "restore with the software version that made the backup, then upgrade"
        )
    u = normalize_url(url)
    if u.get_backend_name() == "sqlite" and u.database:
        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(u)
    counts: dict[str, int] = {}
    try:
        with engine.begin() as conn:
            if replace:
                _drop_all(conn)
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            for table, lines in tables:
                counts[table.name] = _insert(conn, table, lines)
            if conn.dialect.name == "postgresql":
                _advance_sequences(conn)
    except SQLAlchemyError as exc:  # a database refusing a row: say so, nothing was kept
        raise DumpError(f"the database refused the restore (nothing was kept): {exc}") from exc
    finally:
        engine.dispose()
    return counts


def _drop_all(conn: Connection) -> None:
    reflected = MetaData()
    reflected.reflect(conn)
    if conn.dialect.name == "postgresql":
        for name in reflected.tables:
            conn.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
        # What the migrations made besides tables (the append-only trigger functions, enum
        # types, free sequences) goes too, or making the schema again would collide with it;
        # objects belonging to extensions are left alone.
        not_extension = (
            "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = o.oid AND d.deptype = 'e')"
        )
        schema = "current_schema()::regnamespace"
        leftovers = [
            f"SELECT 'FUNCTION ' || o.oid::regprocedure::text FROM pg_proc o "
            f"WHERE o.pronamespace = {schema} AND {not_extension}",
            f"SELECT 'SEQUENCE ' || o.oid::regclass::text FROM pg_class o "
            f"WHERE o.relnamespace = {schema} AND o.relkind = 'S' AND {not_extension}",
            f"SELECT 'TYPE ' || o.oid::regtype::text FROM pg_type o "
            f"WHERE o.typnamespace = {schema} AND o.typtype IN ('e', 'd') "
            f"AND {not_extension}",
        ]
        for query in leftovers:
            for (what,) in conn.execute(text(query)).all():
                conn.execute(text(f"DROP {what} CASCADE"))
    else:
        reflected.drop_all(conn)


def _insert(conn: Connection, table: Table, lines: Iterable[bytes]) -> int:
    json_columns = {c.name for c in table.columns if _is_json(c.type)}
    known = set(table.columns.keys())
    batch: list[dict[str, Any]] = []
    count = 0
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise DumpError(f"{table.name}: line {number} is not JSON: {exc}") from exc
        unknown = set(record) - known
        if unknown:
            raise DumpError(
                f"{table.name}: line {number} has columns this schema lacks: {sorted(unknown)}"
            )
        batch.append(
            {k: (v if k in json_columns else _decode(table.name, k, v)) for k, v in record.items()}
        )
        if len(batch) >= _BATCH:
            conn.execute(table.insert(), batch)
            count += len(batch)
            batch = []
    if batch:
        conn.execute(table.insert(), batch)
        count += len(batch)
    return count


def _advance_sequences(conn: Connection) -> None:
    """Integer ids were inserted as given: move each id sequence past the largest one."""
    for table in schema_tables():
        columns = list(table.primary_key.columns)
        if len(columns) != 1 or not isinstance(columns[0].type, Integer):
            continue
        for column in columns:
            sequence = conn.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            ).scalar()
            if sequence:
                conn.execute(
                    text(
                        f'SELECT setval(:s, COALESCE((SELECT MAX("{column.name}") '
                        f'FROM "{table.name}"), 0) + 1, false)'
                    ),
                    {"s": sequence},
                )


# -- values --------------------------------------------------------------------------------------


def _is_json(type_: Any) -> bool:
    if isinstance(type_, TypeDecorator):
        type_ = type_.impl
    return isinstance(type_, JSON) or type(type_).__name__ in ("JSONB", "JSON")


def _encode(table: str, column: str, value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$b64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    raise DumpError(f"{table}.{column}: cannot back up a value of type {type(value).__name__}")


def _decode(table: str, column: str, value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, raw),) = value.items()
        try:
            if tag == "$dt":
                return datetime.fromisoformat(raw)
            if tag == "$date":
                return date.fromisoformat(raw)
            if tag == "$b64":
                return base64.b64decode(raw, validate=True)
            if tag == "$dec":
                return Decimal(raw)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise DumpError(f"{table}.{column}: unreadable {tag} value {raw!r}: {exc}") from exc
    raise DumpError(f"{table}.{column}: unexpected value {value!r}")


def database_label(url: str) -> str:
    """The database's URL without its password (for messages and the manifest)."""
    return make_url(url).render_as_string(hide_password=True)


__all__ = [
    "OBJECT_KEY_COLUMNS",
    "DumpError",
    "Snapshot",
    "TableInfo",
    "copy_sqlite",
    "database_label",
    "load",
    "nonempty_tables",
    "schema_tables",
    "snapshot",
]
