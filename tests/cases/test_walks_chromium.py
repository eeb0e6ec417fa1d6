"""The five case paths walked end to end in a real Chromium (Debian's, via Playwright), as
the people of each path would walk them, from the public complaint form to closing (the
officer registering a complaint chooses its procedure):

(a) general procedure, the merchant asking for a hearing in the portal;
(b) simplified procedure, decided on the spot within its limits;
(c) fast-track, on the party's written admission, decided within 30 days of filing;
(d) not filed, the complainant told why on the page their receipt code opens;
(e) no penalty, a first violation corrected after the order to correct, shown by a re-capture.

Each walk uses the accounts the access table asks for (officers 王五 and 赵六, the reviewer
孙审核, the head 钱局长, the merchant in the portal, the complainant without a login), takes
only the actions the page offers, moves the clock across the statutory periods (the
5-working-day statement window, the hearing notice's 7 working days, the payment), ends
with the case closed, downloads the case file with the export button and checks it with the
offline verifier to TOTAL-PASSED. Every event of a timeline names the person by the display
name, whichever interface recorded it.

One app, one worker and one browser serve the module; the clock (time-machine, ticking) only
moves forward, each walk starting on a later Monday. Screenshots go to ``$CASE_SCREENSHOTS``
(default: the module's temporary folder).
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select

from capture.engine import CHROMIUM_ARGS
from evidence_service.bootstrap import initialize
from evidence_service.sealing.worker import Worker
from evidence_service.security import hash_password
from evidence_service.services import Services
from evidence_service.web.api.cases import actor_of
from evidence_service.web.app import create_app
from evidence_service.web.auth import actor_name
from evidence_service.web.officer.cases import _actor as console_actor
from evidence_service.web.portal.deps import build_context, officer_ref
from signing.verify import Indication, Text, load_trust_bundle, verify_file
from storage.models import Unit, User
from tests.fixtures.http_tsa import free_port
from tests.portal.conftest import PASSWORD as MERCHANT_PASSWORD
from tests.portal.conftest import credit_code, setup_merchant
from tests.service.conftest import make_settings

PASSWORD = "officer password 1"
CHINA = timezone(timedelta(hours=8))
#: A Monday; each walk starts on the first Monday after the previous walk ended.
START = datetime(2026, 3, 2, 9, 0, tzinfo=CHINA)
#: Who works on the cases: account name, display name, badge number.
STAFF = (
    ("wang", "王五", "SL-0001"),
    ("zhao", "赵六", "SL-0002"),
    ("head", "钱局长", "SL-0003"),
    ("rev", "孙审核", "SL-0004"),
)
NAMES = {username: name for username, name, _ in STAFF}
ROLE_ZH = {"officer": "办案人员", "reviewer": "法制审核人员", "head": "机关负责人"}


# -- the shop whose page the complaint is about (it can be corrected) -------------------------


class _Shop(BaseHTTPRequestHandler):
    corrected = False

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        claim = "本店商品品质优良" if _Shop.corrected else "全国销量第一，最好的商品"
        body = (
            '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>某网店</title></head><body><h1>某网店</h1><p id='claim'>{claim}</p>"
            "</body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


# -- the module's app, clock, browser ---------------------------------------------------------


@dataclass
class World:
    url: str
    services: Services
    shots: Path
    clock: Any  # time_machine.Coordinates
    browser: Browser
    shop_url: str
    merchant_id: str
    merchant_code: str
    timings: dict[str, float] = field(default_factory=dict)

    def today(self) -> date:
        return datetime.now(CHINA).date()

    def next_monday(self) -> None:
        """Move the clock to 09:00 on the first Monday after today (forward only)."""
        today = self.today()
        monday = today + timedelta(days=7 - today.weekday())
        self.clock.move_to(datetime(monday.year, monday.month, monday.day, 9, tzinfo=CHINA))

    def move(self, days: int, hour: int = 10) -> date:
        day = self.today() + timedelta(days=days)
        self.clock.move_to(datetime(day.year, day.month, day.day, hour, tzinfo=CHINA))
        return day


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("walks")
    shop = ThreadingHTTPServer(("127.0.0.1", 0), _Shop)
    threading.Thread(target=shop.serve_forever, daemon=True).start()
    with time_machine.travel(START, tick=True) as clock, sync_playwright() as pw:
        port = free_port()
        services = Services(make_settings(base / "data", port=port))
        initialize(services)
        with services.session() as session:
            unit = session.scalars(select(Unit)).one()
            unit.case_number_prefix = "示市监处"
            for username, name, badge in STAFF:
                session.add(
                    User(
                        username=username,
                        display_name=name,
                        password_hash=hash_password(PASSWORD),
                        unit_id=unit.id,
                        badge_number=badge,
                        must_change_password=False,
                    )
                )
        with services.session() as session:
            wang = session.scalars(select(User).where(User.username == "wang")).one()
            session.expunge(wang)
        code = credit_code(11)
        with ThreadPoolExecutor(1) as pool:  # it signs with asyncio.run: not in Playwright's loop
            merchant_id = pool.submit(
                setup_merchant, build_context(services), officer_ref(wang), "某网店", code
            ).result()
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
        assert server.started, "the live server did not start"
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=list(CHROMIUM_ARGS))
        shots = Path(os.environ.get("CASE_SCREENSHOTS") or base / "shots")
        shots.mkdir(parents=True, exist_ok=True)
        w = World(
            f"http://127.0.0.1:{port}",
            services,
            shots,
            clock,
            browser,
            f"http://127.0.0.1:{shop.server_address[1]}/shop",
            merchant_id,
            code,
        )
        try:
            yield w
        finally:
            browser.close()
            loop.call_soon_threadsafe(worker.stop)
            work.join(30)
            server.should_exit = True
            web.join(10)
            services.close()
            shop.shutdown()
            if w.timings:
                print("\nwalk timings:", {k: round(v, 1) for k, v in w.timings.items()})


# -- people at their browsers -----------------------------------------------------------------


class Person:
    """One person's browser tab. The clock moves by days, so a session may have ended since
    the last step: ``go`` logs in again when the app asks, as a person would."""

    def __init__(self, w: World, who: str, locale: str = "zh-CN", *, merchant: bool = False):
        context = w.browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        self.page: Page = context.new_page()
        self.w, self.who, self.merchant = w, who, merchant
        self.zh = locale.startswith("zh")

    def go(self, path: str) -> Page:
        page = self.page
        try:
            page.goto(self.w.url + path)
        except PlaywrightError as exc:
            # The case page reloads itself when a capture it waits for is sealed
            # (static/cases.js); a reload at the moment of this navigation aborts it.
            if "ERR_ABORTED" not in str(exc):
                raise
            page.wait_for_load_state()
            page.goto(self.w.url + path)
        if urlsplit(page.url).path in ("/login", "/portal/login"):
            self._login()
            page.goto(self.w.url + path)
        return page

    def _login(self) -> None:
        page = self.page
        if self.merchant:
            page.get_by_label("统一社会信用代码").fill(self.w.merchant_code)
            page.get_by_label("密码").fill(MERCHANT_PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page).to_have_url(re.compile(r"/portal/?$"))
            return
        page.get_by_label("用户名" if self.zh else "User name").fill(self.who)
        page.get_by_label("密码" if self.zh else "Password").fill(PASSWORD)
        page.get_by_role("button", name="登录" if self.zh else "Log in").click()
        expect(page).not_to_have_url(re.compile(r"/login"))

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.w.shots / f"{name}.png"), full_page=True)


def act(
    p: Person,
    action: str,
    *,
    to: str | None = None,
    checks: tuple[str, ...] = (),
    values: dict[str, str] | None = None,
    choices: dict[str, str] | None = None,
    penalty: tuple[str, str, str] | None = None,
    notes: dict[str, str] | None = None,
    button: str | None = None,
) -> None:
    """Fill the action's form as offered on the page and submit it; ``to``: the state the
    case page then shows. Inputs are named as in effects.toml (their ids on the page)."""
    form = p.page.locator(f"#action-{action}")
    expect(form).to_be_visible()
    for name in checks:
        form.locator(f"#{action}-{name}").check()
    for name, value in (values or {}).items():
        form.locator(f"#{action}-{name}").fill(value)
    for name, value in (choices or {}).items():
        form.locator(f"#{action}-{name}").select_option(value)
    if penalty is not None:
        name, kind, amount = penalty
        form.locator(f"#{action}-{name}-kind").select_option(kind)
        if amount:
            form.locator(f"#{action}-{name}-yuan").fill(amount)
    if notes:
        details = form.locator(f"#notes-{action}")
        if details.get_attribute("open") is None:  # open again after a refusal
            details.locator("summary").click()
        for name, value in notes.items():
            form.locator(f"#{action}-{name}").fill(value)
    form.locator("button[type=submit]" if button is None else f"text={button}").last.click()
    if to is not None:
        expect(p.page.locator("#case-state")).to_have_text(to)


def assign_staff(p: Person, *people: tuple[str, str]) -> None:
    for username, role in people:
        name = NAMES[username]
        value = p.page.locator("#assign-user option", has_text=name).get_attribute("value")
        assert value is not None
        p.page.locator("#assign-user").select_option(value)
        p.page.locator("#assign-role").select_option(role)
        p.page.locator("#assign-submit").click()
        expect(p.page.locator("#staff-list")).to_contain_text(f"{name} · {ROLE_ZH[role]}")


def complain(w: World, title: str, *, en: bool = False) -> tuple[Person, str]:
    """The public complaint form, filled without a login; returns the tab and receipt code."""
    public = Person(w, "public", "en-US" if en else "zh-CN")
    page = public.go("/complaints/new")
    page.get_by_label("Shop or seller name" if en else "网店或商家名称").fill("某网店")
    page.get_by_label("Shop or listing URL" if en else "网店或商品页面网址").fill(w.shop_url)
    page.get_by_label("What is wrong, in a line" if en else "问题概括").fill(title)
    page.get_by_label("What happened" if en else "具体情况").fill(
        "The shop's page says it is the best in the country." if en else "网店首页称“全国第一”。"
    )
    page.get_by_label("How to reach you" if en else "联系方式").fill("13900000000")
    page.get_by_role("button", name="Submit the complaint" if en else "提交投诉举报").click()
    expect(page).to_have_url(re.compile(r"/complaints/[0-9A-Z-]{19}\?new=1$"))
    return public, page.locator("#receipt-code").inner_text()


def outcome(public: Person, code: str, expected: str) -> None:
    page = public.go("/complaints")
    page.locator("#code, input[name=code]").first.fill(code)
    page.locator("main button[type=submit]").click()
    expect(page.locator("#outcome-status")).to_have_text(expected)


def open_case(p: Person, title: str) -> str:
    """From the officer's case list to the case's page; returns the case id."""
    page = p.go("/cases")
    row = page.locator("#cases tbody tr").filter(has_text=title)
    expect(row).to_have_count(1)
    row.get_by_role("link").first.click()
    expect(page.locator("#case-state")).to_be_visible()
    return page.url.rsplit("/", 1)[1].split("?")[0]


def to_case(p: Person, case_id: str) -> Page:
    page = p.go(f"/cases/{case_id}")
    expect(page.locator("#case-state")).to_be_visible()
    return page


def export_and_verify(w: World, p: Person, case_id: str, walk: str) -> None:
    """The export button, then the offline verifier on what was downloaded."""
    page = to_case(p, case_id)
    with page.expect_download(timeout=60_000) as info:
        page.locator("#export-link").click()
    path = w.shots.parent / f"{walk}-case.zip"
    info.value.save_as(path)
    trust = load_trust_bundle(
        w.services.trust_bundle_pem(), source="given", description=Text("测试", "test")
    )
    report = verify_file(path, trust=trust)
    assert report.indication is Indication.TOTAL_PASSED, report.summary.en


def timeline_names(p: Person) -> set[str]:
    """The people in the "who" column of the case's timeline (the name above the role);
    the service's own steps (documents generated, captures linked) are left out."""
    cells = p.page.locator("#events tbody tr td:nth-child(3)").all_inner_texts()
    lines = [[part.strip() for part in c.split("\n") if part.strip()] for c in cells]
    return {c[0] for c in lines if c[-1] not in ("系统", "system")}


