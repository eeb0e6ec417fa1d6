"""Every one of the case's 20 documents generated from a case driven through ``service.act``
along the paths (general with a hearing, no penalty, not filed), validated, rendered and
signed (checked with pyHanko's validation against the service's trust bundle); service by
every method with its legal date (electronic when it reaches the portal account, postal on
the receipt's date, public notice 30 days after publication by the deadline engine); the
inquiry record signed by the party in the portal; a party without a portal account gets its
documents and sees them once linked (``link_party``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from evidence_service.web.app import create_app
from storage.models import Capture, CaseParty, Document
from tests.cases.test_case_documents import (  # noqa: F401  (world is a fixture)
    CODE,
    FILING_NOTES,
    World,
    _file,
    _latest_pdf,
    _open,
    _table_of_contents,
    _user,
    _verify,
    world,
)
from tests.payments.conftest import csrf_of
from tests.portal.conftest import PASSWORD
from workflow import serving
from workflow.cases import documents, service
from workflow.deadlines import CHINA, due

#: Every template of the case process.
ALL = set(documents.process.default_process().documents)
#: What each path below makes.
MADE: dict[str, set[str]] = {}

END = {
    "major_case": False,
    "facts": "当事人在其网店商品页面使用“国家级”用语。",
    "discretion_band": "ordinary",
    "discretion_reasoning": "无从轻、从重情节。",
    "proposed_fine_yuan": "5000",
}
REVIEW = {
    "legal_review_done": True,
    "review_facts": "事实清楚。",
    "review_evidence": "证据确凿。",
    "review_procedure": "程序合法。",
    "review_law": "适用依据正确。",
    "review_discretion": "裁量适当。",
}
CLOSE = {"outcome_summary": "案件办结。", "officer_opinion": "建议结案。", "opinion": "同意结案。"}


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    """The case runs in March 2026 (a year the working calendar knows), from a Monday; the
    service's certificates are made then too (the world is set up inside this clock)."""
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, tzinfo=CHINA), tick=True) as traveller:
        yield traveller


def _capture(w: World, url: str, when: dt.datetime) -> tuple[str, str]:
    """A sealed capture as the store records it (the row the extraction record reads)."""
    sha = hashlib.sha256(url.encode()).hexdigest()
    with w.services.session() as session:
        row = Capture(
            requested_url=url,
            final_url=url,
            title="商品详情",
            http_status=200,
            status="stored",
            started_at=when,
            ended_at=when + dt.timedelta(seconds=20),
            sealed_at=when + dt.timedelta(seconds=25),
            trusted_time=when + dt.timedelta(seconds=22),
            tsa_name="Evidence TSA",
            tsa_serial="1a2b",
            manifest_sha256="ab" * 32,
            package_sha256=sha,
            package_size=4096,
            summary={
                "resources": [{"path": "files/screenshot.png", "hash": "sha256:" + "cd" * 32}]
            },
        )
        session.add(row)
        session.flush()
        return row.id, sha


def _attach(w: World, case_id: str, url: str, when: dt.datetime) -> str:
    capture_id, sha = _capture(w, url, when)
    service.add_evidence(
        w.ctx,
        w.officer,
        case_id,
        kind="capture",
        capture_id=capture_id,
        file_name=f"{capture_id}.wacz",
        sha256=sha,
        size=4096,
    )
    return capture_id


def _check_signed(w: World, case_id: str, tmp_path: Path) -> dict[str, list[dict]]:
    """Every document of the case signed and valid; their data by template."""
    out: dict[str, list[dict]] = {}
    for template, document_id in _table_of_contents(w, case_id):
        pdf, doc, _versions = _latest_pdf(w, document_id)
        assert _verify(w, pdf, tmp_path, f"{template}-{document_id}") == "TOTAL-PASSED", template
        documents.validate_data(template, doc.data)
        out.setdefault(template, []).append(doc.data)
    MADE[case_id] = set(out)
    return out


