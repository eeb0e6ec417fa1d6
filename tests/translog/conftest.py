"""Fixtures for the transparency-log tests: a service instance (database, PKI, built-in TSA)
on SQLite and on PostgreSQL, and helpers to fill its log quickly."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import insert

from evidence_service.services import Services
from signing.translog import leaf_hash
from storage.models import LogLeaf
from tests.service.conftest import make_settings


def leaf_input(i: int) -> bytes:
    """A stand-in for the SHA-256 of manifest number ``i``."""
    return hashlib.sha256(f"manifest {i}".encode()).digest()


def bulk_leaves(services: Services, start: int, end: int) -> None:
    """Insert entries start..end-1 directly (fast; what ``append`` would have written)."""
    now = datetime.now(UTC)
    rows = [
        {
            "leaf_index": i,
            "leaf_hash": leaf_hash(leaf_input(i)).hex(),
            "leaf_input": leaf_input(i).hex(),
            "kind": "capture-manifest",
            "capture_id": None,
            "created_at": now,
        }
        for i in range(start, end)
    ]
    with services.session() as session:
        for chunk in range(0, len(rows), 5000):
            session.execute(insert(LogLeaf), rows[chunk : chunk + 5000])


@pytest.fixture
def log_services(tmp_path: Path, database_url: str) -> Iterator[Services]:
    services = Services(make_settings(tmp_path / "data", database_url=database_url))
    services.migrate()
    yield services
    services.close()


@pytest.fixture
def root_pem(log_services: Services) -> bytes:
    """The only thing a verifier trusts: our root certificate."""
    return log_services.pki.root.public_bytes(Encoding.PEM)
