"""The officer's web UI in a real Chromium: log in, capture, watch progress, read the result."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright

from capture.engine import CHROMIUM_ARGS
from evidence_service.bootstrap import initialize
from evidence_service.sealing.worker import Worker
from evidence_service.services import Services
from evidence_service.web.app import create_app
from tests.fixtures.http_tsa import free_port
from tests.fixtures.site import FixtureSite

pytestmark = pytest.mark.chromium


@dataclass
class LiveService:
    url: str
    services: Services
    admin_password: str


@pytest.fixture
def live_service(services_factory: Callable[..., Services]) -> Iterator[LiveService]:
    port = free_port()
    services = services_factory(port=port)
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
    yield LiveService(f"http://127.0.0.1:{port}", services, result.admin_password)
    loop.call_soon_threadsafe(worker.stop)
    work.join(30)
    server.should_exit = True
    web.join(10)


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=list(CHROMIUM_ARGS))
        context = browser.new_context(locale="zh-CN")
        yield context.new_page()
        browser.close()


def _login_first_time(page: Page, live: LiveService) -> None:
    page.goto(live.url + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill(live.admin_password)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/account/password"))
    page.get_by_label("当前密码").fill(live.admin_password)
    page.get_by_label("新密码（至少 10 个字符）").fill("correct horse battery")
    page.get_by_label("再次输入新密码").fill("correct horse battery")
    page.get_by_role("button", name="保存").click()
    expect(page).to_have_url(re.compile(r"/captures$"))


def test_officer_captures_a_page_and_sees_progress_and_result(
    live_service: LiveService, page: Page, fixture_site: FixtureSite
) -> None:
    _login_first_time(page, live_service)
    seen: list[str] = []
    page.on("response", lambda r: seen.append(r.url) if "/api/captures/" in r.url else None)

    page.get_by_label("商品或订单页面网址").fill(fixture_site.url("/listing"))
    page.get_by_role("button", name="固定证据").click()
    expect(page).to_have_url(re.compile(r"/captures/[0-9a-f]{32}$"))
    expect(page.locator("#progress .stage")).to_have_count(4)

    # The page follows the work without a manual reload and ends on the result.
    expect(page.locator("#status-badge")).to_have_text("已存证", timeout=60_000)
    assert seen, "the progress panel polls the capture record"
    expect(page.locator(".stage.done")).to_have_count(4)
    thumb = page.get_by_role("img", name=re.compile("截图"))
    expect(thumb).to_be_visible()
    assert thumb.evaluate("img => img.naturalWidth") > 100
    expect(page.get_by_role("link", name=re.compile(r"下载.*证据包（WACZ）"))).to_be_visible()
    expect(page.get_by_role("link", name="PDF 快照")).to_be_visible()
    expect(page.locator("table.hashes code.hash").first).to_have_text(
        re.compile("sha256:[0-9a-f]{64}")
    )
    expect(page.get_by_text("可信时间（RFC 3161）")).to_be_visible()

    # English on demand, remembered by cookie.
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_text("Trusted time (RFC 3161)")).to_be_visible()
    page.goto(live_service.url + "/captures")
    expect(page.get_by_role("button", name="Capture evidence")).to_be_visible()


def test_bad_url_is_explained_in_the_form(live_service: LiveService, page: Page) -> None:
    _login_first_time(page, live_service)
    field = page.get_by_label("商品或订单页面网址")
    # type=url lets the browser reject obvious garbage; a wrong scheme reaches the server.
    field.evaluate("el => el.type = 'text'")
    field.fill("ftp://example.com/listing")
    page.get_by_role("button", name="固定证据").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("unsupported_scheme")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_value("ftp://example.com/listing")


def test_wrong_password_is_refused(live_service: LiveService, page: Page) -> None:
    page.goto(live_service.url + "/login")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill("not the password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误。")
    page.goto(live_service.url + "/captures")
    expect(page).to_have_url(re.compile(r"/login"))


def test_officer_captures_a_phone_page_with_video_and_plays_it(
    live_service: LiveService, page: Page, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    _login_first_time(page, live_service)
    page.get_by_label("商品或订单页面网址").fill(fixture_site.url("/listing"))
    page.get_by_label("模拟设备（可选）").fill("iPhone 13")
    video_box = page.get_by_label("录制取证过程（带时钟的视频）")
    expect(video_box).not_to_be_checked()  # the capture_video setting is off by default
    video_box.check()
    page.screenshot(path=str(tmp_path / "form.png"), full_page=True)
    page.get_by_role("button", name="固定证据").click()
    expect(page).to_have_url(re.compile(r"/captures/[0-9a-f]{32}$"))
    expect(page.locator("#status-badge")).to_have_text("已存证", timeout=90_000)

    expect(page.locator("#device-used")).to_have_text("iPhone 13")
    expect(page.locator("#user-agent")).to_contain_text("iPhone")
    player = page.locator("#session-video video")
    expect(player).to_be_visible()
    # Chromium loads the stored WebM through the download route and can play it.
    page.wait_for_function(
        "() => { const v = document.querySelector('#session-video video');"
        " return v && v.readyState >= 1 && v.duration > 0; }",
        timeout=30_000,
    )
    assert player.evaluate("v => v.videoWidth") > 100
    player.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "() => document.querySelector('#session-video video').currentTime > 0", timeout=30_000
    )
    player.evaluate(
        "v => new Promise(done => { v.pause(); v.onseeked = () => done(true);"
        " v.currentTime = Math.min(0.3, v.duration / 2); })"
    )
    expect(page.get_by_text("取证过程录像", exact=False).first).to_be_visible()
    expect(page.get_by_role("link", name="下载录像（WebM）")).to_be_visible()
    expect(page.locator("table.hashes")).to_contain_text("files/video.webm")
    page.screenshot(path=str(tmp_path / "capture.png"), full_page=True)
    shots = Path(os.environ.get("EVIDENCE_UI_SHOTS", str(tmp_path)))
    shots.mkdir(parents=True, exist_ok=True)
    for name in ("form.png", "capture.png"):
        (shots / f"video-{name}").write_bytes((tmp_path / name).read_bytes())

    page.get_by_role("link", name="English").click()
    expect(page.get_by_text("Video of the capture session").first).to_be_visible()
    expect(page.locator("#device-used")).to_have_text("iPhone 13")


def test_an_unknown_device_is_explained_in_the_form(
    live_service: LiveService, page: Page, fixture_site: FixtureSite
) -> None:
    _login_first_time(page, live_service)
    page.get_by_label("商品或订单页面网址").fill(fixture_site.url("/listing"))
    page.get_by_label("模拟设备（可选）").fill("iPhone 99")
    page.get_by_role("button", name="固定证据").click()
    expect(page.get_by_role("alert")).to_contain_text("unknown_device")
    expect(page.get_by_role("alert")).to_contain_text("iPhone 13")
    expect(page.get_by_label("模拟设备（可选）")).to_have_value("iPhone 99")
