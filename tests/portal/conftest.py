"""Fixtures for the merchant portal: a service with two units, officers, merchants that have
set up their accounts (or not), documents served on them, and logged-in web clients.

Everything is made through the real code paths (``workflow.merchants``/``workflow.serving``:
real PKI, real PDFs, real signatures), once per module where tests only read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.security import hash_password
from evidence_service.services import Services
from evidence_service.web.app import create_app
from evidence_service.web.portal.deps import build_context, officer_ref
from storage.models import User
from tests.service.conftest import make_settings
from workflow import merchants, serving
from workflow.context import Client, OfficerRef, PortalContext
from workflow.document_versions import address_confirmation
from workflow.documents import sample_data

PASSWORD = "correct horse battery"
OFFICER_PASSWORD = "officer password 1"
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code(n: int) -> str:
    """A valid unified social credit code (GB 32100-2015 check character) numbered ``n``."""
    base = f"91440300{n:09d}"
    total = sum(_ALPHABET.index(c) * w for c, w in zip(base, _WEIGHTS, strict=True))
    return base + _ALPHABET[(31 - total % 31) % 31]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def order_data(**changes: Any) -> dict[str, Any]:
    """The order-to-correct sample without party/unit/date (filled in from the merchant)."""
    data = sample_data("order_to_correct")
    for key in ("party", "issuing_unit", "date", "translations"):
        data.pop(key, None)
    data["deadline"] = "2099-12-31"
    data.update(changes)
    return data


def add_officer(
    services: Services, username: str, unit_id: int, role: str = "officer"
) -> OfficerRef:
    with services.session() as session:
        user = User(
            username=username,
            display_name=f"Officer {username}",
            password_hash=hash_password(OFFICER_PASSWORD),
            role=role,
            must_change_password=False,
            disabled=False,
            unit_id=unit_id,
        )
        session.add(user)
        session.flush()
        session.expunge(user)
    return officer_ref(user)


def setup_merchant(
    ctx: PortalContext, officer: OfficerRef, name: str, code: str, *, consent: bool = True
) -> str:
    inv = merchants.invite_merchant(ctx, officer, name=name, credit_code=code)
    form = merchants.SetupForm(
        code=inv.setup_code,
        password=PASSWORD,
        password_repeat=PASSWORD,
        contact_name="李四",
        phone="13800000000",
        email="legal@shop.example.com",
        address="广州市天河区某某路 1 号",
    )
    merchant_id = merchants.complete_setup(ctx, form, client=Client("10.0.0.1", "setup"))
    if consent:
        with ctx.sessions() as session:
            doc = address_confirmation(session, merchant_id)
            assert doc is not None
            doc_id = doc.id
        serving.merchant_sign(ctx, merchant_id, doc_id, password=PASSWORD)
    return merchant_id


def served_notice(ctx: PortalContext, officer: OfficerRef, merchant_id: str) -> str:
    doc = serving.create_document(
        ctx, officer, merchant_id=merchant_id, template="order_to_correct", data=order_data()
    )
    serving.sign_as_unit(ctx, officer, doc)
    serving.serve(ctx, officer, doc)
    return doc


@dataclass
class World:
    """Unit A: officer alice, merchants ma and mb (each with a served notice; ma also has an
    unserved draft and a statement with an attachment). Unit B: officer bob, merchant mc
    with a served notice. Merchant md (unit A) never signed its address confirmation."""

    services: Services
    ctx: PortalContext
    admin: OfficerRef
    alice: OfficerRef
    bob: OfficerRef
    codes: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)
    docs: dict[str, str] = field(default_factory=dict)

    def app_client(self) -> TestClient:
        return TestClient(create_app(services=self.services))


def build_world(data_dir: Path) -> World:
    services = Services(make_settings(data_dir))
    initialize(services)
    ctx = build_context(services)
    with services.session() as session:
        admin_user = session.scalar(select(User).where(User.username == "admin"))
        assert admin_user is not None and admin_user.unit_id is not None
        unit_a = admin_user.unit_id
        unit_b = merchants.ensure_unit(session, "乙市市场监督管理局")
        session.flush()
        unit_b_id = unit_b.id
        session.expunge(admin_user)
    world = World(
        services=services,
        ctx=ctx,
        admin=officer_ref(admin_user),
        alice=add_officer(services, "alice", unit_a),
        bob=add_officer(services, "bob", unit_b_id),
        codes={k: credit_code(i) for i, k in enumerate(("ma", "mb", "mc", "md"), start=1)},
    )
    w = world
    w.ids["ma"] = setup_merchant(ctx, w.alice, "甲商贸有限公司", w.codes["ma"])
    w.ids["mb"] = setup_merchant(ctx, w.alice, "乙商贸有限公司", w.codes["mb"])
    w.ids["mc"] = setup_merchant(ctx, w.bob, "丙商贸有限公司", w.codes["mc"])
    w.ids["md"] = setup_merchant(ctx, w.alice, "丁商贸有限公司", w.codes["md"], consent=False)
    w.docs["ma"] = served_notice(ctx, w.alice, w.ids["ma"])
    w.docs["mb"] = served_notice(ctx, w.alice, w.ids["mb"])
    w.docs["mc"] = served_notice(ctx, w.bob, w.ids["mc"])
    w.docs["ma_draft"] = serving.create_document(
        ctx, w.alice, merchant_id=w.ids["ma"], template="order_to_correct", data=order_data()
    )
    attachment = data_dir / "evidence.txt"
    attachment.write_text("进货单据说明\n", encoding="utf-8")
    w.docs["mb_statement"] = serving.submit_statement(
        ctx,
        w.ids["mb"],
        w.docs["mb"],
        text="我公司已改正。",
        password=PASSWORD,
        attachments=[serving.UploadedFile("evidence.txt", attachment)],
    )
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("portal") / "data")
    yield w
    w.services.close()


def portal_login(client: TestClient, code: str, password: str = PASSWORD) -> Any:
    page = client.get("/portal/login")
    return client.post(
        "/portal/login",
        data={"credit_code": code, "password": password, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )


def officer_login(client: TestClient, username: str, password: str = OFFICER_PASSWORD) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )


@pytest.fixture
def merchant_client(world: World) -> Iterator[Callable[[str], TestClient]]:
    made: list[TestClient] = []

    def make(key: str) -> TestClient:
        client = world.app_client()
        made.append(client)
        response = portal_login(client, world.codes[key])
        assert response.status_code == 303, response.text
        return client

    yield make
    for c in made:
        c.close()


@pytest.fixture
def officer_client(world: World) -> Iterator[Callable[[str], TestClient]]:
    made: list[TestClient] = []

    def make(username: str) -> TestClient:
        client = world.app_client()
        made.append(client)
        response = officer_login(client, username)
        assert response.status_code == 303, response.text
        return client

    yield make
    for c in made:
        c.close()
