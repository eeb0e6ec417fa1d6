"""Fixtures for whole-service tests: a Services instance on a temporary data folder."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evidence_service.bootstrap import initialize
from evidence_service.config import Settings
from evidence_service.sealing.worker import Worker
from evidence_service.services import Services
from evidence_service.web.app import create_app


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "capture_allow_private": True,
        "key_passphrase": "test passphrase",
        "capture_timeout_s": 30,
        "seal_retry_initial_s": 0.2,
        "seal_retry_max_s": 1.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def services_factory(tmp_path: Path) -> Iterator[Callable[..., Services]]:
    made: list[Services] = []

    def make(**overrides: Any) -> Services:
        services = Services(make_settings(tmp_path / "data", **overrides))
        made.append(services)
        return services

    yield make
    for s in made:
        s.close()


@pytest.fixture
def admin_token() -> Callable[[Services], str]:
    from sqlalchemy import select

    from evidence_service.security import hash_token, new_api_token
    from storage.models import ApiToken, User

    def make(services: Services) -> str:
        token = new_api_token()
        with services.session() as session:
            admin = session.scalar(select(User).where(User.username == "admin"))
            assert admin is not None
            session.add(
                ApiToken(user_id=admin.id, name="test", token_hash=hash_token(token), revoked=False)
            )
        return token

    return make


def run_worker(
    services: Services, jobs: int = 1, timeout: float = 120, until_idle: bool = False
) -> int:
    """Run an in-process worker until it has processed ``jobs`` jobs (or none is due)."""

    async def main() -> int:
        worker = Worker(services)
        return await asyncio.wait_for(worker.run(max_jobs=jobs, until_idle=until_idle), timeout)

    return asyncio.run(main())


def client_for(services: Services) -> TestClient:
    initialize(services)
    return TestClient(create_app(services=services))
