"""What each document (文书) must state, as pydantic models: checked before any PDF is made.

Why strict models: a notice or decision served on a party cannot be corrected by editing the
PDF afterwards (it is signed), so every mistake a machine can catch is caught here and named
by its field (``party.credit_code``, ``legal_basis[0].article``): unknown fields are refused
(a typo must not silently drop a fact), the unified social credit code is checked with its
GB 32100-2015 check character (``certs.subjects.check_credit_code``), dates must be in order,
money is a decimal with at most two places.

Rules are cited by name and the article numbers are data (``LegalCitation``): article numbers
move between amendments, and legal staff correct data, not code. Every document carries the
case number, the issuing unit, its date and at least one legal basis (``DocumentBase``).

``translations`` maps a free-text field path (``facts``, ``penalty.other``) to its English
rendering, shown when a document is rendered with ``english=True``; the Chinese text is always
the authoritative one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from certs.errors import SubjectError
from certs.subjects import check_credit_code

__all__ = [
    "AssistanceRequest",
    "AttachmentRef",
    "CaptureFacts",
    "CaseDocumentBase",
    "CaseNumber",
    "CaseReviewForm",
    "CaseSourceRegistration",
    "ClosingApproval",
    "Complainant",
    "CorrectionCheck",
    "DataRequest",
    "Discretion",
    "DocumentBase",
    "DocumentRef",
    "ElectronicService",
    "EvidenceExtractionRecord",
    "EvidenceItem",
    "EvidencePreservationNotice",
    "Execution",
    "FilingApproval",
    "HeadApproval",
    "HearingNotice",
    "HearingParticipant",
    "HearingRecord",
    "InquiredPerson",
    "InquiryNotice",
    "InquiryRecord",
    "InvestigationEndReport",
    "LegalCitation",
    "Listing",
    "NoPenaltyDecision",
    "NoPenaltyListCheck",
    "NonFilingApproval",
    "NonFilingGround",
    "NumberedRef",
    "Officer",
    "OrderToCorrect",
    "Party",
    "Payment",
    "PaymentReceipt",
    "Penalty",
    "PenaltyDecision",
    "PenaltyNotification",
    "PlatformOperator",
    "PreservedItem",
    "ProofOfService",
    "Publicity",
    "QuestionAnswer",
    "RecaptureRef",
    "Recipient",
    "Remedies",
    "RequiredContact",
    "ReviewOpinions",
    "ServedDocument",
    "ServiceAddressConfirmation",
    "Statement",
    "TakedownRequest",
    "Utterance",
    "WebUrl",
    "check_resident_id",
]

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
Hex64 = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[0-9a-f]{64}$")
]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e12"), decimal_places=2)]


def _credit_code(value: str) -> str:
    try:
        return check_credit_code(value)
    except SubjectError as exc:
        raise ValueError(_credit_code_message(value, exc)) from None


def _credit_code_message(value: str, exc: SubjectError) -> str:
    text = str(exc)
    if "check character" in text:
        return "check digit is wrong (GB 32100-2015): a character was probably mistyped"
    return text


CreditCode = Annotated[str, AfterValidator(_credit_code)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class LegalCitation(_Model):
    """A rule cited by name, with the article number kept as data (法律依据)."""

    rule: Short = Field(description="Name of the law or rule, e.g. 中华人民共和国行政处罚法")
    article: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)
    ] = Field(description="Article (and paragraph/item), e.g. 第四十四条")
    text: LongText | None = Field(None, description="The text of the provision, if quoted")

    def cite(self) -> str:
        rule = self.rule if self.rule.startswith("《") else f"《{self.rule}》"
        return f"{rule}{self.article}"


class Party(_Model):
    """The party (当事人): an organisation with its unified social credit code, or a person."""

    kind: Literal["organization", "individual"] = "organization"
    name: Name
    credit_code: CreditCode | None = Field(
        None,
        description="Unified social credit code (统一社会信用代码); required for organisations",
    )
    legal_representative: Name | None = None
    address: Short | None = None
    shop_name: Short | None = Field(None, description="Online shop name (网店名称)")
    shop_url: Short | None = Field(None, description="Online shop address (网址)")
    platform: Short | None = Field(None, description="E-commerce platform (平台)")

    @model_validator(mode="after")
    def _organization_code(self) -> Party:
        if self.kind == "organization" and not self.credit_code:
            raise ValueError(
                "credit_code: an organisation party needs its unified social credit code"
            )
        return self


class Officer(_Model):
    """An enforcement officer (执法人员) and the number of their enforcement credential."""

    name: Name
    officer_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ] = Field(description="Enforcement credential number (执法证号)")


class DocumentBase(_Model):
    """What every document states: case number, issuing unit, date, legal basis."""

    case_number: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)
    ] = Field(description="Case or document number (案号/文号), e.g. 示市监处罚〔2026〕12号")
    issuing_unit: Name = Field(
        description="Issuing unit (or the unit addressed), 示例市市场监督管理局"
    )
    date: dt.date = Field(description="Date of the document (YYYY-MM-DD)")
    legal_basis: list[LegalCitation] = Field(min_length=1, description="Legal basis cited")
    translations: dict[str, LongText] = Field(
        default_factory=dict,
        description="English renderings of free-text fields, by field path (english=True)",
    )

    @model_validator(mode="after")
    def _translations_name_text_fields(self) -> DocumentBase:
        for path in self.translations:
            value = _lookup(self, path)
            if not isinstance(value, str):
                raise ValueError(f"translations: {path!r} names no text given in this document")
        return self


_PATH_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")


def _lookup(model: BaseModel, path: str) -> Any:
    node: Any = model
    for part in path.split("."):
        m = _PATH_PART.match(part)
        if (
            m is None
            or not isinstance(node, BaseModel)
            or m.group(1) not in type(node).model_fields
        ):
            return None
        node = getattr(node, m.group(1))
        if m.group(2) is not None:
            if not isinstance(node, list) or int(m.group(2)) >= len(node):
                return None
            node = node[int(m.group(2))]
    return node


def _two_officers(officers: list[Officer]) -> list[Officer]:
    ids = [o.officer_id for o in officers]
    if len(set(ids)) != len(ids):
        raise ValueError("the same officer is listed twice")
    return officers


TwoOfficers = Annotated[
    list[Officer],
    Field(min_length=2, description="At least two enforcement officers"),
    AfterValidator(_two_officers),
]


class Penalty(_Model):
    """The penalty proposed or decided (at least one element)."""

    warning: bool = False
    fine_yuan: Money | None = Field(None, description="Fine in yuan (罚款)")
    confiscated_income_yuan: Money | None = Field(None, description="Illegal income confiscated")
    confiscated_items: Short | None = Field(None, description="Illegal goods/tools confiscated")
    other: LongText | None = None

    @model_validator(mode="after")
    def _something(self) -> Penalty:
        if not (
            self.warning
            or self.fine_yuan
            or self.confiscated_income_yuan
            or self.confiscated_items
            or self.other
        ):
            raise ValueError("a penalty needs at least one element (warning, fine, ...)")
        return self


class Contact(_Model):
    address: Short | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    person: Name | None = None


class OrderToCorrect(DocumentBase):
    """责令改正通知书: the party is ordered to correct a violation by a deadline."""

    party: Party
    facts: LongText = Field(description="The facts found (违法事实)")
    violated_provisions: list[LegalCitation] = Field(min_length=1)
    correction: LongText = Field(description="What must be corrected, and how (改正要求)")
    deadline: dt.date = Field(description="Correct by this date (改正期限)")
    officers: TwoOfficers
    contact: Contact | None = None

    @model_validator(mode="after")
    def _deadline(self) -> OrderToCorrect:
        if self.deadline < self.date:
            raise ValueError("deadline: the correction deadline is before the document's date")
        return self


class PenaltyNotification(DocumentBase):
    """行政处罚告知书: facts, grounds, basis, proposed penalty, the party's rights."""

    party: Party
    facts: LongText
    evidence: list[Short] = Field(min_length=1, description="Evidence relied on (证据)")
    violated_provisions: list[LegalCitation] = Field(min_length=1)
    proposed_penalty: Penalty
    statement_days: int = Field(5, ge=1, le=30, description="Working days to state or defend")
    hearing_right: bool = Field(False, description="The party may ask for a hearing (听证)")
    hearing_days: int = Field(5, ge=1, le=30)
    officers: TwoOfficers
    contact: Contact | None = None