def link_merchant(p: Person, merchant_id: str) -> None:
    """The complaint named the shop by its name only: the officer links the party to the
    merchant's portal account, so that the merchant sees the case there."""
    form = p.page.locator("form[id^=link-party-]")
    form.get_by_label("关联送达平台账户").select_option(merchant_id)
    form.get_by_role("button", name="关联").click()
    expect(p.page.locator("#done")).to_contain_text("当事人已关联送达平台账户")
    expect(p.page.locator("#parties")).to_contain_text("91440300")


# -- the walks --------------------------------------------------------------------------------


@pytest.mark.chromium
def test_a_general_procedure_with_a_hearing_asked_for_in_the_portal(world: World) -> None:
    w = world
    started = time.monotonic()
    w.next_monday()
    public, code = complain(w, "首页宣称全国第一（听证）", en=True)
    public.shot("a01-complaint-receipt-en")

    wang = Person(w, "wang")
    case_id = open_case(wang, "首页宣称全国第一（听证）")
    assign_staff(
        wang, ("wang", "officer"), ("zhao", "officer"), ("rev", "reviewer"), ("head", "head")
    )
    act(wang, "register", to="核查中", notes={"handling_opinion": "建议核查，固定网页证据。"})
    act(wang, "propose_filing", to="立案待审批", checks=("no_penalty_lists_consulted",))
    link_merchant(wang, w.merchant_id)

    head = Person(w, "head", "en-US")
    page = head.go("/cases/queue")
    queue = page.locator("#queue-head")
    expect(queue).to_contain_text("首页宣称全国第一（听证）")
    queue.get_by_role("link", name=re.compile("首页宣称全国第一")).click()
    act(head, "approve_filing", to="investigating")
    expect(head.page.locator(".case-head .case-number")).to_have_text(
        re.compile(r"示市监处〔2026〕\d+号")
    )

    to_case(wang, case_id)
    act(wang, "end_investigation", to="调查终结待审核")
    rev = Person(w, "rev")
    to_case(rev, case_id)
    act(rev, "complete_review", to="审核完毕", checks=("legal_review_done",))
    to_case(wang, case_id)
    act(
        wang,
        "notify_penalty",
        to="已告知陈述申辩期",
        penalty=("notified_penalty", "fine", "5000"),
        checks=("hearing_right",),
    )
    expect(wang.page.locator("#deadline-table")).to_contain_text("陈述、申辩或者要求听证期限")
    wang.shot("a02-notified-zh")

    # -- the merchant, in its portal, within the 5 working days --------------------------------
    w.move(2)
    shop = Person(w, "merchant", merchant=True)
    page = shop.go("/portal/cases")
    row = page.locator("#cases tbody tr").filter(has_text="首页宣称全国第一（听证）")
    expect(row).to_contain_text("前申请听证")
    row.get_by_role("link").click()
    act(shop, "confirm_service_address")
    expect(shop.page.locator("#done")).to_contain_text("确认送达地址")
    act(shop, "record_statement", values={"statement": "页面用语已删除，请求从轻处罚。"})
    expect(shop.page.locator("#done")).to_contain_text("记录陈述申辩")
    act(shop, "request_hearing", to="已申请听证")
    shop.shot("a03-portal-hearing-asked-zh")

    # -- the hearing: notified at least 7 working days ahead, then held -----------------------
    w.move(1)
    hearing_on = w.today() + timedelta(days=14)
    to_case(wang, case_id)
    act(wang, "schedule_hearing", to="听证已通知", values={"hearing_on": hearing_on.isoformat()})
    w.clock.move_to(datetime(hearing_on.year, hearing_on.month, hearing_on.day, 9, tzinfo=CHINA))
    to_case(wang, case_id)
    act(wang, "hold_hearing", to="听证已举行")

    # -- the head decides: not above what was notified ----------------------------------------
    to_case(head, case_id)
    act(head, "decide_penalty", penalty=("decided_penalty", "fine", "8000"))
    expect(head.page.locator("#error-decide_penalty")).to_contain_text("may not exceed")
    head.shot("a04-decision-refused-en")
    act(
        head,
        "decide_penalty",
        to="decided",
        penalty=("decided_penalty", "fine", "5000"),
        notes={"discretion": "当事人已改正，按裁量基准从轻。"},
    )
    to_case(wang, case_id)
    act(wang, "serve_decision", to="决定已送达", choices={"service_method": "electronic"})
    act(wang, "publish", notes={"url": "https://gsxt.example/decisions/1"})
    expect(wang.page.locator("#done")).to_contain_text("公示处罚决定")

    # -- payment, after some days, then closing ------------------------------------------------
    w.move(6)
    to_case(wang, case_id)
    act(wang, "record_payment", to="罚款已缴纳", notes={"payment_number": "31000026000000000017"})
    to_case(head, case_id)
    act(head, "close_case", to="closed", notes={"opinion": "同意结案。"})
    head.shot("a05-closed-en")
    assert timeline_names(head) <= {"王五", "赵六", "孙审核", "钱局长", "某网店", "—"}
    assert {"王五", "孙审核", "钱局长", "某网店"} <= timeline_names(head)
    export_and_verify(w, head, case_id, "a")
    outcome(public, code, "Closed")
    w.timings["a"] = time.monotonic() - started


