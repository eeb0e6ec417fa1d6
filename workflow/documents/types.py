"""The document types (文书) the service renders, and the errors their data can raise.

Each :class:`DocumentType` names its pydantic schema, its Jinja2 template and its signature
slots. A slot is an empty signature field the rendered PDF carries from the start, placed
where the template draws it: the first signer may then *certify* the document (DocMDP, form
filling and signing allowed) and every later signer fills a slot that already exists. pyHanko
(stricter than Acrobat) treats a *new* visible signature field after a certification signature
as a forbidden change; filling an existing one is form filling.

Slot names say who signs them: ``officer`` (``officer_2``...) an officer's certificate,
``unit`` the unit's seal, ``party`` the merchant's acknowledgement; ``sign_document`` picks
the first empty slot of the signer's kind when no field name is given.

Internal forms are signed by people who hold officer certificates in other roles: ``head``
(the head of unit approving), ``reviewer`` (the legal reviewer), ``hearing_officer`` and
``recorder`` (a hearing). Their slots are of the ``officer`` kind -- the certificate that
fills them -- under a name of their own, so that ``sign_document`` never puts an officer's
signature there by itself: these slots are filled only when named (``field_name``). Forms
served on no one (approvals, reports) have no ``unit`` or ``party`` slot; the records a
person confirms (inquiry, hearing) and the letters to a platform have a ``party`` slot for
the person's or platform's signature in the portal (a merchant certificate).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from . import schemas

__all__ = [
    "SLOT_PREFIX",
    "TEMPLATES",
    "DocumentDataError",
    "DocumentType",
    "SignatureSlot",
    "UnknownTemplateError",
    "validate_data",
]

SlotKind = Literal["officer", "unit", "merchant"]
#: Field-name prefix of the slots each certificate kind fills.
SLOT_PREFIX: dict[str, str] = {"officer": "officer", "unit": "unit", "merchant": "party"}


@dataclass(frozen=True)
class SignatureSlot:
    name: str
    kind: SlotKind
    label_zh: str
    label_en: str


@dataclass(frozen=True)
class DocumentType:
    key: str
    title_zh: str
    title_en: str
    schema: type[BaseModel]
    template: str = ""
    slots: tuple[SignatureSlot, ...] = field(default=())
    description: str = ""


class UnknownTemplateError(KeyError):
    """No document type by that name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown template"


class DocumentDataError(ValueError):
    """The data for a document is missing something or wrong; ``field`` names the first
    field at fault (dotted path, list items as ``[i]``), ``errors`` all of them."""

    def __init__(self, field: str, message: str, errors: list[tuple[str, str]] | None = None):
        self.field = field
        self.errors = errors if errors is not None else [(field, message)]
        super().__init__(message)


def _slot(name: str, kind: SlotKind, zh: str, en: str) -> SignatureSlot:
    return SignatureSlot(name, kind, zh, en)


_OFFICER = _slot("officer", "officer", "承办人（签名）", "Officer in charge (signature)")
_UNIT = _slot("unit", "unit", "行政机关（印章）", "Issuing authority (seal)")
_PARTY = _slot("party", "merchant", "当事人签收", "Received by the party")

# -- the case documents (立案 to 结案) ---------------------------------------------------------

_OFFICER_2 = _slot("officer_2", "officer", "承办人（签名）", "Officer in charge (signature)")
_HEAD = _slot("head", "officer", "负责人（签名）", "Head of unit (signature)")
_NOTICE = (_OFFICER, _UNIT, _PARTY)  # served on the party: officer, unit seal, receipt
_PLATFORM = _slot("party", "merchant", "平台经营者签收", "Received by the platform operator")