class Payment(_Model):
    deadline_days: int = Field(15, ge=1, le=90, description="Days from service to pay")
    channel: Short = Field(description="Where to pay (缴款渠道)")
    account: Short | None = None
    surcharge_percent_per_day: Decimal = Field(Decimal(3), ge=0, le=3)


class Remedies(_Model):
    review_authority: Name = Field(description="Administrative review body (复议机关)")
    court: Name = Field(description="Court for administrative litigation (人民法院)")
    review_days: int = Field(60, ge=1)
    litigation_months: int = Field(6, ge=1)


class PenaltyDecision(DocumentBase):
    """行政处罚决定书."""

    party: Party
    facts: LongText
    evidence: list[Short] = Field(min_length=1)
    statement_summary: LongText | None = Field(
        None, description="The party's statement/defence and how it was considered"
    )
    hearing_held: bool = False
    discretion: LongText | None = Field(None, description="Reasons for the penalty's measure")
    violated_provisions: list[LegalCitation] = Field(min_length=1)
    penalty: Penalty
    payment: Payment | None = None
    remedies: Remedies

    @model_validator(mode="after")
    def _payment_for_money(self) -> PenaltyDecision:
        if (self.penalty.fine_yuan or self.penalty.confiscated_income_yuan) and not self.payment:
            raise ValueError(
                "payment: a decision with a fine or confiscation needs payment details"
            )
        return self


class Recipient(_Model):
    name: Name
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=40)]
    address: Short
    postal_code: Annotated[str, StringConstraints(pattern=r"^\d{6}$")] | None = None


class ElectronicService(_Model):
    consent: bool = Field(description="The party consents to electronic service (电子送达)")
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    mobile: Annotated[str, StringConstraints(pattern=r"^\+?\d[\d -]{5,20}$")] | None = None
    portal_account: Short | None = Field(None, description="Account on the service portal")

    @model_validator(mode="after")
    def _a_channel(self) -> ElectronicService:
        if self.consent and not (self.email or self.mobile or self.portal_account):
            raise ValueError(
                "email: consent to electronic service needs an address (email, mobile or "
                "portal_account)"
            )
        return self


class ServiceAddressConfirmation(DocumentBase):
    """送达地址确认书: where and how the party accepts service of documents."""

    party: Party
    recipient: Recipient
    electronic_service: ElectronicService
    notes: LongText | None = None


class ServedDocument(_Model):
    title: Short
    number: Short | None = Field(None, description="Document number (文号)")
    pages: int | None = Field(None, ge=1)


class ProofOfService(DocumentBase):
    """送达回证."""

    party: Party
    documents: list[ServedDocument] = Field(min_length=1)
    method: Literal["direct", "electronic", "postal", "public_notice", "left_at_address"]
    served_at: dt.datetime
    place: Short | None = None
    electronic_address: Short | None = None
    servers: list[Officer] = Field(min_length=1, description="Officers who served (送达人)")
    receiver_name: Name | None = Field(None, description="Who received it (签收人)")
    remarks: LongText | None = None

    @model_validator(mode="after")
    def _electronic(self) -> ProofOfService:
        if self.method == "electronic" and not self.electronic_address:
            raise ValueError("electronic_address: electronic service needs the address used")
        return self


class CaptureFacts(_Model):
    """The sealed capture the record is about (from its package; see ``capture_facts``)."""

    package_id: Short = Field(description="Capture/package id")
    requested_url: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    final_url: Annotated[str, StringConstraints(min_length=1, max_length=4000)] | None = None
    title: Annotated[str, StringConstraints(max_length=1000)] | None = None
    http_status: int | None = None
    capture_started: dt.datetime
    capture_ended: dt.datetime
    trusted_time: dt.datetime = Field(description="genTime of the manifest's time-stamp")
    tsa: Short
    tsa_serial: Short
    manifest_sha256: Hex64
    package_sha256: Hex64
    package_size: int = Field(ge=1)
    package_name: Short | None = None
    files: dict[str, Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]] = Field(
        min_length=1
    )

    @model_validator(mode="after")
    def _times(self) -> CaptureFacts:
        if self.capture_ended < self.capture_started:
            raise ValueError("capture_ended: the capture ends before it starts")
        return self


class EvidenceExtractionRecord(DocumentBase):
    """电子数据证据提取笔录: what was extracted, when, how, with which hashes."""

    party: Party | None = None
    capture: CaptureFacts
    method: LongText = Field(
        "使用电子证据固定系统在全新浏览器环境中访问目标网页，记录全部网络交互（WARC 1.1），"
        "生成截图、页面 PDF 与取证环境记录，计算每个文件的 SHA-256 值，由可信时间戳服务加盖"
        "时间戳并封装为签名证据包（WACZ）。",
        description="How the data was extracted",
    )
    place: Short = Field(description="Where the extraction was done (提取地点)")
    officers: TwoOfficers
    witness: Name | None = None
    remarks: LongText | None = None


