"""`evidence backup` and `evidence restore`, end to end with real sealed captures.

Captures are made by the production pipeline (`evidence capture`: Chromium, the built-in TSA
over the real code path, the store); the backup is written by `evidence backup` while the data
is live, restored by `evidence restore` onto a fresh data folder, database and store, and then
the restored service starts and `evidence verify` -- trusting only the restored PKI -- passes
every package. A backup with one changed or cut file is refused before anything is written;
restoring twice onto the same target is refused; `--force` replaces.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.cli.captures import export_object
from evidence_service.config import Settings
from evidence_service.services import Services
from evidence_service.web.app import create_app
from storage.dump import OBJECT_KEY_COLUMNS, nonempty_tables
from storage.models import Base, Capture
from tests.conftest import run_cli
from tests.fixtures.site import FixtureSite
from tests.storage.conftest import S3Settings, s3_settings  # noqa: F401  (fixture)

pytestmark = pytest.mark.chromium

PASSPHRASE = "backup test passphrase"


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
    env.update(
        EVIDENCE_DATA_DIR=str(data_dir),
        EVIDENCE_CAPTURE_ALLOW_PRIVATE="true",
        EVIDENCE_KEY_PASSPHRASE=PASSPHRASE,
        EVIDENCE_CAPTURE_TIMEOUT_S="30",
    )
    env.update(extra)
    return env


def _settings(env: dict[str, str]) -> Settings:
    values: dict[str, Any] = {
        k[len("EVIDENCE_") :].lower(): v for k, v in env.items() if k.startswith("EVIDENCE_")
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _capture(env: dict[str, str], url: str, out: Path) -> dict[str, Any]:
    proc = run_cli(["capture", url, "-o", str(out), "--json"], env, timeout=180)
    assert proc.returncode == 0, proc.stderr
    record: dict[str, Any] = json.loads(proc.stdout)
    assert record["status"] == "stored", record
    return record


def _rows(settings: Settings) -> dict[str, tuple[Any, ...]]:
    services = Services(settings)
    try:
        with services.sessions() as session:
            return {
                c.id: (c.status, c.package_key, c.package_sha256, c.certificate_key, c.sealed_at)
                for c in session.scalars(select(Capture))
            }
    finally:
        services.close()


def _verify_every_package(env: dict[str, str], settings: Settings, work: Path) -> int:
    """The restored service starts, and `evidence verify` passes every package it holds,
    trusting nothing but the restored PKI (no --trust: the local data folder's)."""
    services = Services(settings)
    try:
        initialize(services)
        with TestClient(create_app(services=services)) as client:
            health = client.get("/healthz")
            assert health.status_code == 200, health.text
        with services.sessions() as session:
            captures = list(session.scalars(select(Capture).where(Capture.status == "stored")))
        assert captures
        for cap in captures:
            package = work / f"{cap.id}.wacz"
            export_object(services, cap.package_key or "", package)
            assert hashlib.sha256(package.read_bytes()).hexdigest() == cap.package_sha256
            proc = run_cli(["verify", str(package), "--lang", "en"], env)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert proc.stdout.rstrip().split("\n")[-1] == "TOTAL-PASSED", proc.stdout
        return len(captures)
    finally:
        services.close()


def _backup(env: dict[str, str], dest: Path) -> dict[str, Any]:
    proc = run_cli(["backup", str(dest)], env)
    assert proc.returncode == 0, proc.stderr
    summary: dict[str, Any] = json.loads(proc.stdout)
    return summary


def _check_with_sha256sum(backup: Path) -> None:
    """A tool we did not write checks every file of the backup."""
    proc = subprocess.run(
        ["sha256sum", "--quiet", "-c", "SHA256SUMS"],
        cwd=backup,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _assert_nothing_restored(env: dict[str, str]) -> None:
    settings = _settings(env)
    assert not settings.pki_dir.exists()
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        assert not (settings.data_dir / "evidence.db").exists() or not nonempty_tables(url)
    else:
        assert not nonempty_tables(url)
    services = Services(settings)
    try:
        assert next(iter(services.store.iter_keys()), None) is None
    finally:
        services.close()


def _round_trip(
    source: dict[str, str],
    target: Callable[[str], dict[str, str]],
    fixture_site: FixtureSite,
    tmp_path: Path,
) -> None:
    first = _capture(source, fixture_site.url("/listing"), tmp_path / "a.wacz")
    second = _capture(source, fixture_site.url("/cjk"), tmp_path / "b.wacz")
    before = _rows(_settings(source))
    assert {first["id"], second["id"]} <= set(before)

    backup = tmp_path / "backup"
    summary = _backup(source, backup)
    assert summary["tables"]["captures"] == len(before)
    assert summary["objects"] >= 2 * 4  # package, certificate, screenshot, PDF, ... per capture
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["secrets"]["included"] is False
    assert not (backup / "secrets").exists()
    assert (
        (backup / "pki" / "root.key.pem")
        .read_bytes()
        .startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    )
    _check_with_sha256sum(backup)

    # A backup cut short, or with one changed byte, is refused before anything is written.
    cut = tmp_path / "cut"
    shutil.copytree(backup, cut)
    table_file = cut / "db" / "captures.jsonl"
    table_file.write_bytes(table_file.read_bytes()[:-10])
    bad_target = target("cut")
    proc = run_cli(["restore", str(cut)], bad_target)
    assert proc.returncode == 1, proc.stderr
    assert "db/captures.jsonl was altered or truncated" in proc.stderr
    assert "nothing was restored" in proc.stderr
    _assert_nothing_restored(bad_target)

    flipped = tmp_path / "flipped"
    shutil.copytree(backup, flipped)
    package_digest = first["package"]["sha256"]
    obj = flipped / "objects" / package_digest[:2] / package_digest
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 0x01
    obj.chmod(0o644)
    obj.write_bytes(bytes(data))
    proc = run_cli(["restore", str(flipped)], bad_target)
    assert proc.returncode == 1
    assert f"objects/{package_digest[:2]}/{package_digest} was altered" in proc.stderr
    _assert_nothing_restored(bad_target)

    (flipped / "manifest.json").unlink()
    proc = run_cli(["restore", str(flipped)], bad_target)
    assert proc.returncode == 1 and "manifest.json is missing" in proc.stderr

    # The wrong passphrase is found before anything is written.
    wrong = dict(bad_target, EVIDENCE_KEY_PASSPHRASE="not the passphrase")
    proc = run_cli(["restore", str(backup)], wrong)
    assert proc.returncode == 1 and "passphrase does not open" in proc.stderr
    _assert_nothing_restored(bad_target)

    # The real restore, onto a fresh machine.
    fresh = target("fresh")
    proc = run_cli(["restore", str(backup)], fresh)
    assert proc.returncode == 0, proc.stderr
    restored = json.loads(proc.stdout)
    assert restored["tables"] == manifest["database"]["tables"]
    assert restored["objects"] == manifest["store"]["objects"]
    assert _rows(_settings(fresh)) == before
    assert _verify_every_package(fresh, _settings(fresh), tmp_path) == len(before)
    # The restored service takes new evidence (ids and sequences carry on past the restored).
    after = _capture(fresh, fixture_site.url("/listing"), tmp_path / "c.wacz")
    assert after["id"] not in before and len(_rows(_settings(fresh))) == len(before) + 1

    # Twice onto the same target: refused, nothing changed; --force replaces.
    proc = run_cli(["restore", str(backup)], fresh)
    assert proc.returncode == 4, proc.stderr
    assert "the restore target is not empty" in proc.stderr and "--force" in proc.stderr
    proc = run_cli(["restore", "--force", str(backup)], fresh)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["replaced"], proc.stdout  # the PKI folder moved aside
    assert _rows(_settings(fresh)) == before


def test_backup_and_restore_sqlite_and_file_store(
    fixture_site: FixtureSite, tmp_path: Path
) -> None:
    source = _env(tmp_path / "source")

    def target(name: str) -> dict[str, str]:
        return _env(tmp_path / f"target-{name}")

    _round_trip(source, target, fixture_site, tmp_path)


@pytest.mark.postgres
@pytest.mark.s3
def test_backup_and_restore_postgresql_and_s3(
    fixture_site: FixtureSite,
    tmp_path: Path,
    pg_database: Callable[[], str],
    s3_settings: S3Settings,  # noqa: F811
) -> None:
    def s3_env(data_dir: Path) -> dict[str, str]:
        return _env(
            data_dir,
            EVIDENCE_DATABASE_URL=pg_database(),
            EVIDENCE_STORE="s3",
            EVIDENCE_S3_ENDPOINT=s3_settings.endpoint,
            EVIDENCE_S3_ACCESS_KEY=s3_settings.access_key,
            EVIDENCE_S3_SECRET_KEY=s3_settings.secret_key,
            EVIDENCE_S3_SECURE="true" if s3_settings.secure else "false",
            EVIDENCE_S3_BUCKET=f"evidence-bk-{uuid.uuid4().hex[:10]}",
            EVIDENCE_S3_RETENTION_DAYS="1",
        )

    source = s3_env(tmp_path / "source")

    def target(name: str) -> dict[str, str]:
        return s3_env(tmp_path / f"target-{name}")

    _round_trip(source, target, fixture_site, tmp_path)


def test_every_key_column_is_known() -> None:
    """Backups check by name the object keys these columns hold: a new key column must be
    listed (or declared not to be an object key) so that check stays whole."""
    not_object_keys = {
        ("register_entries", "name_key"),
        ("register_shops", "url_key"),
        ("captures", "idempotency_key"),  # a client's request key, not a store key
        ("documents", "idempotency_key"),  # the same, for a document request
        ("cases", "idempotency_key"),  # the same, for opening a case
    }
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if not column.name.endswith("_key") or (table.name, column.name) in not_object_keys:
                continue
            if column.name in ("name_key", "merchant_key"):
                continue  # the complaint index's folded names (screening), not store keys
            assert column.name in OBJECT_KEY_COLUMNS.get(table.name, ()), (table.name, column.name)


@pytest.mark.postgres
def test_a_sqlite_backup_restores_into_postgresql(
    tmp_path: Path, pg_database: Callable[[], str]
) -> None:
    """The dump is portable: every row of a SQLite service comes back equal on PostgreSQL."""
    from sqlalchemy import create_engine

    from evidence_service.backup import restore_backup, write_backup
    from storage.dump import schema_tables
    from storage.models import LogLeaf, Unit

    source = Services(_settings(_env(tmp_path / "source")))
    initialize(source)
    with source.session() as session:
        session.add(Unit(name="另一个市场监督管理局", case_number_prefix="另市监处"))
        session.add(LogLeaf(leaf_index=0, leaf_hash="a" * 64, leaf_input="b" * 64))
    summary = write_backup(source, tmp_path / "backup")
    assert summary.tables["units"] == 2 and summary.tables["users"] >= 1

    target = _settings(_env(tmp_path / "target", EVIDENCE_DATABASE_URL=pg_database()))
    restored = restore_backup(target, tmp_path / "backup")
    assert restored.tables == summary.tables

    def everything(url: str) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
        """Every row of every table, by primary key (the backends' orders of text differ)."""
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return {
                    t.name: {
                        tuple(r[c.name] for c in t.primary_key.columns): dict(r)
                        for r in conn.execute(select(t)).mappings()
                    }
                    for t in schema_tables()
                }
        finally:
            engine.dispose()

    before = everything(source.settings.effective_database_url)
    source.close()
    assert before["users"] and before["units"]
    assert everything(target.effective_database_url) == before


def test_the_generated_passphrase_travels_only_when_asked(tmp_path: Path) -> None:
    """Without EVIDENCE_KEY_PASSPHRASE the keys are opened by the generated passphrase: a
    backup leaves it out (restore then asks for it) unless --include-secrets."""
    from evidence_service.backup import BackupError, restore_backup, write_backup

    def settings(name: str) -> Settings:
        return Settings(_env_file=None, data_dir=tmp_path / name)  # type: ignore[call-arg]

    source = Services(settings("source"))
    initialize(source)
    write_backup(source, tmp_path / "plain")
    write_backup(source, tmp_path / "with-secrets", include_secrets=True)
    root_fingerprint = source.pki.root_fingerprint_sha256
    source.close()
    assert not (tmp_path / "plain" / "secrets").exists()

    with pytest.raises(BackupError, match="no key passphrase"):
        restore_backup(settings("target-plain"), tmp_path / "plain")
    assert not settings("target-plain").pki_dir.exists()

    target = settings("target")
    restore_backup(target, tmp_path / "with-secrets")
    secret = target.secrets_dir / "key-passphrase"
    assert secret.stat().st_mode & 0o777 == 0o600
    restored = Services(settings("target"))
    try:
        assert restored.pki.root_fingerprint_sha256 == root_fingerprint
    finally:
        restored.close()
