"""The case documents (立案 to 结案): each renders from its sample to a PDF/A-3b that states its
key facts (read back with pdftotext) and carries exactly its validated data; each schema rule
refuses bad data naming the field; the slots follow the form's rules (internal approvals are
signed by officers, the head or the reviewer; what is served on a party or platform has the
officer's, the unit's and a receipt slot) and are signed in order with ``sign_document``."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields

from signing.verify import Indication
from workflow.documents import (
    TEMPLATES,
    DocumentDataError,
    DocumentInputError,
    SignatureRequest,
    render_document,
    sample_data,
    sign_document,
    validate_data,
    validate_document,
)
from workflow.documents.render import rmb_upper
from workflow.documents.types import SLOT_PREFIX

from .conftest import MERCHANT_CODE, OFFICER_2_ID, OFFICER_ID, UNIT, Case, run

ORIGINAL = {
    "order_to_correct": ("officer", "unit", "party"),
    "penalty_notification": ("officer", "unit", "party"),
    "penalty_decision": ("officer", "unit", "party"),
    "service_address_confirmation": ("party", "officer"),
    "proof_of_service": ("officer", "party"),
    "evidence_extraction_record": ("officer", "officer_2", "unit"),
    "statement": ("party",),
}

#: template -> its slots, as the form's rules say.
CASE_SLOTS = {
    "case_source_registration": ("officer", "head"),
    "filing_approval": ("officer", "officer_2", "head"),
    "non_filing_approval": ("officer", "head"),
    "inquiry_notice": ("officer", "unit", "party"),
    "inquiry_record": ("officer", "officer_2", "party"),
    "evidence_preservation_notice": ("officer", "unit", "party"),
    "investigation_end_report": ("officer", "officer_2"),
    "case_review_form": ("reviewer",),
    "hearing_notice": ("officer", "unit", "party"),
    "hearing_record": ("hearing_officer", "recorder", "party"),
    "no_penalty_decision": ("officer", "unit", "party"),
    "closing_approval": ("officer", "officer_2", "head"),
    "payment_receipt": ("unit",),
    "assistance_request": ("officer", "unit", "party"),
    "takedown_request": ("officer", "unit", "party"),
}
NEW = list(CASE_SLOTS)
INTERNAL = [
    "case_source_registration",
    "filing_approval",
    "non_filing_approval",
    "investigation_end_report",
    "case_review_form",
    "closing_approval",
]
SERVED = [
    "inquiry_notice",
    "evidence_preservation_notice",
    "hearing_notice",
    "no_penalty_decision",
    "assistance_request",
    "takedown_request",
]


def _text(pdf: Path) -> str:
    """The text in content-stream order (``-raw``): a table cell's lines stay together, where
    ``-layout`` and the default order interleave cells that wrap side by side."""
    proc = run("pdftotext", "-raw", str(pdf), "-")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _flat(text: str) -> str:
    return "".join(text.split())


def _cn_date(iso: str) -> str:
    y, m, d = (int(x) for x in iso[:10].split("-"))
    return f"{y}年{m}月{d}日"


def _cites(items: list[dict[str, str]]) -> list[str]:
    return [f"《{c['rule']}》{c['article']}" for c in items]


#: What the rendered text must show, per template, beyond title, number, unit and basis.
KEY_TEXT: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "case_source_registration": lambda d: [
        d["party"]["name"],
        "举报",
        d["complainant"]["name"],
        d["shop_url"],
        _cn_date(d["received_on"]),
        d["summary"],
        d["handling_opinion"],
        d["approval"]["name"],
        d["approval"]["opinion"],
    ],
    "filing_approval": lambda d: [
        d["party"]["name"],
        d["party"]["credit_code"],
        *(o["officer_id"] for o in d["officers"]),
        *(o["name"] for o in d["officers"]),
        d["verification_facts"],
        d["list_check"]["list_name"],
        "不属于首违不罚、轻微不罚清单所列情形",
        *_cites(d["violated_provisions"]),
        d["officer_opinion"],
        d["approval"]["opinion"],
        _cn_date(d["approval"]["date"]),
    ],
    "non_filing_approval": lambda d: [
        d["party"]["name"],
        d["grounds"][0]["explanation"],
        "违法行为轻微并及时改正，没有造成危害后果",
        "是，告知不予立案及理由",
        d["complainant"]["name"],
        d["approval"]["opinion"],
    ],
    "inquiry_notice": lambda d: [
        d["party"]["name"],
        "2026年11月6日09:30:00（北京时间）",
        d["place"],
        *d["persons_to_bring"],
        *d["documents_to_bring"],
        d["contact"]["phone"],
    ],
    "inquiry_record": lambda d: [
        d["party"]["name"],
        d["person"]["name"],
        d["person"]["id_number"],
        d["person"]["role"],
        "居民身份证",
        *(o["officer_id"] for o in d["inquirers"]),
        "我们是示例市市场监督管理局的执法人员张三、王五",
        "你有权申请执法人员回避",
        *(qa["question"] for qa in d["qa"]),
        *(qa["answer"] for qa in d["qa"]),
        "以上笔录我已看过，与我说的一致",
        "2026年11月6日10:20:00（北京时间）",
    ],
    "evidence_preservation_notice": lambda d: [
        d["party"]["name"],
        *(i["name"] for i in d["items"]),
        *(i["location"] for i in d["items"]),
        "120件",
        "7个工作日内",
        "不得损毁、销毁或者转移",
        d["remedies"]["review_authority"],
        d["approved_by"],
    ],
    "investigation_end_report": lambda d: [
        d["party"]["name"],
        *(e["name"] for e in d["evidence"]),
        d["evidence"][0]["package_sha256"],
        "电子数据",
        "当事人的陈述",
        *_cites(d["violated_provisions"]),
        "从轻处罚",
        *d["discretion"]["mitigating"],
        "给予行政处罚",
        "人民币5,000.00元（伍仟元整）",
        "人民币3,200.00元（叁仟贰佰元整）",
    ],
    "case_review_form": lambda d: [
        d["party"]["name"],
        *d["opinions"].values(),
        "同意承办机构意见",
        d["reviewer"],
        _cn_date(d["reviewed_on"]),
    ],
    "hearing_notice": lambda d: [
        d["party"]["name"],
        "2026年12月10日09:30:00（北京时间）",
        d["place"],
        d["hearing_officer"],
        d["recorder"],
        "公开举行",
        *d_rights(d),
        "申请回避",
    ],
    "hearing_record": lambda d: [
        d["party"]["name"],
        *(p["name"] for p in d["participants"]),
        "委托代理人",
        "案件调查人员",
        d["investigators_case"],
        d["party_statement"],
        *(u["text"] for u in d["cross_examination"]),
        *(u["text"] for u in d["final_statements"]),
        "以上笔录我已看过，与听证情况一致",
    ],
    "no_penalty_decision": lambda d: [
        d["party"]["name"],
        "初次违法且危害后果轻微并及时改正",
        d["guidance"],
        d["correction"]["recapture"]["package_sha256"],
        d["correction"]["recapture"]["url"],
        _cn_date(d["correction"]["verified_on"]),
        "决定对当事人不予行政处罚",
        d["remedies"]["court"],
    ],
    "closing_approval": lambda d: [
        d["party"]["name"],
        d["decision"]["number"],
        "给予行政处罚",
        "人民币8,200.00元（捌仟贰佰元整）",
        _cn_date(d["execution"]["paid_on"]),
        d["publicity"]["url"],
        _cn_date(d["publicity"]["published_on"]),
        d["approval"]["opinion"],
    ],
    "payment_receipt": lambda d: [
        d["party"]["name"],
        d["payment_number"],
        d["decision"]["number"],
        "人民币5,000.00元（伍仟元整）",
        "人民币0.00元（零元整）",
        f"人民币8,200.00元（{rmb_upper('8200')}）",
        "2026年12月15日14:21:07（北京时间）",
        d["channel"],
        "电子缴款凭证",
    ],
    "assistance_request": lambda d: [
        d["platform"]["name"],
        d["platform"]["credit_code"],
        d["seller"]["name"],
        *(r["description"] for r in d["data_requested"]),
        "2026年9月1日—2026年10月31日",
        _cn_date(d["reply_deadline"]),
        d["contact"]["phone"],
    ],
    "takedown_request": lambda d: [
        d["platform"]["name"],
        d["seller"]["name"],
        *(listing["url"] for listing in d["listings"]),
        d["reason"],
        *_cites(d["violated_provisions"]),
        _cn_date(d["deadline"]),
    ],
}


def d_rights(data: dict[str, Any]) -> list[str]:
    """The hearing rights shown: the data's, or the schema's default list."""
    return list(validate_data("hearing_notice", data).rights)  # type: ignore[attr-defined]


def test_the_case_documents_are_registered_and_the_original_seven_unchanged() -> None:
    assert list(TEMPLATES)[: len(ORIGINAL)] == list(ORIGINAL)
    for key, slots in ORIGINAL.items():
        assert tuple(s.name for s in TEMPLATES[key].slots) == slots, key
    assert list(TEMPLATES)[len(ORIGINAL) :] == NEW
    for key, slots in CASE_SLOTS.items():
        doc_type = TEMPLATES[key]
        assert doc_type.template == f"{key}.html" and doc_type.description, key
        assert tuple(s.name for s in doc_type.slots) == slots, key


def test_slots_follow_the_forms_rules() -> None:
    for key in NEW:
        slots = TEMPLATES[key].slots
        # every slot is filled by a certificate kind sign_document knows
        assert all(s.kind in SLOT_PREFIX for s in slots), key
        assert len({s.name for s in slots}) == len(slots), key
        for s in slots:
            # a slot's name says who fills it: the kind's prefix, or an officer in a role
            if s.kind != "officer":
                assert s.name == SLOT_PREFIX[s.kind], (key, s)
            assert s.label_zh and s.label_en
    for key in INTERNAL:  # internal: no seal, nothing served on the party
        kinds = {s.kind for s in TEMPLATES[key].slots}
        assert kinds == {"officer"}, key
    for key in ("case_source_registration", "filing_approval", "closing_approval"):
        head = next(s for s in TEMPLATES[key].slots if s.name == "head")
        assert head.kind == "officer" and "负责人" in head.label_zh
    for key in SERVED:  # served: officer, unit seal, the receiver's receipt
        slots = TEMPLATES[key].slots
        assert [(s.name, s.kind) for s in slots] == [
            ("officer", "officer"),
            ("unit", "unit"),
            ("party", "merchant"),
        ], key
    for key in ("inquiry_record", "hearing_record"):  # the person confirms the record
        assert TEMPLATES[key].slots[-1].kind == "merchant"
    assert [(s.name, s.kind) for s in TEMPLATES["payment_receipt"].slots] == [("unit", "unit")]
    assert "平台" in TEMPLATES["assistance_request"].slots[-1].label_zh


@pytest.mark.parametrize("template", NEW)
def test_renders_pdf_a_stating_its_key_facts_with_its_data_attached(
    template: str, tmp_path: Path
) -> None:
    data = sample_data(template)
    doc_type = TEMPLATES[template]
    out = tmp_path / f"{template}.pdf"
    rendered = render_document(template, data, out)
    assert rendered.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()

    text = _flat(_text(out))
    needed = [
        doc_type.title_zh,
        data["case_number"],
        data["issuing_unit"],
        _cn_date(data["date"]),
        *_cites(data["legal_basis"]),
        *KEY_TEXT[template](data),
    ]
    for item in needed:
        assert _flat(item) in text, (template, item)
    assert doc_type.title_en not in _text(out)

    # document.json is the validated data: equal to the sample's model, value for value.
    saved = run("pdfdetach", "-save", "1", "-o", str(tmp_path / "d.json"), str(out))
    assert saved.returncode == 0, saved.stderr
    attached = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))
    assert attached["template"] == template and attached["title_zh"] == doc_type.title_zh
    assert attached["data"] == rendered.data
    assert validate_data(template, attached["data"]) == validate_data(template, data)
    for key, value in data.items():
        if key not in ("translations",) and not isinstance(value, (dict, list)):
            assert str(attached["data"][key]) == str(value) or key.endswith("_yuan"), key

    reader = PdfFileReader(io.BytesIO(out.read_bytes()))
    xmp = reader.root["/Metadata"].get_object().data.decode()
    assert re.search(r'pdfaid:part(="3"|>3<)', xmp) and re.search(
        r'pdfaid:conformance(="B"|>B<)', xmp
    )
    fields = [str(name) for name, value, _ref in enumerate_sig_fields(reader) if value is None]
    assert fields == list(CASE_SLOTS[template])

    # English: subtitle and labels added, the Chinese stays.
    en = tmp_path / f"{template}.en.pdf"
    render_document(template, data, en, english=True)
    en_text = " ".join(_text(en).split())
    assert doc_type.title_en in en_text and "Legal basis" in en_text
    assert _flat(data["case_number"]) in _flat(en_text)


def test_translations_of_list_items_are_shown_in_english(tmp_path: Path) -> None:
    data = sample_data("inquiry_record")
    render_document("inquiry_record", data, tmp_path / "en.pdf", english=True)
    render_document("inquiry_record", data, tmp_path / "zh.pdf")
    words = "never sold at 199 yuan"
    assert words in " ".join(_text(tmp_path / "en.pdf").split())
    assert words not in " ".join(_text(tmp_path / "zh.pdf").split())


# -- the rules -------------------------------------------------------------------------------

_DELETE = object()


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node: Any = data
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last: Any = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = copy.deepcopy(value)

    return change


def _all(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        for c in changes:
            c(data)

    return change


def _changed(template: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(sample_data(template))
    change(data)
    return data


ONE_OFFICER = [{"name": "张三", "officer_id": "SL-2026-0001"}]
SAME_TWICE = [{"name": "张三", "officer_id": "SL-2026-0001"}] * 2
BAD_SHA = "not-a-sha256"

BAD_DATA: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    # case number form and year (every case document)
    ("filing_approval", _set("case_number", "示市监立2026-12"), "case_number", "机关代字"),
    ("hearing_record", _set("case_number", "示市监立〔2026〕12"), "case_number", "机关代字"),
    ("filing_approval", _set("case_number", "示市监立〔1900〕1号"), "case_number", "plausible"),
    ("inquiry_notice", _set("case_number", "示市监询通〔2027〕12号"), "case_number", "after"),
    ("payment_receipt", _set("case_number", _DELETE), "case_number", "required"),
    ("takedown_request", _set("legal_basis", []), "legal_basis", "at least 1"),
    ("takedown_request", _set("date", "2026-13-01"), "date", "date"),
    # the head's approval
    ("filing_approval", _set("approval.date", "2026-10-27"), "approval.date", "before the form"),
    ("closing_approval", _set("approval.opinion", " "), "approval.opinion", "at least 1"),
    ("case_source_registration", _set("approval", _DELETE), "approval", "required"),
    # party and platform credit codes
    (
        "filing_approval",
        _set("party.credit_code", "9144030071526726XA"),
        "party.credit_code",
        "check digit",
    ),
    (
        "assistance_request",
        _set("platform.credit_code", "91330100796000000A"),
        "platform.credit_code",
        "check digit",
    ),
    ("takedown_request", _set("platform.credit_code", _DELETE), "platform.credit_code", "required"),
    # case source registration
    ("case_source_registration", _set("received_on", "2026-10-21"), "received_on", "after"),
    (
        "case_source_registration",
        _all(_set("source", "complaint"), _set("complainant", {"anonymous": True})),
        "complainant",
        "named complainant",
    ),
    ("case_source_registration", _set("complainant", _DELETE), "complainant", "needs its"),
    ("case_source_registration", _set("source", "inspection"), "complainant", "no complainant"),
    ("case_source_registration", _set("source", "transfer"), "referrer", "who sent it"),
    ("case_source_registration", _set("source", "letter"), "source", "complaint"),
    (
        "case_source_registration",
        _set("complainant", {"anonymous": True, "name": "陈某"}),
        "complainant.name",
        "anonymous",
    ),
    (
        "case_source_registration",
        _set("complainant", {"phone": "13900000000"}),
        "complainant.name",
        "give the complainant's name",
    ),
    ("case_source_registration", _set("shop_url", "shop.example.com"), "shop_url", "web address"),
    ("case_source_registration", _set("summary", "  "), "summary", "at least 1"),
    (
        "case_source_registration",
        _set("registering_officer.officer_id", _DELETE),
        "registering_officer.officer_id",
        "required",
    ),
    # filing approval
    ("filing_approval", _set("officers", ONE_OFFICER), "officers", "at least 2"),
    ("filing_approval", _set("officers", SAME_TWICE), "officers", "listed twice"),
    (
        "filing_approval",
        _set("officers.1.officer_id", _DELETE),
        "officers[1].officer_id",
        "required",
    ),
    (
        "filing_approval",
        _set("list_check.result", "first_violation"),
        "list_check.item",
        "list item",
    ),
    ("filing_approval", _set("list_check", _DELETE), "list_check", "required"),
    ("filing_approval", _set("received_on", "2026-10-29"), "received_on", "after"),
    ("filing_approval", _set("violated_provisions", []), "violated_provisions", "at least 1"),
    ("filing_approval", _set("verification_facts", ""), "verification_facts", "at least 1"),
    # non-filing approval
    ("non_filing_approval", _set("grounds", []), "grounds", "at least 1"),
    (
        "non_filing_approval",
        _set("complainant", {"anonymous": True}),
        "complainant",
        "named complainant",
    ),
    (
        "non_filing_approval",
        _set("complainant", {"name": "刘某"}),
        "complainant",
        "phone or address",
    ),
    ("non_filing_approval", _set("grounds.0.kind", "not_competent"), "transfer_to", "competent"),
    ("non_filing_approval", _set("officers", []), "officers", "at least 1"),
    ("non_filing_approval", _set("notify_complainant", _DELETE), "notify_complainant", "required"),
    # inquiry notice
    ("inquiry_notice", _set("inquiry_at", "2026-11-02T15:00:00+08:00"), "inquiry_at", "before"),
    ("inquiry_notice", _set("persons_to_bring", []), "persons_to_bring", "at least 1"),
    ("inquiry_notice", _set("documents_to_bring", []), "documents_to_bring", "at least 1"),
    ("inquiry_notice", _set("contact.phone", _DELETE), "contact.phone", "required"),
    ("inquiry_notice", _set("officers", ONE_OFFICER), "officers", "at least 2"),
    # inquiry record
    ("inquiry_record", _set("qa", []), "qa", "at least 1"),
    ("inquiry_record", _set("qa.0.answer", ""), "qa[0].answer", "at least 1"),
    ("inquiry_record", _set("ended_at", "2026-11-06T09:00:00+08:00"), "ended_at", "before"),
    ("inquiry_record", _set("date", "2026-11-07"), "date", "started on 2026-11-06"),
    (
        "inquiry_record",
        _set("person.id_number", "440106199003071232"),
        "person.id_number",
        "check digit",
    ),
    (
        "inquiry_record",
        _set("person.id_number", "440106199013071231"),
        "person.id_number",
        "birth date",
    ),
    ("inquiry_record", _set("person.id_number", "4401061990"), "person.id_number", "18 characters"),
    ("inquiry_record", _set("person.role", _DELETE), "person.role", "required"),
    ("inquiry_record", _set("inquirers", ONE_OFFICER), "inquirers", "at least 2"),
    ("inquiry_record", _set("recorder", ""), "recorder", "at least 1"),
    ("inquiry_record", _set("confirmation", ""), "confirmation", "at least 1"),
    ("inquiry_record", _set("translations", {"qa[9].answer": "x"}), "translations", "names no"),
    # evidence preservation notice
    ("evidence_preservation_notice", _set("items", []), "items", "at least 1"),
    ("evidence_preservation_notice", _set("items.0.quantity", "0"), "items[0].quantity", "greater"),
    ("evidence_preservation_notice", _set("items.1.location", ""), "items[1].location", "at least"),
    (
        "evidence_preservation_notice",
        _set("period_working_days", 8),
        "period_working_days",
        "less than or equal to 7",
    ),
    ("evidence_preservation_notice", _set("approved_on", "2026-11-07"), "approved_on", "approval"),
    (
        "evidence_preservation_notice",
        _all(_set("emergency", True), _set("approved_on", "2026-11-08")),
        "approved_on",
        "24 hours",
    ),
    ("evidence_preservation_notice", _set("remedies", _DELETE), "remedies", "required"),
    # investigation end report
    ("investigation_end_report", _set("proposed_penalty", _DELETE), "proposed_penalty", "amounts"),
    (
        "investigation_end_report",
        _all(_set("proposed_outcome", "dismissal"), _set("outcome_reasons", "事实不清")),
        "proposed_penalty",
        "no penalty is proposed",
    ),
    (
        "investigation_end_report",
        _all(
            _set("proposed_outcome", "no_penalty"),
            _set("proposed_penalty", _DELETE),
            _set("outcome_reasons", "首违且已改正"),
        ),
        "discretion",
        "does not fit",
    ),
    (
        "investigation_end_report",
        _set("discretion.mitigating", []),
        "discretion.mitigating",
        "mitigating",
    ),
    (
        "investigation_end_report",
        _set("discretion.band", "heavier"),
        "discretion.aggravating",
        "aggravating",
    ),
    ("investigation_end_report", _set("discretion", _DELETE), "discretion", "band"),
    (
        "investigation_end_report",
        _all(
            _set("proposed_outcome", "transfer"),
            _set("proposed_penalty", _DELETE),
            _set("discretion", _DELETE),
            _set("outcome_reasons", "涉嫌犯罪"),
        ),
        "transfer_to",
        "authority",
    ),
    (
        "investigation_end_report",
        _all(
            _set("proposed_outcome", "dismissal"),
            _set("proposed_penalty", _DELETE),
            _set("discretion", _DELETE),
        ),
        "outcome_reasons",
        "dismissal",
    ),
    ("investigation_end_report", _set("evidence", []), "evidence", "at least 1"),
    (
        "investigation_end_report",
        _set("evidence.0.package_sha256", BAD_SHA),
        "evidence[0].package_sha256",
        "pattern",
    ),
    ("investigation_end_report", _set("evidence.1.kind", "rumour"), "evidence[1].kind", "'"),
    (
        "investigation_end_report",
        _set("proposed_penalty.fine_yuan", "12.345"),
        "proposed_penalty.fine_yuan",
        "decimal",
    ),
    (
        "investigation_end_report",
        _set("proposed_penalty", {"warning": False}),
        "proposed_penalty",
        "at least one element",
    ),
    ("investigation_end_report", _set("filed_on", "2026-11-17"), "filed_on", "after"),
    # case review form
    ("case_review_form", _set("major_case", True), "legal_review", "legal review"),
    (
        "case_review_form",
        _all(_set("major_case", True), _set("legal_review", True)),
        "collective_discussion",
        "collective discussion",
    ),
    ("case_review_form", _set("conclusion", "amend"), "amendments", "amend"),
    ("case_review_form", _set("conclusion", "maybe"), "conclusion", "'agree'"),
    ("case_review_form", _set("reviewed_on", "2026-11-15"), "reviewed_on", "before"),
    ("case_review_form", _set("submitted_on", "2026-11-19"), "submitted_on", "after"),
    ("case_review_form", _set("opinions.procedure", _DELETE), "opinions.procedure", "required"),
    # hearing notice
    (
        "hearing_notice",
        _set("hearing_at", "2026-12-03T09:30:00+08:00"),
        "hearing_at",
        "at least 7 days",
    ),
    (
        "hearing_notice",
        _set("hearing_at", "2026-12-03T15:59:00Z"),  # 23:59 in Beijing: still the 6th day
        "hearing_at",
        "at least 7 days",
    ),
    ("hearing_notice", _set("hearing_officer", "张三"), "hearing_officer", "investigator"),
    # 办案人员不得担任听证主持人、听证员和记录员; one person, one seat; one or two members
    ("hearing_notice", _set("recorder", "王五"), "recorder", "investigator"),
    ("hearing_notice", _set("hearing_members", ["张三"]), "hearing_members[0]", "investigator"),
    ("hearing_notice", _set("recorder", "周某"), "recorder", "already the hearing_officer"),
    ("hearing_notice", _set("hearing_members", ["郑某"]), "recorder", "already"),
    ("hearing_notice", _set("hearing_members", ["甲", "乙", "丙"]), "hearing_members", "at most 2"),
    ("hearing_notice", _set("public", False), "non_public_reason", "why"),
    ("hearing_notice", _set("requested_on", "2026-11-28"), "requested_on", "after"),
    ("hearing_notice", _set("rights", []), "rights", "at least 1"),
    ("hearing_notice", _set("investigators", ONE_OFFICER), "investigators", "at least 2"),
    # hearing record
    (
        "hearing_record",
        _set(
            "participants", [{"name": "李四", "role": "party"}, {"name": "钱律师", "role": "agent"}]
        ),
        "participants",
        "investigators",
    ),
    (
        "hearing_record",
        _set(
            "participants",
            [{"name": "张三", "role": "investigator"}, {"name": "王五", "role": "investigator"}],
        ),
        "participants",
        "party or its agent",
    ),
    (
        "hearing_record",
        _set(
            "participants",
            [
                {"name": "张三", "role": "investigator"},
                {"name": "甲", "role": "agent"},
                {"name": "乙", "role": "agent"},
                {"name": "丙", "role": "agent"},
            ],
        ),
        "participants",
        "one or two agents",
    ),
    ("hearing_record", _set("recusal_requested", True), "recusal_decision", "recusal"),
    ("hearing_record", _set("cross_examination", []), "cross_examination", "at least 1"),
    ("hearing_record", _set("final_statements", []), "final_statements", "at least 1"),
    ("hearing_record", _set("hearing_officer", "王五"), "hearing_officer", "investigator"),
    ("hearing_record", _set("recorder", "张三"), "recorder", "investigator"),
    ("hearing_record", _set("hearing_members", ["周某"]), "hearing_members[0]", "already"),
    ("hearing_record", _set("ended_at", "2026-12-10T09:30:00+08:00"), "ended_at", "before"),
    ("hearing_record", _set("participants.0.role", "judge"), "participants[0].role", "'party'"),
    # no-penalty decision
    ("no_penalty_decision", _set("correction", _DELETE), "correction", "verified"),
    (
        "no_penalty_decision",
        _set("correction.verified_on", "2026-11-14"),
        "correction.verified_on",
        "after",
    ),
    (
        "no_penalty_decision",
        _set("correction.recapture.package_sha256", BAD_SHA),
        "correction.recapture.package_sha256",
        "pattern",
    ),
    ("no_penalty_decision", _set("grounds", []), "grounds", "at least 1"),
    ("no_penalty_decision", _set("grounds", ["lucky"]), "grounds[0]", "'"),
    ("no_penalty_decision", _set("guidance", _DELETE), "guidance", "required"),
    ("no_penalty_decision", _set("evidence", []), "evidence", "at least 1"),
    # closing approval
    ("closing_approval", _set("execution.paid_yuan", _DELETE), "execution.paid_yuan", "amount"),
    (
        "closing_approval",
        _set("execution", {"status": "enforcement_applied"}),
        "execution.enforcement_court",
        "court",
    ),
    ("closing_approval", _set("execution.paid_yuan", "-1"), "execution.paid_yuan", "greater"),
    ("closing_approval", _set("outcome", "no_penalty"), "execution", "nothing to execute"),
    ("closing_approval", _set("publicity", _DELETE), "publicity", "published"),
    ("closing_approval", _set("publicity.published_on", "2026-12-04"), "publicity", "before"),
    ("closing_approval", _set("publicity.url", "gsxt.gov.cn/x"), "publicity.url", "web address"),
    ("closing_approval", _set("decided_on", "2026-10-27"), "decided_on", "before the filing"),
    ("closing_approval", _set("decision", _DELETE), "decision", "decision"),
    ("closing_approval", _set("officers", ONE_OFFICER), "officers", "at least 2"),
    # payment receipt
    ("payment_receipt", _set("total_yuan", "8000.00"), "total_yuan", "not fine"),
    (
        "payment_receipt",
        _all(_set("surcharge_yuan", "5000.01"), _set("total_yuan", "13200.01")),
        "surcharge_yuan",
        "cannot exceed the fine",
    ),
    ("payment_receipt", _set("fine_yuan", "5000.001"), "fine_yuan", "decimal"),
    ("payment_receipt", _set("fine_yuan", "-5000"), "fine_yuan", "greater than or equal to 0"),
    ("payment_receipt", _set("paid_at", "2026-12-16T09:00:00+08:00"), "paid_at", "after"),
    ("payment_receipt", _set("payment_number", "缴款码 1"), "payment_number", "pattern"),
    ("payment_receipt", _set("decision.number", "第12号"), "decision.number", "机关代字"),
    # assistance request
    (
        "assistance_request",
        _set("data_requested.1.period_from", _DELETE),
        "data_requested[1].period_to",
        "start and an end",
    ),
    (
        "assistance_request",
        _all(
            _set("data_requested.1.period_from", _DELETE),
            _set("data_requested.1.period_to", _DELETE),
        ),
        "data_requested[1].period_from",
        "for a period",
    ),
    (
        "assistance_request",
        _set("data_requested.1.period_to", "2026-08-31"),
        "data_requested[1].period_to",
        "ends before",
    ),
    ("assistance_request", _set("data_requested", []), "data_requested", "at least 1"),
    ("assistance_request", _set("reply_deadline", "2026-10-29"), "reply_deadline", "not after"),
    ("assistance_request", _set("seller.name", _DELETE), "seller.name", "required"),
    # takedown request
    ("takedown_request", _set("listings", []), "listings", "at least 1"),
    (
        "takedown_request",
        _set("listings.1.url", "https://shop.example.com/item/42"),
        "listings",
        "twice",
    ),
    ("takedown_request", _set("listings.0.url", "ftp://x.example/1"), "listings[0].url", "http"),
    ("takedown_request", _set("deadline", "2026-10-28"), "deadline", "before"),
    ("takedown_request", _set("violated_provisions", []), "violated_provisions", "at least 1"),
]


@pytest.mark.parametrize(
    ("template", "change", "field", "words"),
    BAD_DATA,
    ids=[f"{t}:{f}:{i}" for i, (t, _c, f, _w) in enumerate(BAD_DATA)],
)
def test_bad_data_is_refused_naming_the_field_before_any_pdf(
    template: str, change: Any, field: str, words: str, tmp_path: Path
) -> None:
    out = tmp_path / "never.pdf"
    with pytest.raises(DocumentDataError) as caught:
        render_document(template, _changed(template, change), out)
    assert caught.value.field == field, str(caught.value)
    assert f"{field}: " in str(caught.value) and words in str(caught.value), str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_every_rule_case_is_a_real_change_of_a_valid_sample() -> None:
    """Each bad case fails because of its change: every sample is valid as shipped."""
    for template in NEW:
        validate_data(template, sample_data(template))
    assert {t for t, *_ in BAD_DATA} == set(NEW)


GOOD_DATA: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    # an informant may stay anonymous (a report, not a complaint)
    ("case_source_registration", _set("complainant", {"anonymous": True})),
    # a lead found by inspection has no complainant
    ("case_source_registration", _all(_set("source", "inspection"), _set("complainant", _DELETE))),
    # other bracket forms of the case number
    ("filing_approval", _set("case_number", "示市监立[2026]12号")),
    ("filing_approval", _set("case_number", "示市监立（2026）12号")),
    # a number from an earlier year (the case runs over the new year)
    ("closing_approval", _set("case_number", "示市监立〔2025〕99号")),
    # a passport number is not checked as a resident ID; an X check character is accepted
    ("inquiry_record", _all(_set("person.id_type", "passport"), _set("person.id_number", "E1234"))),
    ("inquiry_record", _set("person.id_number", "11010519491231002x")),
    # in an emergency, approval may follow within 24 hours
    (
        "evidence_preservation_notice",
        _all(_set("emergency", True), _set("approved_on", "2026-11-07")),
    ),
    # exactly seven days; and 00:30 Beijing time counts as that day though it is 16:30 UTC
    ("hearing_notice", _set("hearing_at", "2026-12-04T09:30:00+08:00")),
    ("hearing_notice", _set("hearing_at", "2026-12-03T16:30:00Z")),
    # not public, with the reason
    ("hearing_notice", _all(_set("public", False), _set("non_public_reason", "涉及商业秘密"))),
    # no penalty for lack of fault needs no correction check
    ("no_penalty_decision", _all(_set("grounds", ["no_fault"]), _set("correction", _DELETE))),
    # amounts in fen are exact; a surcharge equal to the fine is allowed
    (
        "payment_receipt",
        _all(_set("surcharge_yuan", "5000.00"), _set("total_yuan", "13200.00")),
    ),
    (
        "payment_receipt",
        _all(
            _set("fine_yuan", "0.10"),
            _set("confiscated_income_yuan", "0.20"),
            _set("total_yuan", "0.30"),
        ),
    ),
    # registration data needs no period
    (
        "assistance_request",
        _set("data_requested", [{"kind": "registration", "description": "主体信息"}]),
    ),
]


@pytest.mark.parametrize(("template", "change"), GOOD_DATA)
def test_what_the_rules_allow_is_accepted(template: str, change: Any) -> None:
    validate_data(template, _changed(template, change))


def test_money_is_decimal_yuan_with_fen_exact() -> None:
    from decimal import Decimal

    model: Any = validate_data("payment_receipt", sample_data("payment_receipt"))
    assert model.total_yuan == Decimal("8200.00") and isinstance(model.fine_yuan, Decimal)
    dumped = model.model_dump(mode="json")
    assert dumped["total_yuan"] == "8200.00"  # a string in JSON: no float rounding


def test_the_inquiry_identity_statement_is_made_from_the_data_and_kept() -> None:
    model: Any = validate_data("inquiry_record", sample_data("inquiry_record"))
    assert model.identity_statement.startswith("我们是示例市市场监督管理局的执法人员张三、王五，")
    dumped = model.model_dump(mode="json")
    assert dumped["identity_statement"] == model.identity_statement
    # the words said, when written out, are kept as written
    data = sample_data("inquiry_record")
    data["identity_statement"] = "我们是示例市市场监督管理局执法人员，已出示证件。"
    again: Any = validate_data("inquiry_record", data)
    assert again.identity_statement == data["identity_statement"]


# -- signing -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def head(slot_signers: dict[str, str]) -> str:
    """The head of unit's badge number (an officer certificate: certs has no head kind)."""
    return slot_signers["head"]


