"""A service (SQLite, file store, the built-in TSA) with one unit, three officers (two with
an e-mail address), a real SMTP server (aiosmtpd) for the notices, and a case brought to the
order to correct through the real case process. Made once per module: the PKI is slow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.sealing.case_file import case_context
from evidence_service.security import hash_password
from evidence_service.services import Services
from evidence_service.web.app import create_app
from storage.models import Unit, User
from tests.deadlines.conftest import Collector
from tests.fixtures.http_tsa import free_port
from tests.portal.conftest import OFFICER_PASSWORD, csrf_of
from tests.service.conftest import make_settings
from workflow.cases import service
from workflow.cases.service import Actor, CaseContext, PartyIn


@dataclass
class World:
    services: Services
    app: FastAPI
    ctx: CaseContext
    unit_id: int
    ids: dict[str, int]
    mail: Collector

    def actor(self, key: str = "wang", role: str = "officer") -> Actor:
        return Actor(f"user:{self.ids[key]}", key, role, self.unit_id)

    def user(self, key: str = "wang") -> User:
        with self.services.session() as session:
            user = session.get(User, self.ids[key])
            assert user is not None
            session.expunge(user)
            return user


def _user(services: Services, unit_id: int, name: str, badge: str, email: str | None) -> int:
    with services.session() as session:
        user = User(
            username=name,
            display_name=f"执法人员{name}",
            password_hash=hash_password(OFFICER_PASSWORD),
            unit_id=unit_id,
            badge_number=badge,
            must_change_password=False,
            email=email,
        )
        session.add(user)
        session.flush()
        return user.id


def correcting_case(w: World, title: str = "虚假宣传") -> str:
    """A case filed and ordered to correct (state ``correcting``), staffed with wang and
    zhao (officers) and head."""
    ctx = w.ctx
    case_id = service.open_case(
        ctx,
        w.actor(),
        unit_id=w.unit_id,
        title=title,
        summary="商品页面宣称“全网最低价，假一赔十”",
        parties=[PartyIn("测试旗舰店（某某电子商务有限公司）", credit_code="91330000MA00000000")],
        shop_url="https://shop.example.com/store/1001",
    )
    for key in ("wang", "zhao"):
        service.assign(ctx, w.actor(), case_id, w.ids[key])
    service.assign(ctx, w.actor(), case_id, w.ids["head"], "head")
    service.act(ctx, w.actor(), case_id, "register", {"handling_opinion": "建议核查。"})
    service.act(
        ctx,
        w.actor(),
        case_id,
        "propose_filing",
        {
            "no_penalty_lists_consulted": True,
            "no_penalty_path_offered": True,
            "verification_facts": "经核查，商品页面宣称全网最低价。",
            "suspected_violation": "涉嫌虚假宣传",
            "violated_provisions": "《中华人民共和国反不正当竞争法》第八条",
            "officer_opinion": "建议立案调查。",
        },
    )
    service.act(ctx, w.actor("head", "head"), case_id, "approve_filing", {"opinion": "同意立案。"})
    service.act(
        ctx,
        w.actor(),
        case_id,
        "order_correction",
        {
            "correction_due_on": (w.ctx.today() + timedelta(days=7)).isoformat(),
            "facts": "商品页面宣称“全网最低价，假一赔十”。",
            "correction": "删除该宣传语。",
            "notice_service_method": "direct",
        },
    )
    return case_id


@contextmanager
def make_world(data_dir: Path, **overrides: Any) -> Iterator[World]:
    """The world on ``data_dir`` (settings ``overrides``, e.g. the web port)."""
    mail = Collector()
    port = free_port()
    controller = Controller(mail, hostname="127.0.0.1", port=port)
    controller.start()
    settings = make_settings(
        data_dir, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False, **overrides
    )
    services = Services(settings)
    initialize(services)
    with services.session() as session:
        unit_id = session.scalars(select(Unit.id)).one()
        unit = session.get(Unit, unit_id)
        assert unit is not None
        unit.case_number_prefix = "示市监处"
    ids = {
        "wang": _user(services, unit_id, "wang", "SL-0101", "wang@unit.example.cn"),
        "zhao": _user(services, unit_id, "zhao", "SL-0102", "zhao@unit.example.cn"),
        "head": _user(services, unit_id, "head", "SL-0103", None),
    }
    try:
        yield World(
            services, create_app(services=services), case_context(services), unit_id, ids, mail
        )
    finally:
        services.close()
        controller.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with make_world(tmp_path_factory.mktemp("monitor") / "data") as w:
        yield w


def officer_client(w: World, username: str = "wang") -> TestClient:
    client = TestClient(w.app, headers={"Accept-Language": "zh", "Accept": "text/html"})
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": username, "password": OFFICER_PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client
