"""Shared fixtures: the fixture web site, databases (SQLite and PostgreSQL), service settings."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.site import FixtureSite, serve_fixture_site
from tests.fixtures.venv import run_text, venv_command

PG_ADMIN_URL = os.environ.get(
    "EVIDENCE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def fixture_site() -> Iterator[FixtureSite]:
    with serve_fixture_site() as site:
        yield site


def _pg_admin() -> Any:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # a missing service is a failure, never a skip
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    return engine


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Callable[[], str]]:
    """Factory of fresh PostgreSQL databases (dropped at the end of the session)."""
    import sqlalchemy as sa

    engine = _pg_admin()
    created: list[str] = []

    def make() -> str:
        name = f"evidence_test_{secrets.token_hex(4)}"
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    yield make
    with engine.connect() as conn:
        for name in created:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'evidence.db'}"
    factory: Callable[[], str] = request.getfixturevalue("pg_database")
    return factory()


@pytest.fixture
def service_env(tmp_path: Path) -> Callable[..., dict[str, str]]:
    """Environment variables for a service instance in tmp_path (for subprocesses)."""

    def make(**overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
        env.update(
            EVIDENCE_DATA_DIR=str(tmp_path / "data"),
            EVIDENCE_CAPTURE_ALLOW_PRIVATE="true",
            EVIDENCE_KEY_PASSPHRASE="test passphrase",
            EVIDENCE_CAPTURE_TIMEOUT_S="30",
        )
        env.update(overrides)
        return env

    return make


def run_cli(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return run_text([venv_command("evidence"), *args], env=env, timeout=timeout)