def _render(tmp: Path, template: str) -> Path:
    out = tmp / f"{template}.pdf"
    render_document(template, sample_data(template), out)
    return out


def test_filing_approval_signed_by_both_officers_then_the_head(
    case: Case, head: str, tmp_path: Path
) -> None:
    """Officers' certificates fill the officer slots by themselves; the head's slot is filled
    only when named, so an officer can never take it by accident."""
    current = _render(tmp_path, "filing_approval")
    for i, (signer, expected) in enumerate(((OFFICER_ID, "officer"), (OFFICER_2_ID, "officer_2"))):
        out = tmp_path / f"{expected}.pdf"
        signed = sign_document(
            case.pki,
            current,
            out,
            SignatureRequest(signer, certify=i == 0, reason="承办人意见"),
            timestampers=case.timestampers,
        )
        assert signed.field_name == expected
        current = out
    with pytest.raises(DocumentInputError, match="certified"):
        sign_document(
            case.pki,
            current,
            tmp_path / "never.pdf",
            SignatureRequest(OFFICER_ID),
            timestampers=case.timestampers,
        )
    assert not (tmp_path / "never.pdf").exists()
    final = tmp_path / "approved.pdf"
    signed = sign_document(
        case.pki,
        current,
        final,
        SignatureRequest(head, field_name="head", reason="负责人审批"),
        timestampers=case.timestampers,
    )
    assert signed.field_name == "head" and "赵局长" in signed.signer_subject
    report = validate_document(final, case.bundle.read_bytes())
    assert report.indication is Indication.TOTAL_PASSED, report.reason.en
    assert [s.field_name for s in report.signatures] == ["officer", "officer_2", "head"]
    assert {s.pades_level for s in report.signatures} == {"B-LTA"}
    subjects = [s.signer["subject"] for s in report.signatures if s.signer]
    assert "张三" in subjects[0] and "王五" in subjects[1] and "赵局长" in subjects[2]


