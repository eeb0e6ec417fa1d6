"""Publishing decided penalties: the ``publish`` action through the case workflow, the public
page and JSON feed without login, redacted content, the 20-working-day limit, the periods of
publicity.toml, the system job for what is not yet published, and the takedown when the
period ends (the clock moved with time-machine)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.sealing.case_file import case_context
from evidence_service.security import hash_password
from evidence_service.services import Services
from evidence_service.web.app import create_app
from storage.models import CaseEvent, Document, Merchant, PublicityEntry, Unit, User
from tests.service.conftest import make_settings
from workflow import publicity
from workflow.cases import service
from workflow.cases.process import UnknownAction
from workflow.cases.service import Actor, CaseContext, PartyIn
from workflow.deadlines import due

CHINA = timezone(timedelta(hours=8))
DECIDED = datetime(2026, 11, 2, 9, 0, tzinfo=CHINA)  # Monday
PERSON = "张三丰"
ID_NUMBER = "440301199001011234"
MOBILE = "13912345678"


@dataclass
class World:
    services: Services
    ctx: CaseContext
    unit_id: int
    officer: Actor
    user_id: int
    web: TestClient


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with time_machine.travel(DECIDED, tick=False):
        services = Services(make_settings(tmp_path / "data"))
        initialize(services)
        with services.session() as session:
            unit_id = session.scalars(select(Unit.id)).one()
            user = User(
                username="wang",
                display_name="王五",
                password_hash=hash_password("x" * 12),
                unit_id=unit_id,
                badge_number="SL-0001",
            )
            session.add(user)
            session.flush()
            user_id = user.id
    officer = Actor(f"user:{user_id}", "王五", "officer", unit_id)
    with TestClient(create_app(services=services)) as web:
        yield World(services, case_context(services), unit_id, officer, user_id, web)
    services.close()


def _decided(w: World, *, person: bool, penalty: dict[str, object]) -> str:
    """A simplified case decided on the spot, with a penalty decision document whose text
    names people, numbers and an address."""
    case_id = service.open_case(
        w.ctx,
        w.officer,
        unit_id=w.unit_id,
        title=f"{PERSON}销售不合格商品" if person else "虚构原价",
        summary="见决定书",
        parties=[
            PartyIn(PERSON)
            if person
            else PartyIn("广州某某电子商务有限公司", credit_code="9144030071526726XG")
        ],
        procedure="simplified",
        party_kind="natural_person" if person else "organisation",
    )
    service.assign(w.ctx, w.officer, case_id, w.user_id)
    service.act(w.ctx, w.officer, case_id, "register")
    service.act(w.ctx, w.officer, case_id, "decide_on_the_spot", {"decided_penalty": penalty})
    party = (
        {"kind": "individual", "name": PERSON, "address": "深圳市南山区科技园路1号A栋1001室"}
        if person
        else {
            "kind": "organization",
            "name": "广州某某电子商务有限公司",
            "credit_code": "9144030071526726XG",
            "legal_representative": "李小四",
            "address": "广州市天河区某某路1号",
        }
    )
    facts = (
        f"当事人{PERSON}（身份证号码{ID_NUMBER}，手机{MOBILE}，联系电话0755-86001234）在其网店"
        "销售不合格商品。投诉人：赵大宝，称其于2026年10月购买。"
    )
    with w.services.session() as session:
        code = f"X{secrets.token_hex(8)}"[:17]  # the merchant row only carries the document
        merchant = Merchant(unit_id=w.unit_id, name="某网店", credit_code=code)
        session.add(merchant)
        session.flush()
        doc = Document(
            unit_id=w.unit_id,
            merchant_id=merchant.id,
            kind="notice",
            template="penalty_decision",
            title="行政处罚决定书",
            status="signed",
            data={
                "party": party,
                "facts": facts,
                "violated_provisions": [
                    {"rule": "中华人民共和国产品质量法", "article": "第三十九条"}
                ],
                "legal_basis": [{"rule": "中华人民共和国产品质量法", "article": "第五十条"}],
            },
        )
        session.add(doc)
        session.flush()
        doc_id = doc.id
    service.link_document(w.ctx, w.officer, case_id, doc_id, "penalty_decision", "0" * 64)
    return case_id


FINE_150 = {"kind": "fine", "amount_fen": 15_000}


def test_a_published_decision_is_on_the_page_and_feed_with_personal_data_redacted(
    world: World,
) -> None:
    with time_machine.travel(DECIDED, tick=False) as clock:
        case_id = _decided(world, person=True, penalty=FINE_150)
        clock.move_to(datetime(2026, 11, 10, 9, 0, tzinfo=CHINA))
        entry_id = publicity.publish(world.ctx, world.officer, case_id)
        assert publicity.publish(world.ctx, world.officer, case_id) == entry_id  # once
        listing = world.web.get("/publicity")
        detail = world.web.get(f"/publicity/{entry_id}")
        feed = world.web.get("/publicity/feed.json")
    assert listing.status_code == detail.status_code == feed.status_code == 200  # no login
    assert "示市监处〔2026〕1号" in listing.text and "张**" in listing.text
    data = feed.json()
    [item] = data["entries"]
    assert item["decision_number"] == "示市监处〔2026〕1号"
    assert item["party"] == {
        "kind": "natural_person",
        "name": "张**",
        "address": "深圳市南山区[详细地址已隐去]",
    }
    assert item["penalty"]["amount_fen"] == 15_000
    assert (item["published_on"], item["shown_until"]) == ("2026-11-10", "2029-11-10")
    assert data["source"]["confirmed"] is False
    for text in (listing.text, detail.text, feed.text):
        for secret in (PERSON, ID_NUMBER, MOBILE, "86001234", "科技园路", "赵大宝", "大宝"):
            assert secret not in text, secret
    assert "张**" in detail.text and "深圳市南山区" in detail.text and "赵**" in detail.text
    assert "中华人民共和国产品质量法第五十条" in detail.text
    with world.services.sessions() as session:
        row = session.get(PublicityEntry, entry_id)
        assert row is not None
        # the 20 working days counted from the decision
        assert row.due_on == due("publicity", date(2026, 11, 2)).due_date == date(2026, 11, 30)
        events = session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case_id)).all()
    assert events.count("publish") == 1


def test_an_organisation_keeps_its_name_and_code_its_representative_is_masked(
    world: World,
) -> None:
    with time_machine.travel(DECIDED, tick=False):
        case_id = _decided(world, person=False, penalty={"kind": "fine", "amount_fen": 300_000})
        entry_id = publicity.publish(world.ctx, world.officer, case_id)
        shown = publicity.entry(world.ctx, entry_id)
    party = shown.content["party"]
    assert party["name"] == "广州某某电子商务有限公司"
    assert party["credit_code"] == "9144030071526726XG"
    assert party["legal_representative"] == "李**"
    assert party["address"] == "广州市天河区[详细地址已隐去]"


def test_entries_are_taken_down_when_their_period_ends(world: World) -> None:
    with time_machine.travel(DECIDED, tick=False) as clock:
        warned = _decided(world, person=False, penalty={"kind": "warning"})
        fined = _decided(world, person=True, penalty=FINE_150)
        short = publicity.publish(world.ctx, world.officer, warned)  # 3 years from 2 Nov
        clock.move_to(datetime(2026, 11, 20, 9, 0, tzinfo=CHINA))
        later = publicity.publish(world.ctx, world.officer, fined)  # 3 years from 20 Nov

        clock.move_to(datetime(2029, 11, 2, 23, 0, tzinfo=CHINA))  # the last day of the first
        ids = [e["id"] for e in world.web.get("/publicity/feed.json").json()["entries"]]
        assert set(ids) == {short, later}
        assert publicity.take_down_expired(world.ctx) == 0

        clock.move_to(datetime(2029, 11, 3, 0, 30, tzinfo=CHINA))  # the day after
        feed = world.web.get("/publicity/feed.json").json()
        assert [e["id"] for e in feed["entries"]] == [later]
        assert world.web.get(f"/publicity/{short}").status_code == 404
        assert world.web.get(f"/publicity/{later}").status_code == 200
        assert short not in world.web.get("/publicity").text
        assert publicity.take_down_expired(world.ctx) == 1

        clock.move_to(datetime(2029, 11, 21, 9, 0, tzinfo=CHINA))
        assert world.web.get("/publicity/feed.json").json()["entries"] == []
        assert world.web.get(f"/publicity/{later}").status_code == 404
        assert 'id="publicity-none"' in world.web.get("/publicity").text


def test_the_period_follows_the_penalty_as_data() -> None:
    assert publicity.period_for("warning").years == 3
    assert publicity.period_for("fine", 1_000_000).years == 3  # 较低数额罚款, up to the line
    assert publicity.period_for("fine", 1_000_001).years == 5
    assert publicity.last_day_of(date(2028, 2, 29), 3) == date(2031, 2, 28)


def test_the_system_job_publishes_what_is_due_once(world: World) -> None:
    with time_machine.travel(DECIDED, tick=False):
        case_id = _decided(world, person=False, penalty={"kind": "warning"})
        undecided = service.open_case(
            world.ctx, world.officer, unit_id=world.unit_id, title="线索", summary="s"
        )
        [made] = publicity.publish_due(world.ctx)
        assert publicity.publish_due(world.ctx) == []
        with pytest.raises(UnknownAction):  # nothing decided: no publish from there
            publicity.publish(world.ctx, world.officer, undecided)
    with world.services.sessions() as session:
        row = session.get(PublicityEntry, made)
        assert row is not None and row.case_id == case_id
        actor = session.scalars(
            select(CaseEvent.actor).where(
                CaseEvent.case_id == case_id, CaseEvent.action == "publish"
            )
        ).one()
    assert actor == "system"