_CASE_TYPES = [
    DocumentType(
        "case_source_registration",
        "案件来源登记表",
        "Case Source Registration",
        schemas.CaseSourceRegistration,
        "case_source_registration.html",
        (_slot("officer", "officer", "登记人（签名）", "Registered by (signature)"), _HEAD),
        "A lead as received (complaint, report, inspection, transfer, platform) and how the "
        "officer proposes to handle it; internal.",
    ),
    DocumentType(
        "filing_approval",
        "立案审批表",
        "Case Filing Approval",
        schemas.FilingApproval,
        "filing_approval.html",
        (_OFFICER, _OFFICER_2, _HEAD),
        "Verification findings, the no-penalty list check, two handling officers and the "
        "head's decision to file; internal.",
    ),
    DocumentType(
        "non_filing_approval",
        "不予立案审批表",
        "Approval Not to File a Case",
        schemas.NonFilingApproval,
        "non_filing_approval.html",
        (_OFFICER, _HEAD),
        "Why a lead is not filed, whether the complainant is told, the head's approval; internal.",
    ),
    DocumentType(
        "inquiry_notice",
        "询问通知书",
        "Notice of Inquiry",
        schemas.InquiryNotice,
        "inquiry_notice.html",
        _NOTICE,
        "Asks the party to come for an inquiry: time, place, who and what to bring.",
    ),
    DocumentType(
        "inquiry_record",
        "询问笔录",
        "Record of Inquiry",
        schemas.InquiryRecord,
        "inquiry_record.html",
        (
            _slot("officer", "officer", "询问人（签名）", "Inquirer (signature)"),
            _slot("officer_2", "officer", "询问人（签名）", "Inquirer (signature)"),
            _slot("party", "merchant", "被询问人（签名）", "Person inquired (signature)"),
        ),
        "The inquiry as it went: identity and rights stated, questions and answers, the "
        "person's confirmation; the party reads and signs it in the portal.",
    ),
    DocumentType(
        "evidence_preservation_notice",
        "先行登记保存证据通知书",
        "Notice of Registration and Preservation of Evidence",
        schemas.EvidencePreservationNotice,
        "evidence_preservation_notice.html",
        _NOTICE,
        "Evidence registered and preserved in advance: the items, where they are kept, the "
        "period for a decision, the party's duties and remedies.",
    ),
    DocumentType(
        "investigation_end_report",
        "案件调查终结报告",
        "Investigation Final Report",
        schemas.InvestigationEndReport,
        "investigation_end_report.html",
        (_OFFICER, _OFFICER_2),
        "Facts, evidence list, legal basis, discretion and the proposed outcome; internal.",
    ),
    DocumentType(
        "case_review_form",
        "案件审核表",
        "Case Review Form",
        schemas.CaseReviewForm,
        "case_review_form.html",
        (_slot("reviewer", "officer", "审核人（签名）", "Reviewer (signature)"),),
        "The reviewer's opinion on facts, evidence, procedure, basis and discretion; legal "
        "review and collective discussion for a major case; internal.",
    ),
    DocumentType(
        "hearing_notice",
        "听证通知书",
        "Notice of Hearing",
        schemas.HearingNotice,
        "hearing_notice.html",
        _NOTICE,
        "When and where the hearing is held (at least seven days after the notice), who "
        "presides, the party's rights.",
    ),
    DocumentType(
        "hearing_record",
        "听证笔录",
        "Record of Hearing",
        schemas.HearingRecord,
        "hearing_record.html",
        (
            _slot(
                "hearing_officer", "officer", "听证主持人（签名）", "Hearing officer (signature)"
            ),
            _slot("recorder", "officer", "记录员（签名）", "Recorder (signature)"),
            _slot("party", "merchant", "当事人（签名）", "Party (signature)"),
        ),
        "The hearing: participants, the investigators' case, the party's statement and "
        "defence, cross-examination and final statements.",
    ),
    DocumentType(
        "no_penalty_decision",
        "不予行政处罚决定书",
        "Decision Not to Impose an Administrative Penalty",
        schemas.NoPenaltyDecision,
        "no_penalty_decision.html",
        _NOTICE,
        "No penalty: facts, grounds, basis, the guidance given and the correction verified.",
    ),
    DocumentType(
        "closing_approval",
        "结案审批表",
        "Case Closing Approval",
        schemas.ClosingApproval,
        "closing_approval.html",
        (_OFFICER, _OFFICER_2, _HEAD),
        "Outcome, execution and publicity of the case, and the head's approval to close; internal.",
    ),
    DocumentType(
        "payment_receipt",
        "罚没款收据",
        "Receipt for Fines and Confiscated Money",
        schemas.PaymentReceipt,
        "payment_receipt.html",
        (_slot("unit", "unit", "收款单位（印章）", "Collecting authority (seal)"),),
        "The electronic payment voucher for a decision: fine, surcharge, total, when and how paid.",
    ),
    DocumentType(
        "assistance_request",
        "协助调查函",
        "Request for Assistance in an Investigation",
        schemas.AssistanceRequest,
        "assistance_request.html",
        (_OFFICER, _UNIT, _PLATFORM),
        "Asks an online trading platform for a seller's registration data, order records and "
        "other data, by a deadline.",
    ),
    DocumentType(
        "takedown_request",
        "协助下架通知书",
        "Request to Take Down Listings",
        schemas.TakedownRequest,
        "takedown_request.html",
        (_OFFICER, _UNIT, _PLATFORM),
        "Asks an online trading platform to take listings down (删除链接) by a deadline.",
    ),
]

