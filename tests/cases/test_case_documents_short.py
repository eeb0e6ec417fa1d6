"""The two short procedures make their documents from the case too: the simplified procedure
(a decision on the spot: the facts and provisions noted with the decision itself, no filing
approval) and the fast-track (the written admission, the notification carrying what the
investigation end report states). Every owed document made, signed and valid; none left
waiting."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from evidence_service.sealing.case_evidence import seal_upload
from tests.cases.test_case_documents import CODE, World
from tests.cases.test_case_documents import world as world  # the builders' case world
from tests.cases.test_case_documents_all import CLOSE, _check_signed
from tests.cases.test_case_documents_all import clock as clock  # March 2026, a known calendar
from workflow.cases import documents, service
from workflow.cases.service import PartyIn

FACTS = {
    "facts": "当事人网店首页未公示营业执照信息。",
    "violated_provisions": "《中华人民共和国电子商务法》第十五条",
}
REMEDIES = {
    "review_authority": "示例市人民政府",
    "court": "示例市某某区人民法院",
    "payment_channel": "非税收入电子缴款",
}


def _open(w: World, procedure: str, *, upload: bool = False) -> str:
    case_id = service.open_case(
        w.ctx,
        w.officer,
        unit_id=w.unit_id,
        title="未公示营业执照",
        summary="网店首页未公示营业执照信息",
        parties=[
            PartyIn(
                "广州某某电子商务有限公司",
                merchant_id=w.merchant_id,
                credit_code=CODE,
                shop_url="https://shop.example.com/store/1",
                platform="某某购物平台",
            )
        ],
        shop_url="https://shop.example.com/store/1",
        procedure=procedure,
    )
    for key in ("wang", "zhao"):
        service.assign(w.ctx, w.officer, case_id, w.ids[key])
    service.assign(w.ctx, w.officer, case_id, w.ids["head"], "head")
    service.assign(w.ctx, w.officer, case_id, w.ids["rev"], "reviewer")
    if upload:  # sealed and stored as an officer's upload is (the archive reads it back)
        seal_upload(
            w.services,
            w.ctx,
            w.officer,
            case_id,
            io.BytesIO(b"\x89PNG front page of the shop"),
            file_name="网店首页截图.png",
            media_type="image/png",
        )
    else:
        service.add_evidence(
            w.ctx,
            w.officer,
            case_id,
            kind="upload",
            file_name="网店首页截图.png",
            sha256="ef" * 32,
            object_key="uploads/front.png",
        )
    return case_id


def _nothing_waits(w: World, case_id: str) -> None:
    waiting = documents.waiting(documents.load_snapshot(w.ctx, case_id))
    assert [(x.template, x.missing) for x in waiting] == []


def _settle_and_close(w: World, case_id: str) -> None:
    service.act(w.ctx, w.officer, case_id, "serve_decision", {"service_method": "direct"})
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "record_payment",
        {"payment_number": "PAY-2026-0002", "payment_channel": "非税收入电子缴款"},
    )
    service.act(w.ctx, w.officer, case_id, "publish", {"url": "https://www.gsxt.gov.cn/y"})
    service.act(w.ctx, w.head, case_id, "close_case", CLOSE)


def test_a_decision_on_the_spot_makes_every_document_it_owes(world: World, tmp_path: Path) -> None:
    w = world
    case_id = _open(w, "simplified")
    service.act(w.ctx, w.officer, case_id, "register", {"handling_opinion": "当场处罚。"})
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "decide_on_the_spot",
        {"decided_penalty": {"kind": "fine", "amount_fen": 100_000}, **FACTS, **REMEDIES},
    )
    _settle_and_close(w, case_id)
    _nothing_waits(w, case_id)
    data = _check_signed(w, case_id, tmp_path)
    assert set(data) == {
        "penalty_decision",
        "proof_of_service",
        "payment_receipt",
        "closing_approval",
    }
    decision = data["penalty_decision"][0]
    assert decision["facts"] == FACTS["facts"]
    assert decision["penalty"]["fine_yuan"] == "1000.00"


def test_a_fast_track_case_makes_every_document_it_owes(world: World, tmp_path: Path) -> None:
    w = world
    case_id = _open(w, "fast_track")
    service.act(w.ctx, w.officer, case_id, "register", {"handling_opinion": "建议快速办理。"})
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "propose_filing",
        {
            "no_penalty_lists_consulted": True,
            "no_penalty_path_offered": True,
            "verification_facts": "当事人网店首页未公示营业执照信息。",
            "suspected_violation": "涉嫌未公示营业执照信息",
            "violated_provisions": FACTS["violated_provisions"],
            "officer_opinion": "当事人书面承认违法事实并同意适用快速办理，建议立案。",
        },
    )
    service.act(w.ctx, w.head, case_id, "approve_filing", {"opinion": "同意立案。"})
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "notify_penalty",
        {
            "admitted_and_accepted_in_writing": True,
            "notified_penalty": {"kind": "fine", "amount_fen": 200_000},
            "hearing_right": False,
            "notice_service_method": "direct",
            "discretion_band": "lighter",
            "discretion_reasoning": "主动承认违法事实，依法从轻。",
            "mitigating": "主动供述违法行为；积极配合调查",
            **FACTS,
        },
    )
    service.act(
        w.ctx,
        w.merchant,
        case_id,
        "record_statement",
        {"statement": "我司承认违法事实，放弃陈述申辩。", "statement_waived_in_writing": True},
    )
    service.act(
        w.ctx,
        w.head,
        case_id,
        "decide_penalty",
        {"decided_penalty": {"kind": "fine", "amount_fen": 200_000}, **REMEDIES},
    )
    _settle_and_close(w, case_id)
    _nothing_waits(w, case_id)
    data = _check_signed(w, case_id, tmp_path)
    assert {"investigation_end_report", "penalty_notification", "penalty_decision"} <= set(data)
    assert data["investigation_end_report"][0]["facts"] == FACTS["facts"]


def test_an_ended_case_is_sealed_and_archived_once(world: World, tmp_path: Path) -> None:
    """Step 14: once the case is closed and its documents made, the worker seals the whole
    file and keeps it in the store; the case's last event names it by its SHA-256; the file
    verifies offline to TOTAL-PASSED; a second run archives nothing more."""
    from evidence_service.sealing.case_archive import ARCHIVE_EVENT, archive_ended_cases
    from signing.verify import Indication, Text, load_trust_bundle, verify_file

    w = world
    case_id = _open(w, "simplified", upload=True)
    assert archive_ended_cases(w.services) == []  # open: nothing to archive
    service.act(w.ctx, w.officer, case_id, "register", {"handling_opinion": "当场处罚。"})
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "decide_on_the_spot",
        {"decided_penalty": {"kind": "warning"}, **FACTS, **REMEDIES},
    )
    service.act(w.ctx, w.officer, case_id, "serve_decision", {"service_method": "direct"})
    service.act(w.ctx, w.officer, case_id, "publish", {"url": "https://www.gsxt.gov.cn/z"})
    service.act(w.ctx, w.head, case_id, "close_case", CLOSE)
    events_before = service.case_view(w.ctx, w.officer, case_id).case.event_count
    _nothing_waits(w, case_id)

    archived = archive_ended_cases(w.services)
    assert [a.case_id for a in archived] == [case_id]
    assert archive_ended_cases(w.services) == []
    view = service.case_view(w.ctx, w.officer, case_id)
    last = view.events[-1]
    assert last.action == ARCHIVE_EVENT and view.case.event_count == events_before + 1
    assert last.details["sha256"] == archived[0].sha256
    assert last.details["events"] == events_before

    path = tmp_path / "archived.zip"
    path.write_bytes(w.services.store.read_bytes(archived[0].object_key))
    trust = load_trust_bundle(
        w.services.trust_bundle_pem(), source="service", description=Text("服务", "service")
    )
    report = verify_file(path, trust=trust)
    assert report.indication is Indication.TOTAL_PASSED, report.summary.en

    # the case page links it, and the officer downloads the very bytes kept
    from fastapi.testclient import TestClient

    from evidence_service.web.app import create_app
    from tests.payments.conftest import csrf_of

    with TestClient(create_app(services=w.services), headers={"Accept": "text/html"}) as client:
        page = client.get("/login")
        client.post(
            "/login",
            data={"username": "wang", "password": "x" * 12, "csrf": csrf_of(page.text)},
        )
        case_page = client.get(f"/cases/{case_id}")
        assert f'href="/cases/{case_id}/archive"' in case_page.text
        download = client.get(f"/cases/{case_id}/archive")
        assert download.status_code == 200
        assert download.headers["x-content-sha256"] == archived[0].sha256
        assert download.content == path.read_bytes()

    # years later the publicity period ends: the takedown is an event of the case, after
    # the archive, so the file is archived again up to it (the first archive stays kept)
    from workflow import publicity

    entry_id = publicity.publish(w.ctx, w.officer, case_id)
    view = service.case_view(w.ctx, w.officer, case_id)
    assert publicity.take_down_expired(w.ctx, today=date(2100, 1, 1)) == 1
    assert publicity.take_down_expired(w.ctx, today=date(2100, 1, 1)) == 0  # once
    view = service.case_view(w.ctx, w.officer, case_id)
    gone = view.events[-1]
    assert gone.action == publicity.TAKE_DOWN and gone.role == "system"
    assert gone.details["publicity_entry"] == entry_id
    again = archive_ended_cases(w.services)
    assert [a.case_id for a in again] == [case_id] and again[0].sha256 != archived[0].sha256
    view = service.case_view(w.ctx, w.officer, case_id)
    assert view.events[-1].action == ARCHIVE_EVENT
    assert view.events[-1].details["events"] == gone.seq
    assert w.services.store.read_bytes(archived[0].object_key) == path.read_bytes()
    assert archive_ended_cases(w.services) == []
