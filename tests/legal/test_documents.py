"""The documents take their legal-basis fields from the entry chosen on the case: the
decision's and the notification's legal basis, the provisions violated, the discretion of the
end report and of the decision. What the officer typed still wins."""

from __future__ import annotations

from typing import Any

from tests.legal.conftest import World
from workflow.cases import documents, legal_basis, service
from workflow.legal.choice import ChoiceIn
from workflow.legal.ranking import Observed

FILING = {
    "no_penalty_lists_consulted": True,
    "no_penalty_path_offered": True,
    "verification_facts": "店铺首页未见营业执照信息。",
    "suspected_violation": "未公示营业执照信息",
    "officer_opinion": "建议立案。",
}


def _to_decision(w: World, case_id: str, *, typed: dict[str, Any] | None = None) -> int:
    ctx, wang, head = w.ctx, w.actor("wang"), w.actor("head", "head")
    service.act(ctx, wang, case_id, "register", {"handling_opinion": "核查"})
    service.act(ctx, wang, case_id, "propose_filing", {**FILING, **(typed or {})})
    service.act(ctx, head, case_id, "approve_filing", {"opinion": "同意"})
    service.add_evidence(
        ctx,
        wang,
        case_id,
        kind="upload",
        file_name="首页截图.png",
        sha256="cd" * 32,
        object_key="u/x",
    )
    ticked = frozenset({"no_business_licence_shown", "first_violation", "cooperated"})
    legal_basis.choose(
        ctx,
        wang,
        case_id,
        Observed(ticked),
        ChoiceIn("business_licence_not_displayed", None, 1000_00),
    )
    service.act(
        ctx,
        wang,
        case_id,
        "end_investigation",
        {
            "major_case": False,
            "facts": "当事人网店首页未公示营业执照信息。",
            "proposed_fine_yuan": "1000",
        },
    )
    service.act(
        ctx, w.actor("rev", "reviewer"), case_id, "complete_review", {"legal_review_done": True}
    )
    penalty = {"kind": "fine", "amount_fen": 1000_00}
    service.act(
        ctx,
        wang,
        case_id,
        "notify_penalty",
        {"notified_penalty": penalty, "hearing_right": False, "notice_service_method": "direct"},
    )
    service.act(
        ctx,
        wang,
        case_id,
        "record_statement",
        {"statement": "放弃陈述申辩", "statement_waived_in_writing": True},
    )
    service.act(
        ctx,
        head,
        case_id,
        "decide_penalty",
        {
            "decided_penalty": penalty,
            "review_authority": "示例市人民政府",
            "court": "示例市某某区人民法院",
            "payment_channel": "非税收入电子缴款",
        },
    )
    snap = documents.load_snapshot(ctx, case_id)
    return snap.latest("decide_penalty").seq  # type: ignore[union-attr]


def _build(w: World, case_id: str, template: str, action: str) -> dict[str, Any]:
    snap = documents.load_snapshot(w.ctx, case_id)
    return documents.build(snap, template, snap.latest(action).seq)  # type: ignore[union-attr]


def test_the_decision_takes_the_chosen_entry(world: World) -> None:
    w = world
    case_id = w.open_case("未公示营业执照")
    seq = _to_decision(w, case_id)
    data = documents.build(documents.load_snapshot(w.ctx, case_id), "penalty_decision", seq)
    basis = [{"rule": "中华人民共和国电子商务法", "article": "第七十六条第一款第一项"}]
    assert data["legal_basis"] == basis  # not the sample's price law
    assert data["violated_provisions"] == [
        {"rule": "中华人民共和国电子商务法", "article": "第十五条第一款"}
    ]
    assert "从轻" in data["discretion"] and "初次违法" in data["discretion"]
    notice = _build(w, case_id, "penalty_notification", "notify_penalty")
    assert notice["legal_basis"] == basis
    report = _build(w, case_id, "investigation_end_report", "end_investigation")
    assert report["discretion"]["band"] == "lighter"
    assert report["discretion"]["mitigating"] == ["初次违法", "主动供述、配合调查"]
    assert report["discretion"]["standard"]["article"] == "第五项"
    approval = _build(w, case_id, "filing_approval", "propose_filing")
    assert approval["list_check"]["list_name"].startswith(
        "示例省市场监管领域轻微违法行为不予处罚清单"
    )


def test_what_the_officer_typed_wins_over_the_chosen_entry(world: World) -> None:
    w = world
    case_id = w.open_case("未公示营业执照（手填）")
    seq = _to_decision(
        w, case_id, typed={"violated_provisions": "《网络交易监督管理办法》第十二条第一款"}
    )
    data = documents.build(documents.load_snapshot(w.ctx, case_id), "penalty_decision", seq)
    assert data["violated_provisions"] == [
        {"rule": "网络交易监督管理办法", "article": "第十二条第一款"}
    ]
    assert data["legal_basis"][0]["article"] == "第七十六条第一款第一项"
