"""A platform's account: invited by an officer on /platforms (setup code shown once), set up
and consented in its own portal (/platform/setup, /platform/consent), then log in and out.
A merchant's account cannot log in to the platform portal. The case page's platform panel
refuses (and says so) a request its letter cannot be made for; each event a request appends
is named in both languages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from storage.models import Merchant, PlatformAccount
from tests.platform.conftest import PARTY_CODE, World, officer_client, platform_client
from tests.portal.conftest import PASSWORD, credit_code, csrf_of
from workflow import platforms

NEW_CODE = credit_code(309)
MESSAGES = Path(__file__).resolve().parents[2] / "evidence_service/web/messages/platform.toml"


def test_an_officer_invites_a_platform_which_sets_up_consents_and_logs_in(world: World) -> None:
    officer = officer_client(world)
    page = officer.get("/platforms")
    assert page.status_code == 200 and "某某购物平台" in page.text
    r = officer.post(
        "/platforms",
        data={
            "csrf": csrf_of(page.text),
            "name": "新平台网络有限公司",
            "credit_code": NEW_CODE,
            "platform_name": "新平台",
        },
    )
    assert r.status_code == 200, r.text
    code = re.search(r'id="setup-code" class="code">([A-Z0-9-]+)<', r.text)
    assert code, r.text
    with world.services.session() as session:
        merchant = session.scalars(select(Merchant).where(Merchant.credit_code == NEW_CODE)).one()
        assert session.get(PlatformAccount, merchant.id) is not None
        assert merchant.status == "invited"

    client = TestClient(world.app)
    setup = client.get("/platform/setup")
    r = client.post(
        "/platform/setup",
        data={
            "csrf": csrf_of(setup.text),
            "code": code.group(1),
            "password": PASSWORD,
            "password_repeat": PASSWORD,
            "contact_name": "合规部",
            "phone": "0571-12345678",
            "email": "",
            "address": "杭州市某路 1 号",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/platform/consent", r.text
    # Before consent nothing else opens.
    assert (
        client.get("/platform", follow_redirects=False).headers["location"] == "/platform/consent"
    )
    consent = client.get("/platform/consent")
    assert consent.status_code == 200
    pdf = client.get("/platform/consent/file")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    wrong = client.post(
        "/platform/consent", data={"csrf": csrf_of(consent.text), "password": "not it at all"}
    )
    assert wrong.status_code == 401
    r = client.post(
        "/platform/consent",
        data={"csrf": csrf_of(consent.text), "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/platform"
    home = client.get("/platform")
    assert home.status_code == 200 and "暂无送达本平台的协助函" in home.text

    r = client.post("/platform/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/platform", follow_redirects=False).headers["location"] == "/platform/login"
    again = platform_client(world, NEW_CODE)
    assert again.get("/platform").status_code == 200


def test_a_merchant_account_cannot_log_in_to_the_platform_portal(world: World) -> None:
    client = TestClient(world.app)
    page = client.get("/platform/login")
    r = client.post(
        "/platform/login",
        data={"credit_code": PARTY_CODE, "password": PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 401
    assert client.get("/platform", follow_redirects=False).headers["location"] == "/platform/login"


def test_the_platform_session_is_its_own_cookie(world: World) -> None:
    client = platform_client(world, credit_code(302))
    cookie = next(c for c in client.cookies.jar if c.name == "evidence_platform")
    assert cookie.path == "/platform"
    assert client.get("/cases", follow_redirects=False).status_code == 303  # no officer session


def test_the_panel_form_refuses_a_request_without_its_matter(world: World) -> None:
    officer = officer_client(world)
    page = officer.get(f"/cases/{world.case_id}")
    assert 'id="platform-send-assistance"' in page.text and "某某购物平台" in page.text
    r = officer.post(
        f"/cases/{world.case_id}/platform-requests",
        data={
            "csrf": csrf_of(page.text),
            "kind": "assistance",
            "platform_id": world.platform_a,
            "contact_phone": "020-12345678",
            "want_registration": "1",
            "desc_registration": "注册信息",
        },
    )
    assert r.status_code == 200
    assert 'id="platform-error"' in r.text and "matter" in r.text
    assert platforms.requests_of_case(world.ctx, world.actor(), world.case_id) == []
    # An officer not staffed on the case sends nothing.
    other = officer_client(world, "other")
    r = other.post(
        f"/cases/{world.case_id}/platform-requests",
        data={"csrf": csrf_of(other.get("/cases").text), "kind": "assistance"},
    )
    assert r.status_code == 404


def test_every_event_of_a_request_is_named_in_both_languages() -> None:
    messages = tomllib.loads(MESSAGES.read_text(encoding="utf-8"))
    for name in platforms.EVENTS:
        entry = messages[f"cases.event.{name}"]
        assert entry["zh"] and entry["en"]
