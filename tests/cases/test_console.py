"""The case pages over HTTP (FastAPI's TestClient): the officer console (list, filters, queues,
new case, case page, actions, refusals, staffing, captures from the case), the public
complaint form and outcome page, and the merchant's cases in the portal -- and who may see
and do what (another unit's officer gets 404, a merchant sees only its own cases, a
complainant only the outcome of their own complaint)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from evidence_service.bootstrap import initialize
from evidence_service.sealing.case_archive import archive_ended_cases
from evidence_service.sealing.case_documents import generate_due
from evidence_service.security import hash_password
from evidence_service.services import Services
from evidence_service.web.app import create_app
from evidence_service.web.case_views import action_fields, fen_from_yuan
from evidence_service.web.i18n import MESSAGES
from evidence_service.web.portal.deps import build_context
from evidence_service.web.public import complaints as complaints_web
from evidence_service.web.public.complaints import OUTCOMES
from storage.models import (
    Capture,
    Case,
    CaseCaptureRequest,
    CaseEvent,
    CaseEvidence,
    CaseParty,
    ComplaintReceipt,
    Merchant,
    Unit,
    User,
)
from tests.portal.conftest import PASSWORD, add_officer, credit_code, csrf_of, setup_merchant
from tests.service.conftest import make_settings
from workflow.cases import documents, service
from workflow.cases.process import default_process
from workflow.cases.service import Actor, PartyIn

CHINA = timezone(timedelta(hours=8))
OFFICER_PASSWORD = "officer password 1"


@dataclass
class World:
    services: Services
    app: Any
    unit_a: int
    unit_b: int
    ids: dict[str, int]
    merchant_id: str
    merchant_code: str
    other_merchant_id: str

    def actor(self, key: str, role: str = "officer") -> Actor:
        unit = self.unit_b if key == "bob" else self.unit_a
        return Actor(f"user:{self.ids[key]}", key, role, unit)

    @property
    def ctx(self) -> service.CaseContext:
        from evidence_service.sealing.case_file import case_context

        return case_context(self.services)


def _user(services: Services, unit_id: int, username: str, name: str, badge: str | None) -> int:
    with services.session() as session:
        user = User(
            username=username,
            display_name=name,
            password_hash=hash_password(OFFICER_PASSWORD),
            unit_id=unit_id,
            badge_number=badge,
            must_change_password=False,
        )
        session.add(user)
        session.flush()
        return user.id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    services = Services(make_settings(tmp_path_factory.mktemp("console") / "data"))
    initialize(services)
    with services.session() as session:
        unit_a = session.scalars(select(Unit.id)).one()
        other = Unit(name="乙市市场监督管理局")
        session.add(other)
        session.flush()
        unit_b = other.id
        session.get(Unit, unit_a).case_number_prefix = "示市监处"  # type: ignore[union-attr]
    ids = {
        "wang": _user(services, unit_a, "wang", "王五", "SL-0001"),
        "zhao": _user(services, unit_a, "zhao", "赵六", "SL-0002"),
        "head": _user(services, unit_a, "head", "钱局长", "SL-0003"),
        "rev": _user(services, unit_a, "rev", "孙审核", "SL-0004"),
        "bob": _user(services, unit_b, "bob", "Bob", "SL-0100"),
    }
    portal = build_context(services)
    inviter = add_officer(services, "inviter", unit_a)
    code = credit_code(101)
    merchant_id = setup_merchant(portal, inviter, "某网店有限公司", code)
    with services.session() as session:
        stranger = Merchant(unit_id=unit_a, name="另一网店", credit_code=credit_code(102))
        session.add(stranger)
        session.flush()
        other_merchant_id = stranger.id
    yield World(
        services,
        create_app(services=services),
        unit_a,
        unit_b,
        ids,
        merchant_id,
        code,
        other_merchant_id,
    )
    services.close()


def login(world: World, username: str, lang: str = "zh") -> TestClient:
    client = TestClient(world.app, headers={"Accept-Language": lang, "Accept": "text/html"})
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": username, "password": OFFICER_PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def portal_login(world: World) -> TestClient:
    client = TestClient(world.app, headers={"Accept-Language": "zh"})
    page = client.get("/portal/login")
    r = client.post(
        "/portal/login",
        data={"credit_code": world.merchant_code, "password": PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def open_lead(
    w: World,
    title: str,
    *,
    procedure: str = "general",
    merchant_id: str | None = None,
    staff: tuple[str, ...] = ("wang", "zhao"),
) -> str:
    ctx = w.ctx
    case_id = service.open_case(
        ctx,
        w.actor("wang"),
        unit_id=w.unit_a,
        title=title,
        summary="商品页面宣称“国家级”",
        parties=[PartyIn("某网店有限公司", merchant_id=merchant_id, shop_url="https://shop/1")],
        procedure=procedure,
        shop_url="https://shop.example/1",
    )
    for key in staff:
        service.assign(ctx, w.actor("wang"), case_id, w.ids[key])
    return case_id


def file_case(w: World, case_id: str) -> None:
    ctx = w.ctx
    service.assign(ctx, w.actor("wang"), case_id, w.ids["head"], "head")
    service.act(ctx, w.actor("wang"), case_id, "register")
    service.act(
        ctx,
        w.actor("wang"),
        case_id,
        "propose_filing",
        {"no_penalty_lists_consulted": True, "no_penalty_path_offered": True},
    )
    service.act(ctx, w.actor("head", "head"), case_id, "approve_filing")


def to_statement_period(w: World, case_id: str) -> None:
    ctx = w.ctx
    file_case(w, case_id)
    service.assign(ctx, w.actor("wang"), case_id, w.ids["rev"], "reviewer")
    service.act(ctx, w.actor("wang"), case_id, "end_investigation", {"major_case": False})
    service.act(
        ctx, w.actor("rev", "reviewer"), case_id, "complete_review", {"legal_review_done": True}
    )
    service.act(
        ctx,
        w.actor("wang"),
        case_id,
        "notify_penalty",
        {"notified_penalty": {"kind": "fine", "amount_fen": 500_000}, "hearing_right": True},
    )


def hearing_requested(w: World, title: str) -> str:
    """A case of the portal's merchant whose hearing the merchant has asked for."""
    case_id = open_lead(w, title, merchant_id=w.merchant_id)
    to_statement_period(w, case_id)
    merchant = Actor(f"merchant:{w.merchant_id}", "某网店", "merchant", w.unit_a)
    service.act(w.ctx, merchant, case_id, "request_hearing")
    return case_id