class DocumentRef(_Model):
    title: Short
    number: Short | None = None


class AttachmentRef(_Model):
    name: Short
    sha256: Hex64
    size: int | None = Field(None, ge=0)


class Statement(DocumentBase):
    """陈述申辩书: the party's written statement and defence, with its attachments' hashes."""

    party: Party
    responds_to: DocumentRef
    statement: LongText
    requests_hearing: bool = False
    attachments: list[AttachmentRef] = Field(default_factory=list)
    submitted_at: dt.datetime

    @field_validator("attachments")
    @classmethod
    def _unique_names(cls, value: list[AttachmentRef]) -> list[AttachmentRef]:
        names = [a.name for a in value]
        if len(set(names)) != len(names):
            raise ValueError("two attachments have the same name")
        return value


# == The case documents (立案 to 结案) ========================================================
#
# Why these share ``CaseDocumentBase``: from the case-source registration on, each document is
# filed under a number in the official form 机关代字〔年份〕序号号, and a number whose year is
# after the document's own date is a typo that would follow the case into court. The seven
# documents above keep their looser number (their data is already in use).
#
# Cross-field checks that need the document's date are field validators reading
# ``info.data`` (the fields validated before them): that way the error names the exact field
# (``approval.date``, ``correction.verified_on``) with the ``"name: ..."`` convention.

_CASE_NUMBER = re.compile(
    r"^(?P<code>[^\s〔〕\[\]（）()]{1,40})"  # the issuing unit's code, 机关代字
    r"[〔\[（(](?P<year>\d{4})[〕\]）)]"  # 〔year〕
    r"(?P<seq>\d{1,6})号$"
)


def _case_number(value: str) -> str:
    m = _CASE_NUMBER.match(value)
    if m is None:
        raise ValueError(
            "not a case number of the form 机关代字〔年份〕序号号, e.g. 示市监立〔2026〕12号 "
            "(brackets 〔〕, the year in four digits, the number, then 号)"
        )
    if not 1990 <= int(m.group("year")) <= 2200:
        raise ValueError(f"the year {m.group('year')} in the case number is not plausible")
    return value


CaseNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
    AfterValidator(_case_number),
]


def _web_url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        raise ValueError("not a web address: give the full address, starting http:// or https://")
    return value


WebUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=4000),
    AfterValidator(_web_url),
]


def _local_date(value: dt.datetime) -> dt.date:
    """The Beijing calendar date of ``value`` (naive values are Beijing time, as rendered)."""
    beijing = dt.timezone(dt.timedelta(hours=8))
    if value.tzinfo is None:
        return value.date()
    return value.astimezone(beijing).date()


def _doc_date(info: ValidationInfo) -> dt.date | None:
    value = info.data.get("date")
    return value if isinstance(value, dt.date) else None


class CaseDocumentBase(DocumentBase):
    """A case document: ``DocumentBase`` with the case number's form checked."""

    case_number: CaseNumber = Field(
        description="Case or document number (案号/文号), 机关代字〔年份〕序号号, "
        "e.g. 示市监立〔2026〕12号"
    )

    @model_validator(mode="after")
    def _number_not_from_the_future(self) -> CaseDocumentBase:
        m = _CASE_NUMBER.match(self.case_number)
        if m is not None and int(m.group("year")) > self.date.year:
            raise ValueError(
                f"case_number: the number's year {m.group('year')} is after the document's "
                f"date ({self.date.isoformat()})"
            )
        return self


class HeadApproval(_Model):
    """The head of unit's approval (负责人审批意见) on an internal form."""

    name: Name = Field(description="Head of unit (负责人) who approves")
    title: Short = Field("负责人", description="Their position, e.g. 局长、分管副局长")
    approved: bool = Field(True, description="Approved (同意) or not (不同意)")
    opinion: LongText = Field(description="The head's opinion as written (审批意见)")
    date: dt.date = Field(description="Date of the approval")


def _approval_after(value: HeadApproval, info: ValidationInfo) -> HeadApproval:
    when = _doc_date(info)
    if when is not None and value.date < when:
        raise ValueError(
            f"date: the head's approval ({value.date.isoformat()}) is dated before the form "
            f"({when.isoformat()}) it approves"
        )
    return value


class Complainant(_Model):
    """A complainant or informant (投诉人/举报人); an informant may stay anonymous."""

    anonymous: bool = Field(False, description="Anonymous report (匿名举报): no name recorded")
    name: Name | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    address: Short | None = None
    id_number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None

    @model_validator(mode="after")
    def _named_or_anonymous(self) -> Complainant:
        if self.anonymous and (self.name or self.id_number):
            raise ValueError("name: an anonymous informant's name and ID are not recorded")
        if not self.anonymous and not self.name:
            raise ValueError("name: give the complainant's name, or set anonymous")
        return self


CaseSource = Literal["complaint", "report", "inspection", "transfer", "platform"]


