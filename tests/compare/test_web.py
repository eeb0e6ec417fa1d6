"""Capture again and Compare through the API and through the officer's UI in Chromium, on the
fixture shop's listing edited between captures (price changed, a claim removed, an image
swapped) and after it disappeared (404)."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect, sync_playwright

from capture.engine import CHROMIUM_ARGS
from evidence_service.bootstrap import initialize
from evidence_service.sealing.worker import Worker
from evidence_service.services import Services
from evidence_service.web.app import create_app
from signing.verify import Text, load_trust_bundle, verify_file
from tests.fixtures.http_tsa import free_port
from tests.fixtures.site import FixtureSite
from tests.service.conftest import make_settings, run_worker

#: Real captures (four sealed in the shared fixture) on a shared machine take minutes.
pytestmark = [pytest.mark.chromium, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    made = Services(make_settings(tmp_path / "data"))
    yield made
    made.close()


@pytest.fixture
def api_services(tmp_path: Path, database_url: str) -> Iterator[Services]:
    """On SQLite and on PostgreSQL (the comparisons table has a JSON column and two keys)."""
    made = Services(make_settings(tmp_path / "data", database_url=database_url))
    yield made
    made.close()


def _token(services: Services) -> str:
    from sqlalchemy import select

    from evidence_service.security import hash_token, new_api_token
    from storage.models import ApiToken, User

    token = new_api_token()
    with services.session() as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None
        session.add(
            ApiToken(user_id=admin.id, name="t", token_hash=hash_token(token), revoked=False)
        )
    return token


def test_recapture_and_compare_through_the_api(
    api_services: Services, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    services = api_services
    initialize(services)
    client = TestClient(create_app(services=services))
    client.headers["Authorization"] = f"Bearer {_token(services)}"
    item = f"api-{tmp_path.name}"  # one listing per run (SQLite, PostgreSQL)
    fixture_site.set_item(item, "original")
    url = fixture_site.url(f"/shop/item/{item}")
    first = client.post("/api/captures", json={"url": url}).json()["id"]
    assert run_worker(services) == 1

    # not sealed yet: the comparison is refused with 409 and says so
    fixture_site.set_item(item, "edited")
    again = client.post(f"/api/captures/{first}/recapture")
    assert again.status_code == 202, again.text
    second = again.json()["id"]
    assert second != first and again.json()["requested_url"] == url
    early = client.post("/api/comparisons", json={"a": first, "b": second})
    assert early.status_code == 409 and early.json()["detail"]["code"] == "not_sealed"
    assert run_worker(services) == 1

    # given the later one first, the report still puts them in order of trusted time
    made = client.post("/api/comparisons", json={"a": second, "b": first})
    assert made.status_code == 201, made.text
    record = made.json()
    assert (record["a_capture_id"], record["b_capture_id"]) == (first, second)
    facts = record["facts"]
    assert {"field": "price", "old": "199.00 CNY", "new": "259.00 CNY"} in facts["fields"][
        "changed"
    ]
    assert any("全网最低价" in line for line in facts["text"]["removed"])
    assert 0 < facts["visual"]["changed_pixel_share"] < 0.5
    assert (
        client.get(f"/api/comparisons/{record['id']}").json()["report_sha256"]
        == (record["report_sha256"])
    )
    listed = client.get(f"/api/captures/{first}/comparisons").json()
    assert [c["id"] for c in listed] == [record["id"]]

    # the report and the two packages, downloaded, verify offline together
    pdf = client.get(record["files"]["report"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    report_path = tmp_path / "report.pdf"
    report_path.write_bytes(pdf.content)
    packages = []
    for capture_id in (first, second):
        path = tmp_path / f"{capture_id}.wacz"
        path.write_bytes(client.get(f"/api/captures/{capture_id}/files/package").content)
        packages.append(path)
    trust = load_trust_bundle(
        services.trust_bundle_pem(), source="given", description=Text("service", "service")
    )
    checked = verify_file(report_path, trust=trust, packages=packages)
    assert checked.indication.value == "TOTAL-PASSED", checked.indication_line()
    assert checked.check("comparison.packages").status.value == "PASSED"
    shot = client.get(record["files"]["highlight-b"])
    assert shot.status_code == 200 and shot.content.startswith(b"\x89PNG")

    # the page disappears: a 404 is evidence too, and the comparison says the page is gone
    fixture_site.set_item(item, "gone")
    third = client.post(f"/api/captures/{second}/recapture").json()["id"]
    assert run_worker(services) == 1
    gone = client.post("/api/comparisons", json={"a": second, "b": third}).json()
    assert gone["facts"]["page_gone"] is True
    assert {"field": "http_status", "old": "200", "new": "404"} in gone["facts"]["fields"][
        "changed"
    ]

    # errors a user can act on
    same = client.post("/api/comparisons", json={"a": first, "b": first})
    assert same.status_code == 422 and same.json()["detail"]["code"] == "same_capture"
    missing = client.post("/api/comparisons", json={"a": first, "b": "0" * 32})
    assert missing.status_code == 404
    assert client.post(f"/api/captures/{'0' * 32}/recapture").status_code == 404


@dataclass
class Live:
    url: str
    services: Services
    admin_password: str


@pytest.fixture
def live(services: Services) -> Iterator[Live]:
    port = free_port()
    services.settings.port = port  # type: ignore[misc]
    result = initialize(services)
    assert result.admin_password
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services=services), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    web = threading.Thread(target=server.run, daemon=True)
    web.start()
    worker = Worker(services, poll_s=0.1)
    loop = asyncio.new_event_loop()
    work = threading.Thread(target=lambda: loop.run_until_complete(worker.run()), daemon=True)
    work.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield Live(f"http://127.0.0.1:{port}", services, result.admin_password)
    loop.call_soon_threadsafe(worker.stop)
    work.join(30)
    server.should_exit = True
    web.join(10)


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=list(CHROMIUM_ARGS))
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1000})
        expect.set_options(timeout=20_000)  # a shared, loaded machine: patience, not flakiness
        yield context.new_page()
        expect.set_options(timeout=5_000)
        browser.close()


def _login(page: Page, live: Live) -> None:
    page.goto(live.url + "/")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill(live.admin_password)
    page.get_by_role("button", name="登录").click()
    page.get_by_label("当前密码").fill(live.admin_password)
    page.get_by_label("新密码（至少 10 个字符）").fill("correct horse battery")
    page.get_by_label("再次输入新密码").fill("correct horse battery")
    page.get_by_role("button", name="保存").click()
    expect(page).to_have_url(re.compile(r"/captures$"))


def test_capture_again_and_compare_in_the_browser(
    live: Live, page: Page, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    fixture_site.set_item("ui-item", "original")
    _login(page, live)
    page.get_by_label("商品或订单页面网址").fill(fixture_site.url("/shop/item/ui-item"))
    page.get_by_role("button", name="固定证据").click()
    expect(page.locator("#status-badge")).to_have_text("已存证", timeout=180_000)
    page.reload()  # the page drawn once the capture is stored has the comparison section
    expect(page.locator("#compare-none")).to_be_visible()
    first_url = page.url

    fixture_site.set_item("ui-item", "edited")
    page.get_by_role("button", name="再次取证").click()
    expect(page).not_to_have_url(first_url)
    expect(page.locator("#status-badge")).to_have_text("已存证", timeout=180_000)
    page.reload()
    choice = page.get_by_label("与以下取证比对：")
    expect(choice.locator("option")).to_have_count(1)
    page.locator("#compare").screenshot(path=str(tmp_path / "capture-compare.png"))
    page.get_by_role("button", name="生成比对报告").click()

    expect(page).to_have_url(re.compile(r"/comparisons/[0-9a-f]{32}$"), timeout=120_000)
    expect(page.get_by_role("heading", name="取证比对")).to_be_visible()
    fields = page.locator("#changed-fields")
    expect(fields).to_contain_text("价格")
    expect(fields.locator("td.removed").first).to_have_text("199.00 CNY")
    expect(fields.locator("td.added").first).to_have_text("259.00 CNY")
    expect(page.locator("#text-diff li.removed")).to_contain_text(["宣传语：全网最低价"])
    expect(page.locator("#image-diff li.added")).to_contain_text("item-b.png")
    for letter in ("a", "b"):
        shot = page.locator(f"#shot-{letter}")
        expect(shot).to_be_visible()
        assert shot.evaluate("img => img.naturalWidth") >= 1000
    expect(page.locator("#pixel-share")).to_have_text(re.compile(r"\d+\.\d\d %"))
    page.screenshot(path=str(tmp_path / "comparison-zh.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="下载已签名的比对报告（PDF）").click()
    saved = tmp_path / "report.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")

    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Comparison of two captures")).to_be_visible()
    expect(page.locator("#changed-fields")).to_contain_text("Price")
    page.screenshot(path=str(tmp_path / "comparison-en.png"), full_page=True)

    # the capture page lists the comparison it is part of
    page.get_by_role("link", name=re.compile("^[0-9a-f]{32}$")).first.click()
    expect(page.locator("#comparisons a")).to_have_count(1)