def case_of(w: World, case_id: str) -> Case:
    with w.services.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        session.expunge(case)
        return case


def rows_in(html: str) -> set[str]:
    return set(re.findall(r'<tr data-case="([0-9a-f]{32})"', html))


# -- the list, its filters, the queues ------------------------------------------------------


def test_the_list_filters_by_state_procedure_mine_and_open_or_closed(world: World) -> None:
    general = open_lead(world, "列表：普通程序")
    fast = open_lead(world, "列表：快速办理", procedure="fast_track", staff=("zhao",))
    refused = service.open_case(
        world.ctx,
        Actor("complainant", "张三", "complainant"),
        unit_id=world.unit_a,
        title="列表：不予受理",
        summary="s",
        source="complaint",
    )
    service.assign(world.ctx, world.actor("wang"), refused, world.ids["wang"])
    service.act(
        world.ctx,
        world.actor("wang"),
        refused,
        "refuse_complaint",
        {"reasons": "不属于本机关管辖", "complainant_informed": True},
    )
    elsewhere = service.open_case(
        world.ctx, world.actor("bob"), unit_id=world.unit_b, title="乙市的案件", summary="s"
    )
    wang = login(world, "wang")

    shown = rows_in(wang.get("/cases").text)
    assert {general, fast} <= shown and refused not in shown and elsewhere not in shown
    assert rows_in(wang.get("/cases?status=closed").text) >= {refused}
    assert general not in rows_in(wang.get("/cases?status=closed").text)
    assert refused in rows_in(wang.get("/cases?status=all").text)
    fast_only = rows_in(wang.get("/cases?procedure=fast_track").text)
    assert fast in fast_only and general not in fast_only
    mine = rows_in(wang.get("/cases?mine=1").text)
    assert general in mine and fast not in mine  # wang is not on the fast-track case
    by_state = rows_in(wang.get("/cases?state=not_accepted&status=all").text)
    assert refused in by_state and general not in by_state
    row = wang.get("/cases").text.split(f'data-case="{general}"')[1].split("</tr>")[0]
    assert "列表：普通程序" in row and '<span class="badge state">已接收待登记</span>' in row
    assert elsewhere not in rows_in(wang.get("/cases?status=all").text)
    bob = login(world, "bob")
    assert rows_in(bob.get("/cases?status=all").text) == {elsewhere}


def test_deadline_badges_colour_due_soon_overdue_and_unconfirmed(world: World) -> None:
    """Registered Monday 2 March 2026: 15 working days to verify, due 23 March."""
    with time_machine.travel(datetime(2026, 3, 2, 10, tzinfo=CHINA), tick=False) as clock:
        case_id = open_lead(world, "期限：核查")
        service.act(world.ctx, world.actor("wang"), case_id, "register")
        wang = login(world, "wang")
        running = wang.get("/cases").text
        row = running.split(f'data-case="{case_id}"')[1].split("</tr>")[0]
        assert "d-running" in row and "剩 21 天" in row
        clock.move_to(datetime(2026, 3, 20, 10, tzinfo=CHINA))
        wang = login(world, "wang")  # a session lasts 12 hours
        row = wang.get("/cases").text.split(f'data-case="{case_id}"')[1].split("</tr>")[0]
        assert "d-due_soon" in row and "剩 3 天" in row
        queue = wang.get("/cases/queue").text
        assert "期限：核查" in queue.split('id="queue-deadlines"')[1].split("</section>")[0]
        clock.move_to(datetime(2026, 3, 25, 10, tzinfo=CHINA))
        wang = login(world, "wang")
        row = wang.get("/cases").text.split(f'data-case="{case_id}"')[1].split("</tr>")[0]
        assert "d-overdue" in row and "已逾期 2 天" in row
        english = login(world, "wang", "en").get(f"/cases/{case_id}").text
        assert "overdue by 2 days" in english
    with time_machine.travel(datetime(2026, 12, 15, 10, tzinfo=CHINA), tick=False):
        late = open_lead(world, "期限：跨年")
        service.act(world.ctx, world.actor("wang"), late, "register")
        page = login(world, "wang").get(f"/cases/{late}").text
        assert "d-unconfirmed" in page and "届满日待确认（不早于 2027-01-03）" in page
        queue = login(world, "wang").get("/cases/queue").text
        assert "期限：跨年" in queue  # an unknown due date is work to check, too


