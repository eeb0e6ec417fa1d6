"""One case walked through the UI in a real Chromium (Debian's, via Playwright): a complaint
made on the public form (in English), its receipt page, then officers in Chinese -- the
list, the case page, staffing, registering, a sealed capture from inside the case followed
to the end, proposing filing (first refused with its reason, then with the lists ticked) --
and the head, in English, approving the filing from the queue; the complainant's page then
says a case was opened. Screenshots of every step go to ``$CASE_SCREENSHOTS`` (default: the
test's temporary folder) so that a person can look at them."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select

from capture.engine import CHROMIUM_ARGS
from evidence_service.bootstrap import initialize
from evidence_service.sealing.worker import Worker
from evidence_service.security import hash_password
from evidence_service.services import Services
from evidence_service.web.app import create_app
from storage.models import Case, Unit, User
from tests.fixtures.http_tsa import free_port
from tests.fixtures.site import FixtureSite
from tests.service.conftest import make_settings

pytestmark = pytest.mark.chromium
PASSWORD = "officer password 1"


@dataclass
class Live:
    url: str
    services: Services
    shots: Path


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    port = free_port()
    services = Services(make_settings(tmp_path / "data", port=port))
    initialize(services)
    with services.session() as session:
        unit = session.scalars(select(Unit)).one()
        unit.case_number_prefix = "示市监处"
        for username, name, badge in (
            ("wang", "王五", "SL-0001"),
            ("zhao", "赵六", "SL-0002"),
            ("head", "钱局长", "SL-0003"),
        ):
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
    shots = Path(os.environ.get("CASE_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    yield Live(f"http://127.0.0.1:{port}", services, shots)
    loop.call_soon_threadsafe(worker.stop)
    work.join(30)
    server.should_exit = True
    web.join(10)
    services.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=list(CHROMIUM_ARGS))
        yield b
        b.close()


def _page(browser: Browser, locale: str) -> Page:
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    return context.new_page()


def _shot(live: Live, page: Page, name: str) -> None:
    page.screenshot(path=str(live.shots / f"{name}.png"), full_page=True)


def _login(page: Page, live: Live, username: str, *, zh: bool = True) -> None:
    page.goto(live.url + "/login?next=/cases")
    page.get_by_label("用户名" if zh else "User name").fill(username)
    page.get_by_label("密码" if zh else "Password").fill(PASSWORD)
    page.get_by_role("button", name="登录" if zh else "Log in").click()
    expect(page).to_have_url(re.compile(r"/cases$"))


def test_a_complaint_walked_to_filing_approval_through_the_ui(
    live: Live, browser: Browser, fixture_site: FixtureSite
) -> None:
    # -- the complainant, in English, no login -------------------------------------------
    public = _page(browser, "en-US")
    public.goto(live.url + "/complaints/new")
    expect(public.locator("html")).to_have_attribute("lang", "en")
    public.get_by_label("Shop or seller name").fill("Best Deals Flagship Store")
    public.get_by_label("Shop or listing URL").fill(fixture_site.url("/listing"))
    public.get_by_label("What is wrong, in a line").fill("The listing claims to be the best")
    public.get_by_label("What happened").fill("On 1 March the page said 'best in the country'.")
    public.get_by_label("How to reach you").fill("13900000000")
    _shot(live, public, "01-complaint-form-en")
    public.get_by_role("button", name="Submit the complaint").click()
    expect(public).to_have_url(re.compile(r"/complaints/[0-9A-Z-]{19}\?new=1$"))
    code = public.locator("#receipt-code").inner_text()
    expect(public.locator("#outcome-status")).to_have_text("Received")
    _shot(live, public, "02-complaint-receipt-en")

    # -- officer wang, in Chinese: the list, the case page, staffing --------------------------
    wang = _page(browser, "zh-CN")
    _login(wang, live, "wang")
    expect(wang.locator("html")).to_have_attribute("lang", "zh-CN")
    row = wang.locator("#cases tbody tr").filter(has_text="The listing claims to be the best")
    expect(row).to_have_count(1)
    expect(row.locator(".badge.state")).to_have_text("已接收待登记")
    _shot(live, wang, "03-case-list-zh")
    row.get_by_role("link").click()
    expect(wang.locator("#not-staffed")).to_be_visible()
    expect(wang.locator("#complainant")).to_contain_text("13900000000")
    for person, role in (("王五", "办案人员"), ("赵六", "办案人员"), ("钱局长", "机关负责人")):
        value = wang.locator("#assign-user option", has_text=person).get_attribute("value")
        wang.get_by_label("人员", exact=True).select_option(value)
        wang.get_by_label("角色", exact=True).select_option(label=role)
        wang.get_by_role("button", name="指派", exact=True).click()
        expect(wang.locator("#staff-list")).to_contain_text(f"{person} · {role}")
    expect(wang.locator("#staff-list")).to_contain_text("SL-0002")
    _shot(live, wang, "04-case-staffed-zh")

    # -- register, then capture the shop's page from inside the case --------------------------
    wang.locator("#action-register").get_by_role("button", name="登记案件来源").click()
    expect(wang.locator("#case-state")).to_have_text("核查中")
    expect(wang.locator("#deadlines svg")).to_be_visible()
    expect(wang.locator("#deadline-table")).to_contain_text("剩")
    wang.get_by_role("button", name="固定证据").click()
    expect(wang.locator("#pending")).to_be_visible()
    _shot(live, wang, "05-capture-pending-zh")
    # the page follows the capture by itself and lists it as evidence once sealed
    expect(wang.locator("#evidence-list")).to_contain_text("capture-", timeout=90_000)
    expect(wang.locator("#events")).to_contain_text("附入证据")
    _shot(live, wang, "06-capture-linked-zh")

    # -- propose filing: refused with the reason until the lists are ticked ------------------
    form = wang.locator("#action-propose_filing")
    expect(form.locator(".hints")).to_contain_text("立案前须查询首违不罚、轻微违法不罚清单")
    form.get_by_role("button", name="提请立案").click()
    alert = wang.locator("#error-propose_filing")
    expect(alert).to_contain_text("立案前须查询首违不罚、轻微违法不罚清单")
    expect(wang.locator("#case-state")).to_have_text("核查中")
    _shot(live, wang, "07-propose-refused-zh")
    form = wang.locator("#action-propose_filing")
    form.get_by_label("已查询首违不罚、轻微违法不罚清单").check()
    form.get_by_role("button", name="提请立案").click()
    expect(wang.locator("#case-state")).to_have_text("立案待审批")
    expect(wang.locator("#refused")).to_contain_text("机关负责人")  # approval is the head's
    _shot(live, wang, "08-proposed-zh")

    # -- the head, in English: the queue, then approval -------------------------------------
    head = _page(browser, "en-US")
    _login(head, live, "head", zh=False)
    head.get_by_role("link", name="Work queue").click()
    queue = head.locator("#queue-head")
    expect(queue).to_contain_text("The listing claims to be the best")
    expect(queue).to_contain_text("approve filing")
    _shot(live, head, "09-head-queue-en")
    queue.get_by_role("link", name=re.compile("The listing claims")).click()
    head.locator("#action-approve_filing").get_by_role("button", name="approve filing").click()
    expect(head.locator("#case-state")).to_have_text("investigating")
    number = head.locator(".case-head .case-number")
    expect(number).to_have_text(re.compile(r"示市监处〔\d{4}〕1号"))
    expect(head.locator("#events")).to_contain_text("filing, awaiting approval → investigating")
    _shot(live, head, "10-filed-en")

    with live.services.sessions() as session:
        case = session.scalars(select(Case)).one()
    assert case.state == "investigating" and case.number is not None

    # -- the complainant learns that a case was opened, and nothing more ----------------------
    public.goto(live.url + "/complaints")
    public.get_by_label("Code").fill(code.lower().replace("-", " "))
    public.get_by_role("button", name="Look up").click()
    expect(public.locator("#outcome-status")).to_have_text("A case was opened")
    expect(public.locator("main")).not_to_contain_text("王五")
    _shot(live, public, "11-complaint-outcome-en")


def test_a_lead_with_a_registered_merchant_seen_and_answered_in_the_portal(
    live: Live, browser: Browser
) -> None:
    """The officer opens a lead on the new-case form, naming a merchant registered in the
    portal; once the proposed penalty is notified, the merchant sees the case in its portal
    with what is expected of it and by when, states its case and asks for a hearing."""
    from evidence_service.sealing.case_file import case_context
    from evidence_service.web.portal.deps import build_context
    from tests.portal.conftest import PASSWORD as MERCHANT_PASSWORD
    from tests.portal.conftest import add_officer, credit_code, setup_merchant
    from workflow.cases import service
    from workflow.cases.service import Actor

    with live.services.sessions() as session:
        unit_id = session.scalars(select(Unit.id)).one()
        ids = dict(session.execute(select(User.username, User.id)).all())
    code = credit_code(7)
    inviter = add_officer(live.services, "inviter", unit_id)
    with ThreadPoolExecutor(1) as pool:  # it signs with asyncio.run: not in Playwright's loop
        merchant_id = pool.submit(
            setup_merchant, build_context(live.services), inviter, "某网店", code
        ).result()

    wang = _page(browser, "zh-CN")
    _login(wang, live, "wang")
    wang.get_by_role("link", name="新建案件线索").click()
    wang.get_by_label("案件名称").fill("首页未公示营业执照")
    wang.get_by_label("基本情况").fill("网店首页未亮照经营。")
    wang.get_by_label("已登记的商户（可选）").select_option(merchant_id)
    wang.get_by_label("网店或商品页面网址").fill("https://shop.example/home")
    _shot(live, wang, "21-new-case-zh")
    wang.get_by_role("button", name="登记线索").click()
    expect(wang.locator("#staff-list")).to_contain_text("王五 · 办案人员")
    case_id = wang.url.rsplit("/", 1)[1]

    ctx = case_context(live.services)

    def actor(name: str, role: str = "officer") -> Actor:
        return Actor(f"user:{ids[name]}", name, role, unit_id)

    for name, role in (("zhao", "officer"), ("head", "head"), ("rev", "reviewer")):
        if name == "rev":
            with live.services.session() as session:
                session.add(
                    User(
                        username="rev",
                        display_name="孙审核",
                        password_hash=hash_password(PASSWORD),
                        unit_id=unit_id,
                        badge_number="SL-0004",
                    )
                )
            with live.services.sessions() as session:
                ids["rev"] = session.scalars(select(User.id).where(User.username == "rev")).one()
        service.assign(ctx, actor("wang"), case_id, ids[name], role)
    service.act(ctx, actor("wang"), case_id, "register")
    service.act(ctx, actor("wang"), case_id, "propose_filing", {"no_penalty_lists_consulted": True})
    service.act(ctx, actor("head", "head"), case_id, "approve_filing")
    service.act(ctx, actor("wang"), case_id, "end_investigation", {"major_case": False})
    service.act(
        ctx, actor("rev", "reviewer"), case_id, "complete_review", {"legal_review_done": True}
    )
    service.act(
        ctx,
        actor("wang"),
        case_id,
        "notify_penalty",
        {"notified_penalty": {"kind": "fine", "amount_fen": 500_000}, "hearing_right": True},
    )
    wang.reload()
    expect(wang.locator("#deadline-table")).to_contain_text("陈述、申辩或者要求听证期限")
    # how it was counted reads in Chinese (deadline_steps.toml), not in the engine's English
    wang.locator("#deadline-table details summary").first.click()
    steps = wang.locator("#deadline-table details").first
    expect(steps).to_contain_text("不计入")
    expect(steps.locator('li[lang="en"]')).to_have_count(0)
    _shot(live, wang, "22-notified-zh")

    portal = _page(browser, "zh-CN")
    portal.goto(live.url + "/portal/login")
    portal.get_by_label("统一社会信用代码").fill(code)
    portal.get_by_label("密码").fill(MERCHANT_PASSWORD)
    portal.get_by_role("button", name="登录").click()
    portal.get_by_role("link", name="我的案件").click()
    row = portal.locator("#cases tbody tr").filter(has_text="首页未公示营业执照")
    expect(row).to_contain_text("前进行陈述、申辩")
    expect(row).to_contain_text("前申请听证")
    _shot(live, portal, "23-portal-cases-zh")
    row.get_by_role("link").click()
    expect(portal.locator("main")).not_to_contain_text("SL-0001")  # no staff shown
    _shot(live, portal, "24a-portal-case-zh")
    form = portal.locator("#action-record_statement")
    form.get_by_label("陈述申辩内容").fill("已于当日在首页公示营业执照。")
    form.get_by_role("button", name="记录陈述申辩").click()
    expect(portal.locator("#done")).to_contain_text("记录陈述申辩")
    portal.locator("#action-request_hearing").get_by_role("button", name="申请听证").click()
    expect(portal.locator("#case-state")).to_have_text("已申请听证")
    _shot(live, portal, "24b-portal-case-done-zh")
    wang.reload()
    expect(wang.locator("#events")).to_contain_text("某网店")
    expect(wang.locator("#case-state")).to_have_text("已申请听证")
    _shot(live, wang, "25-officer-after-portal-zh")


def test_a_waiting_document_names_what_it_needs_and_takes_the_note_on_the_page(
    live: Live, browser: Browser
) -> None:
    """The registration form waits for the handling opinion the officer left out: the case
    page lists it under the documents still to be made, the officer gives it there, and the
    page then names only what is still missing (the head's approval)."""
    from evidence_service.sealing.case_file import case_context
    from workflow.cases import service

    ctx = case_context(live.services)
    with live.services.session() as session:
        wang = session.scalars(select(User).where(User.username == "wang")).one()
        me = service.Actor(f"user:{wang.id}", wang.display_name, "officer", wang.unit_id)
        unit_id = wang.unit_id
    assert unit_id is not None
    case_id = service.open_case(
        ctx,
        me,
        unit_id=unit_id,
        title="未公示营业执照",
        summary="网店首页未公示营业执照信息",
        parties=[service.PartyIn("某网店", credit_code="9144030071526726XG")],
        shop_url="https://shop.example.com/store/9",
    )
    service.assign(ctx, me, case_id, int(me.actor.split(":")[1]))
    service.act(ctx, me, case_id, "register")  # no handling opinion given

    page = _page(browser, "zh-CN")
    _login(page, live, "wang")
    page.goto(f"{live.url}/cases/{case_id}#documents")
    _shot(live, page, "19-waiting-document")
    item = page.locator("#waiting li").first
    expect(item).to_contain_text("案件来源登记表")
    expect(item).to_contain_text("handling_opinion")
    form = item.locator("form")
    form.get_by_label(re.compile("处理意见")).fill("建议核查后立案。")
    _shot(live, page, "20-waiting-document-note")
    form.get_by_role("button", name="补充并生成文书").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}\?done=give_notes"))
    item = page.locator("#waiting li").first
    expect(item).not_to_contain_text("handling_opinion")
    expect(item).to_contain_text("approval")
    expect(page.locator("#timeline")).to_contain_text("王五")
    _shot(live, page, "21-waiting-document-after-note")