@pytest.mark.chromium
def test_b_simplified_procedure_decided_on_the_spot(world: World) -> None:
    w = world
    started = time.monotonic()
    w.next_monday()
    public, code = complain(w, "未公示营业执照（当场）")
    wang = Person(w, "wang")
    case_id = open_case(wang, "未公示营业执照（当场）")
    # the officer checks the shop on the spot: the simplified procedure, chosen at registering
    assign_staff(wang, ("wang", "officer"), ("head", "head"))
    act(wang, "register", to="当场调查", choices={"procedure": "simplified"})

    # above the limit for an organisation: refused, with the limit named
    act(wang, "decide_on_the_spot", penalty=("decided_penalty", "fine", "5000"))
    expect(wang.page.locator("#error-decide_on_the_spot")).to_contain_text("不得超过 3000 元")
    wang.shot("b01-over-the-limit-zh")
    act(wang, "decide_on_the_spot", to="已作出决定", penalty=("decided_penalty", "fine", "200"))
    act(wang, "serve_decision", to="决定已送达", choices={"service_method": "direct"})
    act(wang, "publish")
    w.move(3)
    to_case(wang, case_id)
    act(wang, "record_payment", to="罚款已缴纳", notes={"payment_channel": "银行柜台"})
    head = Person(w, "head")
    to_case(head, case_id)
    act(head, "close_case", to="已结案")
    head.shot("b02-closed-zh")
    assert timeline_names(head) <= {"王五", "钱局长", "—"}
    outcome(public, code, "已办结")
    export_and_verify(w, head, case_id, "b")
    w.timings["b"] = time.monotonic() - started


@pytest.mark.chromium
def test_c_fast_track_on_a_written_admission(world: World) -> None:
    w = world
    started = time.monotonic()
    w.next_monday()
    public, code = complain(w, "虚假宣传（快速办理）")
    wang = Person(w, "wang")
    case_id = open_case(wang, "虚假宣传（快速办理）")
    # the party has admitted the facts: the fast-track procedure, chosen at registering
    assign_staff(wang, ("wang", "officer"), ("zhao", "officer"), ("head", "head"))
    act(wang, "register", to="核查中", choices={"procedure": "fast_track"})
    act(wang, "propose_filing", to="立案待审批", checks=("no_penalty_lists_consulted",))
    head = Person(w, "head")
    to_case(head, case_id)
    act(head, "approve_filing", to="调查取证")
    expect(head.page.locator("#deadline-table")).to_contain_text("快速办理")

    to_case(wang, case_id)
    act(
        wang,
        "notify_penalty",
        to="已告知陈述申辩期",
        penalty=("notified_penalty", "fine", "2000"),
        checks=("admitted_and_accepted_in_writing",),
    )
    # the head cannot decide inside the statement window ...
    to_case(head, case_id)
    refused = head.page.locator("#refused-decide_penalty")
    expect(refused).to_contain_text("陈述申辩期（5个工作日）尚未届满")
    head.shot("c01-window-open-zh")
    # ... and can once its 5 working days (over a weekend) are over
    w.move(8)
    to_case(head, case_id)
    act(head, "decide_penalty", to="已作出决定", penalty=("decided_penalty", "fine", "2000"))
    to_case(wang, case_id)
    act(wang, "serve_decision", to="决定已送达", choices={"service_method": "direct"})
    act(wang, "publish")
    w.move(5)
    to_case(wang, case_id)
    act(wang, "record_payment", to="罚款已缴纳")
    to_case(head, case_id)
    act(head, "close_case", to="已结案")
    head.shot("c02-closed-zh")
    assert timeline_names(head) <= {"王五", "赵六", "钱局长", "—"}
    outcome(public, code, "已办结")
    export_and_verify(w, head, case_id, "c")
    w.timings["c"] = time.monotonic() - started


@pytest.mark.chromium
def test_d_not_filed_and_the_complainant_told_why(world: World) -> None:
    w = world
    started = time.monotonic()
    w.next_monday()
    public, code = complain(w, "商品价格标示不清（不予立案）")
    wang = Person(w, "wang")
    case_id = open_case(wang, "商品价格标示不清（不予立案）")
    assign_staff(wang, ("wang", "officer"), ("head", "head"))
    act(wang, "register", to="核查中")
    reasons = "经核查，页面已标明价格及计价单位，未发现违法事实。"
    act(wang, "propose_non_filing", to="不予立案待审批", values={"reasons": reasons})
    outcome(public, code, "核查中")
    head = Person(w, "head")
    to_case(head, case_id)
    act(head, "approve_non_filing", to="不予立案")
    to_case(wang, case_id)
    act(wang, "close_lead", to="不予立案已告知", checks=("complainant_informed",))
    wang.shot("d01-not-filed-zh")
    outcome(public, code, "不予立案")
    expect(public.page.locator("#outcome")).to_contain_text(reasons)
    expect(public.page.locator("main")).not_to_contain_text("王五")
    public.shot("d02-complainant-told-why-zh")
    assert timeline_names(wang) <= {"王五", "钱局长", "—"}
    export_and_verify(w, wang, case_id, "d")
    w.timings["d"] = time.monotonic() - started