class CaseSourceRegistration(CaseDocumentBase):
    """案件来源登记表: a lead as it came in, and what the registering officer proposes."""

    source: CaseSource = Field(
        description="complaint 投诉 / report 举报 / inspection 监督检查 / transfer 移送 / "
        "platform 平台报告"
    )
    received_on: dt.date = Field(description="Date the lead was received (收到日期)")
    referrer: Short | None = Field(
        None, description="Transferring authority and its letter, or reporting platform"
    )
    complainant: Complainant | None = None
    party: Party = Field(description="The party the lead is about (被投诉举报对象)")
    shop_url: WebUrl = Field(description="Shop or listing address the lead concerns")
    summary: LongText = Field(description="Summary of the facts reported (主要内容)")
    registering_officer: Officer = Field(description="Officer who registers it (登记人)")
    handling_opinion: LongText = Field(description="Proposed handling (处理意见), e.g. 建议核查")
    approval: HeadApproval

    @field_validator("received_on")
    @classmethod
    def _received_before_registered(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        when = _doc_date(info)
        if when is not None and value > when:
            raise ValueError("the lead is received after the date it is registered")
        return value

    @field_validator("approval")
    @classmethod
    def _approval_dated(cls, value: HeadApproval, info: ValidationInfo) -> HeadApproval:
        return _approval_after(value, info)

    @model_validator(mode="after")
    def _source_details(self) -> CaseSourceRegistration:
        if self.source in ("complaint", "report") and self.complainant is None:
            raise ValueError(
                "complainant: a complaint or report needs its complainant (an informant may be "
                'recorded as {"anonymous": true})'
            )
        if self.source == "complaint" and self.complainant and self.complainant.anonymous:
            raise ValueError(
                "complainant: a complaint (投诉) is made by a named complainant; an anonymous "
                "lead is a report (举报)"
            )
        if self.source == "inspection" and self.complainant is not None:
            raise ValueError("complainant: a lead found by inspection has no complainant")
        if self.source in ("transfer", "platform") and not self.referrer:
            raise ValueError("referrer: a transferred or platform-reported lead names who sent it")
        return self


NoPenaltyListResult = Literal["not_listed", "first_violation", "minor_violation"]


class NoPenaltyListCheck(_Model):
    """The check against the first-violation / minor-violation no-penalty lists (首违不罚、
    轻微不罚清单) required before filing."""

    list_name: Short = Field(description="The list(s) checked, by name and version")
    result: NoPenaltyListResult = Field(
        description="not_listed 不适用 / first_violation 首违不罚 / minor_violation 轻微不罚"
    )
    item: Short | None = Field(None, description="The list item the conduct matches")
    note: LongText | None = None

    @model_validator(mode="after")
    def _item_for_a_match(self) -> NoPenaltyListCheck:
        if self.result != "not_listed" and not self.item:
            raise ValueError("item: name the list item the conduct matches")
        return self


class FilingApproval(CaseDocumentBase):
    """立案审批表 (internal): the verification's findings and the head's decision to file."""

    party: Party
    source_ref: DocumentRef | None = Field(None, description="The case-source registration")
    received_on: dt.date = Field(description="Date the lead was received (线索收到日期)")
    verification_facts: LongText = Field(description="Facts found in verification (核查情况)")
    suspected_violation: LongText = Field(description="The suspected violation (涉嫌违法行为)")
    violated_provisions: list[LegalCitation] = Field(min_length=1)
    list_check: NoPenaltyListCheck
    officers: TwoOfficers = Field(description="Handling officers (承办人), at least two")
    officer_opinion: LongText = Field(description="Handling officers' opinion (承办人意见)")
    approval: HeadApproval

    @field_validator("received_on")
    @classmethod
    def _received_before_filing(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        when = _doc_date(info)
        if when is not None and value > when:
            raise ValueError("the lead is received after the filing form's date")
        return value

    @field_validator("approval")
    @classmethod
    def _approval_dated(cls, value: HeadApproval, info: ValidationInfo) -> HeadApproval:
        return _approval_after(value, info)


NonFilingGroundKind = Literal[
    "no_violation",
    "minor_corrected",
    "first_violation_corrected",
    "no_fault",
    "time_barred",
    "not_competent",
    "other",
]


class NonFilingGround(_Model):
    kind: NonFilingGroundKind = Field(
        description="no_violation 违法事实不成立 / minor_corrected 轻微并及时改正 / "
        "first_violation_corrected 首违并及时改正 / no_fault 无主观过错 / time_barred 超过时效 "
        "/ not_competent 不属本机关管辖 / other"
    )
    explanation: LongText


class NonFilingApproval(CaseDocumentBase):
    """不予立案审批表 (internal): why the lead is not filed; whether the complainant is told."""

    party: Party | None = None
    source_ref: DocumentRef | None = None
    received_on: dt.date
    verification_facts: LongText = Field(description="Facts found in verification (核查情况)")
    grounds: list[NonFilingGround] = Field(min_length=1, description="Reasons for not filing")
    transfer_to: Name | None = Field(None, description="Competent authority, if not ours")
    notify_complainant: bool = Field(description="The complainant is told, with the reasons")
    complainant: Complainant | None = None
    officers: list[Officer] = Field(min_length=1, description="Handling officers (承办人)")
    officer_opinion: LongText
    approval: HeadApproval

    @field_validator("approval")
    @classmethod
    def _approval_dated(cls, value: HeadApproval, info: ValidationInfo) -> HeadApproval:
        return _approval_after(value, info)

    @model_validator(mode="after")
    def _consistent(self) -> NonFilingApproval:
        if self.notify_complainant and (
            self.complainant is None
            or self.complainant.anonymous
            or not (self.complainant.phone or self.complainant.address)
        ):
            raise ValueError(
                "complainant: telling the complainant needs a named complainant with a phone "
                "or address"
            )
        if any(g.kind == "not_competent" for g in self.grounds) and not self.transfer_to:
            raise ValueError("transfer_to: name the competent authority the lead goes to")
        return self


class RequiredContact(_Model):
    person: Name
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=40)]
    address: Short | None = None


class InquiryNotice(CaseDocumentBase):
    """询问通知书 (served on the party): come to be inquired, when, where, with whom and what."""

    party: Party
    matter: LongText = Field(description="The matter under investigation (涉嫌…一案)")
    inquiry_at: dt.datetime = Field(description="Time of the inquiry (询问时间)")
    place: Short = Field(description="Place of the inquiry (询问地点)")
    persons_to_bring: list[Short] = Field(
        min_length=1, description="Who is to come (e.g. 法定代表人或者委托代理人)"
    )
    documents_to_bring: list[Short] = Field(min_length=1, description="Documents to bring")
    officers: TwoOfficers
    contact: RequiredContact

    @field_validator("inquiry_at")
    @classmethod
    def _after_notice(cls, value: dt.datetime, info: ValidationInfo) -> dt.datetime:
        when = _doc_date(info)
        if when is not None and _local_date(value) < when:
            raise ValueError("the inquiry is set before the notice's date")
        return value


IdType = Literal["resident_id", "passport", "hk_macao_permit", "taiwan_permit", "other"]
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_resident_id(value: str) -> str:
    """A resident identity card number (GB 11643-1999): 17 digits, birth date, check char."""
    code = value.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", code):
        raise ValueError("a resident ID number has 18 characters: 17 digits and a digit or X")
    try:
        dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        raise ValueError("the birth date in the resident ID number is not a date") from None
    total = sum(int(c) * w for c, w in zip(code[:17], _ID_WEIGHTS, strict=True))
    if "10X98765432"[total % 11] != code[17]:
        raise ValueError("check digit is wrong (GB 11643-1999): a character was probably mistyped")
    return code


class InquiredPerson(_Model):
    """The person inquired (被询问人)."""

    name: Name
    id_type: IdType = Field("resident_id", description="Identity document (证件类型)")
    id_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40)]
    role: Short = Field(description="Position in, or relation to, the party (职务/与当事人关系)")
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    address: Short | None = None

    @model_validator(mode="after")
    def _id(self) -> InquiredPerson:
        if self.id_type == "resident_id":
            try:
                check_resident_id(self.id_number)
            except ValueError as exc:
                raise ValueError(f"id_number: {exc}") from None
        return self


