"""Screening complaints on a real database, fact by fact on small hand-made sets: what each
fact finds, what it must not count, the score and its explanation, the period, the flag
score from the settings, the result kept (never a refusal), the officer's conclusion as a
case event, and the counts the unit's figures read."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from evidence_service.services import Services
from evidence_service.web.api.screening import screener_of
from storage.models import Case, CaseEvent, ComplaintScreening
from tests.screening.conftest import T0, Desk
from tests.service.conftest import make_settings
from workflow.cases.service import Actor, PayloadError
from workflow.screening import (
    SCREENING_CONCLUSION,
    NotAComplaint,
    count_screened,
    latest,
    record_conclusion,
    screen,
)
from workflow.screening.screen import ScreeningResult

PRO = (
    "本人于{d}在{shop}购买了{item}2件，共支付128元。收到商品后发现该产品无中文标签，违反了《中华人民共和国"
    "食品安全法》第三十四条的规定，属于不符合食品安全标准的食品。要求商家退一赔十，并请贵局依法查处。"
)
ITEMS = ["蜂蜜", "燕窝", "茶叶", "枸杞", "阿胶糕", "坚果"]
OWN = [
    "前几天在网上买的羽绒服，质量很差，穿了两天就开线了，客服一直不回复，希望商家退款。",
    "给孩子买的玩具收到就是坏的，电池仓盖子也没有，申请退货商家一直拖着不处理。",
    "物流显示已经签收但我根本没有收到包裹，联系快递和商家互相推诿，请帮忙协调。",
    "充电宝充不进电，用了一个星期就鼓包了，很危险，要求退货退款并召回。",
]


def _fact(result: ScreeningResult, name: str) -> dict[str, Any] | None:
    for f in result.facts:
        if f.fact == name:
            return {
                "points": f.points,
                "values": f.values,
                "ids": [p.case_id for p in f.points_at],
                "zh": f.zh,
                "en": f.en,
            }
    return None


def _run(desk: Desk, case_id: str, **operating: int) -> ScreeningResult:
    return screen(desk.screener(**operating), case_id, trigger="on_demand", by="test")


def test_the_same_person_across_merchants_and_units(desk: Desk) -> None:
    earlier = [
        desk.file(OWN[i % 4] + f"第{i}次", shop=f"店{i}", unit=i % 2, days=i * 10) for i in range(4)
    ]
    same_shop = [
        desk.file(OWN[0] + f"又{i}", contact="13900000009", shop="同一店", days=i) for i in range(5)
    ]
    me = desk.file(
        "这次买的电饭煲煮饭糊底，说明书写的不粘锅，实际一用就粘，要求换货。", shop="店9", days=50
    )
    fact = _fact(_run(desk, me), "repeat_complainant")
    assert fact is not None
    assert fact["values"] == {"count": 5, "days": 365, "merchants": 5, "units": 2}
    assert fact["ids"] == earlier  # oldest first, each linked by the phone
    assert fact["points"] == round(35 * 2 / 7, 1)
    assert "5件" in str(fact["zh"]) and "5 complaints" in str(fact["en"])
    # five complaints, all against one merchant: a dispute, not a pattern across merchants
    assert _fact(_run(desk, same_shop[-1]), "repeat_complainant") is None


def test_complaints_outside_the_period_do_not_count(desk: Desk) -> None:
    for i in range(4):
        desk.file(OWN[i] + str(i), shop=f"店{i}", days=-400 + i)
    me = desk.file(OWN[0] + "今年", shop="新店", days=0)
    assert _fact(_run(desk, me), "repeat_complainant") is None
    assert _fact(_run(desk, me, period_days=500), "repeat_complainant") is not None


def test_one_phone_behind_many_names_and_an_address_behind_others(desk: Desk) -> None:
    a = desk.file(OWN[0], name="李四", contact="13711112222")
    b = desk.file(OWN[1], name="王五", contact="13711112222", days=1)
    addr = "收货地址：示例市东湖区建设路1号2栋301室。"
    desk.file(OWN[2] + addr, name="赵六", contact="13600000000", days=2)
    me = desk.file(OWN[3] + addr, name="钱七", contact="137 1111 2222", days=3)
    fact = _fact(_run(desk, me), "shared_identifier")
    assert fact is not None
    assert fact["values"]["count"] == 3 and fact["values"]["what"] == ["电话", "phone"]
    assert fact["values"]["value"] == "137****2222"  # shown masked
    assert fact["ids"] == [a, b]
    assert "3个不同的投诉人姓名" in str(fact["zh"])
    # the same name twice behind one phone is one person
    alone = desk.file(OWN[0], name="孙八", contact="13500000000", days=4)
    desk.file(OWN[1], name="孙八", contact="13500000000", days=5)
    assert _fact(_run(desk, alone), "shared_identifier") is None


def test_near_duplicate_texts_by_others_and_the_same_person(desk: Desk) -> None:
    others = [
        desk.file(
            PRO.format(d=f"2026年2月{i + 1}日", shop=f"店{i}", item=ITEMS[i]),
            name=n,
            contact=c,
            shop=f"店{i}",
            days=i,
        )
        for i, (n, c) in enumerate(
            [("周一", "13100000001"), ("吴二", "13100000002"), ("郑三", "13100000003")]
        )
    ]
    for i in range(3):
        desk.file(OWN[i], name=f"路人{i}", contact=f"1320000000{i}", days=i)
    edited = (
        PRO.format(d="3月1日", shop="我的店", item="茶叶")
        .replace("本人", "我")
        .replace("购买了", "买了")
    )
    me = desk.file(
        edited + "相关截图已保存。", name="冯四", contact="13100000009", shop="我的店", days=5
    )
    resubmitted = desk.file(edited, name="冯四", contact="13100000009", shop="我的店", days=6)
    result = _run(desk, me)
    fact = _fact(result, "near_duplicate_text")
    assert fact is not None
    assert sorted(fact["ids"]) == sorted(others)  # not the plain complaints, not the re-submission
    assert resubmitted not in fact["ids"]
    assert fact["values"] == {"count": 3, "others": 3, "similarity": 70}
    # the same template, refilled and against another merchant, by the same person counts
    mine_again = desk.file(
        PRO.format(d="3月3日", shop="第二店", item="枸杞"),
        name="冯四",
        contact="13100000009",
        shop="第二店",
        days=7,
    )
    fact = _fact(_run(desk, me), "near_duplicate_text")
    assert fact is not None and mine_again in fact["ids"]
    assert fact["values"]["others"] == 3 and fact["values"]["count"] == 4


def test_a_demand_for_punitive_compensation(desk: Desk) -> None:
    demand = desk.file("买到过期食品，依据食品安全法要求退一赔三并十倍赔偿。")
    fact = _fact(_run(desk, demand), "compensation_demand")
    assert fact is not None and fact["values"] == {"keywords": "退一赔三、十倍赔偿"}
    assert fact["points"] == 15
    plain = desk.file(OWN[0], contact="13000000000")
    assert _run(desk, plain).facts == [] and _run(desk, plain).score == 0


def test_buying_and_complaining_within_days_many_times(desk: Desk) -> None:
    quick = []
    for i in range(3):
        bought = (T0 + timedelta(days=i * 20 - 1)).astimezone().date()
        quick.append(
            desk.file(
                f"我于{bought.year}年{bought.month}月{bought.day}日在店{i}下单，{OWN[i]}",
                shop=f"店{i}",
                days=i * 20,
            )
        )
    desk.file(f"我于2025年12月1日购买，{OWN[3]}", shop="店8", days=61)  # long after buying
    result = _run(desk, quick[-1])
    fact = _fact(result, "purchase_then_complain")
    assert fact is not None
    assert fact["values"] == {"gap": 1, "count": 3, "days": 365}
    assert fact["ids"] == quick[:2]
    # the person's complaint made long after buying has no such fact of its own
    assert _fact(_run(desk, quick[0], period_days=1), "purchase_then_complain") is None


def _professional(desk: Desk) -> str:
    last = ""
    for i in range(6):
        last = desk.file(
            PRO.format(d=f"2026年3月{i + 1}日", shop=f"店{i}", item=ITEMS[i]),
            name=["周一", "周二"][i % 2],
            contact="13100000001",
            shop=f"店{i}",
            unit=i % 2,
            days=i,
        )
    return last


def test_the_score_adds_the_facts_and_the_flag_score_comes_from_the_settings(
    desk: Desk, tmp_path: Path
) -> None:
    me = _professional(desk)
    result = _run(desk, me)
    names = [f.fact for f in result.facts]
    assert set(names) == {
        "repeat_complainant",
        "near_duplicate_text",
        "shared_identifier",
        "purchase_then_complain",
        "compensation_demand",
    }
    assert [f.points for f in result.facts] == sorted(
        (f.points for f in result.facts), reverse=True
    )
    assert result.score == min(100, round(sum(f.points for f in result.facts)))
    assert result.flagged and result.flag_score == 40
    # the settings' flag score decides the flag; the rules' version and the operating point are kept
    strict = Services(
        make_settings(
            desk.services.settings.data_dir,
            screening_flag_score=result.score + 1,
            screening_period_days=30,
        )
    )
    try:
        screener = screener_of(strict)
        assert screener.operating.flag_score == result.score + 1
        again = screen(screener, me, trigger="on_demand", by="test")
    finally:
        strict.close()
    assert not again.flagged and again.flag_score == result.score + 1 and again.period_days == 30
    assert again.version.endswith(f"/flag{result.score + 1}/p30")
    assert latest(desk.services.sessions, me) == again  # the newest is the complaint's
    with desk.services.session() as session:
        assert (
            len(
                list(
                    session.scalars(
                        select(ComplaintScreening).where(ComplaintScreening.case_id == me)
                    )
                )
            )
            == 2
        )


def test_screening_never_refuses_or_moves_the_complaint(desk: Desk) -> None:
    me = _professional(desk)
    result = _run(desk, me)
    assert result.flagged
    with desk.services.session() as session:
        case = session.get(Case, me)
        assert case is not None and case.state == "received" and case.closed_at is None
        actions = list(session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == me)))
        assert actions == ["submit_complaint"]
        row = session.get(ComplaintScreening, result.id)
        assert row is not None
        row.score = 0
        with pytest.raises(PermissionError, match="append-only"):
            session.flush()
        session.rollback()
    lead = desk.file(OWN[0])
    with desk.services.session() as session:
        session.get(Case, lead).source = "lead"  # type: ignore[union-attr]
    with pytest.raises(NotAComplaint, match="only complaints are screened"):
        _run(desk, lead)


def test_the_officers_conclusion_is_a_case_event_naming_the_screening(desk: Desk) -> None:
    me = _professional(desk)
    officer = Actor("user:1", "王警官", "officer", desk.units[1])  # the complaint's unit
    with pytest.raises(PayloadError, match="screen the complaint first"):
        record_conclusion(desk.ctx, officer, me, "professional", "同一电话多个姓名")
    result = _run(desk, me)
    with pytest.raises(PayloadError) as bad:
        record_conclusion(desk.ctx, officer, me, "refuse", "x x")
    assert bad.value.field == "conclusion"
    with pytest.raises(PayloadError) as no_reason:
        record_conclusion(desk.ctx, officer, me, "ordinary", " ")
    assert no_reason.value.field == "reason"
    seq = record_conclusion(desk.ctx, officer, me, "ordinary", "  核实后为普通消费者，  购买属实 ")
    with desk.services.session() as session:
        event = session.scalar(
            select(CaseEvent).where(CaseEvent.case_id == me, CaseEvent.seq == seq)
        )
        case = session.get(Case, me)
    assert event is not None and case is not None
    assert event.action == SCREENING_CONCLUSION and event.actor_name == "王警官"
    assert event.details == {
        "conclusion": "ordinary", "reason": "核实后为普通消费者， 购买属实",
        "screening_id": result.id, "score": result.score, "flagged": True,
        "version": result.version,
    }  # fmt: skip
    assert event.from_state == event.to_state == "received" == case.state
    assert case.chain_head == event.hash


def test_the_unit_figures_count_complaints_screened_and_flagged(desk: Desk) -> None:
    me = _professional(desk)
    plain = desk.file(OWN[0], contact="13000000000", unit=1, days=1)
    _run(desk, me)
    _run(desk, me)  # screened twice: counted once
    _run(desk, plain)
    since, until = T0 - timedelta(days=1), T0 + timedelta(days=30)
    assert count_screened(desk.services.sessions, None, since, until).__dict__ == {
        "complaints": 7,
        "screened": 2,
        "flagged": 1,
    }
    assert count_screened(desk.services.sessions, desk.units[1], since, until).__dict__ == {
        "complaints": 4,
        "screened": 2,
        "flagged": 1,
    }
    assert count_screened(desk.services.sessions, desk.units[0], since, until).__dict__ == {
        "complaints": 3,
        "screened": 0,
        "flagged": 0,
    }