@pytest.mark.chromium
def test_e_no_penalty_after_the_correction_shown_by_a_recapture(world: World) -> None:
    w = world
    started = time.monotonic()
    w.next_monday()
    _Shop.corrected = False
    public, code = complain(w, "首次违法（不予处罚）")
    wang = Person(w, "wang")
    case_id = open_case(wang, "首次违法（不予处罚）")
    assign_staff(
        wang, ("wang", "officer"), ("zhao", "officer"), ("rev", "reviewer"), ("head", "head")
    )
    act(wang, "register", to="核查中")
    wang.page.get_by_role("button", name="固定证据").click()  # sealed while the walk goes on
    act(
        wang,
        "propose_filing",
        to="立案待审批",
        checks=("no_penalty_lists_consulted", "no_penalty_list_match", "no_penalty_path_offered"),
    )
    head = Person(w, "head")
    to_case(head, case_id)
    act(head, "approve_filing", to="调查取证")
    to_case(wang, case_id)
    due = w.today() + timedelta(days=7)
    act(wang, "order_correction", to="责令改正中", values={"correction_due_on": due.isoformat()})

    # the merchant corrects its page; the officer re-captures it and confirms
    w.move(3)
    _Shop.corrected = True
    page = to_case(wang, case_id)
    page.get_by_role("button", name="固定证据").click()
    expect(page.locator("#evidence-list tbody tr")).to_have_count(2, timeout=90_000)
    wang.shot("e01-recaptured-zh")
    act(wang, "confirm_correction", to="调查取证", checks=("correction_verified_by_recapture",))
    act(wang, "end_investigation", to="调查终结待审核")
    rev = Person(w, "rev")
    to_case(rev, case_id)
    act(rev, "complete_review", to="审核完毕")
    to_case(head, case_id)
    act(
        head, "decide_no_penalty", to="已作出决定", choices={"no_penalty_ground": "first_violation"}
    )
    to_case(wang, case_id)
    act(wang, "serve_decision", to="决定已送达", choices={"service_method": "direct"})
    to_case(head, case_id)
    act(head, "close_case", to="已结案")
    head.shot("e02-closed-zh")
    names = timeline_names(head)
    assert names <= {"王五", "赵六", "孙审核", "钱局长", "—"}, names
    export_and_verify(w, head, case_id, "e")
    outcome(public, code, "已办结")
    w.timings["e"] = time.monotonic() - started


# -- one name per person in the timeline, whichever interface acted ---------------------------


def test_every_interface_names_an_account_by_its_display_name() -> None:
    """The console, the REST API (and the ``evidence`` command, which uses the API's) record
    the display name; the account name stands in only for a blank one."""
    named = User(id=7, username="wang", display_name="王五", unit_id=1)
    blank = User(id=8, username="li", display_name="  ", unit_id=1)
    for build in (console_actor, actor_of):
        assert build(named, "officer").name == "王五"
        assert build(blank, "officer").name == "li"
    assert actor_name(named) == "王五"
