"""Merchant accounts: invitations with field errors, one-time setup codes (stored hashed,
expiring, single use, replaced by a newer one), lockout after guessing, units for officers."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from evidence_service.services import Services
from storage.models import Merchant, MerchantSetupCode, PortalAudit, Unit, User
from tests.conftest import run_cli
from tests.portal.conftest import (
    PASSWORD,
    World,
    credit_code,
    csrf_of,
    portal_login,
)
from tests.service.conftest import make_settings
from workflow import merchants
from workflow.errors import FieldError, SetupCodeError, ThrottledError


def _setup_form(client: TestClient, code: str, **changes: str) -> dict[str, str]:
    form = {
        "code": code,
        "password": PASSWORD,
        "password_repeat": PASSWORD,
        "contact_name": "王五",
        "phone": "020-12345678",
        "email": "",
        "address": "深圳市南山区某某路 2 号",
        "csrf": csrf_of(client.get("/portal/setup").text),
    }
    form.update(changes)
    return form


def test_invite_checks_the_credit_code_and_names_the_field(
    world: World, officer_client: Callable[[str], TestClient]
) -> None:
    alice = officer_client("alice")
    csrf = csrf_of(alice.get("/merchants").text)
    good = credit_code(100)
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    r = alice.post("/merchants", data={"name": "某店", "credit_code": wrong_check, "csrf": csrf})
    assert r.status_code == 422
    assert "check character" in r.text and 'aria-invalid="true"' in r.text
    api = alice.post("/api/merchants", json={"name": "某店", "credit_code": "91440300ABC"})
    assert api.status_code == 422
    detail = api.json()["detail"]
    assert detail["field"] == "credit_code" and "18 characters" in detail["message"]
    r = alice.post("/api/merchants", json={"name": "", "credit_code": good})
    assert r.status_code == 422 and r.json()["detail"]["field"] == "name"
    # An already registered code (any unit) is refused, naming the field.
    r = alice.post("/api/merchants", json={"name": "x", "credit_code": world.codes["mc"]})
    assert r.status_code == 422 and r.json()["detail"]["code"] == "merchant_exists"
    assert "丙商贸" not in r.text  # another unit's merchant is not named


def test_setup_code_shown_once_stored_hashed_and_single_use(
    world: World, officer_client: Callable[[str], TestClient]
) -> None:
    alice = officer_client("alice")
    code = credit_code(101)
    page = alice.post(
        "/merchants",
        data={
            "name": "戊商贸有限公司",
            "credit_code": code,
            "csrf": csrf_of(alice.get("/merchants").text),
        },
    )
    assert page.status_code == 200
    shown = re.search(r'id="setup-code"[^>]*>([A-Z0-9-]+)<', page.text)
    assert shown, page.text
    setup_code = shown.group(1)
    with world.services.sessions() as session:
        merchant = session.scalar(select(Merchant).where(Merchant.credit_code == code))
        assert merchant is not None and merchant.status == "invited"
        rows = session.scalars(
            select(MerchantSetupCode).where(MerchantSetupCode.merchant_id == merchant.id)
        ).all()
        assert len(rows) == 1
        assert rows[0].code_hash == hashlib.sha256(setup_code.replace("-", "").encode()).hexdigest()
        assert setup_code not in str(rows[0].__dict__)
        merchant_id = merchant.id
    # The merchant page does not show it again.
    assert setup_code not in alice.get(f"/merchants/{merchant_id}").text

    m = world.app_client()
    # Field errors keep the typed values and name the fields.
    r = m.post("/portal/setup", data=_setup_form(m, setup_code, password_repeat="different pw!"))
    assert r.status_code == 422 and "the two passwords differ" in r.text
    assert "深圳市南山区某某路 2 号" in r.text
    r = m.post("/portal/setup", data=_setup_form(m, setup_code.lower(), phone="abc"))
    assert r.status_code == 422 and 'id="phone-error"' in r.text
    # Lower case and without dashes is the same code.
    r = m.post(
        "/portal/setup",
        data=_setup_form(m, setup_code.replace("-", "").lower()),
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/portal/consent"
    with world.services.sessions() as session:
        merchant = session.get(Merchant, merchant_id)
        assert merchant is not None and merchant.status == "active" and merchant.cert_serial
        assert merchant.consent_signed_at is None
    cert = world.services.pki.certificate(merchant.cert_serial)
    assert cert.kind == "merchant" and code in cert.subject
    # Used: refused, and says so.
    again = world.app_client()
    r = again.post("/portal/setup", data=_setup_form(again, setup_code))
    assert r.status_code == 422 and "already used" in r.text


def test_expired_and_replaced_codes_are_refused(world: World) -> None:
    ctx = world.ctx
    inv = merchants.invite_merchant(ctx, world.alice, name="己商贸", credit_code=credit_code(102))
    newer = merchants.new_setup_code(ctx, world.alice, inv.merchant_id)
    m = world.app_client()
    r = m.post("/portal/setup", data=_setup_form(m, inv.setup_code))
    assert r.status_code == 422 and "replaced by a newer one" in r.text
    with world.services.session() as session:
        session.execute(
            update(MerchantSetupCode)
            .where(MerchantSetupCode.merchant_id == inv.merchant_id)
            .values(expires_at=ctx.now() - timedelta(seconds=1))
        )
    r = m.post("/portal/setup", data=_setup_form(m, newer.setup_code))
    assert r.status_code == 422 and "expired" in r.text
    with world.services.sessions() as session:
        merchant = session.get(Merchant, inv.merchant_id)
        assert merchant is not None and merchant.status == "invited"
        assert merchant.password_hash is None
    # The default lifetime is 7 days.
    assert newer.expires_at - ctx.now() > timedelta(days=6, hours=23)


def test_guessing_setup_codes_locks_the_address(world: World) -> None:
    ctx = world.ctx
    inv = merchants.invite_merchant(ctx, world.alice, name="庚商贸", credit_code=credit_code(103))
    m = world.app_client()
    statuses = [
        m.post("/portal/setup", data=_setup_form(m, f"AAAAA-BBBBB-CCCCC-{i:05d}")).status_code
        for i in range(10)
    ]
    assert statuses[:9] == [422] * 9 and statuses[9] == 422
    # Locked now: even the right code is refused until the lock ends.
    r = m.post("/portal/setup", data=_setup_form(m, inv.setup_code))
    assert r.status_code == 429 and 'role="alert"' in r.text
    with world.services.sessions() as session:
        merchant = session.get(Merchant, inv.merchant_id)
        assert merchant is not None and merchant.status == "invited"
    # Another address is not affected.
    from workflow.context import Client

    form = merchants.SetupForm(
        inv.setup_code, PASSWORD, PASSWORD, "王五", "13800000000", "", "某地址"
    )
    with pytest.raises(ThrottledError):
        merchants.complete_setup(ctx, form, client=Client("testclient"))
    assert merchants.complete_setup(ctx, form, client=Client("192.0.2.7")) == inv.merchant_id


def test_wrong_passwords_lock_the_account(world: World) -> None:
    ctx = world.ctx
    merchant_id = world.ids["mc"]
    from workflow.context import Client

    client = world.app_client()
    for _ in range(4):
        r = portal_login(client, world.codes["mc"], "wrong password!")
        assert r.status_code == 401 and "统一社会信用代码或密码错误" in r.text
    # The fifth failure locks the account; the right password is refused while locked.
    assert portal_login(client, world.codes["mc"], "wrong password!").status_code == 401
    r = portal_login(client, world.codes["mc"], PASSWORD)
    assert r.status_code == 429
    with pytest.raises(ThrottledError):
        merchants.check_password(ctx, merchant_id, PASSWORD, client=Client("198.51.100.1"))
    with world.services.sessions() as session:
        failures = session.scalars(
            select(PortalAudit).where(
                PortalAudit.merchant_id == merchant_id,
                PortalAudit.action == "merchant.login_failed",
            )
        ).all()
        assert len(failures) == 5 and failures[-1].details["locked"] is True
    # Unknown accounts cost the same and tell nothing.
    r = portal_login(world.app_client(), credit_code(199), PASSWORD)
    assert r.status_code == 401 and "统一社会信用代码或密码错误" in r.text
    # After the lock ends the right password works again.
    later = dataclasses.replace(ctx, clock=lambda: ctx.clock() + timedelta(minutes=16))
    merchants.check_password(later, merchant_id, PASSWORD, client=Client("198.51.100.1"))


def test_logout_ends_the_session(
    world: World, merchant_client: Callable[[str], TestClient]
) -> None:
    mb = merchant_client("mb")
    token = next(c.value for c in mb.cookies.jar if c.name == "evidence_portal")
    assert mb.get("/portal").status_code == 200
    r = mb.post("/portal/logout", data={"csrf": csrf_of(mb.get("/portal").text)})
    assert r.status_code == 200 and "/portal/login" in str(r.url)
    stale = world.app_client()
    stale.cookies.set("evidence_portal", token)
    r = stale.get("/portal", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/portal/login"


def test_bootstrap_unit_and_user_create_with_unit(
    world: World, service_env: Callable[..., dict[str, str]]
) -> None:
    with world.services.sessions() as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None and admin.unit_id is not None
        unit = session.get(Unit, admin.unit_id)
        assert unit is not None
    env = service_env()
    r = run_cli(["init"], env)
    assert r.returncode == 0, r.stderr
    r = run_cli(["user", "create", "carol", "--unit", "丙市市场监督管理局"], env)
    assert r.returncode == 0, r.stderr
    assert "unit 丙市市场监督管理局" in r.stdout and "one-time password: " in r.stdout
    r = run_cli(["user", "create", "dave"], env)
    assert r.returncode == 0, r.stderr
    s = Services(make_settings(Path(env["EVIDENCE_DATA_DIR"])))
    try:
        with s.sessions() as session:
            users = {u.username: u for u in session.scalars(select(User))}
            units = {u.id: u.name for u in session.scalars(select(Unit))}
        carol_unit = users["carol"].unit_id
        assert carol_unit is not None and units[carol_unit] == "丙市市场监督管理局"
        assert users["dave"].unit_id == users["admin"].unit_id
    finally:
        s.close()


def test_field_errors_of_setup_are_all_reported(world: World) -> None:
    inv = merchants.invite_merchant(
        world.ctx, world.alice, name="辛商贸", credit_code=credit_code(104)
    )
    form = merchants.SetupForm(inv.setup_code, "short", "short", "", "x", "not-an-email", "")
    with pytest.raises(FieldError) as caught:
        merchants.complete_setup(world.ctx, form)
    fields = [f for f, _ in caught.value.errors]
    assert fields == ["password", "contact_name", "phone", "email", "address"]
    with pytest.raises(SetupCodeError):
        merchants.complete_setup(
            world.ctx,
            merchants.SetupForm("nope", PASSWORD, PASSWORD, "a", "13800000000", "", "b"),
        )


def test_portal_cookie_is_its_own_and_replaced_at_login(world: World) -> None:
    client = world.app_client()
    client.get("/portal/login")
    before = next(c.value for c in client.cookies.jar if c.name == "evidence_portal")
    r = portal_login(client, world.codes["ma"])
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("evidence_portal=")
    assert "HttpOnly" in cookie and "Path=/portal" in cookie and "SameSite=lax" in cookie
    after = next(c.value for c in client.cookies.jar if c.name == "evidence_portal")
    assert after != before  # no session fixation: the pre-login token never logs in
    stale = world.app_client()
    stale.cookies.set("evidence_portal", before)
    assert stale.get("/portal", follow_redirects=False).status_code == 303
