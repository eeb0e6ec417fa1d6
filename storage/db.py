"""Database engines, sessions and schema migrations (SQLite or PostgreSQL).

SQLite is set up for several processes (web app, workers, CLI) sharing one file: WAL, foreign
keys on, a busy timeout, and every transaction started with ``BEGIN IMMEDIATE``. The last one
matters: a plain (deferred) transaction that reads and then writes fails at once with
"database is locked" when another process wrote in between -- the busy timeout cannot help
there. Taking the write lock up front makes writers queue instead; in WAL mode readers of
other connections are not blocked by it.

Migrations: ``migrate(url)`` upgrades to the newest revision shipped in
``storage/migrations``. To add a revision after changing ``storage/models.py``::

    python -c "from alembic import command; from storage.db import alembic_config; \\
        command.revision(alembic_config('sqlite:////tmp/rev.db'), 'what changed', \\
        autogenerate=True)"

(run ``migrate`` on that database first, so autogenerate compares against the current head).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: How long a SQLite connection waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 30.0

# Arbitrary constant key for pg_advisory_xact_lock: serialises concurrent migrate() calls.
_MIGRATION_LOCK_KEY = 0x45564944  # "EVID"


def normalize_url(url: str | URL) -> URL:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here; anything else is kept."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine configured for this service's concurrency (see the module docstring)."""
    u = normalize_url(url)
    if u.get_backend_name() == "sqlite":
        return _sqlite_engine(u, **kwargs)
    if u.get_backend_name() == "postgresql":
        connect_args = {"connect_timeout": 10, "application_name": "evidence-service"}
        connect_args.update(kwargs.pop("connect_args", {}))
        return create_engine(u, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    return create_engine(u, **kwargs)


def _sqlite_engine(u: URL, **kwargs: Any) -> Engine:
    database = u.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    connect_args.update(kwargs.pop("connect_args", {}))
    engine = create_engine(u, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we send BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        try:
            if not in_memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cur.execute("PRAGMA synchronous=FULL")  # a committed "stored" survives power loss
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (handy when a unit of work returns)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: committed if the block succeeds, rolled back if it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str | URL) -> Config:
    """An Alembic configuration using the migrations shipped inside this package (any cwd)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    # Given as an attribute, not as an ini option: ini interpolation would mangle a "%" in a
    # password.
    cfg.attributes["url"] = normalize_url(url)
    return cfg


def migrate(url: str | URL) -> None:
    """Bring the schema to the newest revision; safe to run from several processes at once.

    Every ``evidence`` command calls this at start-up, so a database already at the newest
    revision is recognised first with one read (about a tenth of running Alembic's upgrade,
    which loads its environment and every revision's module)."""
    cfg = alembic_config(url)
    engine = make_engine(url, poolclass=_null_pool())
    try:
        heads = set(ScriptDirectory.from_config(cfg).get_heads())
        with engine.connect() as conn:
            if set(MigrationContext.configure(conn).get_current_heads()) == heads:
                return
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
            # SQLite: BEGIN IMMEDIATE already holds the write lock for the whole upgrade.
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
    finally:
        engine.dispose()


def current_revision(url: str | URL) -> str | None:
    """The revision the database is at (None: never migrated)."""
    engine = make_engine(url, poolclass=_null_pool())
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped with this package."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool
