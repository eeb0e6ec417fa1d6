"""End to end in a real Chromium, through the UI and the API: an officer starts a watch from
the case page while the order to correct runs; the live worker captures and seals each run;
the shop edits its page between runs (price and picture, then the claim removed); the case
page draws the timeline, tells the officers (on the page and by mail) when the condition is
met, and the officer confirms the correction with the capture that proves it. Time goes by
with time-machine (the server, the worker, the TSA and the job queue see the same clock).
Screenshots go to ``$CASE_SCREENSHOTS`` (default: the test's folder)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select

from capture.engine import CHROMIUM_ARGS
from evidence_service.sealing.worker import Worker
from evidence_service.security import hash_token, new_api_token
from storage.models import ApiToken, CaptureWatch, Case, WatchRun
from tests.fixtures.http_tsa import free_port
from tests.fixtures.site import FixtureSite, shop_item_html
from tests.monitor.conftest import World, correcting_case, make_world
from tests.portal.conftest import OFFICER_PASSWORD

pytestmark = pytest.mark.chromium
CLAIM = "全网最低价，假一赔十"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, World]]:
    port = free_port()
    with make_world(tmp_path / "data", port=port) as w:
        server = uvicorn.Server(
            uvicorn.Config(w.app, host="127.0.0.1", port=port, log_level="warning")
        )
        web = threading.Thread(target=server.run, daemon=True)
        web.start()
        worker = Worker(w.services, poll_s=0.1)
        loop = asyncio.new_event_loop()
        work = threading.Thread(target=lambda: loop.run_until_complete(worker.run()), daemon=True)
        work.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", w
        loop.call_soon_threadsafe(worker.stop)
        work.join(30)
        server.should_exit = True
        web.join(10)


def _until(what: Callable[[], bool], timeout: float = 120) -> None:
    """Wait for the live worker (polling the database; the clock is time-machine's)."""
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.3)


def _runs(w: World, watch_id: str) -> list[WatchRun]:
    with w.services.session() as session:
        rows = list(
            session.scalars(
                select(WatchRun).where(WatchRun.watch_id == watch_id).order_by(WatchRun.seq)
            )
        )
        session.expunge_all()
        return rows


def _login(page: Page, url: str, target: str) -> None:
    page.goto(f"{url}/login?lang=zh&next={target}")
    page.get_by_label("用户名").fill("wang")
    page.get_by_label("密码").fill(OFFICER_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.goto(url + target)


def test_watch_a_page_until_corrected_in_chromium(
    live: tuple[str, World], fixture_site: FixtureSite, tmp_path: Path
) -> None:
    url, w = live
    shots = Path(os.environ.get("CASE_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    case_id = correcting_case(w)
    item = fixture_site.set_page("item-20", shop_item_html())
    start = datetime.now(UTC)
    token = new_api_token()
    with w.services.session() as session:
        session.add(ApiToken(user_id=w.ids["wang"], name="t", token_hash=hash_token(token)))
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=list(CHROMIUM_ARGS))
        page = browser.new_context(
            locale="zh-CN", viewport={"width": 1280, "height": 900}
        ).new_page()
        _login(page, url, f"/cases/{case_id}")
        panel = page.locator("#watch")
        expect(panel.locator("#watch-none")).to_be_visible()
        # while the order to correct runs, the form is open and watches for a text gone
        expect(panel.locator("#watch-start")).to_have_attribute("open", "")
        panel.get_by_label("要监测的网址").fill(item)
        panel.get_by_label("取证间隔").select_option("6h")
        expect(panel.get_by_label("提前结束的条件")).to_have_value("text_gone")
        panel.locator("#cw-text").fill(CLAIM)
        panel.get_by_role("button", name="开始监测").click()
        expect(page.locator("#watch-done")).to_be_visible()
        with w.services.session() as session:
            watch_id = session.scalars(
                select(CaptureWatch.id).where(CaptureWatch.case_id == case_id)
            ).one()
        _until(lambda: [r.state for r in _runs(w, watch_id)] == ["done"])
        page.reload()
        card = page.locator(f"#watch-{watch_id}")
        expect(card.locator('circle[data-kind="same"]')).to_have_count(1)
        expect(page.locator("#evidence-list")).to_contain_text("capture-")

        # six hours later: the shop changed the price and the picture; the claim stays
        fixture_site.set_page("item-20", shop_item_html(price="¥219.00", image="product-b.png"))
        with time_machine.travel(start + timedelta(hours=6, minutes=1), tick=True):
            _until(lambda: [r.state for r in _runs(w, watch_id)] == ["done", "done"])
            page.reload()
            expect(card.locator('circle[data-kind="changed"]')).to_have_count(1)
            expect(card).to_have_attribute("data-state", "active")

        # twelve hours later: the claim is gone; met, shown and mailed; the proof confirms
        fixture_site.set_page(
            "item-20", shop_item_html(price="¥219.00", image="product-b.png", claim=None)
        )
        with time_machine.travel(start + timedelta(hours=12, minutes=2), tick=True):
            _until(lambda: len(_runs(w, watch_id)) == 3 and _met(w, watch_id))
            _login(page, url, f"/cases/{case_id}")  # the session of 12 hours has expired
            met = page.locator(f"#watch-met-{watch_id}")
            expect(met).to_be_visible()
            expect(card.locator('circle[data-kind="met"]')).to_have_count(1)
            expect(page.locator("body")).to_contain_text("页面监测条件已满足（已封存取证）")
            panel.screenshot(path=str(shots / "watch-1-case-panel-met-zh.png"))
            _until(lambda: len(w.mail.messages) >= 2, 30)
            assert sorted(r for m in w.mail.messages for r in m.rcpt_tos) == [
                "wang@unit.example.cn",
                "zhao@unit.example.cn",
            ]
            page.get_by_role("button", name="以此取证确认已改正").click()
            expect(page.locator("#watch-done")).to_contain_text("已以监测结果确认改正")
            with w.services.session() as session:
                case = session.get(Case, case_id)
                assert case is not None and case.state == "investigating"

            page.goto(f"{url}/watches/{watch_id}")
            rows = page.locator(f"#watch-runs-{watch_id} tbody tr")
            expect(rows).to_have_count(3)
            expect(rows.nth(0)).to_have_attribute("data-changed", "none")
            expect(rows.nth(1)).to_have_attribute("data-changed", "yes")
            expect(rows.nth(2)).to_have_attribute("data-met", "yes")
            expect(page.locator("#watch-met")).to_be_visible()
            page.screenshot(path=str(shots / "watch-2-detail-zh.png"), full_page=True)
            page.goto(f"{url}/watches/{watch_id}?lang=en")
            expect(page.locator("h1")).to_have_text("Watch")
            expect(rows.nth(2)).to_contain_text("met")
            page.screenshot(path=str(shots / "watch-3-detail-en.png"), full_page=True)

            # the API tells the same
            got = api.get(f"/api/watches/{watch_id}").json()
            assert got["state"] == "met" and len(got["runs"]) == 3
            assert got["met_capture_id"] == got["runs"][2]["capture_id"]
            assert [r["text_changed"] for r in got["runs"]] == [None, True, True]
            assert api.post(f"/api/watches/{watch_id}/stop").status_code == 409

        # the watches page: a watch started there (no case), refused input said precisely
        _login(page, url, "/watches")  # back in the present: a session of its own
        page.get_by_label("要监测的网址").fill(item)
        page.get_by_label("提前结束的条件").select_option("text_present")
        page.get_by_role("button", name="开始监测").click()
        expect(page.locator("#wf-error")).to_contain_text("请填写文字")
        page.locator("#wf-text").fill("¥219.00")
        page.get_by_role("button", name="开始监测").click()
        expect(page.locator("#watch-facts")).to_have_attribute("data-state", "active")
        page.goto(f"{url}/watches")
        expect(page.locator("#watch-list tbody tr")).to_have_count(2)
        page.screenshot(path=str(shots / "watch-4-list-zh.png"), full_page=True)
        browser.close()

    bad = api.post(
        "/api/watches",
        json={"url": item, "until": (start - timedelta(days=1)).isoformat()},
    )
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "until"
    made = api.post(
        "/api/watches",
        json={
            "url": item,
            "interval_hours": 24,
            "until": (start + timedelta(days=3)).isoformat(),
            "condition": "status",
            "status": 404,
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["runs"][0]["state"] in ("capturing", "done")
    listed = api.get("/api/watches", params={"case_id": case_id}).json()
    assert [x["id"] for x in listed] == [watch_id]
    assert api.post(f"/api/watches/{made.json()['id']}/stop").json()["state"] == "stopped"
    assert api.get("/api/watches/nope").status_code == 404


def _met(w: World, watch_id: str) -> bool:
    with w.services.session() as session:
        watch = session.get(CaptureWatch, watch_id)
        return watch is not None and watch.state == "met"
