"""The screening through the service: a complaint filed on the public form is screened on
arrival; the API shows the result (another unit's officer sees nothing, a lead is no
complaint), screens again on demand and records the officer's conclusion as a case event;
the case page's panel shows the score, each fact and links to the complaints it points at."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.security import hash_password, hash_token, new_api_token
from evidence_service.services import Services
from evidence_service.web.app import create_app
from evidence_service.web.i18n import MESSAGES
from evidence_service.web.officer.panels.screening import why_text
from storage.models import ApiToken, Case, CaseEvent, ComplaintScreening, Unit, User
from tests.portal.conftest import csrf_of
from tests.service.conftest import make_settings

PASSWORD = "officer password 1"
TEXT = (
    "本人于2026年3月1日在{shop}购买了蜂蜜2件，共支付128元。收到商品后发现该产品无中文标签，违反了"
    "《中华人民共和国食品安全法》第三十四条的规定。要求商家退一赔十，并请贵局依法查处。"
)


@dataclass
class World:
    services: Services
    client: TestClient
    unit: int
    tokens: dict[str, str]
    complaints: list[str]

    def api(self, who: str, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.client.request(method, path, json=body, headers=headers)


def _user(services: Services, unit_id: int, username: str) -> str:
    token = new_api_token()
    with services.session() as session:
        user = User(
            username=username,
            display_name=f"{username} 警官",
            password_hash=hash_password(PASSWORD),
            unit_id=unit_id,
            badge_number=f"SL-{username}",
            must_change_password=False,
        )
        session.add(user)
        session.flush()
        session.add(ApiToken(user_id=user.id, name="t", token_hash=hash_token(token)))
    return token


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    services = Services(make_settings(tmp_path_factory.mktemp("screening-web") / "data"))
    initialize(services)
    with services.session() as session:
        unit = session.scalars(select(Unit.id)).one()
        other = Unit(name="乙市市场监督管理局")
        session.add(other)
        session.flush()
        other_id = other.id
    tokens = {"wang": _user(services, unit, "wang"), "bob": _user(services, other_id, "bob")}
    client = TestClient(create_app(services=services), headers={"Accept-Language": "zh"})
    complaints = []
    for i in range(4):  # the form's limit is five an hour per address
        page = client.get("/complaints/new")
        shop = f"第{i}家旗舰店"
        r = client.post(
            "/complaints",
            data={
                "csrf": csrf_of(page.text),
                "unit_id": str(unit),
                "shop_name": shop,
                "shop_url": f"https://shop{i}.example/",
                "title": "食品无中文标签",
                "summary": TEXT.format(shop=shop),
                "name": ["周一", "周二"][i % 2],
                "contact": "13100000001",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        with services.session() as session:
            complaints.append(
                session.scalars(select(Case.id).order_by(Case.received_at.desc())).first() or ""
            )
    yield World(services, client, unit, tokens, complaints)
    services.close()


def test_a_complaint_from_the_form_is_screened_on_arrival_and_left_as_it_was(world: World) -> None:
    with world.services.session() as session:
        rows = list(session.scalars(select(ComplaintScreening).order_by(ComplaintScreening.id)))
        states = set(session.scalars(select(Case.state).where(Case.id.in_(world.complaints))))
    assert [r.case_id for r in rows] == world.complaints
    assert {r.trigger for r in rows} == {"arrival"} and {r.screened_by for r in rows} == {"system"}
    assert rows[0].score < rows[-1].score  # the fourth finds the three before it
    assert states == {"received"}


def test_the_api_gives_the_score_and_the_facts_behind_it(world: World) -> None:
    last = world.complaints[-1]
    r = world.api("wang", "GET", f"/api/cases/{last}/screening")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["screened"] and body["trigger"] == "arrival" and body["flagged"]
    facts = {f["fact"]: f for f in body["facts"]}
    assert set(facts) >= {"repeat_complainant", "near_duplicate_text", "compensation_demand"}
    repeat = facts["repeat_complainant"]
    assert [p["case_id"] for p in repeat["points_at"]] == world.complaints[:3]
    assert "4件" in repeat["zh"] and "4 complaints" in repeat["en"]
    assert world.api("bob", "GET", f"/api/cases/{last}/screening").status_code == 404
    lead = world.api("wang", "POST", "/api/cases", {"title": "线索", "summary": "s"}).json()["id"]
    not_complaint = world.api("wang", "GET", f"/api/cases/{lead}/screening")
    assert not_complaint.status_code == 409
    assert not_complaint.json()["detail"]["code"] == "not_a_complaint"


def test_screening_again_and_the_conclusion_through_the_api(world: World) -> None:
    first = world.complaints[0]
    again = world.api("wang", "POST", f"/api/cases/{first}/screening")
    assert again.status_code == 200 and again.json()["trigger"] == "on_demand"
    assert again.json()["screened_by"] == "wang 警官"
    assert again.json()["score"] > 0  # now it sees the three that came after it
    bad = world.api(
        "wang",
        "POST",
        f"/api/cases/{first}/screening/conclusion",
        {"conclusion": "refuse", "reason": "x"},
    )
    assert bad.status_code == 422
    done = world.api(
        "wang",
        "POST",
        f"/api/cases/{first}/screening/conclusion",
        {"conclusion": "professional", "reason": "同一电话两个姓名，文字相同"},
    )
    assert done.status_code == 200, done.text
    (c,) = done.json()["conclusions"]
    assert c["conclusion"] == "professional" and c["screening_id"] == again.json()["id"]
    with world.services.session() as session:
        actions = list(session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == first)))
        assert session.get(Case, first).state == "received"  # type: ignore[union-attr]
    assert actions == ["submit_complaint", "screening_conclusion"]
    assert world.api("bob", "POST", f"/api/cases/{first}/screening").status_code == 404


def test_the_case_page_panel_shows_and_links_and_takes_a_conclusion(world: World) -> None:
    assert "cases.event.screening_conclusion" in MESSAGES
    web = TestClient(world.client.app, headers={"Accept-Language": "zh", "Accept": "text/html"})
    login = web.get("/login")
    r = web.post(
        "/login",
        data={"username": "wang", "password": PASSWORD, "csrf": csrf_of(login.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    last = world.complaints[-1]
    page = web.get(f"/cases/{last}")
    assert page.status_code == 200
    panel = page.text.split('id="screening"')[1].split("</section>")[0]
    assert "职业索赔筛查" in panel and 'id="screening-flag"' in panel
    assert re.search(r'id="screening-score">\d+<', panel)
    for other in world.complaints[:3]:
        assert f'href="/cases/{other}"' in panel
    posted = web.post(
        f"/cases/{last}/screening/conclusion",
        data={"csrf": csrf_of(page.text), "conclusion": "ordinary", "reason": ""},
        follow_redirects=False,
    )
    assert posted.status_code == 303 and "screening_error=reason" in posted.headers["location"]
    posted = web.post(
        f"/cases/{last}/screening/conclusion",
        data={"csrf": csrf_of(page.text), "conclusion": "ordinary", "reason": "核实为普通消费者"},
        follow_redirects=False,
    )
    assert posted.status_code == 303 and "screening_done=conclusion" in posted.headers["location"]
    page = web.get(posted.headers["location"])
    assert "结论已记录" in page.text and "核实为普通消费者" in page.text
    assert "记录职业索赔筛查结论" in page.text  # the event in the timeline, by its name
    english = web.get(f"/cases/{last}?lang=en").text
    assert "Professional-claimant screening" in english and "Treat as an ordinary" in english


def test_what_links_two_complaints_reads_in_the_page_language() -> None:
    assert why_text("100% same", "zh") == "文字相似度 100%（同一投诉人）"
    assert why_text("72% other", "en") == "72% similar (another complainant)"
    assert why_text("phone, e-mail", "zh") == "电话、邮箱"
    assert why_text("phone", "en") == "phone"
    assert why_text("2d", "zh") == "购买后 2 天投诉"
    assert why_text("something new", "zh") == "something new"  # unknown: as recorded
