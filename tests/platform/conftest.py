"""A service with one unit, its officers, a party with a portal account, two platforms that
have set up their accounts (invited as the officers' page does, through the real code paths:
setup code, password, signing certificate, signed service-address confirmation), and a filed
case staffed with two officers who hold badges. Made once per module: setting up the PKI and
signing letters is the slow part."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.sealing.case_file import case_context
from evidence_service.security import hash_password
from evidence_service.services import Services
from evidence_service.web.app import create_app
from evidence_service.web.portal.deps import build_context, officer_ref
from storage.models import Unit, User
from tests.portal.conftest import OFFICER_PASSWORD, PASSWORD, credit_code, csrf_of, setup_merchant
from tests.service.conftest import make_settings
from workflow import merchants, platforms, serving
from workflow.cases import service
from workflow.cases.service import Actor, CaseContext, PartyIn
from workflow.context import Client, OfficerRef, PortalContext
from workflow.deadlines import beijing_today
from workflow.document_versions import address_confirmation

PARTY_CODE = credit_code(301)
PLATFORM_A_CODE = credit_code(302)
PLATFORM_B_CODE = credit_code(303)


@dataclass
class World:
    services: Services
    app: FastAPI
    portal: PortalContext
    ctx: CaseContext
    unit_id: int
    ids: dict[str, int]
    officer: OfficerRef
    party_id: str
    platform_a: str
    platform_b: str
    case_id: str

    def actor(self, key: str = "wang", role: str = "officer") -> Actor:
        return Actor(f"user:{self.ids[key]}", key, role, self.unit_id)


def _user(services: Services, unit_id: int, username: str, badge: str) -> int:
    with services.session() as session:
        user = User(
            username=username,
            display_name=f"执法人员{username}",
            password_hash=hash_password(OFFICER_PASSWORD),
            unit_id=unit_id,
            badge_number=badge,
            must_change_password=False,
        )
        session.add(user)
        session.flush()
        return user.id


def setup_platform(
    ctx: PortalContext, officer: OfficerRef, name: str, code: str, label: str
) -> str:
    """Invite a platform and set up its account as the platform does in its portal."""
    inv = platforms.invite_platform(
        ctx, officer, name=name, credit_code=code, platform_name=label, address="杭州市某路 8 号"
    )
    form = merchants.SetupForm(
        inv.setup_code, PASSWORD, PASSWORD, "合规部王经理", "0571-88888888", "", "杭州市某路 8 号"
    )
    merchant_id = merchants.complete_setup(ctx, form, client=Client("10.0.0.9", "setup"))
    with ctx.sessions() as session:
        doc = address_confirmation(session, merchant_id)
        assert doc is not None
        doc_id = doc.id
    serving.merchant_sign(ctx, merchant_id, doc_id, password=PASSWORD)
    return merchant_id


def filed_case(w_ctx: CaseContext, unit_id: int, ids: dict[str, int], party_id: str) -> str:
    def actor(key: str, role: str = "officer") -> Actor:
        return Actor(f"user:{ids[key]}", key, role, unit_id)

    case_id = service.open_case(
        w_ctx,
        actor("wang"),
        unit_id=unit_id,
        title="虚构原价",
        summary="商品页面标示虚构原价",
        parties=[
            PartyIn(
                "广州某某电子商务有限公司",
                merchant_id=party_id,
                credit_code=PARTY_CODE,
                shop_url="https://shop.example.com/store/1001",
                platform="某某购物平台",
            )
        ],
        shop_url="https://shop.example.com/store/1001",
    )
    for key in ("wang", "zhao"):
        service.assign(w_ctx, actor("wang"), case_id, ids[key])
    service.assign(w_ctx, actor("wang"), case_id, ids["head"], "head")
    service.act(w_ctx, actor("wang"), case_id, "register", {"handling_opinion": "建议核查。"})
    service.act(
        w_ctx,
        actor("wang"),
        case_id,
        "propose_filing",
        {
            "no_penalty_lists_consulted": True,
            "no_penalty_path_offered": True,
            "verification_facts": "经核查，商品页面标示的原价无成交记录。",
            "suspected_violation": "涉嫌虚构原价",
            "violated_provisions": "《中华人民共和国价格法》第十四条第四项",
            "officer_opinion": "建议立案调查。",
        },
    )
    service.act(w_ctx, actor("head", "head"), case_id, "approve_filing", {"opinion": "同意立案。"})
    return case_id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    services = Services(make_settings(tmp_path_factory.mktemp("platform") / "data"))
    initialize(services)
    with services.session() as session:
        unit_id = session.scalars(select(Unit.id)).one()
        unit = session.get(Unit, unit_id)
        assert unit is not None
        unit.case_number_prefix = "示市监处"
    ids = {
        "wang": _user(services, unit_id, "wang", "SL-0001"),
        "zhao": _user(services, unit_id, "zhao", "SL-0002"),
        "head": _user(services, unit_id, "head", "SL-0003"),
        "other": _user(services, unit_id, "other", "SL-0009"),
    }
    with services.session() as session:
        wang = session.get(User, ids["wang"])
        assert wang is not None
        officer = officer_ref(wang)
    portal = build_context(services)
    party_id = setup_merchant(portal, officer, "广州某某电子商务有限公司", PARTY_CODE)
    platform_a = setup_platform(
        portal, officer, "某某网络科技有限公司", PLATFORM_A_CODE, "某某购物平台"
    )
    platform_b = setup_platform(portal, officer, "另一网络有限公司", PLATFORM_B_CODE, "另一商城")
    ctx = case_context(services)
    case_id = filed_case(ctx, unit_id, ids, party_id)
    yield World(
        services,
        create_app(services=services),
        portal,
        ctx,
        unit_id,
        ids,
        officer,
        party_id,
        platform_a,
        platform_b,
        case_id,
    )
    services.close()


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


def platform_client(w: World, code: str) -> TestClient:
    client = TestClient(w.app, headers={"Accept-Language": "zh"})
    page = client.get("/platform/login")
    r = client.post(
        "/platform/login",
        data={"credit_code": code, "password": PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/platform", r.text
    return client


def stated_due_on(kind: str) -> dict[str, str]:
    """What the officer adds to a request when the service asks for it: the date the letter
    states, needed only while the period runs into a year whose working days are not
    entered yet (then the earliest date allowed). Empty while the calendar counts it, so
    these tests run the counted path now and keep running after the calendar's last year."""
    d = platforms.letter_deadline(kind, beijing_today())
    if d.due_date is not None or d.not_before is None:
        return {}
    return {"due_on": d.not_before.isoformat()}


def assistance_body(platform_id: str) -> dict[str, object]:
    return {
        **stated_due_on("assistance"),
        "kind": "assistance",
        "platform_id": platform_id,
        "contact_phone": "020-12345678",
        "matter": "本机关正在调查平台内经营者广州某某电子商务有限公司涉嫌虚构原价一案。",
        "data_requested": [
            {"kind": "registration", "description": "该经营者的注册信息、实名认证信息"},
            {
                "kind": "orders",
                "description": "商品编号 42 的全部订单记录",
                "period_from": "2026-09-01",
                "period_to": "2026-10-31",
            },
        ],
    }


def api_client(w: World) -> TestClient:
    """The API through the officer's web session (as the console's scripts use it)."""
    client = officer_client(w)
    client.headers["Accept"] = "application/json"
    return client