class QuestionAnswer(_Model):
    question: LongText = Field(description="问")
    answer: LongText = Field(description="答")


INQUIRY_IDENTITY = "我们是{who}，这是我们的执法证件（出示执法证件），现依法就有关问题向你进行询问。"
INQUIRY_RIGHTS = (
    "你有权申请执法人员回避；你应当如实回答询问，并协助调查，不得阻挠；对与本案无关的问题，你有权"
    "拒绝回答。你是否听清楚了？是否申请执法人员回避？"
)
INQUIRY_CONFIRMATION = "以上笔录我已看过，与我说的一致。"


class InquiryRecord(CaseDocumentBase):
    """询问笔录: who asked whom, when and where, the rights told, the questions and answers,
    and the person's confirmation (signed in the portal by the party)."""

    party: Party
    started_at: dt.datetime
    ended_at: dt.datetime
    place: Short
    inquirers: TwoOfficers = Field(description="Officers who inquire (询问人), at least two")
    recorder: Name = Field(description="Who writes the record (记录人)")
    person: InquiredPerson
    identity_statement: LongText = Field(
        description="The officers' statement of identity (表明身份); when not given, the "
        "standard sentence with the unit's and the inquirers' names"
    )
    rights_statement: LongText = Field(
        INQUIRY_RIGHTS, description="The rights and duties told (告知权利义务)"
    )
    rights_answer: LongText = Field(
        "听清楚了，不申请回避。", description="The person's answer to the rights statement"
    )
    qa: list[QuestionAnswer] = Field(min_length=1, description="Questions and answers (问/答)")
    confirmation: Short = Field(
        INQUIRY_CONFIRMATION, description="The person's confirmation line, in their words"
    )

    @model_validator(mode="before")
    @classmethod
    def _standard_identity_statement(cls, data: Any) -> Any:
        """The sentence the officers say, made from the data when not written out (so the
        attached JSON holds the words the record shows)."""
        if isinstance(data, dict) and "identity_statement" not in data:
            unit = data.get("issuing_unit")
            names = [o.get("name") for o in data.get("inquirers") or [] if isinstance(o, dict)]
            if isinstance(unit, str) and unit.strip() and all(isinstance(n, str) for n in names):
                who = f"{unit.strip()}的执法人员" + "、".join(str(n).strip() for n in names)
                data = {**data, "identity_statement": INQUIRY_IDENTITY.format(who=who)}
        return data

    @model_validator(mode="after")
    def _times(self) -> InquiryRecord:
        if self.ended_at <= self.started_at:
            raise ValueError("ended_at: the inquiry ends before (or when) it starts")
        if _local_date(self.started_at) != self.date:
            raise ValueError(
                f"date: the record is dated {self.date.isoformat()} but the inquiry started on "
                f"{_local_date(self.started_at).isoformat()}"
            )
        return self


class PreservedItem(_Model):
    name: Short = Field(description="Item (物品名称), or the electronic data preserved")
    specification: Short | None = Field(None, description="Specification, model, batch")
    quantity: Annotated[Decimal, Field(gt=0, le=Decimal("1e12"), decimal_places=3)]
    unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)] = (
        Field(description="Unit of quantity (件、箱、份)")
    )
    location: Short = Field(description="Where it is kept (存放地点)")


class EvidencePreservationNotice(CaseDocumentBase):
    """先行登记保存证据通知书 (served on the party): the items preserved, where, for how long,
    who approved it, the party's duties and remedies."""

    party: Party
    reason: LongText = Field(
        description="Why: the evidence may be lost or hard to obtain later (证据可能灭失…)"
    )
    items: list[PreservedItem] = Field(min_length=1)
    kept_in_place: bool = Field(True, description="Kept at the party's premises (就地保存)")
    period_working_days: int = Field(
        7, ge=1, le=7, description="Working days within which a decision is made (at most 7)"
    )
    approved_by: Name = Field(description="Head of unit who approved (批准人)")
    approved_on: dt.date
    emergency: bool = Field(
        False, description="Taken on the spot in an emergency, approval sought within 24 hours"
    )
    officers: TwoOfficers
    remedies: Remedies
    contact: Contact | None = None

    @model_validator(mode="after")
    def _approved_first(self) -> EvidencePreservationNotice:
        latest = self.date + dt.timedelta(days=1 if self.emergency else 0)
        if self.approved_on > latest:
            raise ValueError(
                "approved_on: preservation needs the head's approval before it is taken (in an "
                "emergency, within 24 hours after)"
            )
        return self


EvidenceKind = Literal[
    "documentary",
    "physical",
    "audiovisual",
    "electronic",
    "witness",
    "party_statement",
    "expert_opinion",
    "inspection_record",
]


class EvidenceItem(_Model):
    name: Short
    kind: EvidenceKind = Field(
        description="documentary 书证 / physical 物证 / audiovisual 视听资料 / electronic 电子数据 "
        "/ witness 证人证言 / party_statement 当事人的陈述 / expert_opinion 鉴定意见 / "
        "inspection_record 勘验笔录、现场笔录"
    )
    source: Short = Field(description="Where it came from (来源)")
    proves: Short | None = Field(None, description="What it proves (证明事项)")
    package_id: Short | None = Field(None, description="Sealed capture package id")
    package_sha256: Hex64 | None = Field(None, description="SHA-256 of the sealed package")


DiscretionBand = Literal["no_penalty", "reduced", "lighter", "ordinary", "heavier"]


class Discretion(_Model):
    """Discretion (裁量): the band and the circumstances for it."""

    band: DiscretionBand = Field(
        description="no_penalty 不予处罚 / reduced 减轻 / lighter 从轻 / ordinary 一般 / "
        "heavier 从重"
    )
    mitigating: list[Short] = Field(default_factory=list, description="从轻、减轻情节")
    aggravating: list[Short] = Field(default_factory=list, description="从重情节")
    standard: LegalCitation | None = Field(None, description="Discretion standard (裁量基准)")
    reasoning: LongText

    @model_validator(mode="after")
    def _circumstances(self) -> Discretion:
        if self.band in ("reduced", "lighter", "no_penalty") and not self.mitigating:
            raise ValueError("mitigating: a lighter band needs the mitigating circumstances")
        if self.band == "heavier" and not self.aggravating:
            raise ValueError("aggravating: a heavier band needs the aggravating circumstances")
        return self


ProposedOutcome = Literal["penalty", "no_penalty", "transfer", "dismissal"]