def test_queues_for_reviewer_and_head(world: World) -> None:
    to_review = open_lead(world, "队列：待审核")
    file_case(world, to_review)
    service.assign(world.ctx, world.actor("wang"), to_review, world.ids["rev"], "reviewer")
    service.act(
        world.ctx, world.actor("wang"), to_review, "end_investigation", {"major_case": False}
    )
    to_approve = open_lead(world, "队列：待批准")
    service.assign(world.ctx, world.actor("wang"), to_approve, world.ids["head"], "head")
    service.act(world.ctx, world.actor("wang"), to_approve, "register")
    service.act(
        world.ctx,
        world.actor("wang"),
        to_approve,
        "propose_filing",
        {"no_penalty_lists_consulted": True},
    )
    queue = login(world, "rev").get("/cases/queue").text
    review = queue.split('id="queue-reviewer"')[1].split("</section>")[0]
    head = queue.split('id="queue-head"')[1].split("</section>")[0]
    assert "队列：待审核" in review and "完成审核" in review
    assert "队列：待批准" not in head and "队列：待批准" not in review  # 钱局长's, not rev's
    head_queue = login(world, "head").get("/cases/queue").text.split('id="queue-head"')[1]
    assert "队列：待批准" in head_queue.split("</section>")[0] and "批准立案" in head_queue


# -- the case page ----------------------------------------------------------------------------


def test_case_page_shows_header_timeline_deadlines_and_only_what_may_be_done(
    world: World,
) -> None:
    case_id = open_lead(world, "案件页：虚假宣传")
    service.assign(world.ctx, world.actor("wang"), case_id, world.ids["head"], "head")
    wang = login(world, "wang")
    r = wang.get(f"/cases/{case_id}")
    assert r.status_code == 200
    page = r.text
    assert "案件页：虚假宣传" in page and "普通程序" in page and "某网店有限公司" in page
    assert "王五" in page and "SL-0001" in page and "钱局长" in page  # staff with badges
    events = re.findall(r'<tr id="event-(\d+)">', page)
    assert events == ["4", "3", "2", "1"]  # newest first: lead, two officers, the head
    with world.services.sessions() as session:
        first = session.scalar(
            select(CaseEvent.hash).where(CaseEvent.case_id == case_id, CaseEvent.seq == 1)
        )
    assert first is not None and f">{first[:12]}</code>" in page
    assert "新线索 → 已接收待登记" in page  # from → to
    actions = page.split('id="actions"')[1].split("</section>")[0]
    offered = re.findall(
        r'<form method="post" action="/cases/[0-9a-f]+/act"[^>]*id="action-(\w+)"', actions
    )
    assert offered == ["register", "refuse_complaint"]
    assert 'id="refused"' not in actions  # both are offered: nothing to list greyed
    refuse_form = actions.split('id="action-refuse_complaint"')[1].split("</form>")[0]
    assert 'name="reasons"' in refuse_form and 'type="checkbox"' in refuse_form
    # the head sees the same case with nothing to do yet, and why
    head = login(world, "head").get(f"/cases/{case_id}").text
    head_actions = head.split('id="actions"')[1].split("</section>")[0]
    assert re.findall(r'id="action-(\w+)"', head_actions) == []
    assert "机关负责人无权执行“登记案件来源”（可由办案人员执行）" in head_actions
    english = login(world, "head", "en").get(f"/cases/{case_id}").text
    assert "the head of unit role may not register the case source (allowed: officer)" in english
    assert "Timeline" in english and "new lead → received, to be registered" in english


def archive_all(w: World) -> set[str]:
    """Archive every ended case that is ready (other tests of the module end cases too)."""
    done: set[str] = set()
    while batch := archive_ended_cases(w.services):
        done |= {a.case_id for a in batch}
    return done


def test_an_ended_case_says_what_its_archive_waits_for_and_still_takes_the_notes(
    world: World,
) -> None:
    """A lead closed while its documents still wait for what only people can give (the
    handling opinion, the non-filing document's number and reasons, the head's opinion): the
    page says the archive waits for them and still offers a form for each on the closed case;
    once given, the worker makes the documents and archives the file. (A lead not filed has
    no case number: its registration form carries the non-filing document's number.)"""
    ctx, wang_actor = world.ctx, world.actor("wang")
    case_id = service.open_case(
        ctx,
        wang_actor,
        unit_id=world.unit_a,
        title="结案后补充：未公示证照",
        summary="网店首页未公示营业执照信息",
        parties=[
            PartyIn("某网店有限公司", credit_code=world.merchant_code, shop_url="https://shop/1")
        ],
        shop_url="https://shop.example/1",
    )
    for key, role in (("wang", "officer"), ("zhao", "officer"), ("head", "head")):
        service.assign(ctx, wang_actor, case_id, world.ids[key], role)
    service.act(ctx, wang_actor, case_id, "register")  # no handling opinion given
    service.act(ctx, wang_actor, case_id, "propose_non_filing", {"reasons": "无违法事实"})
    service.act(ctx, world.actor("head", "head"), case_id, "approve_non_filing")
    service.act(ctx, wang_actor, case_id, "close_lead")
    assert documents.owed(documents.load_snapshot(ctx, case_id))
    assert case_id not in archive_all(world)  # waits for the documents

    def waiting_part(html: str) -> str:
        return (
            html.split('id="waiting"')[1].split("</section>")[0] if 'id="waiting"' in html else ""
        )

    notes = {
        ("register", "wang"): {"handling_opinion": "线索不成立，不予立案。"},
        ("propose_non_filing", "wang"): {
            "document_number": "示市监不立〔2026〕3号",
            "non_filing_ground": "no_violation",
            "verification_facts": "核查网店首页，已公示营业执照。",
            "officer_opinion": "建议不予立案。",
        },
        ("approve_non_filing", "head"): {"opinion": "同意不予立案。"},
    }
    for (action, who), given in notes.items():
        client = login(world, who)
        page = client.get(f"/cases/{case_id}").text
        assert 'id="archive-waits"' in page and "电子案卷自动封存归档" in page
        forms = waiting_part(page).split(f'name="for_action" value="{action}"')[1:]
        assert forms, action  # a form for this action's notes, on the closed case
        asked = {n for f in forms for n in re.findall(r'name="note:(\w+)"', f.split("</form>")[0])}
        assert asked == set(given), (action, asked)
        r = client.post(
            f"/cases/{case_id}/notes",
            data={"csrf": csrf_of(page), "for_action": action}
            | {f"note:{k}": v for k, v in given.items()},
            follow_redirects=False,
        )
        assert r.status_code == 303 and "done=give_notes" in r.headers["location"], r.text
    english = login(world, "wang", "en").get(f"/cases/{case_id}").text
    assert "sealed and archived once the documents below are made" in english
    assert all(not w.missing for w in documents.waiting(documents.load_snapshot(ctx, case_id)))
    made: set[str] = set()
    for _ in range(10):  # other cases of the module may be due first (20 a round)
        made |= {o.template for o in generate_due(world.services).made}
        if not documents.owed(documents.load_snapshot(ctx, case_id)):
            break
    assert made >= {"case_source_registration", "non_filing_approval"}
    assert case_id in archive_all(world)
    page = login(world, "wang").get(f"/cases/{case_id}").text
    assert 'id="archived"' in page and 'id="archive-waits"' not in page