_TYPES = [
    DocumentType(
        "order_to_correct",
        "责令改正通知书",
        "Order to Correct",
        schemas.OrderToCorrect,
        "order_to_correct.html",
        (_OFFICER, _UNIT, _PARTY),
        "Orders the party to correct a violation by a deadline.",
    ),
    DocumentType(
        "penalty_notification",
        "行政处罚告知书",
        "Notice of Proposed Administrative Penalty",
        schemas.PenaltyNotification,
        "penalty_notification.html",
        (_OFFICER, _UNIT, _PARTY),
        "Prior notification: facts, grounds, basis, proposed penalty, rights of the party.",
    ),
    DocumentType(
        "penalty_decision",
        "行政处罚决定书",
        "Administrative Penalty Decision",
        schemas.PenaltyDecision,
        "penalty_decision.html",
        (_OFFICER, _UNIT, _PARTY),
        "The penalty decision, with payment and remedies.",
    ),
    DocumentType(
        "service_address_confirmation",
        "送达地址确认书",
        "Confirmation of Address for Service",
        schemas.ServiceAddressConfirmation,
        "service_address_confirmation.html",
        (
            _slot("party", "merchant", "受送达人（签名或盖章）", "Addressee (signature or seal)"),
            _slot("officer", "officer", "执法人员", "Enforcement officer"),
        ),
        "Where and how the party accepts service, including electronic service.",
    ),
    DocumentType(
        "proof_of_service",
        "送达回证",
        "Proof of Service",
        schemas.ProofOfService,
        "proof_of_service.html",
        (
            _slot("officer", "officer", "送达人", "Served by"),
            _slot("party", "merchant", "受送达人签收", "Received by the addressee"),
        ),
        "Records that documents were served, how and when.",
    ),
    DocumentType(
        "evidence_extraction_record",
        "电子数据证据提取笔录",
        "Record of Electronic Data Evidence Extraction",
        schemas.EvidenceExtractionRecord,
        "evidence_extraction_record.html",
        (
            _slot("officer", "officer", "执法人员（签名）", "Officer (signature)"),
            _slot("officer_2", "officer", "执法人员（签名）", "Officer (signature)"),
            _UNIT,
        ),
        "What was extracted from a web page, when, how and with which hashes (from a sealed "
        "capture package).",
    ),
    DocumentType(
        "statement",
        "陈述申辩书",
        "Written Statement and Defence",
        schemas.Statement,
        "statement.html",
        (
            _slot(
                "party", "merchant", "陈述申辩人（签名或盖章）", "Submitted by (signature or seal)"
            ),
        ),
        "The party's written statement and defence, with the hashes of its attachments.",
    ),
    *_CASE_TYPES,
]

TEMPLATES: Mapping[str, DocumentType] = {t.key: t for t in _TYPES}


def document_type(template: str) -> DocumentType:
    try:
        return TEMPLATES[template]
    except KeyError:
        raise UnknownTemplateError(
            f"unknown document template {template!r}; one of {', '.join(TEMPLATES)}"
        ) from None


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _field_of(schema: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class at ``loc`` (to tell whether ``name:`` in a message is its field)."""
    node: Any = schema
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(node, type) and issubclass(node, BaseModel)):
            return None
        info = node.model_fields.get(str(part))
        if info is None:
            return None
        node = _model_in(info.annotation)
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None


def _model_in(annotation: Any) -> Any:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _errors(schema: type[BaseModel], exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        msg = str(err.get("msg", "invalid"))
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix) :]
        # A model-level check names its field as "name: ..." or "name[i]: ..." (see schemas).
        head, sep, rest = msg.partition(": ")
        model = _field_of(schema, loc) if sep else None
        item = re.fullmatch(r"(\w+)\[(\d+)\]", head)
        if model is not None and head in model.model_fields:
            loc, msg = (*loc, head), rest
        elif model is not None and item and item[1] in model.model_fields:
            loc, msg = (*loc, item[1], int(item[2])), rest
        if err.get("type") == "missing":
            msg = "is required"
        elif err.get("type") == "extra_forbidden":
            msg = "is not a field of this document (misspelt?)"
        out.append((_path(loc) or "(document)", msg))
    return out


def validate_data(template: str, data: Mapping[str, Any] | BaseModel) -> BaseModel:
    """``data`` checked against ``template``'s schema; raises :class:`DocumentDataError`
    (message ``"party.credit_code: check digit is wrong ..."``) or
    :class:`UnknownTemplateError`."""
    doc_type = document_type(template)
    if isinstance(data, doc_type.schema):
        return data
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    if not isinstance(data, Mapping):
        raise DocumentDataError(
            "(document)",
            f"the data for {template} must be a JSON object, not {type(data).__name__}",
        )
    try:
        return doc_type.schema.model_validate(dict(data))
    except ValidationError as exc:
        errors = _errors(doc_type.schema, exc)
        text = "; ".join(f"{f}: {m}" for f, m in errors)
        raise DocumentDataError(
            errors[0][0], f"invalid data for {template} ({doc_type.title_zh}): {text}", errors
        ) from None