class InvestigationEndReport(CaseDocumentBase):
    """案件调查终结报告 (internal): facts, evidence, basis, discretion, proposed outcome."""

    party: Party
    filed_on: dt.date = Field(description="Date the case was filed (立案日期)")
    facts: LongText
    evidence: list[EvidenceItem] = Field(min_length=1)
    violated_provisions: list[LegalCitation] = Field(min_length=1)
    discretion: Discretion | None = None
    proposed_outcome: ProposedOutcome = Field(
        description="penalty 给予行政处罚 / no_penalty 不予行政处罚 / transfer 移送 / "
        "dismissal 撤销立案（违法事实不能成立）"
    )
    proposed_penalty: Penalty | None = Field(None, description="The penalty and amounts proposed")
    outcome_reasons: LongText | None = Field(None, description="Reasons for the outcome")
    transfer_to: Name | None = None
    officers: TwoOfficers

    @field_validator("filed_on")
    @classmethod
    def _filed_before(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        when = _doc_date(info)
        if when is not None and value > when:
            raise ValueError("the case is filed after the report's date")
        return value

    @model_validator(mode="after")
    def _outcome(self) -> InvestigationEndReport:
        outcome = self.proposed_outcome
        if outcome == "penalty" and self.proposed_penalty is None:
            raise ValueError("proposed_penalty: a proposed penalty needs its content and amounts")
        if outcome != "penalty" and self.proposed_penalty is not None:
            raise ValueError(f"proposed_penalty: no penalty is proposed with outcome {outcome}")
        if outcome in ("penalty", "no_penalty") and self.discretion is None:
            raise ValueError("discretion: state the discretion band and circumstances")
        if self.discretion is not None:
            no_band = self.discretion.band == "no_penalty"
            if no_band != (outcome == "no_penalty"):
                raise ValueError(
                    f"discretion: band {self.discretion.band} does not fit outcome {outcome}"
                )
        if outcome in ("no_penalty", "dismissal", "transfer") and not self.outcome_reasons:
            raise ValueError(f"outcome_reasons: give the reasons for outcome {outcome}")
        if outcome == "transfer" and not self.transfer_to:
            raise ValueError("transfer_to: name the authority the case is transferred to")
        return self


class ReviewOpinions(_Model):
    """The reviewer's opinion on each point reviewed (审核意见)."""

    facts: LongText = Field(description="Facts: clear or not (事实是否清楚)")
    evidence: LongText = Field(description="Evidence: sufficient or not (证据是否确凿充分)")
    procedure: LongText = Field(description="Procedure: lawful or not (程序是否合法)")
    law: LongText = Field(description="Legal basis: correct or not (适用依据是否正确)")
    discretion: LongText = Field(description="Discretion: appropriate or not (裁量是否适当)")


class CaseReviewForm(CaseDocumentBase):
    """案件审核表 (internal): the reviewer's opinions, legal review, conclusion."""

    party: Party
    reviewed_document: DocumentRef = Field(description="What was submitted (调查终结报告)")
    submitted_on: dt.date
    opinions: ReviewOpinions
    major_case: bool = Field(description="A major case (重大案件)")
    legal_review: bool = Field(description="Legal review (法制审核) done")
    collective_discussion: DocumentRef | None = Field(
        None, description="Record of the collective discussion (集体讨论记录), for a major case"
    )
    conclusion: Literal["agree", "disagree", "amend"]
    amendments: LongText | None = Field(None, description="What to change, or why not agreed")
    reviewer: Name = Field(description="Reviewer (审核人)")
    reviewer_qualification: Short | None = Field(
        None, description="Legal professional qualification certificate number (法律职业资格)"
    )
    reviewed_on: dt.date

    @field_validator("submitted_on")
    @classmethod
    def _submitted(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        when = _doc_date(info)
        if when is not None and value > when:
            raise ValueError("submitted for review after the review form's date")
        return value

    @model_validator(mode="after")
    def _review(self) -> CaseReviewForm:
        if self.reviewed_on < self.submitted_on:
            raise ValueError("reviewed_on: the review is dated before the case was submitted")
        if self.major_case and not self.legal_review:
            raise ValueError("legal_review: a major case needs legal review (法制审核)")
        if self.major_case and self.collective_discussion is None:
            raise ValueError(
                "collective_discussion: a major case is decided by collective discussion; cite "
                "its record"
            )
        if self.conclusion != "agree" and not self.amendments:
            raise ValueError(f"amendments: a conclusion of {self.conclusion} states what and why")
        return self


HEARING_RIGHTS = [
    "申请听证主持人、听证员、记录员回避",
    "亲自参加听证，也可以委托一至二人代理",
    "进行陈述、申辩和质证",
    "核对听证笔录，认为有遗漏或者差错的，可以请求补正",
]

#: Days the hearing notice must precede the hearing (calendar days checked here; see report).
HEARING_NOTICE_DAYS = 7


#: 听证员: one or two assist the hearing officer (市场监督管理行政处罚听证办法).
MAX_HEARING_MEMBERS = 2


def _hearing_staff_apart(
    officer: str, members: Sequence[str], recorder: str, investigators: set[str]
) -> None:
    """Who presides, assists and records a hearing: different people, one or two members,
    and none of them an investigator of the case (办案人员不得担任听证主持人、听证员和记录员)."""
    if len(members) > MAX_HEARING_MEMBERS:
        raise ValueError(
            f"hearing_members: at most {MAX_HEARING_MEMBERS} hearing members (听证员一至二名)"
        )
    seats = [("hearing_officer", officer)]
    seats += [(f"hearing_members[{i}]", m) for i, m in enumerate(members)]
    seats.append(("recorder", recorder))
    seen: dict[str, str] = {}
    for seat, name in seats:
        if name in investigators:
            raise ValueError(
                f"{seat}: {name} is an investigator of the case and cannot sit at its hearing"
            )
        if name in seen:
            raise ValueError(f"{seat}: {name} is already the {seen[name]}; one person, one seat")
        seen[name] = seat


class HearingNotice(CaseDocumentBase):
    """听证通知书 (served on the party): when and where, who presides, the party's rights."""

    party: Party
    matter: LongText = Field(description="The case and the proposed penalty heard")
    requested_on: dt.date | None = Field(None, description="Date the party asked for a hearing")
    hearing_at: dt.datetime
    place: Short
    hearing_officer: Name = Field(description="Hearing officer (听证主持人), not an investigator")
    hearing_members: list[Name] = Field(default_factory=list, description="听证员")
    recorder: Name = Field(description="Recorder (记录员)")
    public: bool = Field(description="Held in public (公开举行)")
    non_public_reason: Short | None = Field(
        None, description="Why not public: state secret, trade secret, personal privacy"
    )
    rights: list[Short] = Field(
        default_factory=lambda: list(HEARING_RIGHTS), min_length=1, description="当事人权利"
    )
    investigators: TwoOfficers = Field(description="The case's investigators (案件调查人员)")
    contact: RequiredContact

    @field_validator("requested_on")
    @classmethod
    def _requested(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        when = _doc_date(info)
        if value is not None and when is not None and value > when:
            raise ValueError("the hearing is requested after the notice's date")
        return value

    @field_validator("hearing_at")
    @classmethod
    def _seven_days(cls, value: dt.datetime, info: ValidationInfo) -> dt.datetime:
        when = _doc_date(info)
        if when is not None and (_local_date(value) - when).days < HEARING_NOTICE_DAYS:
            raise ValueError(
                f"the hearing must be at least {HEARING_NOTICE_DAYS} days after the notice "
                f"({when.isoformat()}); it is set for {_local_date(value).isoformat()}"
            )
        return value

    @model_validator(mode="after")
    def _presiding(self) -> HearingNotice:
        _hearing_staff_apart(
            self.hearing_officer,
            self.hearing_members,
            self.recorder,
            {o.name for o in self.investigators},
        )
        if not self.public and not self.non_public_reason:
            raise ValueError("non_public_reason: a hearing not held in public states why")
        return self


ParticipantRole = Literal[
    "party", "agent", "investigator", "third_party", "witness", "interpreter", "other"
]


class HearingParticipant(_Model):
    name: Name
    role: ParticipantRole = Field(
        description="party 当事人 / agent 委托代理人 / investigator 案件调查人员 / third_party "
        "第三人 / witness 证人 / interpreter 翻译人员 / other"
    )
    organization: Short | None = None
    officer_id: Short | None = Field(None, description="Credential number, for investigators")


class Utterance(_Model):
    speaker: Name
    text: LongText


class HearingRecord(CaseDocumentBase):
    """听证笔录: who took part, the investigators' case, the party's statement and defence,
    the cross-examination, final statements; signed by the hearing officer, the recorder and
    the party."""

    party: Party
    started_at: dt.datetime
    ended_at: dt.datetime
    place: Short
    public: bool
    hearing_officer: Name
    hearing_members: list[Name] = Field(default_factory=list)
    recorder: Name
    participants: list[HearingParticipant] = Field(min_length=2)
    recusal_requested: bool = False
    recusal_decision: LongText | None = None
    investigators_case: LongText = Field(
        description="Facts, evidence, basis and penalty proposed, as the investigators put them"
    )
    party_statement: LongText = Field(description="The party's statement and defence (陈述申辩)")
    cross_examination: list[Utterance] = Field(min_length=1, description="质证、辩论")
    final_statements: list[Utterance] = Field(min_length=1, description="最后陈述")
    party_confirmation: Short = Field(
        "以上笔录我已看过，与听证情况一致。", description="The party's confirmation line"
    )

    @model_validator(mode="after")
    def _hearing(self) -> HearingRecord:
        if self.ended_at <= self.started_at:
            raise ValueError("ended_at: the hearing ends before (or when) it starts")
        roles = [p.role for p in self.participants]
        if "investigator" not in roles:
            raise ValueError("participants: the case's investigators take part in the hearing")
        if "party" not in roles and "agent" not in roles:
            raise ValueError("participants: the party or its agent takes part in the hearing")
        if roles.count("agent") > 2:
            raise ValueError("participants: the party may have one or two agents, not more")
        investigators = {p.name for p in self.participants if p.role == "investigator"}
        _hearing_staff_apart(
            self.hearing_officer, self.hearing_members, self.recorder, investigators
        )
        if self.recusal_requested and not self.recusal_decision:
            raise ValueError("recusal_decision: a recusal request is decided and recorded")
        return self


NoPenaltyGround = Literal[
    "first_violation_corrected",
    "minor_corrected",
    "no_fault",
    "minor_age",
    "mental_illness",
    "time_barred",
    "other",
]


class RecaptureRef(_Model):
    """The re-capture that shows the page was corrected (a sealed package)."""

    package_id: Short
    package_sha256: Hex64
    captured_at: dt.datetime
    url: WebUrl


class CorrectionCheck(_Model):
    """How the correction was verified (改正情况核查)."""

    verified_on: dt.date
    method: LongText
    recapture: RecaptureRef | None = None


class NoPenaltyDecision(CaseDocumentBase):
    """不予行政处罚决定书 (served on the party)."""

    party: Party
    facts: LongText
    evidence: list[Short] = Field(min_length=1)
    statement_summary: LongText | None = None
    violated_provisions: list[LegalCitation] = Field(min_length=1)
    grounds: list[NoPenaltyGround] = Field(
        min_length=1,
        description="first_violation_corrected 初次违法且危害后果轻微并及时改正 / minor_corrected "
        "违法行为轻微并及时改正 / no_fault 无主观过错 / minor_age 未满十四周岁 / mental_illness "
        "精神病人 / time_barred 超过追责时效 / other",
    )
    reasoning: LongText = Field(description="Why the grounds apply (理由)")
    guidance: LongText = Field(description="Education and guidance given (教育指导)")
    correction: CorrectionCheck | None = None
    remedies: Remedies

    @field_validator("correction")
    @classmethod
    def _verified_before(
        cls, value: CorrectionCheck | None, info: ValidationInfo
    ) -> CorrectionCheck | None:
        when = _doc_date(info)
        if value is not None and when is not None and value.verified_on > when:
            raise ValueError("verified_on: the correction is verified after the decision's date")
        return value

    @model_validator(mode="after")
    def _corrected(self) -> NoPenaltyDecision:
        needs = {"first_violation_corrected", "minor_corrected"} & set(self.grounds)
        if needs and self.correction is None:
            raise ValueError(
                f"correction: ground {sorted(needs)[0]} needs the correction verified (date, "
                "method, re-capture)"
            )
        return self


class Execution(_Model):
    """How the decision was carried out (执行情况)."""

    status: Literal["paid", "enforcement_applied", "not_applicable"] = Field(
        description="paid 已缴纳 / enforcement_applied 申请法院强制执行 / not_applicable 无罚没款"
    )
    paid_yuan: Money | None = None
    paid_on: dt.date | None = None
    payment_number: Short | None = None
    enforcement_court: Name | None = None
    enforcement_applied_on: dt.date | None = None
    note: LongText | None = None

    @model_validator(mode="after")
    def _details(self) -> Execution:
        if self.status == "paid" and (self.paid_yuan is None or self.paid_on is None):
            raise ValueError("paid_yuan: a paid penalty states the amount and date paid")
        if self.status == "enforcement_applied" and not (
            self.enforcement_court and self.enforcement_applied_on
        ):
            raise ValueError(
                "enforcement_court: an enforcement application names the court and its date"
            )
        return self


class Publicity(_Model):
    published_on: dt.date
    url: WebUrl


ClosingOutcome = Literal["penalty", "no_penalty", "dismissed", "transferred"]


class ClosingApproval(CaseDocumentBase):
    """结案审批表 (internal): outcome, execution, publicity, and the head's approval."""

    party: Party
    filed_on: dt.date
    decision: DocumentRef | None = Field(None, description="The decision (决定书) closed")
    decided_on: dt.date | None = None
    outcome: ClosingOutcome = Field(
        description="penalty 行政处罚 / no_penalty 不予行政处罚 / dismissed 撤销立案 / "
        "transferred 移送"
    )
    outcome_summary: LongText
    execution: Execution
    publicity: Publicity | None = None
    officers: TwoOfficers
    officer_opinion: LongText
    approval: HeadApproval

    @field_validator("approval")
    @classmethod
    def _approval_dated(cls, value: HeadApproval, info: ValidationInfo) -> HeadApproval:
        return _approval_after(value, info)

    @model_validator(mode="after")
    def _closing(self) -> ClosingApproval:
        if self.decided_on is not None and self.decided_on < self.filed_on:
            raise ValueError("decided_on: the decision is dated before the filing")
        if self.outcome in ("penalty", "no_penalty") and (
            self.decision is None or self.decided_on is None
        ):
            raise ValueError("decision: cite the decision and its date")
        if self.outcome != "penalty" and self.execution.status != "not_applicable":
            raise ValueError(f"execution: there is nothing to execute for outcome {self.outcome}")
        if self.outcome == "penalty" and self.publicity is None:
            raise ValueError("publicity: a penalty decision is published before the case closes")
        if (
            self.publicity is not None
            and self.decided_on is not None
            and self.publicity.published_on < self.decided_on
        ):
            raise ValueError("publicity: published before the decision was made")
        return self


class NumberedRef(_Model):
    title: Short
    number: CaseNumber


class PaymentReceipt(CaseDocumentBase):
    """电子缴款凭证 / 罚没款收据: a payment made on a decision (unit seal only)."""

    payment_number: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z-]{6,40}$")
    ] = Field(description="Payment number (缴款码/票据号码)")
    party: Party = Field(description="The payer (缴款人), the party of the decision")
    decision: NumberedRef = Field(description="The decision paid (处罚决定书文号)")
    fine_yuan: Money = Field(description="Fine (罚款)")
    confiscated_income_yuan: Money = Field(Decimal(0), description="Illegal income confiscated")
    surcharge_yuan: Money = Field(Decimal(0), description="Late-payment surcharge (加处罚款)")
    total_yuan: Money
    paid_at: dt.datetime
    channel: Short = Field(description="Payment channel (缴款渠道)")
    payee: Name = Field(description="Collecting authority or bank (收款单位)")

    @model_validator(mode="after")
    def _amounts(self) -> PaymentReceipt:
        if self.surcharge_yuan > self.fine_yuan:
            raise ValueError("surcharge_yuan: the late-payment surcharge cannot exceed the fine")
        total = self.fine_yuan + self.confiscated_income_yuan + self.surcharge_yuan
        if total != self.total_yuan:
            raise ValueError(
                f"total_yuan: {self.total_yuan} is not fine + confiscated income + surcharge "
                f"({total})"
            )
        if _local_date(self.paid_at) > self.date:
            raise ValueError("paid_at: the payment is after the receipt's date")
        return self


class PlatformOperator(_Model):
    """An online trading platform operator (网络交易平台经营者)."""

    name: Name
    credit_code: CreditCode = Field(description="Unified social credit code")
    address: Short | None = None
    platform: Short | None = Field(None, description="The platform's name")


DataKind = Literal["registration", "orders", "listings", "payments", "logistics", "logs", "other"]


class DataRequest(_Model):
    kind: DataKind = Field(
        description="registration 注册及身份信息 / orders 交易记录 / listings 商品信息 / payments "
        "支付记录 / logistics 物流信息 / logs 操作日志 / other"
    )
    description: Short
    period_from: dt.date | None = None
    period_to: dt.date | None = None

    @model_validator(mode="after")
    def _period(self) -> DataRequest:
        if (self.period_from is None) != (self.period_to is None):
            raise ValueError("period_to: a period has a start and an end")
        if self.period_from and self.period_to and self.period_to < self.period_from:
            raise ValueError("period_to: the period ends before it starts")
        if self.kind in ("orders", "payments", "logs") and self.period_from is None:
            raise ValueError(f"period_from: {self.kind} records are asked for a period")
        return self


class AssistanceRequest(CaseDocumentBase):
    """协助调查函: asks a platform operator for a seller's data (E-Commerce Law duties)."""

    platform: PlatformOperator
    seller: Party = Field(description="The seller on the platform (平台内经营者)")
    matter: LongText = Field(description="The matter investigated")
    data_requested: list[DataRequest] = Field(min_length=1)
    reply_deadline: dt.date
    reply_method: Short | None = Field(None, description="How to reply, e.g. encrypted upload")
    contact: RequiredContact

    @field_validator("reply_deadline")
    @classmethod
    def _deadline(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        when = _doc_date(info)
        if when is not None and value <= when:
            raise ValueError("the reply deadline is not after the letter's date")
        return value


class Listing(_Model):
    url: WebUrl
    title: Short | None = None
    item_id: Short | None = Field(None, description="Item id on the platform")


class TakedownRequest(CaseDocumentBase):
    """协助下架通知 / 责令删除链接协助函: asks a platform to take listings down."""

    platform: PlatformOperator
    seller: Party
    listings: list[Listing] = Field(min_length=1)
    reason: LongText = Field(description="The violation found on the listings")
    violated_provisions: list[LegalCitation] = Field(min_length=1)
    deadline: dt.date = Field(description="Take down and report by (完成期限)")
    contact: RequiredContact

    @field_validator("listings")
    @classmethod
    def _unique(cls, value: list[Listing]) -> list[Listing]:
        urls = [item.url for item in value]
        if len(set(urls)) != len(urls):
            raise ValueError("the same listing address is given twice")
        return value

    @field_validator("deadline")
    @classmethod
    def _deadline(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        when = _doc_date(info)
        if when is not None and value < when:
            raise ValueError("the deadline is before the letter's date")
        return value