def test_an_action_offered_is_refused_with_its_reasons_until_its_form_says_enough(
    world: World,
) -> None:
    case_id = open_lead(world, "办理：立案")
    service.assign(world.ctx, world.actor("wang"), case_id, world.ids["head"], "head")
    wang = login(world, "wang")
    page = wang.get(f"/cases/{case_id}").text
    r = wang.post(
        f"/cases/{case_id}/act",
        data={"csrf": csrf_of(page), "action": "register", "role": "officer"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case_id}?done=register"
    page = wang.get(r.headers["location"]).text
    assert 'id="done"' in page and "登记案件来源" in page
    form = page.split('id="action-propose_filing"')[1].split("</form>")[0]
    assert "立案前须查询首违不罚、轻微违法不罚清单" in form  # a hint: tick it
    assert 'name="no_penalty_lists_consulted" type="checkbox"' in form
    r = wang.post(
        f"/cases/{case_id}/act",
        data={"csrf": csrf_of(page), "action": "propose_filing", "role": "officer"},
    )
    assert r.status_code == 422
    alert = r.text.split('id="error-propose_filing"')[1].split("</div>")[0]
    assert "立案前须查询首违不罚、轻微违法不罚清单" in alert
    assert case_of(world, case_id).state == "verifying"  # nothing kept
    # the officer may not approve, whatever the page posts
    r = wang.post(
        f"/cases/{case_id}/act",
        data={"csrf": csrf_of(page), "action": "approve_filing", "role": "head"},
    )
    assert r.status_code == 403 and case_of(world, case_id).state == "verifying"
    r = wang.post(
        f"/cases/{case_id}/act",
        data={
            "csrf": csrf_of(page),
            "action": "propose_filing",
            "role": "officer",
            "no_penalty_lists_consulted": "true",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    case = case_of(world, case_id)
    assert case.state == "filing_review"
    assert case.facts["no_penalty_lists_consulted"] is True
    assert case.facts["major_case"] is False  # an unticked box is recorded as "no"
    # the head's approval is offered although the approval is not on file yet: it *is* it
    head = login(world, "head")
    page = head.get(f"/cases/{case_id}").text
    assert 'id="action-approve_filing"' in page
    r = head.post(
        f"/cases/{case_id}/act",
        data={"csrf": csrf_of(page), "action": "approve_filing", "role": "head"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    case = case_of(world, case_id)
    assert case.state == "investigating" and case.number and "示市监处" in case.number
    assert case.number in head.get(f"/cases/{case_id}").text
    # a stale page posting an action of a state left behind
    r = head.post(
        f"/cases/{case_id}/act",
        data={"csrf": csrf_of(page), "action": "approve_filing", "role": "head"},
    )
    assert r.status_code == 409 and "案件状态已变化" in r.text


def test_penalty_in_yuan_becomes_fen_and_bad_amounts_are_named(world: World) -> None:
    case_id = open_lead(world, "办理：告知")
    file_case(world, case_id)
    service.assign(world.ctx, world.actor("wang"), case_id, world.ids["rev"], "reviewer")
    service.act(world.ctx, world.actor("wang"), case_id, "end_investigation", {"major_case": False})
    service.act(
        world.ctx,
        world.actor("rev", "reviewer"),
        case_id,
        "complete_review",
        {"legal_review_done": True},
    )
    wang = login(world, "wang")
    page = wang.get(f"/cases/{case_id}").text
    form = page.split('id="action-notify_penalty"')[1].split("</form>")[0]
    assert 'name="notified_penalty_kind"' in form and 'name="notified_penalty_yuan"' in form
    base = {"csrf": csrf_of(page), "action": "notify_penalty", "role": "officer"}
    r = wang.post(
        f"/cases/{case_id}/act",
        data={**base, "notified_penalty_kind": "fine", "notified_penalty_yuan": "12.345"},
    )
    assert r.status_code == 422
    assert 'aria-invalid="true"' in r.text and "金额须为大于零的数字" in r.text
    assert 'value="12.345"' in r.text  # what was typed is kept
    r = wang.post(
        f"/cases/{case_id}/act",
        data={
            **base,
            "notified_penalty_kind": "fine",
            "notified_penalty_yuan": "5,000.50",
            "hearing_right": "true",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    case = case_of(world, case_id)
    assert case.state == "statement_period"
    assert case.facts["notified_penalty"] == {"kind": "fine", "amount_fen": 500_050}
    page = wang.get(f"/cases/{case_id}").text
    assert "罚款 5,000.50 元" in page  # the timeline's details, back in yuan
    assert "陈述、申辩或者要求听证期限" in page and "<svg" in page  # the window, drawn


def test_fen_from_yuan_is_exact() -> None:
    assert fen_from_yuan("0.1") == 10
    assert fen_from_yuan("1234567.89") == 123_456_789
    assert fen_from_yuan("3,000") == 300_000
    for bad in ("", "abc", "-1", "1.005", "NaN", "inf", "1e13"):
        with pytest.raises(ValueError):
            fen_from_yuan(bad)


def test_the_deadline_chart_draws_today_and_each_due_date(world: World) -> None:
    with time_machine.travel(datetime(2026, 3, 3, 10, tzinfo=CHINA), tick=False):
        case_id = open_lead(world, "示意图")
        to_statement_period(world, case_id)
        page = login(world, "wang", "en").get(f"/cases/{case_id}").text
    svg = page.split("<svg")[1].split("</svg>")[0]
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "today 2026-03-03" in svg
    assert "Statement, defence or hearing request" in svg and "2026-03-10" in svg
    assert "7 days left" in svg  # 5 working days from 3 March: Tuesday 10 March
    assert svg.count('class="due') >= 2  # the decision's 90 days too


# -- staffing, captures -----------------------------------------------------------------------


def test_assigning_staff_and_acting_only_in_a_role_held(world: World) -> None:
    case_id = service.open_case(
        world.ctx, world.actor("zhao"), unit_id=world.unit_a, title="指派", summary="s"
    )
    wang = login(world, "wang")
    page = wang.get(f"/cases/{case_id}").text
    assert 'id="not-staffed"' in page and 'id="action-register"' not in page
    r = wang.post(
        f"/cases/{case_id}/act",
        data={"csrf": csrf_of(page), "action": "register", "role": "officer"},
    )
    assert r.status_code == 403 and case_of(world, case_id).state == "received"
    r = wang.post(
        f"/cases/{case_id}/assign",
        data={"csrf": csrf_of(page), "user_id": str(world.ids["wang"]), "role": "officer"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = wang.get(f"/cases/{case_id}").text
    assert 'id="action-register"' in page and "王五 · 办案人员" in page
    r = wang.post(
        f"/cases/{case_id}/assign",
        data={"csrf": csrf_of(page), "user_id": str(world.ids["bob"]), "role": "officer"},
    )
    assert r.status_code == 422  # another unit's officer cannot be put on the case
    r = wang.post(
        f"/cases/{case_id}/assign",
        data={"csrf": "wrong", "user_id": str(world.ids["zhao"]), "role": "officer"},
    )
    assert r.status_code == 403


def test_a_capture_queued_from_the_case_is_linked_by_its_hash_when_stored(world: World) -> None:
    case_id = open_lead(world, "取证")
    wang = login(world, "wang")
    page = wang.get(f"/cases/{case_id}").text
    assert 'value="https://shop.example/1"' in page.split('id="capture-form"')[1]
    r = wang.post(
        f"/cases/{case_id}/capture",
        data={"csrf": csrf_of(page), "url": "http://127.0.0.1:9/listing"},  # no DNS here
        follow_redirects=False,
    )
    assert r.status_code == 303
    with world.services.sessions() as session:
        req = session.scalars(
            select(CaseCaptureRequest).where(CaseCaptureRequest.case_id == case_id)
        ).one()
        capture_id = req.capture_id
    page = wang.get(f"/cases/{case_id}").text
    pending = page.split('id="pending"')[1].split("</ul>")[0]
    assert capture_id in pending and "排队中" in pending
    assert "/static/cases.js" in page
    status = wang.get(f"/cases/{case_id}/captures.json").json()
    assert [p["status"] for p in status["pending"]] == ["queued"]
    digest = "ab" * 32
    with world.services.session() as session:
        session.execute(
            update(Capture)
            .where(Capture.id == capture_id)
            .values(status="stored", package_sha256=digest, package_size=1234)
        )
    assert wang.get(f"/cases/{case_id}/captures.json").json() == {"pending": []}
    assert wang.get(f"/cases/{case_id}/captures.json").json() == {"pending": []}  # once
    with world.services.sessions() as session:
        evidence = list(
            session.scalars(select(CaseEvidence).where(CaseEvidence.case_id == case_id))
        )
        event = session.scalars(
            select(CaseEvent).where(
                CaseEvent.case_id == case_id, CaseEvent.action == "attach_evidence"
            )
        ).one()
    assert len(evidence) == 1 and evidence[0].capture_id == capture_id
    assert evidence[0].sha256 == digest
    assert event.touches == [{"kind": "capture", "id": capture_id, "sha256": digest}]
    page = wang.get(f"/cases/{case_id}").text
    assert f'href="/captures/{capture_id}"' in page.split('id="evidence-list"')[1]
    bad = wang.post(
        f"/cases/{case_id}/capture", data={"csrf": csrf_of(page), "url": "ftp://shop/1"}
    )
    assert bad.status_code == 422 and "unsupported_scheme" in bad.text


# -- access -------------------------------------------------------------------------------------


def test_another_units_officer_gets_404_everywhere(world: World) -> None:
    case_id = open_lead(world, "外单位不可见")
    bob = login(world, "bob")
    page = bob.get("/cases").text
    csrf = csrf_of(page)
    assert bob.get(f"/cases/{case_id}").status_code == 404
    assert bob.get(f"/cases/{case_id}/captures.json").status_code == 404
    r = bob.post(
        f"/cases/{case_id}/act", data={"csrf": csrf, "action": "register", "role": "officer"}
    )
    assert r.status_code == 404
    r = bob.post(
        f"/cases/{case_id}/assign",
        data={"csrf": csrf, "user_id": str(world.ids["bob"]), "role": "officer"},
    )
    assert r.status_code == 404
    r = bob.post(f"/cases/{case_id}/capture", data={"csrf": csrf, "url": "https://x.example/"})
    assert r.status_code == 404
    missing = bob.get("/cases/" + "0" * 32)
    assert missing.status_code == 404 and missing.text.count("没有这个案件") == 1
    assert case_of(world, case_id).event_count == 3  # nothing happened


def test_an_administrator_sees_no_case_and_anonymous_is_sent_to_log_in(world: World) -> None:
    case_id = open_lead(world, "管理员")
    with world.services.session() as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None
        admin.password_hash = hash_password(OFFICER_PASSWORD)
        admin.must_change_password = False
    admin_client = login(world, "admin")
    r = admin_client.get("/cases")
    assert r.status_code == 403 and "系统管理员无权使用“案件列表”" in r.text
    assert admin_client.get(f"/cases/{case_id}").status_code == 403
    anonymous = TestClient(world.app)
    r = anonymous.get(f"/cases/{case_id}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_new_case_form_opens_a_lead_in_the_officers_unit(world: World) -> None:
    wang = login(world, "wang")
    page = wang.get("/cases/new").text
    assert "某网店有限公司" in page  # the unit's merchants to pick from
    r = wang.post(
        "/cases",
        data={"csrf": csrf_of(page), "title": "", "summary": "x", "procedure": "general"},
    )
    assert r.status_code == 422 and 'aria-invalid="true"' in r.text
    r = wang.post(
        "/cases",
        data={
            "csrf": csrf_of(page),
            "title": "新建：未公示营业执照",
            "summary": "首页未公示营业执照",
            "procedure": "simplified",
            "party_kind": "organisation",
            "merchant_id": world.merchant_id,
            "shop_url": "https://shop.example/licence",
            "assign_me": "true",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    case_id = r.headers["location"].rsplit("/", 1)[1]
    case = case_of(world, case_id)
    assert case.unit_id == world.unit_a and case.procedure == "simplified"
    assert case.state == "received" and case.source == "lead"
    with world.services.sessions() as session:
        party = session.scalars(select(CaseParty).where(CaseParty.case_id == case_id)).one()
    assert party.merchant_id == world.merchant_id and party.credit_code == world.merchant_code
    assert "王五 · 办案人员" in wang.get(f"/cases/{case_id}").text
    r = wang.post(
        "/cases",
        data={
            "csrf": csrf_of(page),
            "title": "t",
            "summary": "s",
            "merchant_id": "f" * 32,
        },
    )
    assert r.status_code == 422  # not a merchant of the unit


# -- the public complaint form and its outcome page ----------------------------------------


def _complaint(client: TestClient, **changes: str) -> Any:
    page = client.get("/complaints/new")
    data = {
        "csrf": csrf_of(page.text),
        "shop_name": "某某旗舰店",
        "shop_url": "https://shop.example/complained",
        "title": "页面宣称“最佳”",
        "summary": "2026 年 3 月 1 日，商品页面宣称“全网最佳”。",
        "name": "张三",
        "contact": "13900000000",
    }
    data.update(changes)
    return client.post("/complaints", data=data, follow_redirects=False)


def test_a_complaint_gets_a_receipt_whose_page_shows_only_its_outcome(world: World) -> None:
    public = TestClient(world.app, headers={"Accept-Language": "zh"})
    page = public.get("/complaints/new")
    assert page.status_code == 200 and 'name="csrf"' in page.text
    assert "乙市市场监督管理局" in page.text  # two units: choose one
    no_csrf = public.post("/complaints", data={"shop_name": "x"})
    assert no_csrf.status_code == 403
    missing_unit = _complaint(public)
    assert missing_unit.status_code == 422
    r = _complaint(public, unit_id=str(world.unit_a))
    assert r.status_code == 303
    location = r.headers["location"]
    code = re.fullmatch(r"/complaints/([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})\?new=1", location)
    assert code, location
    receipt = public.get(location).text
    assert code.group(1) in receipt and "请保存此查询码" in receipt
    assert "已收到" in receipt
    for private in ("13900000000", "张三", "某某旗舰店", "2026 年 3 月 1 日"):
        assert private not in receipt  # the outcome, nothing of the case
    with world.services.sessions() as session:
        rows = list(session.scalars(select(ComplaintReceipt)))
        case = session.scalars(select(Case).where(Case.title == "页面宣称“最佳”")).one()
    assert all(code.group(1).replace("-", "") not in r.code_hash for r in rows)
    assert case.source == "complaint" and case.complainant_contact == "13900000000"
    assert case.state == "received" and case.unit_id == world.unit_a
    # typed loosely: lower case, no dashes
    again = public.get("/complaints/" + code.group(1).replace("-", "").lower())
    assert again.status_code == 200 and "已收到" in again.text and "请保存" not in again.text
    # the officer refuses it with reasons: the complainant reads the outcome and the reasons
    service.assign(world.ctx, world.actor("wang"), case.id, world.ids["wang"])
    service.act(
        world.ctx,
        world.actor("wang"),
        case.id,
        "refuse_complaint",
        {"reasons": "所反映问题不属于本局管辖，请向乙市反映。", "complainant_informed": True},
    )
    outcome = public.get(f"/complaints/{code.group(1)}").text
    assert "不予受理" in outcome and "请向乙市反映" in outcome
    english = public.get(f"/complaints/{code.group(1)}?lang=en").text
    assert "Not accepted" in english
    assert public.get("/complaints/AAAA-BBBB-CCCC-DDDD").status_code == 404
    assert public.get("/complaints/not-a-code").status_code == 404
    officer = login(world, "wang").get(f"/cases/{case.id}").text
    head = officer.split('id="deadlines"')[0]
    assert "投诉举报" in head and "张三" in head and "13900000000" in head  # officers see who


def test_a_complaint_and_its_receipt_are_kept_together(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process stops after the complaint was opened (here: in the screening that follows,
    which must never lose a complaint): the complaint already has its receipt, so the code the
    complainant would have been shown finds it. Before, the receipt was written after the
    screening, and a stop in between left a complaint nobody could look up."""

    def stop(*_args: Any) -> None:
        raise RuntimeError("the process was stopped here")

    monkeypatch.setattr(complaints_web, "screen_arrival", stop)
    client = TestClient(world.app, client=("10.9.8.7", 5000), raise_server_exceptions=False)
    r = _complaint(client, unit_id=str(world.unit_a), title="收据与投诉同存")
    assert r.status_code == 500
    with world.services.sessions() as session:
        case = session.scalars(select(Case).where(Case.title == "收据与投诉同存")).one()
        receipts = list(
            session.scalars(select(ComplaintReceipt).where(ComplaintReceipt.case_id == case.id))
        )
    assert len(receipts) == 1


def test_complaints_and_wrong_codes_are_throttled_per_address(world: World) -> None:
    client = TestClient(world.app, client=("10.9.9.9", 5000))
    statuses = [_complaint(client, unit_id=str(world.unit_a)).status_code for _ in range(6)]
    assert statuses == [303] * 5 + [429]
    refused = _complaint(client, unit_id=str(world.unit_a))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    other = TestClient(world.app, client=("10.9.9.10", 5000))
    assert _complaint(other, unit_id=str(world.unit_a)).status_code == 303
    guesser = TestClient(world.app, client=("10.9.9.11", 5000))
    codes = [guesser.get(f"/complaints/AAAA-AAAA-AAAA-{i:04d}").status_code for i in range(11)]
    assert codes == [404] * 10 + [429]


def test_every_outcome_a_state_can_have_is_worded_in_both_languages() -> None:
    outcomes = {OUTCOMES.get(s, "investigating") for s in default_process().states}
    for outcome in outcomes:
        for key in (f"complaint.outcome.{outcome}", f"complaint.outcome.{outcome}.help"):
            assert MESSAGES[key]["zh"] and MESSAGES[key]["en"], key


def test_every_form_field_and_choice_has_its_label_in_both_languages() -> None:
    """The pages ask for these keys by name (``t('cases.field.' ~ name)``): the catalogue
    test cannot see them, so this one checks every field of every action."""
    keys = set()
    for action in default_process().actions:
        for f in action_fields(action):
            keys.add(f"cases.field.{f.name}")
            if f.kind in ("choice", "note_choice"):
                keys |= {f"cases.choice.{f.name}.{c}" for c in f.choices}
            if f.kind == "penalty":
                keys |= {f"cases.penalty.{c}" for c in f.choices}
    keys |= {
        f"cases.source.{s}" for s in ("complaint", "lead", "inspection", "transfer", "platform")
    }
    keys |= {f"cases.filter.status.{s}" for s in ("open", "closed", "all")}
    missing = sorted(
        k for k in keys if not (MESSAGES.get(k, {}).get("zh") and MESSAGES[k].get("en"))
    )
    assert len(keys) > 30 and missing == []


# -- the merchant portal ----------------------------------------------------------------------


def test_the_merchant_sees_its_own_cases_with_what_is_expected_and_acts_there(
    world: World,
) -> None:
    with time_machine.travel(datetime(2026, 3, 3, 10, tzinfo=CHINA), tick=False):
        own = open_lead(world, "门户：本商户的案件", merchant_id=world.merchant_id)
        to_statement_period(world, own)
        other = open_lead(world, "门户：别家的案件", merchant_id=world.other_merchant_id)
        portal = portal_login(world)
        listing = portal.get("/portal/cases")
        assert listing.status_code == 200
        assert "门户：本商户的案件" in listing.text and "门户：别家的案件" not in listing.text
        assert "可在 2026-03-10 前进行陈述、申辩" in listing.text
        assert "可在 2026-03-10 前申请听证" in listing.text
        assert portal.get(f"/portal/cases/{other}").status_code == 404
        page = portal.get(f"/portal/cases/{own}")
        assert page.status_code == 200
        for private in ("王五", "SL-0001", "事件哈希", "钱局长"):
            assert private not in page.text  # no staff, no timeline
        assert 'id="action-record_statement"' in page.text
        csrf = csrf_of(page.text)
        r = portal.post(
            f"/portal/cases/{other}/act",
            data={"csrf": csrf, "action": "record_statement", "statement": "x"},
        )
        assert r.status_code == 404
        r = portal.post(
            f"/portal/cases/{own}/act",
            data={"csrf": csrf, "action": "decide_penalty"},
        )
        assert r.status_code == 422 and case_of(world, own).state == "statement_period"
        r = portal.post(
            f"/portal/cases/{own}/act",
            data={"csrf": "nope", "action": "request_hearing"},
        )
        assert r.status_code == 403
        r = portal.post(
            f"/portal/cases/{own}/act",
            data={"csrf": csrf, "action": "record_statement", "statement": "页面已于当日修改。"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        r = portal.post(
            f"/portal/cases/{own}/act",
            data={"csrf": csrf, "action": "request_hearing"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert case_of(world, own).state == "hearing_requested"
        with world.services.sessions() as session:
            events = list(
                session.scalars(
                    select(CaseEvent)
                    .where(CaseEvent.case_id == own)
                    .order_by(CaseEvent.seq.desc())
                    .limit(2)
                )
            )
        assert [e.action for e in events] == ["request_hearing", "record_statement"]
        assert {e.actor for e in events} == {f"merchant:{world.merchant_id}"}
        assert {e.role for e in events} == {"merchant"}
        assert events[1].details["statement"] == "页面已于当日修改。"
        # an officer's session means nothing in the portal, a merchant's nothing outside it
        assert TestClient(world.app).get("/portal/cases", follow_redirects=False).status_code == 303
        assert portal.get(f"/cases/{own}", follow_redirects=False).status_code == 303


def test_the_hearing_seats_are_chosen_from_the_units_accounts_but_the_investigators(
    world: World,
) -> None:
    """Who presides and who records are picked from a list of the unit's accounts that
    leaves out the case's investigators; a form that names one anyway (or one person for
    both seats) comes back with the seat marked and the law's words, and nothing recorded."""
    with time_machine.travel(datetime(2026, 3, 3, 10, tzinfo=CHINA), tick=False):
        case_id = hearing_requested(world, "办理：听证人员")
        wang = login(world, "wang")
        page = wang.get(f"/cases/{case_id}").text
        form = page.split('id="action-schedule_hearing"')[1].split("</form>")[0]
        for seat in ("hearing_officer", "recorder"):
            select_ = form.split(f'<select id="schedule_hearing-{seat}" name="{seat}"')[1]
            options = select_.split("</select>")[0]
            assert 'value="rev"' in options and 'value="head"' in options, seat
            assert 'value="wang"' not in options and 'value="zhao"' not in options, seat
            assert 'value="bob"' not in options  # another unit's officer
        assert "本案办案人员不得担任听证主持人、听证员和记录员" in form
        base = {
            "csrf": csrf_of(page),
            "action": "schedule_hearing",
            "role": "officer",
            "hearing_on": "2026-03-16",
        }
        events = case_of(world, case_id).event_count
        for seats, field in (
            ({"hearing_officer": "zhao", "recorder": "rev"}, "hearing_officer"),
            ({"hearing_officer": "rev", "recorder": "rev"}, "recorder"),
        ):
            r = wang.post(f"/cases/{case_id}/act", data={**base, **seats})
            assert r.status_code == 422, r.text
            bad = r.text.split(f'id="schedule_hearing-{field}"')[1].split(">")[0]
            assert 'aria-invalid="true"' in bad, field
            assert case_of(world, case_id).event_count == events
        r = wang.post(
            f"/cases/{case_id}/act",
            data={**base, "hearing_officer": "rev", "recorder": "head"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        case = case_of(world, case_id)
        assert case.state == "hearing_scheduled" and case.event_count == events + 1


def test_an_inquirys_recorder_is_not_held_to_the_hearings_seats(world: World) -> None:
    """The inquiry's recorder (记录人) is one of the officers who investigate: chosen from all
    the unit's accounts, not from the hearing's list that leaves them out."""
    case_id = open_lead(world, "办理：询问笔录")
    file_case(world, case_id)
    page = login(world, "wang").get(f"/cases/{case_id}").text
    form = page.split('id="action-record_inquiry"')[1].split("</form>")[0]
    options = form.split('<select id="record_inquiry-recorder" name="recorder"')[1]
    options = options.split("</select>")[0]
    assert 'value="wang"' in options and 'value="zhao"' in options and 'value="rev"' in options
    assert "听证主持人、听证员和记录员" not in form


def test_notes_of_a_few_values_are_chosen_not_typed(world: World) -> None:
    """Whether the hearing is public and the ground a lead is not filed on are offered as
    choices (worded in the page's language); a value outside them is refused with the field
    named, a chosen one is what the event keeps."""
    with time_machine.travel(datetime(2026, 3, 3, 10, tzinfo=CHINA), tick=False):
        lead = open_lead(world, "办理：不予立案理由")
        service.act(world.ctx, world.actor("wang"), lead, "register")
        wang = login(world, "wang")
        page = wang.get(f"/cases/{lead}").text
        form = page.split('id="action-propose_non_filing"')[1].split("</form>")[0]
        grounds = form.split('<select id="propose_non_filing-non_filing_ground"')[1]
        grounds = grounds.split("</select>")[0]
        assert 'value="not_competent"' in grounds and "不属于本机关管辖" in grounds
        assert 'id="propose_non_filing-non_filing_ground"' in form
        assert '<textarea id="propose_non_filing-non_filing_ground"' not in form

        case_id = hearing_requested(world, "办理：公开听证")
        page = wang.get(f"/cases/{case_id}", headers={"Accept-Language": "en"}).text
        form = page.split('id="action-schedule_hearing"')[1].split("</form>")[0]
        public = form.split('<select id="schedule_hearing-public" name="public"')[1]
        public = public.split("</select>")[0]
        assert 'value="true"' in public and 'value="false"' in public
        assert "Not held in public" in public
        base = {
            "csrf": csrf_of(page),
            "action": "schedule_hearing",
            "role": "officer",
            "hearing_on": "2026-03-16",
            "hearing_officer": "rev",
            "recorder": "head",
        }
        events = case_of(world, case_id).event_count
        r = wang.post(f"/cases/{case_id}/act", data={**base, "public": "maybe"})
        assert r.status_code == 422
        assert 'aria-invalid="true"' in r.text.split('id="schedule_hearing-public"')[1][:120]
        assert case_of(world, case_id).event_count == events
        r = wang.post(
            f"/cases/{case_id}/act",
            data={**base, "public": "false", "non_public_reason": "涉及商业秘密"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        with world.services.sessions() as session:
            last = session.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == case_id)
                .order_by(CaseEvent.seq.desc())
                .limit(1)
            ).one()
        assert last.action == "schedule_hearing" and last.details["public"] == "false"
