"""The case's documents made from the case (workflow/cases/documents.py): a general-procedure
walk where every step's documents appear in the case file, signed (verified TOTAL-PASSED
against the service's trust bundle) and filled from the case; a field the case lacks named;
a failed generation left owed and retried without losing the action."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.sealing.case_file import case_context
from evidence_service.security import hash_password
from evidence_service.services import Services
from evidence_service.web.portal.deps import build_context, officer_ref
from signing.verify import Text, load_trust_bundle, verify_file
from storage.models import Document, DocumentVersion, Unit, User
from tests.portal.conftest import setup_merchant
from tests.service.conftest import make_settings
from workflow.cases import documents, service
from workflow.cases.service import Actor, PartyIn
from workflow.context import PortalContext

CODE = "9144030071526726XG"
FILING_NOTES = {
    "verification_facts": "经核查，当事人网店商品页面宣称“国家级产品”，无证据支持。",
    "suspected_violation": "涉嫌使用“国家级”用语发布广告",
    "violated_provisions": "《中华人民共和国广告法》第九条第三项",
    "officer_opinion": "建议立案调查。",
}


@dataclass
class World:
    services: Services
    portal: PortalContext
    docs: documents.CaseDocuments
    ctx: service.CaseContext
    unit_id: int
    merchant_id: str
    officer: Actor
    head: Actor
    reviewer: Actor
    merchant: Actor
    ids: dict[str, int]


def _user(services: Services, unit_id: int, username: str, name: str, badge: str) -> int:
    with services.session() as session:
        user = User(
            username=username,
            display_name=name,
            password_hash=hash_password("x" * 12),
            unit_id=unit_id,
            badge_number=badge,
        )
        session.add(user)
        session.flush()
        return user.id


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    services = Services(make_settings(tmp_path / "data"))
    initialize(services)
    portal = build_context(services)
    with services.session() as session:
        unit_id = session.scalars(select(Unit.id)).one()
    ids = {
        "wang": _user(services, unit_id, "wang", "王五", "SL-0001"),
        "zhao": _user(services, unit_id, "zhao", "赵六", "SL-0002"),
        "head": _user(services, unit_id, "head", "钱局长", "SL-0003"),
        "rev": _user(services, unit_id, "rev", "孙审核", "SL-0004"),
    }
    with services.session() as session:
        wang = session.get(User, ids["wang"])
        assert wang is not None
        ref = officer_ref(wang)
    merchant_id = setup_merchant(portal, ref, "广州某某电子商务有限公司", CODE)
    ctx = case_context(services)
    docs = documents.CaseDocuments(portal, ctx)
    ctx.after_action = docs.after_action

    def actor(key: str, role: str) -> Actor:
        return Actor(f"user:{ids[key]}", key, role, unit_id)

    yield World(
        services,
        portal,
        docs,
        ctx,
        unit_id,
        merchant_id,
        actor("wang", "officer"),
        actor("head", "head"),
        actor("rev", "reviewer"),
        Actor(f"merchant:{merchant_id}", "广州某某电子商务有限公司", "merchant", unit_id),
        ids,
    )
    services.close()


def _open(w: World, *, merchant: bool = True) -> str:
    case_id = service.open_case(
        w.ctx,
        w.officer,
        unit_id=w.unit_id,
        title="虚假宣传",
        summary="商品页面宣称“国家级”",
        parties=[
            PartyIn(
                "广州某某电子商务有限公司",
                merchant_id=w.merchant_id if merchant else None,
                credit_code=CODE,
                shop_url="https://shop.example.com/store/1",
                platform="某某购物平台",
            )
        ],
        shop_url="https://shop.example.com/store/1",
    )
    for key in ("wang", "zhao"):
        service.assign(w.ctx, w.officer, case_id, w.ids[key])
    service.assign(w.ctx, w.officer, case_id, w.ids["head"], "head")
    service.assign(w.ctx, w.officer, case_id, w.ids["rev"], "reviewer")
    return case_id


def _file(w: World, case_id: str) -> None:
    service.act(w.ctx, w.officer, case_id, "register", {"handling_opinion": "建议核查。"})
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "propose_filing",
        {"no_penalty_lists_consulted": True, "no_penalty_path_offered": True, **FILING_NOTES},
    )
    service.act(w.ctx, w.head, case_id, "approve_filing", {"opinion": "同意立案。"})


def _table_of_contents(w: World, case_id: str) -> list[tuple[str, str]]:
    view = service.case_view(w.ctx, w.officer, case_id)
    return [(d.template, d.document_id) for d in view.documents]


def _latest_pdf(w: World, document_id: str) -> tuple[bytes, Document, list[DocumentVersion]]:
    with w.services.session() as session:
        doc = session.get(Document, document_id)
        assert doc is not None
        versions = list(
            session.scalars(
                select(DocumentVersion)
                .where(DocumentVersion.document_id == document_id)
                .order_by(DocumentVersion.seq)
            )
        )
        session.expunge_all()
    return w.portal.store.read_bytes(versions[-1].object_key), doc, versions


def _verify(w: World, pdf: bytes, tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    trust = load_trust_bundle(
        w.services.trust_bundle_pem(), source="service", description=Text("服务", "service")
    )
    report = verify_file(path, trust=trust)
    return str(report.indication.value)


def test_a_general_procedure_case_file_holds_each_steps_signed_documents(
    world: World, tmp_path: Path
) -> None:
    w = world
    case_id = _open(w)
    _file(w, case_id)
    service.add_evidence(
        w.ctx,
        w.officer,
        case_id,
        kind="upload",
        file_name="商品页面截图.png",
        sha256="ab" * 32,
        object_key="uploads/x.png",
    )
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "end_investigation",
        {
            "major_case": False,
            "facts": "当事人在其网店商品页面使用“国家级”用语。",
            "discretion_band": "ordinary",
            "discretion_reasoning": "无从轻、从重情节。",
            "proposed_fine_yuan": "5000",
        },
    )
    service.act(
        w.ctx,
        w.reviewer,
        case_id,
        "complete_review",
        {
            "legal_review_done": True,
            "review_facts": "事实清楚。",
            "review_evidence": "证据确凿。",
            "review_procedure": "程序合法。",
            "review_law": "适用依据正确。",
            "review_discretion": "裁量适当。",
        },
    )
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "notify_penalty",
        {
            "notified_penalty": {"kind": "fine", "amount_fen": 500_000},
            "hearing_right": True,
            "notice_service_method": "direct",
        },
    )
    service.act(
        w.ctx,
        w.merchant,
        case_id,
        "record_statement",
        {"statement": "我司已删除相关用语，请求从轻处罚。", "statement_waived_in_writing": True},
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
    service.act(w.ctx, w.officer, case_id, "serve_decision", {"service_method": "direct"})
    service.act(
        w.ctx,
        w.merchant,
        case_id,
        "record_payment",
        {"payment_number": "PAY-2026-0001", "payment_channel": "非税收入电子缴款"},
    )
    service.act(w.ctx, w.officer, case_id, "publish", {"url": "https://www.gsxt.gov.cn/x"})
    service.act(
        w.ctx,
        w.head,
        case_id,
        "close_case",
        {
            "outcome_summary": "罚款 5000 元，已缴纳。",
            "officer_opinion": "建议结案。",
            "opinion": "同意结案。",
        },
    )
    view = service.case_view(w.ctx, w.officer, case_id)
    assert view.case.state == "closed"
    toc = _table_of_contents(w, case_id)
    assert [t for t, _ in toc] == [
        "case_source_registration",
        "filing_approval",
        "investigation_end_report",
        "case_review_form",
        "penalty_notification",
        "proof_of_service",
        "statement",
        "penalty_decision",
        "proof_of_service",
        "payment_receipt",
        "closing_approval",
    ]
    assert w.docs.pending(case_id) == []
    number = view.case.number
    assert number
    touched = {
        t["id"]: t["sha256"]
        for e in view.events
        if e.action == "add_document"
        for t in service_touches(w, case_id, e.seq)
    }
    for template, document_id in toc:
        pdf, doc, versions = _latest_pdf(w, document_id)
        data: dict[str, Any] = doc.data
        assert data["case_number"] == number, template
        party = data.get("party") or {}
        assert party.get("name") == "广州某某电子商务有限公司", template
        assert touched[document_id] == hashlib.sha256(pdf).hexdigest() == versions[-1].sha256
        assert _verify(w, pdf, tmp_path, f"{template}-{document_id}") == "TOTAL-PASSED", template
        kinds = [v.kind for v in versions]
        if "unit" in {s.name for s in documents.TEMPLATES[template].slots}:
            assert kinds[1] == "unit-signed", template  # the seal certifies first
    by_template = {t: doc_id for t, doc_id in toc}
    decision = _latest_pdf(w, by_template["penalty_decision"])[1].data
    assert decision["penalty"]["fine_yuan"] == "5000.00"
    assert decision["statement_summary"] == "我司已删除相关用语，请求从轻处罚。"
    cited = [(c["rule"], c["article"]) for c in decision["violated_provisions"]]
    assert cited == [("中华人民共和国广告法", "第九条第三项")]
    filing = _latest_pdf(w, by_template["filing_approval"])[1].data
    assert [o["officer_id"] for o in filing["officers"]] == ["SL-0001", "SL-0002"]
    assert filing["approval"]["name"] == "钱局长"
    receipt = _latest_pdf(w, by_template["payment_receipt"])[1].data
    assert receipt["total_yuan"] == "5000.00" and receipt["payment_number"] == "PAY-2026-0001"
    notice = _latest_pdf(w, by_template["penalty_notification"])[1].data
    assert notice["proposed_penalty"]["fine_yuan"] == "5000.00"
    assert notice["evidence"] == [f"商品页面截图.png（SHA-256 {'ab' * 32}）"]


def service_touches(w: World, case_id: str, seq: int) -> list[dict[str, Any]]:
    from storage.models import CaseEvent

    with w.services.session() as session:
        event = session.scalar(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == seq)
        )
        assert event is not None
        return list(event.touches)


def test_a_field_the_case_lacks_is_named_and_the_document_waits(world: World) -> None:
    w = world
    case_id = _open(w)
    service.act(w.ctx, w.officer, case_id, "register", {"handling_opinion": "建议核查。"})
    notes = {k: v for k, v in FILING_NOTES.items() if k != "suspected_violation"}
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "propose_filing",
        {"no_penalty_lists_consulted": True, "no_penalty_path_offered": True, **notes},
    )
    pending = {p.template for p in w.docs.pending(case_id)}
    assert pending == {"case_source_registration", "filing_approval"}  # no head approval yet
    snap = documents.load_snapshot(w.ctx, case_id)
    seq = next(p.event_seq for p in documents.owed(snap) if p.template == "filing_approval")
    with pytest.raises(documents.MissingCaseData) as missing:
        documents.build(snap, "filing_approval", seq)
    names = {name for name, _ in missing.value.fields}
    assert {"suspected_violation", "approval"} <= names
    assert "fill suspected_violation first" in str(missing.value)
    service.act(w.ctx, w.head, case_id, "approve_filing", {"opinion": "同意立案。"})
    # the registration could now be made; the filing form still lacks the violation
    assert [p.template for p in w.docs.pending(case_id)] == ["filing_approval"]
    assert [t for t, _ in _table_of_contents(w, case_id)] == ["case_source_registration"]

    # The officer gives the missing note afterwards: a new event, and the form is made from it.
    with pytest.raises(service.PayloadError, match="no note 'colour'"):
        service.give_notes(w.ctx, w.officer, case_id, "propose_filing", {"colour": "red"})
    with pytest.raises(service.PayloadError, match="may not give"):
        service.give_notes(w.ctx, w.head, case_id, "propose_filing", {"suspected_violation": "x"})
    with pytest.raises(service.PayloadError, match="has not taken end_investigation"):
        service.give_notes(w.ctx, w.officer, case_id, "end_investigation", {"facts": "x"})
    violation = FILING_NOTES["suspected_violation"]
    seq = service.give_notes(
        w.ctx, w.officer, case_id, "propose_filing", {"suspected_violation": violation}
    )
    w.docs.generate_pending(w.officer, case_id)
    assert [p.template for p in w.docs.pending(case_id)] == []
    toc = dict(_table_of_contents(w, case_id))
    _, doc, _ = _latest_pdf(w, toc["filing_approval"])
    assert doc.data["suspected_violation"] == violation
    given = documents.load_snapshot(w.ctx, case_id).event(seq)
    assert given.action == "give_notes" and given.details["for_action"] == "propose_filing"


def test_a_failed_generation_keeps_the_action_and_is_retried(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    case_id = _open(w)

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("time-stamping authority unreachable")

    monkeypatch.setattr(documents, "sign", down)
    service.act(w.ctx, w.officer, case_id, "register", {"handling_opinion": "建议核查。"})
    service.act(
        w.ctx,
        w.officer,
        case_id,
        "propose_filing",
        {"no_penalty_lists_consulted": True, "no_penalty_path_offered": True, **FILING_NOTES},
    )
    service.act(w.ctx, w.head, case_id, "approve_filing", {"opinion": "同意立案。"})
    view = service.case_view(w.ctx, w.officer, case_id)
    assert view.case.state == "investigating" and view.case.number  # the actions are kept
    assert view.documents == []
    outcomes = w.docs.generate_pending(w.officer, case_id)
    assert [o.template for o in outcomes] == ["case_source_registration", "filing_approval"]
    assert all("unreachable" in (o.error or "") for o in outcomes)
    monkeypatch.undo()
    made = w.docs.generate_pending(w.officer, case_id)
    assert [o.error for o in made] == [None, None]
    assert [t for t, _ in _table_of_contents(w, case_id)] == [
        "case_source_registration",
        "filing_approval",
    ]
    assert w.docs.pending(case_id) == []


def test_a_party_without_a_portal_account_gets_its_documents(world: World) -> None:
    """Kept as the unit's (no merchant) until the party is linked to an account."""
    w = world
    case_id = _open(w, merchant=False)
    _file(w, case_id)
    assert w.docs.pending(case_id) == []
    toc = _table_of_contents(w, case_id)
    assert [t for t, _ in toc] == ["case_source_registration", "filing_approval"]
    for _template, document_id in toc:
        assert _latest_pdf(w, document_id)[1].merchant_id is None


def test_a_hook_that_fails_after_the_commit_does_not_lose_the_action(world: World) -> None:
    w = world
    case_id = _open(w)

    def broken(case: str, who: Actor, transition: Any) -> None:
        raise RuntimeError("renderer crashed")

    w.ctx.after_action = broken
    transition = service.act(w.ctx, w.officer, case_id, "register", {"handling_opinion": "核查"})
    assert transition.documents == ("case_source_registration",)
    view = service.case_view(w.ctx, w.officer, case_id)
    assert view.case.state == "verifying" and view.events[-1].action == "register"
    assert [p.template for p in w.docs.pending(case_id)] == ["case_source_registration"]
