"""Administrative documents (文书): data-driven templates rendered to PDF/A-3b, PAdES
signatures in order (officer, unit, merchant), validation with the court verifier's engine.

Public API (other packages code against exactly this)::

    TEMPLATES: Mapping[str, DocumentType]     # order_to_correct, penalty_notification,
        # penalty_decision, service_address_confirmation, proof_of_service,
        # evidence_extraction_record, statement
    @dataclass(frozen=True) class DocumentType: key, title_zh, title_en, schema
        (+ template, slots, description)
    class DocumentDataError(ValueError): field   # "party.credit_code: check digit is wrong"
    validate_data(template, data) -> pydantic.BaseModel
    render_document(template, data, output, *, english=False) -> RenderedDocument
        RenderedDocument(path, sha256, template, data: dict)

    @dataclass(frozen=True) class SignatureRequest: signer, level="b-lta", reason=None,
        location=None, visible=True, field_name=None, certify=False, audit=None
    sign_document(pki, source, output, request, *, timestampers, online_revocation=False)
        -> SignedDocument(path, sha256, signer_subject, signing_time, level)
    validate_document(path, trust_roots_pem) -> signing.verify.PdfReport
        (each signature's ``audit`` holds a merchant counter-signature's audit trail)

    capture_facts(package) -> dict   # the ``capture`` of an evidence_extraction_record

Errors: DocumentDataError and UnknownTemplateError (data), DocumentInputError (missing,
not a PDF, encrypted), SignerError (unknown, ambiguous, revoked, expired signer),
signing.errors.TsaUnavailableError (retry later), signing.pades.PadesError.

Sample data for every template: ``workflow/documents/samples/<template>.json``
(:func:`sample_data`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .capture_facts import CaptureFactsError, capture_facts
from .render import RenderedDocument, render_document, render_html
from .signing import (
    DocumentInputError,
    DocumentSigningError,
    SignatureRequest,
    SignedDocument,
    SignerError,
    ensure_unit_certificate,
    sign_document,
    validate_document,
)
from .types import (
    TEMPLATES,
    DocumentDataError,
    DocumentType,
    SignatureSlot,
    UnknownTemplateError,
    validate_data,
)

__all__ = [
    "SAMPLES_DIR",
    "TEMPLATES",
    "CaptureFactsError",
    "DocumentDataError",
    "DocumentInputError",
    "DocumentSigningError",
    "DocumentType",
    "RenderedDocument",
    "SignatureRequest",
    "SignatureSlot",
    "SignedDocument",
    "SignerError",
    "UnknownTemplateError",
    "capture_facts",
    "ensure_unit_certificate",
    "render_document",
    "render_html",
    "sample_data",
    "sign_document",
    "validate_data",
    "validate_document",
]

SAMPLES_DIR = Path(__file__).parent / "samples"


def sample_data(template: str) -> dict[str, Any]:
    """The sample data shipped for ``template`` (valid; used by tests and the CLI)."""
    path = SAMPLES_DIR / f"{template}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data