def _served_on(w: World, case_id: str, fact: str) -> str | None:
    return service.case_view(w.ctx, w.officer, case_id).case.facts.get(fact)


def test_general_procedure_with_a_hearing_every_service_method(
    world: World,  # noqa: F811 (the fixture)
    tmp_path: Path,
    clock: Any,
) -> None:
    w = world
    w.ids["li"] = _user(w.services, w.unit_id, "li", "李记录", "SL-0005")
    merchant = w.merchant
    case_id = _open(w)
    _file(w, case_id)
    _attach(
        w, case_id, "https://shop.example.com/item/42", dt.datetime(2026, 3, 2, 1, tzinfo=dt.UTC)
    )
    service.act(w.ctx, w.officer, case_id, "record_extraction", {"place": "本局电子取证室"})
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "send_inquiry_notice",
        {
            "matter": "当事人涉嫌发布违法广告一案",
            "inquiry_at": "2026-03-05T10:00",
            "place": "示例市市场监督管理局 301 室",
            "persons_to_bring": "法定代表人或者委托代理人",
            "documents_to_bring": "营业执照副本；授权委托书",
            "contact_person": "王五",
            "contact_phone": "020-12345678",
        },
    )
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "record_inquiry",
        {
            "started_at": "2026-03-02T14:00",
            "ended_at": "2026-03-02T15:00",
            "place": "示例市市场监督管理局 301 室",
            "person_name": "李四",
            "person_id_number": "11010519491231002X",
            "person_role": "法定代表人",
            "qa": "问：商品页面的“国家级”用语是谁发布的？\n答：是我司运营人员发布的。",
        },
    )
    # a preservation notice by post: not served until the receipt comes back
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "preserve_evidence",
        {
            "reason": "证据可能灭失",
            "items": "涉案商品｜10｜件｜当事人仓库",
            "approved_by": "钱局长",
            "review_authority": "示例市人民政府",
            "court": "示例市某某区人民法院",
            "notice_service_method": "postal",
            "tracking_number": "EMS1234567890CN",
        },
    )
    assert _served_on(w, case_id, "preservation_notice_served_on") is None
    service.act(
        w.ctx,
        merchant,
        case_id,
        "confirm_service_address",
        {
            "recipient_name": "李四",
            "recipient_phone": "13800000000",
            "recipient_address": "广州市天河区某某路 1 号",
        },
    )
    service.act(w.ctx, w.officer, case_id, "end_investigation", END)
    service.act(w.ctx, w.reviewer, case_id, "complete_review", REVIEW)
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "notify_penalty",
        {
            "notified_penalty": {"kind": "fine", "amount_fen": 500_000},
            "hearing_right": True,
            "notice_service_method": "electronic",
        },
    )
    # electronic: served when it reached the account, which the chain records
    view = service.case_view(w.ctx, w.officer, case_id)
    delivered = [e for e in view.events if e.action == "deliver_document"]
    assert len(delivered) == 1 and view.facts.notification_served
    assert view.case.facts["notification_served_on"] == "2026-03-02"
    service.act(w.ctx, merchant, case_id, "record_statement", {"statement": "我司已删除相关用语。"})
    service.act(w.ctx, merchant, case_id, "request_hearing")
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "schedule_hearing",
        {
            "hearing_on": "2026-03-16",
            "hearing_at": "2026-03-16T09:30",
            "place": "示例市市场监督管理局听证室",
            "hearing_officer": "rev",
            "recorder": "li",
            "contact_person": "王五",
            "contact_phone": "020-12345678",
        },
    )
    # the preservation notice's receipt comes back on 3 March
    seq = next(e.seq for e in view.events if e.action == "preserve_evidence")
    clock.move_to(dt.datetime(2026, 3, 4, 9, tzinfo=CHINA))
    service.record_service_receipt(
        w.ctx, w.officer, case_id, seq, dt.date(2026, 3, 3), receiver="李四"
    )
    assert _served_on(w, case_id, "preservation_notice_served_on") == "2026-03-03"
    w.docs.generate_pending(w.officer, case_id)
    clock.move_to(dt.datetime(2026, 3, 16, 9, tzinfo=CHINA))
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "hold_hearing",
        {
            "started_at": "2026-03-16T09:30",
            "ended_at": "2026-03-16T11:00",
            "participants": "李四｜party｜广州某某电子商务有限公司",
            "investigators_case": "当事人发布违法广告，拟罚款 5000 元。",
            "party_statement": "已删除相关用语，请求从轻。",
            "cross_examination": "王五：页面截图证明违法事实。\n李四：对截图无异议。",
            "final_statements": "李四：请求从轻处罚。",
        },
    )
    service.act(
        w.ctx,
        w.head,
        case_id,
        "decide_penalty",
        {
            "decided_penalty": {"kind": "fine", "amount_fen": 500_000},
            "review_authority": "示例市人民政府",
            "court": "示例市某某区人民法院",
            "payment_channel": "非税收入电子缴款",
        },
    )
    # the decision by post: the 15 days to pay run from the receipt's date
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "serve_decision",
        {"service_method": "postal", "tracking_number": "EMS0987654321CN"},
    )
    view = service.case_view(w.ctx, w.officer, case_id)
    assert view.case.facts["decision_served_on"] is None
    assert "fine_payment" not in {d.rule_id for d in view.deadlines}
    serve_seq = (
        view.events[-1].seq
        if view.events[-1].action == "serve_decision"
        else next(e.seq for e in reversed(view.events) if e.action == "serve_decision")
    )
    clock.move_to(dt.datetime(2026, 3, 19, 9, tzinfo=CHINA))
    service.record_service_receipt(w.ctx, w.officer, case_id, serve_seq, dt.date(2026, 3, 18))
    w.docs.generate_pending(w.officer, case_id)
    view = service.case_view(w.ctx, w.officer, case_id)
    assert view.case.facts["decision_served_on"] == "2026-03-18"
    payment = next(d for d in view.deadlines if d.rule_id == "fine_payment")
    assert payment.due_date == due("fine_payment", dt.date(2026, 3, 18)).due_date
    service.act(
        w.ctx,
        merchant,
        case_id,
        "record_payment",
        {"payment_number": "PAY-2026-0002", "payment_channel": "非税收入电子缴款"},
    )
    service.act(w.ctx, w.officer, case_id, "publish", {"url": "https://www.gsxt.gov.cn/y"})
    service.act(w.ctx, w.head, case_id, "close_case", CLOSE)

    # the party reads and signs the inquiry record in the portal
    toc = dict(_table_of_contents(w, case_id))
    record_id = toc["inquiry_record"]
    assert record_id in {d.id for d in serving.documents_for_merchant(w.portal, w.merchant_id)}
    # the party reads and signs it in the portal, as a person would: the signature is kept
    # and the party's step is an event of the case, naming the signed version
    with TestClient(create_app(services=w.services), headers={"Accept": "text/html"}) as portal:
        page = portal.get("/portal/login")
        login = {"credit_code": CODE, "password": PASSWORD, "csrf": csrf_of(page.text)}
        assert portal.post("/portal/login", data=login).status_code in (200, 303)
        doc_page = portal.get(f"/portal/documents/{record_id}")
        assert doc_page.status_code == 200, doc_page.text
        signed = portal.post(
            f"/portal/documents/{record_id}/sign",
            data={"password": PASSWORD, "csrf": csrf_of(doc_page.text)},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text
    _pdf, _doc, versions = _latest_pdf(w, record_id)
    last = service.case_view(w.ctx, w.officer, case_id).events[-1]
    assert last.action == service.PARTY_SIGNED and last.role == "merchant"
    assert last.details == {"document_id": record_id, "sha256": versions[-1].sha256}

    assert w.docs.pending(case_id) == []
    data = _check_signed(w, case_id, tmp_path)
    assert {
        "case_source_registration",
        "filing_approval",
        "evidence_extraction_record",
        "inquiry_notice",
        "inquiry_record",
        "evidence_preservation_notice",
        "service_address_confirmation",
        "investigation_end_report",
        "case_review_form",
        "penalty_notification",
        "statement",
        "hearing_notice",
        "hearing_record",
        "penalty_decision",
        "proof_of_service",
        "payment_receipt",
        "closing_approval",
    } <= set(data)
    extraction = data["evidence_extraction_record"][0]["capture"]
    assert extraction["requested_url"] == "https://shop.example.com/item/42"
    assert extraction["files"] == {"files/screenshot.png": "sha256:" + "cd" * 32}
    proofs = {p["documents"][0]["title"]: p for p in data["proof_of_service"]}
    assert proofs["先行登记保存证据通知书"]["method"] == "postal"
    assert proofs["先行登记保存证据通知书"]["served_at"].startswith("2026-03-03")
    assert "EMS1234567890CN" in proofs["先行登记保存证据通知书"]["remarks"]
    assert proofs["行政处罚告知书"]["method"] == "electronic"
    assert proofs["行政处罚决定书"]["served_at"].startswith("2026-03-18")
    assert data["hearing_record"][0]["hearing_officer"] == "孙审核"
    # the inquiry record now carries the party's signature too, and validates
    pdf, _doc, versions = _latest_pdf(w, record_id)
    assert versions[-1].kind == "merchant-signed"
    assert _verify(w, pdf, tmp_path, "inquiry-signed") == "TOTAL-PASSED"
    fields = [s.field_name for s in PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures]
    assert fields == ["officer", "officer_2", "party"]


def test_no_penalty_for_a_party_without_an_account_served_by_public_notice(
    world: World,  # noqa: F811 (the fixture)
    tmp_path: Path,
    clock: Any,
) -> None:
    w = world
    case_id = _open(w, merchant=False)
    _file(w, case_id)
    _attach(
        w, case_id, "https://shop.example.com/item/7", dt.datetime(2026, 3, 2, 1, tzinfo=dt.UTC)
    )
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "order_correction",
        {
            "correction_due_on": "2026-04-30",
            "facts": "商品页面使用“国家级”用语。",
            "correction": "删除商品页面中的“国家级”用语。",
            "notice_service_method": "public_notice",
            "notice_medium": "示例市市场监督管理局网站",
        },
    )
    deemed = due("public_notice_service", dt.date(2026, 3, 2)).due_date
    assert deemed is not None and deemed > dt.date(2026, 3, 31)
    assert _served_on(w, case_id, "correction_order_served_on") == deemed.isoformat()
    clock.move_to(dt.datetime(2026, 3, 10, 9, tzinfo=CHINA))
    _attach(
        w, case_id, "https://shop.example.com/item/7", dt.datetime(2026, 3, 10, 1, tzinfo=dt.UTC)
    )
    service.act(
        w.ctx, w.officer, case_id, "confirm_correction", {"correction_verified_by_recapture": True}
    )
    service.act(w.ctx, w.officer, case_id, "end_investigation", END)
    service.act(w.ctx, w.reviewer, case_id, "complete_review", REVIEW)
    service.act(
        w.ctx,
        w.head,
        case_id,
        "decide_no_penalty",
        {
            "no_penalty_ground": "first_violation",
            "reasoning": "初次违法、危害后果轻微并及时改正。",
            "guidance": "已对当事人进行广告法律法规教育指导。",
            "review_authority": "示例市人民政府",
            "court": "示例市某某区人民法院",
        },
    )
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "serve_decision",
        {"service_method": "public_notice", "notice_medium": "示例市市场监督管理局网站"},
    )
    deemed = due("public_notice_service", dt.date(2026, 3, 10)).due_date
    assert deemed is not None
    assert _served_on(w, case_id, "decision_served_on") == deemed.isoformat()
    service.act(w.ctx, w.head, case_id, "close_case", CLOSE)
    assert w.docs.pending(case_id) == []
    data = _check_signed(w, case_id, tmp_path)
    assert {"order_to_correct", "no_penalty_decision", "proof_of_service"} <= set(data)
    decision = data["no_penalty_decision"][0]
    assert decision["grounds"] == ["first_violation_corrected"]
    assert decision["correction"]["recapture"]["url"] == "https://shop.example.com/item/7"
    proof = next(
        p for p in data["proof_of_service"] if p["documents"][0]["title"] == "不予行政处罚决定书"
    )
    assert proof["method"] == "public_notice" and proof["served_at"].startswith(deemed.isoformat())
    # kept as the unit's: no merchant sees them until the party is linked
    toc = _table_of_contents(w, case_id)
    with w.services.session() as session:
        owners = {
            d.merchant_id
            for d in session.scalars(select(Document).where(Document.id.in_([i for _, i in toc])))
        }
        party_id = session.scalars(select(CaseParty.id).where(CaseParty.case_id == case_id)).one()
    assert owners == {None}
    assert serving.documents_for_merchant(w.portal, w.merchant_id) == [] or all(
        d.id not in {i for _, i in toc}
        for d in serving.documents_for_merchant(w.portal, w.merchant_id)
    )
    service.link_party(w.ctx, w.officer, case_id, party_id, w.merchant_id)
    seen = {d.id for d in serving.documents_for_merchant(w.portal, w.merchant_id)}
    served = {by for t, by in toc if t in ("order_to_correct", "no_penalty_decision")}
    assert served <= seen
    internal = {by for t, by in toc if t in ("filing_approval", "closing_approval")}
    assert not (internal & seen)
    view = service.case_view(w.ctx, w.officer, case_id)
    assert view.events[-1].action == "link_party"
    assert view.parties[0].merchant_id == w.merchant_id
    with pytest.raises(service.CaseError):
        service.link_party(w.ctx, w.head, case_id, party_id, w.merchant_id)