def test_a_decision_served_by_post_then_its_receipt_recorded_on_the_page(
    live: Live, browser: Browser
) -> None:
    """Serving by post from the action's form (the method and its tracking number), then the
    return receipt recorded on the case page: the payment period counts from the day the
    receipt says, not from the posting."""
    from evidence_service.sealing.case_file import case_context
    from workflow.cases import service

    ctx = case_context(live.services)
    with live.services.session() as session:
        wang = session.scalars(select(User).where(User.username == "wang")).one()
        me = service.Actor(f"user:{wang.id}", wang.display_name, "officer", wang.unit_id)
        assert wang.unit_id is not None
        unit_id, wang_id = wang.unit_id, wang.id
    case_id = service.open_case(
        ctx,
        me,
        unit_id=unit_id,
        title="未公示营业执照",
        summary="网店首页未公示营业执照信息",
        parties=[service.PartyIn("某网店", credit_code="9144030071526726XG")],
        procedure="simplified",
    )
    service.assign(ctx, me, case_id, wang_id)
    service.act(ctx, me, case_id, "register")
    service.act(
        ctx, me, case_id, "decide_on_the_spot",
        {"decided_penalty": {"kind": "fine", "amount_fen": 100_000}},
    )  # fmt: skip

    page = _page(browser, "zh-CN")
    _login(page, live, "wang")
    page.goto(f"{live.url}/cases/{case_id}")
    form = page.locator("#action-serve_decision")
    form.get_by_label("送达方式").select_option("postal")
    form.locator("summary").filter(has_text="邮寄送达").click()
    form.get_by_label("邮件号").fill("EMS1234567890CN")
    _shot(live, page, "30-serve-by-post")
    form.get_by_role("button", name="送达决定书").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}\?done=serve_decision"))
    posted = page.locator("#posted li").first
    expect(posted).to_contain_text("EMS1234567890CN")
    expect(page.locator("#deadlines")).not_to_contain_text("缴纳罚款")  # not served yet

    today = page.locator("#posted input[name=received_on]").get_attribute("max")
    assert today
    posted.get_by_label("回执签收日期").fill(today)
    posted.get_by_label("签收人（可选）").fill("李四")
    posted.get_by_role("button", name="登记回执").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}\?done=record_service_receipt"))
    expect(page.locator("#posted")).to_have_count(0)
    expect(page.locator("#timeline")).to_contain_text("登记送达回执")
    expect(page.locator("#deadlines")).to_contain_text("缴纳罚款")  # counted from the receipt
    _shot(live, page, "31-receipt-recorded")
    with live.services.session() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.facts["decision_served_on"] == today


