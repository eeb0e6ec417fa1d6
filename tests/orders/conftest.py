"""One service for the order-data tests (a real database, store and PKI): two units, their
officers with API tokens and passwords, and a case with a sealed capture of order pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.sealing.case_file import case_context
from evidence_service.security import hash_password, hash_token, new_api_token
from evidence_service.services import Services
from evidence_service.web.app import create_app
from storage.models import ApiToken, Unit, User
from tests.service.conftest import make_settings
from workflow.cases import service
from workflow.cases.service import Actor, CaseContext

from .warcs import URLS, stored_capture

PASSWORD = "officer password 1"


@dataclass
class World:
    services: Services
    ctx: CaseContext
    client: TestClient
    unit_id: int
    ids: dict[str, int]
    tokens: dict[str, str]
    tmp: Path

    def actor(self, who: str, role: str = "officer") -> Actor:
        unit = self.unit_id if who != "bob" else self.unit_id + 1
        return Actor(f"user:{self.ids[who]}", who, role, unit)

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def case_with_capture(self, pages: dict[str, str] | None = None) -> tuple[str, str]:
        """A case opened by wang (staffed as officer) with a sealed capture as evidence."""
        wang = self.actor("wang")
        case_id = service.open_case(
            self.ctx, wang, unit_id=self.unit_id, title="网店订单", summary="消费者投诉订单"
        )
        service.assign(self.ctx, wang, case_id, self.ids["wang"], "officer")
        folder = self.tmp / case_id
        folder.mkdir()
        cap = stored_capture(self.services, folder, pages or dict(URLS), self.ids["wang"])
        service.add_evidence(
            self.ctx,
            self.actor("wang"),
            case_id,
            kind="capture",
            file_name=f"capture-{cap.id}.wacz",
            sha256=cap.package_sha256 or "",
            capture_id=cap.id,
            description=cap.requested_url,
        )
        return case_id, cap.id

    def login(self, username: str, lang: str = "zh") -> TestClient:
        client = TestClient(self.client.app, headers={"Accept-Language": lang})
        page = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        r = client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf": csrf.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        return client


def _user(services: Services, unit_id: int, username: str, badge: str) -> tuple[int, str]:
    token = new_api_token()
    with services.session() as session:
        user = User(
            username=username,
            display_name=f"{username} 名",
            password_hash=hash_password(PASSWORD),
            unit_id=unit_id,
            badge_number=badge,
            must_change_password=False,
        )
        session.add(user)
        session.flush()
        session.add(ApiToken(user_id=user.id, name="t", token_hash=hash_token(token)))
        return user.id, token


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("orders")
    services = Services(make_settings(tmp / "data"))
    initialize(services)
    with services.session() as session:
        unit_id = session.scalars(select(Unit.id)).one()
        other = Unit(name="别的市场监督管理局")
        session.add(other)
        session.flush()
        assert other.id == unit_id + 1
    ids: dict[str, int] = {}
    tokens: dict[str, str] = {}
    users: list[tuple[str, int, str]] = [
        ("wang", unit_id, "SL-0001"),
        ("zhao", unit_id, "SL-0002"),  # same unit, not staffed
        ("bob", unit_id + 1, "SL-9001"),  # another unit
    ]
    for name, unit, badge in users:
        ids[name], tokens[name] = _user(services, unit, name, badge)
    with TestClient(create_app(services=services)) as client:
        yield World(services, case_context(services), client, unit_id, ids, tokens, tmp)
    services.close()


def fields_of(facts: list[Any]) -> dict[str, Any]:
    return {f["field"] if isinstance(f, dict) else f.field: f for f in facts}
