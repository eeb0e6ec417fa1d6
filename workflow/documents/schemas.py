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
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from certs.errors import SubjectError
from certs.subjects import check_credit_code

__all__ = [
    "AttachmentRef",
    "CaptureFacts",
    "DocumentBase",
    "DocumentRef",
    "ElectronicService",
    "EvidenceExtractionRecord",
    "LegalCitation",
    "Officer",
    "OrderToCorrect",
    "Party",
    "Payment",
    "Penalty",
    "PenaltyDecision",
    "PenaltyNotification",
    "ProofOfService",
    "Recipient",
    "Remedies",
    "ServedDocument",
    "ServiceAddressConfirmation",
    "Statement",
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