def test_a_complaint_sent_again_after_going_back_is_one_complaint(
    live: Live, browser: Browser
) -> None:
    """The complainant goes back from the receipt and sends the form again (the browser
    fills in the words it had): one complaint, a new code, and the page says so."""
    public = _page(browser, "zh-CN")
    public.goto(live.url + "/complaints/new")
    public.get_by_label("网店或商家名称").fill("某某旗舰店")
    public.get_by_label("网店或商品页面网址").fill("https://shop.example/item/1")
    public.get_by_label("问题概括").fill("页面宣称“全网最佳”")
    public.get_by_label("具体情况").fill("2026 年 3 月 1 日，商品页面宣称“全网最佳”。")
    public.get_by_label("联系方式").fill("13900000000")
    public.get_by_role("button", name="提交投诉举报").click()
    expect(public).to_have_url(re.compile(r"/complaints/[0-9A-Z-]{19}\?new=1$"))
    first = public.locator("#receipt-code").inner_text()
    public.go_back()
    expect(public.get_by_label("网店或商家名称")).to_have_value("某某旗舰店")
    public.get_by_role("button", name="提交投诉举报").click()
    expect(public).to_have_url(re.compile(r"/complaints/[0-9A-Z-]{19}\?new=1&again=1$"))
    expect(public.locator("#receipt-again")).to_contain_text("没有重复登记")
    second = public.locator("#receipt-code").inner_text()
    assert second != first
    _shot(live, public, "complaint-sent-again-zh")
    with live.services.sessions() as session:
        assert len(list(session.scalars(select(Case).where(Case.source == "complaint")))) == 1
    public.goto(f"{live.url}/complaints/{first}")
    expect(public.locator("#outcome")).to_have_count(0)  # the first code no longer works