def test_a_lead_not_filed_and_a_missing_note_named(world: World, tmp_path: Path) -> None:  # noqa: F811
    w = world
    case_id = _open(w)
    service.act(w.ctx, w.officer, case_id, "register", {"handling_opinion": "建议核查。"})
    notes = {
        "reasons": "经核查，页面用语有检测报告支持，违法事实不成立。",
        "non_filing_ground": "no_violation",
        "verification_facts": "当事人提供了检测报告。",
        "officer_opinion": "建议不予立案。",
    }
    service.act(w.ctx, w.officer, case_id, "propose_non_filing", notes)
    snap = documents.load_snapshot(w.ctx, case_id)
    seq = next(p.event_seq for p in documents.owed(snap) if p.template == "non_filing_approval")
    with pytest.raises(documents.MissingCaseData) as missing:
        documents.build(snap, "non_filing_approval", seq)
    named = {name for name, _ in missing.value.fields}
    assert {"case_number", "approval"} <= named  # no document number given, no approval yet
    service.act(w.ctx, w.head, case_id, "send_back")
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "propose_non_filing",
        {**notes, "document_number": "示市监不立〔2026〕3号"},
    )
    service.act(w.ctx, w.head, case_id, "approve_non_filing", {"opinion": "同意不予立案。"})
    made = [t for t, _ in _table_of_contents(w, case_id)]
    # the registration form too: a lead not filed is never numbered, so it carries the
    # non-filing document's number (it used to wait for a case number forever)
    assert made == ["case_source_registration", "non_filing_approval"]
    data = _check_signed(w, case_id, tmp_path)
    assert data["non_filing_approval"][0]["case_number"] == "示市监不立〔2026〕3号"
    assert data["case_source_registration"][0]["case_number"] == "示市监不立〔2026〕3号"
    assert data["non_filing_approval"][0]["grounds"][0]["kind"] == "no_violation"