def test_inquiry_record_confirmed_by_the_person_in_the_portal(case: Case, tmp_path: Path) -> None:
    """Both inquirers sign, then the party's certificate goes to the ``party`` slot by itself,
    with the portal's audit trail naming the document it saw."""
    current = _render(tmp_path, "inquiry_record")
    for i, signer in enumerate((OFFICER_ID, OFFICER_2_ID)):
        out = tmp_path / f"{i}.pdf"
        sign_document(
            case.pki,
            current,
            out,
            SignatureRequest(signer, certify=i == 0, reason="询问人"),
            timestampers=case.timestampers,
        )
        current = out
    seen = hashlib.sha256(current.read_bytes()).hexdigest()
    audit = {"account": f"m-{MERCHANT_CODE}", "auth_method": "password", "ip": "203.0.113.9"}
    final = tmp_path / "confirmed.pdf"
    signed = sign_document(
        case.pki,
        current,
        final,
        SignatureRequest(MERCHANT_CODE, reason="以上笔录我已看过，与我说的一致", audit=audit),
        timestampers=case.timestampers,
    )
    assert signed.field_name == "party"
    report = validate_document(final, case.bundle.read_bytes())
    assert report.indication is Indication.TOTAL_PASSED, report.reason.en
    assert [s.field_name for s in report.signatures] == ["officer", "officer_2", "party"]
    party = report.signatures[-1]
    assert party.audit is not None and party.audit["document_sha256"] == seen
    assert party.stated_reason == "以上笔录我已看过，与我说的一致"


def test_payment_receipt_carries_the_unit_seal_only(case: Case, tmp_path: Path) -> None:
    out = tmp_path / "sealed.pdf"
    signed = sign_document(
        case.pki,
        _render(tmp_path, "payment_receipt"),
        out,
        SignatureRequest(UNIT, certify=True, level="b-t"),
        timestampers=case.timestampers,
    )
    assert signed.field_name == "unit"
    report = validate_document(out, case.bundle.read_bytes())
    assert report.indication is Indication.TOTAL_PASSED, report.reason.en
    assert [s.field_name for s in report.signatures] == ["unit"]
