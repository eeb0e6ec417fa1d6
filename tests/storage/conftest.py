"""Fixtures for the storage tests: a real S3 server (Ceph RGW) and real databases.

S3: uses S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY/S3_SECURE if set, else starts the server with
``../shared/services/s3-server start`` (idempotent) and reads the settings it prints. Each test
session uses its own buckets (objects there stay locked; the server keeps data in memory only).

PostgreSQL: 127.0.0.1:5432, user postgres (override with STORAGE_TEST_PG_URL, a server URL
without a database). A fresh database ``evidence_test_<random>`` per session, dropped at the
end. A missing service fails the tests with a message saying how to start it; nothing skips.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

REPO = Path(__file__).resolve().parents[2]
S3_SERVER = Path(os.environ.get("S3_SERVER_SCRIPT", REPO.parent / "shared/services/s3-server"))
PG_SERVER_URL = os.environ.get(
    "STORAGE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"
)

# -- S3 ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Settings:
    endpoint: str
    access_key: str
    secret_key: str
    secure: bool


@pytest.fixture(scope="session")
def s3_settings() -> S3Settings:
    env = dict(os.environ)
    if not env.get("S3_ENDPOINT"):
        if not S3_SERVER.exists():
            pytest.fail(f"S3_ENDPOINT is not set and the S3 server script {S3_SERVER} is missing")
        proc = subprocess.run(
            [str(S3_SERVER), "start"], capture_output=True, text=True, timeout=600, check=False
        )
        if proc.returncode != 0:
            pytest.fail(f"`{S3_SERVER} start` failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        env.update(dict(re.findall(r"(S3_[A-Z_]+)=(\S+)", proc.stdout)))
        if not env.get("S3_ENDPOINT"):
            pytest.fail(f"`{S3_SERVER} start` printed no settings:\n{proc.stdout}")
    return S3Settings(
        endpoint=env["S3_ENDPOINT"],
        access_key=env.get("S3_ACCESS_KEY", ""),
        secret_key=env.get("S3_SECRET_KEY", ""),
        secure=env.get("S3_SECURE", "0") in ("1", "true", "True"),
    )


@pytest.fixture(scope="session")
def s3_session_tag() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def make_s3_store(s3_settings: S3Settings, s3_session_tag: str):
    """Factory: an S3Store on a bucket unique to this test session (and suffix)."""
    from storage.s3 import S3Store

    def make(suffix: str = "main", **kwargs: object) -> S3Store:
        return S3Store(
            s3_settings.endpoint,
            s3_settings.access_key,
            s3_settings.secret_key,
            bucket=f"evt-{s3_session_tag}-{suffix}",
            secure=s3_settings.secure,
            **{"retention_days": 1, "part_size": 5 << 20, **kwargs},
        )

    return make


@pytest.fixture(scope="session")
def s3_store(make_s3_store):
    store = make_s3_store()
    store.check()  # creates the bucket with Object Lock
    return store


@pytest.fixture(scope="session")
def raw_s3(s3_settings: S3Settings):
    """The plain SDK client, to attack stored objects the way a person with credentials could."""
    from minio import Minio

    return Minio(
        s3_settings.endpoint,
        s3_settings.access_key,
        s3_settings.secret_key,
        secure=s3_settings.secure,
    )


# -- databases --------------------------------------------------------------------------------


def _pg_admin():
    from storage.db import make_engine

    engine = make_engine(f"{PG_SERVER_URL}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_SERVER_URL}: {exc}\nStart it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
        )
    return engine


class PgDatabases:
    """Creates throw-away databases and drops them all at the end."""

    def __init__(self) -> None:
        self._admin = _pg_admin()
        self._names: list[str] = []

    def create(self) -> str:
        name = f"evidence_test_{uuid.uuid4().hex[:12]}"
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self._names.append(name)
        return f"{PG_SERVER_URL}/{name}"

    def drop_all(self) -> None:
        with self._admin.connect() as conn:
            for name in self._names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    dbs = PgDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def pg_migrated_url(pg_databases: PgDatabases) -> str:
    from storage.db import migrate

    url = pg_databases.create()
    migrate(url)
    return url


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (no schema) on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    dbs: PgDatabases = request.getfixturevalue("pg_databases")
    return dbs.create()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database with empty tables, on each backend."""
    from storage.db import migrate

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'evidence.db'}"
        migrate(url)
        return url
    url: str = request.getfixturevalue("pg_migrated_url")
    from storage.db import make_engine
    from storage.models import Base

    engine = make_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str):
    from storage.db import make_engine

    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine):
    from storage.db import make_session_factory

    return make_session_factory(engine)
