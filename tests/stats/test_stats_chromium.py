"""The dashboard in a real Chromium (Debian's, via Playwright): an officer opens ``/stats``
from the navigation, sees the five SVG charts (each an image with its title and description)
and the tables under them, changes the period with the form, and reads it in English too.
Screenshots go to ``$STATS_SCREENSHOTS`` (default: the test's temporary folder)."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright

from capture.engine import CHROMIUM_ARGS
from evidence_service.sealing.case_file import case_context
from evidence_service.security import hash_password
from evidence_service.services import Services
from evidence_service.web.app import create_app
from storage.models import User
from tests.fixtures.http_tsa import free_port
from tests.service.conftest import make_settings
from tests.stats.data import TODAY, build

pytestmark = pytest.mark.chromium
PASSWORD = "stats password 1"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    services = Services(make_settings(tmp_path / "data", port=port))
    services.migrate()
    built = build(services.sessions)
    with services.session() as session:
        secret = hash_password(PASSWORD)
        session.add(User(username="wang", display_name="王五", unit_id=built.unit_a,
                         password_hash=secret, must_change_password=False))  # fmt: skip
    app = create_app(services=services)
    app.state.case_context = replace(case_context(services), today=lambda: TODAY)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    web = threading.Thread(target=server.run, daemon=True)
    web.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    web.join(10)
    services.close()


def test_the_dashboard_in_chromium(live: str, tmp_path: Path) -> None:
    shots = Path(os.environ.get("STATS_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=list(CHROMIUM_ARGS))
        page = browser.new_context(
            locale="zh-CN", viewport={"width": 1280, "height": 900}
        ).new_page()
        page.goto(live + "/login?next=/cases")
        page.get_by_label("用户名").fill("wang")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page).to_have_url(re.compile(r"/cases$"))
        page.get_by_role("navigation", name="main").get_by_role("link", name="统计").click()
        expect(page).to_have_url(re.compile(r"/stats$"))

        page.get_by_label("起始月份").fill("2026-03")
        page.get_by_label("截止月份").fill("2026-03")
        page.get_by_role("button", name="查看").click()
        expect(page).to_have_url(re.compile(r"from=2026-03&to=2026-03"))
        charts = page.locator("svg.stats-chart[role=img]")
        expect(charts).to_have_count(5)
        for name in ("按月案件数（受理与办结）", "按违法行为类型", "办案期限执行情况（按期限规则）",
                     "各办案环节平均用时（工作日）"):  # fmt: skip
            expect(page.get_by_role("img", name=name)).to_be_visible()
        for table in ("months", "types", "compliance", "no-penalty", "steps", "complaints"):
            expect(page.locator(f"#table-{table}")).to_be_visible()
        expect(page.locator("#sum-opened")).to_have_text("6")
        expect(page.locator('#table-steps td[data-item="2"][data-measure="average"]')).to_have_text(
            "7.0"
        )
        # the drawing carries its numbers in text, not only in bar lengths and colours
        box = charts.nth(4).bounding_box()
        assert box is not None and box["width"] > 600
        expect(charts.nth(4).locator("text.value").first).to_have_text("0.5 个工作日")
        page.screenshot(path=str(shots / "stats-zh.png"), full_page=True)

        page.goto(live + "/stats?from=2026-01&to=2026-04&lang=en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("img", name="Cases by month (opened and closed)")).to_be_visible()
        expect(page.locator("#table-months tbody tr")).to_have_count(4)
        expect(page.get_by_role("link", name="CSV file (one row per figure)")).to_be_visible()
        page.screenshot(path=str(shots / "stats-en.png"), full_page=True)
        browser.close()
