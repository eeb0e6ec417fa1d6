"""End to end in a real Chromium: an officer captures the fixture shop's Taobao-like order page
from inside a case (loaded, sealed and stored by the worker), extracts its order data on the
case page, confirms some fields and corrects one; the case then holds them with the record
they came from. Screenshots go to ``$CASE_SCREENSHOTS`` (default: the test's folder)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from capture.engine import CHROMIUM_ARGS
from evidence_service.bootstrap import initialize
from evidence_service.sealing.case_file import case_context
from evidence_service.sealing.worker import Worker
from evidence_service.security import hash_password
from evidence_service.services import Services
from evidence_service.web.app import create_app
from storage.models import Unit, User
from tests.fixtures.http_tsa import free_port
from tests.fixtures.site import FixtureSite
from tests.service.conftest import make_settings
from workflow.cases import service
from workflow.cases.order_facts import confirmed_facts
from workflow.cases.service import Actor

pytestmark = pytest.mark.chromium
PASSWORD = "officer password 1"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, Services, int, int]]:
    port = free_port()
    services = Services(make_settings(tmp_path / "data", port=port))
    initialize(services)
    with services.session() as session:
        unit = session.scalars(select(Unit)).one()
        for username, badge in (("wang", "SL-0001"), ("zhao", "SL-0002")):
            session.add(
                User(
                    username=username,
                    display_name=f"{username} 名",
                    password_hash=hash_password(PASSWORD),
                    unit_id=unit.id,
                    badge_number=badge,
                    must_change_password=False,
                )
            )
        session.flush()
        wang = session.scalars(select(User.id).where(User.username == "wang")).one()
        unit_id = unit.id
    app = create_app(services=services)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    web = threading.Thread(target=server.run, daemon=True)
    web.start()
    worker = Worker(services, poll_s=0.1)
    loop = asyncio.new_event_loop()
    work = threading.Thread(target=lambda: loop.run_until_complete(worker.run()), daemon=True)
    work.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", services, unit_id, wang
    loop.call_soon_threadsafe(worker.stop)
    work.join(30)
    server.should_exit = True
    web.join(10)
    services.close()


def test_capture_an_order_page_and_confirm_its_data_in_chromium(
    live: tuple[str, Services, int, int], fixture_site: FixtureSite, tmp_path: Path
) -> None:
    url, services, unit_id, wang_id = live
    shots = Path(os.environ.get("CASE_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    ctx = case_context(services)
    wang = Actor(f"user:{wang_id}", "wang 名", "officer", unit_id)
    case_id = service.open_case(ctx, wang, unit_id=unit_id, title="订单投诉", summary="虚标价格")
    service.assign(ctx, wang, case_id, wang_id, "officer")
    order_url = fixture_site.url("/orders/taobao")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=list(CHROMIUM_ARGS))
        page = browser.new_context(
            locale="zh-CN", viewport={"width": 1280, "height": 900}
        ).new_page()
        page.goto(url + "/login?next=/cases/" + case_id)
        page.get_by_label("用户名").fill("wang")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.goto(f"{url}/cases/{case_id}")
        page.locator("#capture-url").fill(order_url)
        page.get_by_role("button", name="固定证据").click()
        expect(page.locator("#evidence-list")).to_contain_text("capture-", timeout=60_000)
        panel = page.locator("#orders")
        panel.get_by_role("button", name="提取订单数据").click()
        table = page.locator("#orders-proposals")
        expect(table).to_contain_text("1299.00 CNY")
        expect(table).to_contain_text("t**********6")
        expect(table).not_to_contain_text("tb_buyer2026")
        for field in ("order_number", "item", "order_time", "seller", "buyer_account"):
            table.locator(f'tr[data-field="{field}"]').get_by_label("确认").check()
        price = table.locator('tr[data-field="price_paid"]')
        price.get_by_label("更正为").check()
        price.get_by_placeholder("更正后的值").fill("¥1,199.00")
        page.screenshot(path=str(shots / "orders-1-proposals-zh.png"), full_page=True)
        page.get_by_role("button", name="记录所选订单数据").click()
        expect(page.locator("#orders-done")).to_be_visible()
        confirmed = page.locator("#orders-confirmed")
        expect(confirmed).to_contain_text("1199.00 CNY")
        expect(confirmed).to_contain_text("341720958830122658")
        page.locator("#orders").screenshot(path=str(shots / "orders-2-confirmed-zh.png"))
        browser.close()
    view = service.case_view(ctx, wang, case_id)
    held = {f.field: f for f in confirmed_facts(view.events)}
    assert set(held) == {"order_number", "item", "price_paid", "order_time", "seller",
                         "buyer_account"}  # fmt: skip
    assert held["price_paid"].extracted == "1299.00 CNY" and held["price_paid"].corrected
    assert held["item"].source.target_uri == order_url and held["item"].source.offset > 0
