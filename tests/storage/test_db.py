"""Schema, migrations and time handling on both SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, String, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from storage.db import (
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
    migrate,
    normalize_url,
    session_scope,
)
from storage.models import ApiToken, Base, Capture, Job, User

REPO = Path(__file__).resolve().parents[2]


def _table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrate_creates_schema_from_scratch(fresh_db_url: str) -> None:
    assert _table_names(fresh_db_url) == set()
    assert current_revision(fresh_db_url) is None
    migrate(fresh_db_url)
    assert _table_names(fresh_db_url) >= {"users", "api_tokens", "captures", "jobs"}
    assert current_revision(fresh_db_url) == head_revision()
    migrate(fresh_db_url)  # idempotent
    assert current_revision(fresh_db_url) == head_revision()


def _diffs(url: str, metadata: MetaData) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "target_metadata": metadata}
            )
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


def test_models_and_migrations_agree(db_url: str) -> None:
    """`alembic check`: autogenerate finds nothing to do after upgrading to head."""
    assert _diffs(db_url, Base.metadata) == []


def test_model_change_without_migration_is_noticed(db_url: str) -> None:
    """The check above can fail: a column added to a model but not migrated shows up."""
    changed = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["captures"].append_column(Column("new_field", String(10)))
    Table = type(changed.tables["jobs"])
    Table("unmigrated", changed, Column("id", Integer, primary_key=True))
    kinds = {d[0] if isinstance(d, tuple) else d[0][0] for d in _diffs(db_url, changed)}
    assert {"add_column", "add_table"} <= kinds


def _migrate_in_child(url: str) -> None:
    migrate(url)


def test_concurrent_migrate_from_two_processes(fresh_db_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_migrate_in_child, args=(fresh_db_url,)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert current_revision(fresh_db_url) == head_revision()


def test_migrate_from_another_directory(fresh_db_url: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", f"from storage.db import migrate; migrate({fresh_db_url!r})"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert current_revision(fresh_db_url) == head_revision()


@pytest.mark.slow
def test_migrate_from_an_installed_wheel(tmp_path: Path) -> None:
    """The migrations (env.py, script.py.mako, versions/) are shipped inside the package."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    (src / "README.md").write_text("x")
    subprocess.run(["cp", "-r", str(REPO / "storage"), str(src / "storage")], check=True)
    for cache in (src / "storage").rglob("__pycache__"):
        subprocess.run(["rm", "-rf", str(cache)], check=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(tmp_path / "dist"), "."],
        cwd=src,
        check=True,
        capture_output=True,
    )
    [wheel] = (tmp_path / "dist").glob("*.whl")
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    url = f"sqlite:///{tmp_path / 'installed.db'}"
    code = (
        "import storage, storage.db as db\n"
        f"assert storage.__file__.startswith({str(site)!r}), storage.__file__\n"
        f"db.migrate({url!r})\n"
        f"print(db.current_revision({url!r}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=run_dir,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == head_revision()


def test_url_normalisation() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")  # creates the folder
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10000
    finally:
        engine.dispose()


def _user(name: str = "alice") -> User:
    return User(username=name, display_name=name.title(), password_hash="x", role="officer")


def test_timezone_aware_datetimes_round_trip(sessions: sessionmaker[Session], engine) -> None:
    beijing = timezone(timedelta(hours=8))
    local = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=beijing)
    with session_scope(sessions) as s:
        cap = Capture(requested_url="https://shop.example/", trusted_time=local)
        s.add(cap)
        s.flush()
        cap_id = cap.id
    with session_scope(sessions) as s:
        got = s.get(Capture, cap_id)
        assert got is not None
        assert got.trusted_time == local
        assert got.trusted_time.tzinfo == UTC and got.trusted_time.hour == 1
        assert got.created_at.tzinfo == UTC
        assert abs(got.created_at - datetime.now(UTC)) < timedelta(minutes=1)
        # Comparisons in SQL use the instant, whatever zone the parameter is in.
        later = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
        assert s.scalar(select(Capture.id).where(Capture.trusted_time < later)) == cap_id
    with engine.connect() as conn:  # and it is stored as UTC
        if conn.dialect.name == "sqlite":
            raw = conn.execute(text("SELECT trusted_time FROM captures")).scalar()
            assert str(raw).startswith("2026-03-01 01:30:15.123456")
        else:
            raw = conn.execute(
                text("SELECT trusted_time AT TIME ZONE 'UTC' FROM captures")
            ).scalar()
            assert raw == datetime(2026, 3, 1, 1, 30, 15, 123456)


def test_naive_datetime_is_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(StatementError, match="naive datetime"), session_scope(sessions) as s:
        s.add(Capture(requested_url="https://x.example/", trusted_time=datetime(2026, 1, 1)))
        s.flush()


def test_model_defaults_and_json(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as s:
        user = _user()
        s.add(user)
        s.flush()
        cap = Capture(requested_url="https://shop.example/", created_by_id=user.id)
        s.add(cap)
        s.flush()
        cap_id = cap.id
    assert len(cap_id) == 32 and int(cap_id, 16) >= 0
    with session_scope(sessions) as s:
        cap = s.get(Capture, cap_id)
        assert cap is not None
        assert (cap.status, cap.authenticated, cap.cookie_names, cap.options) == (
            "queued",
            False,
            [],
            {},
        )
        cap.summary["pages"] = 3  # in-place changes of JSON columns are saved
        cap.limits_hit.append("max_bytes")
        cap.cookie_names = ["session"]
        cap.cookies_encrypted = b"\x00\xffsealed"
    with session_scope(sessions) as s:
        cap = s.get(Capture, cap_id)
        assert cap is not None
        assert cap.summary == {"pages": 3}
        assert cap.limits_hit == ["max_bytes"]
        assert cap.cookie_names == ["session"]
        assert cap.cookies_encrypted == b"\x00\xffsealed"
        assert cap.updated_at >= cap.created_at


def test_constraints(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as s:
        s.add(_user("bob"))
    with pytest.raises(IntegrityError), session_scope(sessions) as s:
        s.add(_user("bob"))  # username unique
    with pytest.raises(IntegrityError), session_scope(sessions) as s:
        s.add(ApiToken(user_id=999, name="t", token_hash="a" * 64))  # foreign key enforced
    with pytest.raises(IntegrityError), session_scope(sessions) as s:
        s.add(Capture(requested_url="https://x.example/", status="done"))  # not a status
    with pytest.raises(IntegrityError), session_scope(sessions) as s:
        u = User(username="eve", display_name="Eve", password_hash="x", role="root")
        s.add(u)
    with session_scope(sessions) as s:
        assert s.scalars(select(User.username)).all() == ["bob"]
        assert s.scalars(select(Job)).all() == []


def test_session_scope_rolls_back_on_error(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), session_scope(sessions) as s:
        s.add(_user("carol"))
        s.flush()
        raise RuntimeError("boom")
    with session_scope(sessions) as s:
        assert s.scalars(select(User)).all() == []


def test_objects_stay_readable_after_commit(sessions: sessionmaker[Session]) -> None:
    assert make_session_factory is not None
    with session_scope(sessions) as s:
        user = _user("dave")
        s.add(user)
    assert user.username == "dave" and user.id is not None  # no DetachedInstanceError
