"""One service (SQLite, built-in PKI) for the legal room's tests: a unit with two officers
with badges, a head, a case reviewer and a legal reviewer (the ``legal_reviewers`` setting),
another unit's officer, and a helper that opens a case staffed with them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.sealing.case_file import case_context
from evidence_service.security import hash_password
from evidence_service.services import Services
from evidence_service.web.app import create_app
from storage.models import Unit, User
from tests.portal.conftest import csrf_of
from tests.service.conftest import make_settings
from workflow.cases import service
from workflow.cases.service import Actor, CaseContext, PartyIn

PASSWORD = "legal password 1"


@dataclass
class World:
    services: Services
    ctx: CaseContext
    unit_id: int
    other_unit: int
    ids: dict[str, int]

    def actor(self, key: str, role: str = "officer") -> Actor:
        unit = self.other_unit if key == "bob" else self.unit_id
        return Actor(f"user:{self.ids[key]}", key, role, unit)

    def open_case(self, title: str = "网店虚假宣传") -> str:
        case_id = service.open_case(
            self.ctx,
            self.actor("wang"),
            unit_id=self.unit_id,
            title=title,
            summary="商品页面宣称销量第一",
            parties=[PartyIn("广州某某电子商务有限公司", credit_code="9144030071526726XG")],
            shop_url="https://shop.example.com/store/1",
        )
        for key in ("wang", "zhao"):
            service.assign(self.ctx, self.actor("wang"), case_id, self.ids[key])
        service.assign(self.ctx, self.actor("wang"), case_id, self.ids["head"], "head")
        service.assign(self.ctx, self.actor("wang"), case_id, self.ids["rev"], "reviewer")
        return case_id

    def login(self, username: str, lang: str = "zh") -> TestClient:
        client = TestClient(
            create_app(services=self.services),
            headers={"Accept-Language": lang, "Accept": "text/html"},
        )
        page = client.get("/login")
        r = client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        return client


def _user(services: Services, unit_id: int, username: str, badge: str | None) -> int:
    with services.session() as session:
        user = User(
            username=username,
            display_name=username.upper(),
            password_hash=hash_password(PASSWORD),
            unit_id=unit_id,
            badge_number=badge,
            must_change_password=False,
        )
        session.add(user)
        session.flush()
        return user.id


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("legal") / "data"
    services = Services(make_settings(data, legal_reviewers="fa, nobody"))
    initialize(services)
    with services.session() as session:
        unit_id = session.scalars(select(Unit.id)).one()
        other = Unit(name="乙市市场监督管理局")
        session.add(other)
        session.flush()
        other_unit = other.id
    ids = {
        "wang": _user(services, unit_id, "wang", "LG-0001"),
        "zhao": _user(services, unit_id, "zhao", "LG-0002"),
        "head": _user(services, unit_id, "head", "LG-0003"),
        "rev": _user(services, unit_id, "rev", "LG-0004"),
        "fa": _user(services, unit_id, "fa", None),
        "bob": _user(services, other_unit, "bob", "LG-0100"),
    }
    yield World(services, case_context(services), unit_id, other_unit, ids)
    services.close()
