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
"""

from __future__ import annotations

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
        # A model-level check names its field as "name: ..." (see schemas).
        head, sep, rest = msg.partition(": ")
        model = _field_of(schema, loc) if sep else None
        if model is not None and head in model.model_fields:
            loc, msg = (*loc, head), rest
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
