"""Serving documents on merchants through the portal, and the merchant's answers.

The flow, and what the record keeps at each step (every step also writes ``portal_audit``):

1. An officer creates a document from a template (``create_document``): the data is checked
   field by field, rendered to PDF (version 1, ``rendered``), status ``draft``.
2. The unit seals it (``sign_as_unit``): PAdES B-LTA, a *certification* signature that
   allows form filling and signing, so the merchant's counter-signature keeps it valid
   (pitfalls: "no changes allowed" would forbid it). Version 2, status ``signed``.
   Officers then sign it with their own certificates (``sign_as_officer``): each fills the
   next empty officer slot (承办人), an incremental update that leaves the seal valid (the
   certification allows signing). Version ``officer-signed``, status still ``signed``.
3. It is served (``serve``) -- only on a merchant that has signed its service-address
   confirmation. The commit that makes it visible in the merchant's account is the moment it
   *reaches the party's system*: ``served_at`` is the legal time of electronic service, and
   ``served_by_id`` who sent it.
4. The merchant opens it (``record_open``: the first time, with address and browser) and
   acknowledges it: either the service counter-signs with the merchant's certificate after
   the merchant re-enters the password (``merchant_sign``; the audit facts go into the
   signature), or the merchant uploads a PDF it signed itself (``merchant_upload``: accepted
   only as an incremental update of the served bytes, intact, trusted, signed by this
   merchant).
5. The proof of service (送达回证) is made from these records (``make_proof_of_service``) and
   sealed by the unit; statements (陈述申辩) are rendered from the merchant's text and
   attachments and signed with the merchant's key (``submit_statement``).

Access: officers reach documents of their own unit only (admins all), merchants their own
served documents only. Anything else is :class:`NotFoundError`, never "forbidden": an id of
another merchant's document must be indistinguishable from an id that does not exist.

Slow work (rendering, signing, time-stamping) never runs inside a database transaction: on
SQLite every transaction holds the write lock. State is read in one transaction, the work is
done, and the result is committed in another that re-checks the state (a concurrent second
signature is refused with :class:`ConflictError`, not silently stacked).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.db import session_scope
from storage.models import (
    Document,
    DocumentAttachment,
    DocumentVersion,
    Merchant,
    PortalAudit,
    Unit,
    User,
)

from . import audit, merchants
from .context import Client, OfficerRef, PortalContext
from .document_versions import (
    BEIJING,
    add_version,
    default_legal_basis,
    latest_version,
    local_date,
    officer_certificate_serial,
    put_pdf,
    render,
    scratch,
    sign,
    unit_seal_serial,
)
from .errors import ConflictError, FieldError, NotFoundError, UploadRejectedError
from .idempotency import IdempotencyKeyReusedError, check_key, once, request_digest

log = logging.getLogger(__name__)

__all__ = [
    "NOTICE_TEMPLATES",
    "DocumentView",
    "Requested",
    "UploadedFile",
    "attachment_for_merchant",
    "attachment_for_officer",
    "create_document",
    "document_for_merchant",
    "document_for_officer",
    "documents_for_merchant",
    "documents_for_officer",
    "make_proof_of_service",
    "merchant_sign",
    "merchant_upload",
    "officer_may_sign",
    "record_open",
    "request_document",
    "serve",
    "sign_as_officer",
    "sign_as_unit",
    "submit_statement",
    "version_for_merchant",
    "version_for_officer",
]

#: Templates an officer serves on a merchant through the portal.
NOTICE_TEMPLATES = ("order_to_correct", "penalty_notification", "penalty_decision")
#: Attachment types a statement accepts, by their leading bytes (not by the name given).
ATTACHMENT_TYPES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
TEXT_TYPE = "text/plain"
MAX_STATEMENT_CHARS = 20000
#: Versions made by a signature (each one more signature in the PDF than the one before).
SIGNED_VERSION_KINDS = ("unit-signed", "officer-signed", "merchant-signed", "merchant-uploaded")


@dataclass
class DocumentView:
    """A document with what a page shows about it (detached rows, read-only)."""

    document: Document
    #: None for a case document of a party without a portal account (yet).
    merchant: Merchant | None
    unit: Unit
    versions: list[DocumentVersion]
    attachments: list[DocumentAttachment] = field(default_factory=list)
    children: list[Document] = field(default_factory=list)
    parent: Document | None = None
    audit: list[PortalAudit] = field(default_factory=list)
    served_by: str | None = None

    @property
    def latest(self) -> DocumentVersion | None:
        return self.versions[-1] if self.versions else None

    @property
    def signatures(self) -> list[DocumentVersion]:
        """The versions that added a signature, in the order they were made (seal, officers,
        the merchant's acknowledgement)."""
        return [v for v in self.versions if v.kind in SIGNED_VERSION_KINDS]


@dataclass(frozen=True)
class UploadedFile:
    """A file received from the merchant, already spooled to ``path`` by the web layer."""

    filename: str
    path: Path
    declared_type: str | None = None


# -- access ----------------------------------------------------------------------------------


def _officer_document(session: Session, officer: OfficerRef, document_id: str) -> Document:
    doc = session.get(Document, document_id) if document_id else None
    if doc is None or not (officer.is_admin or doc.unit_id == officer.unit_id):
        raise NotFoundError(f"no document {document_id}")
    return doc


def _merchant_can_see(doc: Document, merchant_id: str) -> bool:
    if doc.merchant_id != merchant_id:
        return False
    if doc.kind == "notice":
        return doc.served_at is not None
    return True


def _merchant_document(session: Session, merchant_id: str, document_id: str) -> Document:
    doc = session.get(Document, document_id) if document_id else None
    if doc is None or not _merchant_can_see(doc, merchant_id):
        raise NotFoundError(f"no document {document_id}")
    return doc


def _merchant_sees_version(doc: Document, version: DocumentVersion) -> bool:
    """Merchants never see an officer's unsigned draft (the rendering before the seal)."""
    return not (doc.kind in ("notice", "proof_of_service") and version.kind == "rendered")


def _view(session: Session, doc: Document, *, for_merchant: str | None = None) -> DocumentView:
    merchant = session.get(Merchant, doc.merchant_id) if doc.merchant_id else None
    unit = session.get(Unit, doc.unit_id)
    assert unit is not None
    versions = list(
        session.scalars(
            select(DocumentVersion)
            .where(DocumentVersion.document_id == doc.id)
            .order_by(DocumentVersion.seq)
        )
    )
    children = list(
        session.scalars(
            select(Document).where(Document.parent_id == doc.id).order_by(Document.created_at)
        )
    )
    parent = session.get(Document, doc.parent_id) if doc.parent_id else None
    attachments = list(
        session.scalars(
            select(DocumentAttachment)
            .where(DocumentAttachment.document_id == doc.id)
            .order_by(DocumentAttachment.id)
        )
    )
    served_by = None
    if doc.served_by_id is not None:
        user = session.get(User, doc.served_by_id)
        served_by = f"{user.display_name} ({user.username})" if user else None
    trail: list[PortalAudit] = []
    if for_merchant is not None:
        versions = [v for v in versions if _merchant_sees_version(doc, v)]
        children = [c for c in children if _merchant_can_see(c, for_merchant)]
        if parent is not None and not _merchant_can_see(parent, for_merchant):
            parent = None
    else:
        trail = audit.audit_trail(session, document_id=doc.id)
    return DocumentView(
        document=doc,
        merchant=merchant,
        unit=unit,
        versions=versions,
        attachments=attachments,
        children=children,
        parent=parent,
        audit=trail,
        served_by=served_by,
    )


def documents_for_officer(
    ctx: PortalContext, officer: OfficerRef, *, merchant_id: str | None = None
) -> list[tuple[Document, Merchant | None]]:
    """The unit's documents, newest first, with their merchant (None: a case document of a
    party without a portal account)."""
    with ctx.sessions() as session:
        query = (
            select(Document, Merchant)
            .outerjoin(Merchant, Merchant.id == Document.merchant_id)
            .order_by(Document.created_at.desc())
            .limit(500)
        )
        if not officer.is_admin:
            query = query.where(Document.unit_id == officer.unit_id)
        if merchant_id is not None:
            query = query.where(Document.merchant_id == merchant_id)
        return [(d, m) for d, m in session.execute(query)]


def document_for_officer(ctx: PortalContext, officer: OfficerRef, document_id: str) -> DocumentView:
    with ctx.sessions() as session:
        return _view(session, _officer_document(session, officer, document_id))


def documents_for_merchant(ctx: PortalContext, merchant_id: str) -> list[Document]:
    with ctx.sessions() as session:
        rows = session.scalars(
            select(Document)
            .where(Document.merchant_id == merchant_id)
            .order_by(Document.created_at.desc())
        )
        return [d for d in rows if _merchant_can_see(d, merchant_id)]


def document_for_merchant(ctx: PortalContext, merchant_id: str, document_id: str) -> DocumentView:
    with ctx.sessions() as session:
        doc = _merchant_document(session, merchant_id, document_id)
        return _view(session, doc, for_merchant=merchant_id)


def version_for_officer(
    ctx: PortalContext, officer: OfficerRef, document_id: str, seq: int | None
) -> tuple[Document, DocumentVersion]:
    """The version ``seq`` (None: the newest) of a document the officer may see."""
    with ctx.sessions() as session:
        doc = _officer_document(session, officer, document_id)
        version = _version(session, doc, seq)
        if version is None:
            raise NotFoundError(f"no version {seq} of document {document_id}")
        return doc, version


def version_for_merchant(
    ctx: PortalContext, merchant_id: str, document_id: str, seq: int | None
) -> tuple[Document, DocumentVersion]:
    with ctx.sessions() as session:
        doc = _merchant_document(session, merchant_id, document_id)
        version = _version(session, doc, seq)
        if version is None or not _merchant_sees_version(doc, version):
            raise NotFoundError(f"no version {seq} of document {document_id}")
        return doc, version


def _version(session: Session, doc: Document, seq: int | None) -> DocumentVersion | None:
    if seq is None:
        return latest_version(session, doc.id)
    return session.scalar(
        select(DocumentVersion).where(
            DocumentVersion.document_id == doc.id, DocumentVersion.seq == seq
        )
    )


def attachment_for_officer(
    ctx: PortalContext, officer: OfficerRef, document_id: str, attachment_id: int
) -> DocumentAttachment:
    with ctx.sessions() as session:
        doc = _officer_document(session, officer, document_id)
        return _attachment(session, doc, attachment_id)


def attachment_for_merchant(
    ctx: PortalContext, merchant_id: str, document_id: str, attachment_id: int
) -> DocumentAttachment:
    with ctx.sessions() as session:
        doc = _merchant_document(session, merchant_id, document_id)
        return _attachment(session, doc, attachment_id)


def _attachment(session: Session, doc: Document, attachment_id: int) -> DocumentAttachment:
    row = session.get(DocumentAttachment, attachment_id)
    if row is None or row.document_id != doc.id:
        raise NotFoundError(f"no attachment {attachment_id}")
    return row


# -- signatures as new versions --------------------------------------------------------------


@dataclass(frozen=True)
class _Signature:
    """A signature made and the signed PDF stored as a new object."""

    result: Any  # workflow.documents.signing.SignedDocument
    stored: Any  # storage.objects.StoredObject
    #: Serial of the certificate that signed (the unit's seal or the merchant's).
    serial: str


def _sign_and_store(
    ctx: PortalContext, source: Path, output: Path, signer: str, **options: Any
) -> _Signature:
    """Sign ``source`` into ``output`` (``options`` as :func:`~workflow.document_versions.sign`) and
    store the signed PDF."""
    result = sign(ctx, source, output, signer=signer, **options)
    return _Signature(result, put_pdf(ctx, output), signer)


def _sign_stored(ctx: PortalContext, key: str, signer: str, **options: Any) -> _Signature:
    """Sign the stored PDF ``key`` into a new stored object.

    The stored PDF itself is never changed: a signature adds an object and a version, so
    every earlier state of the document stays in the record."""
    with scratch(ctx) as src, scratch(ctx) as out:
        src.write_bytes(ctx.store.read_bytes(key))
        return _sign_and_store(ctx, src, out, signer, **options)


@dataclass(frozen=True)
class _RenderedAndSigned:
    """A document rendered and signed in one go (a proof of service, a statement)."""

    template: str
    rendered: Any  # workflow.documents.RenderedDocument: its data is the document's
    unsigned: Any  # storage.objects.StoredObject of the rendering before the signature
    signature: _Signature


def _render_and_sign(
    ctx: PortalContext,
    template: str,
    data: Mapping[str, Any],
    signer: str,
    *,
    audit_trail: dict[str, Any] | None = None,
    **options: Any,
) -> _RenderedAndSigned:
    """Render ``template`` and sign the rendering (``options`` as
    :func:`~workflow.document_versions.sign`), keeping both PDFs.

    Both are kept because the record must show what was signed as well as the signature.
    ``audit_trail``, when given, is completed in place with the hash of that rendering
    (``document_sha256``) before it goes into the signature: the signer's record names the
    bytes it signed, as :func:`merchant_sign` does for the served version."""
    with scratch(ctx) as rendered_path, scratch(ctx) as signed_path:
        rendered = render(ctx, template, data, rendered_path)
        unsigned = put_pdf(ctx, rendered_path)
        if audit_trail is not None:
            audit_trail["document_sha256"] = unsigned.sha256
            options["audit_trail"] = audit_trail
        signature = _sign_and_store(ctx, rendered_path, signed_path, signer, **options)
    return _RenderedAndSigned(template, rendered, unsigned, signature)


def _add_signed_version(
    session: Session,
    document_id: str,
    signature: _Signature,
    *,
    kind: str,
    actor: str,
    at: dt.datetime,
    expect_seq: int | None = None,
) -> DocumentVersion:
    """Record a signature as the document's next version, with who signed, when and at
    which level: what the document pages and the proof of service state about it."""
    return add_version(
        session,
        document_id,
        signature.stored,
        kind=kind,
        actor=actor,
        at=at,
        signer_subject=signature.result.signer_subject,
        signer_serial=signature.serial,
        signing_time=signature.result.signing_time,
        level=signature.result.level,
        expect_seq=expect_seq,
    )


def _insert_child_document(
    session: Session,
    made: _RenderedAndSigned,
    *,
    parent_id: str,
    unit_id: int,
    merchant_id: str,
    signed_kind: str,
    actor: str,
    at: dt.datetime,
    **fields: Any,
) -> Document:
    """Insert a document made by :func:`_render_and_sign` in answer to a served notice (its
    proof of service, the merchant's statement): a child of the notice, of the template's
    kind, signed from the start, with the rendering as version 1 and the signed PDF
    (``signed_kind``) as version 2. ``fields``: further :class:`Document` columns."""
    from .documents import TEMPLATES

    doc = Document(
        unit_id=unit_id,
        merchant_id=merchant_id,
        kind=made.template,
        template=made.template,
        title=TEMPLATES[made.template].title_zh,
        data=made.rendered.data,
        status="signed",
        parent_id=parent_id,
        created_at=at,
        updated_at=at,
        **fields,
    )
    session.add(doc)
    session.flush()
    add_version(session, doc.id, made.unsigned, kind="rendered", actor=actor, at=at)
    _add_signed_version(session, doc.id, made.signature, kind=signed_kind, actor=actor, at=at)
    return doc


# -- officer: create, seal, serve ------------------------------------------------------------


def create_document(
    ctx: PortalContext,
    officer: OfficerRef,
    *,
    merchant_id: str,
    template: str,
    data: Mapping[str, Any],
    client: Client | None = None,
) -> str:
    """Render a new notice for a merchant of the officer's unit; returns the document id.

    The party, issuing unit and date are filled in from the merchant, the unit and today
    when the data leaves them out; a party whose credit code is not the merchant's is
    refused (a notice must name the party it is served on)."""
    _check_request(template, data)
    return _create_document(ctx, officer, merchant_id, template, data, client, None)


@dataclass(frozen=True)
class Requested:
    """A document request the service has taken: ``replayed`` when an earlier request with the
    same idempotency key had already made the document (nothing new was rendered)."""

    document_id: str
    replayed: bool


def request_document(
    ctx: PortalContext,
    officer: OfficerRef,
    *,
    merchant_id: str,
    template: str,
    data: Mapping[str, Any],
    idempotency_key: str | None,
    client: Client | None = None,
) -> Requested:
    """:func:`create_document` for a client that may send the same request twice.

    With an ``Idempotency-Key`` (:mod:`workflow.idempotency`) a retry gets the document the
    first request made, in whatever state it is now (sealed, served), instead of a second
    draft of the same notice; the same key with another merchant, template or data is
    :class:`IdempotencyKeyReusedError`. Two requests with one key at the same moment make one
    document (a unique index): the loser gets the winner's, and its rendering stays in the
    store unreferenced (immutable objects cannot be taken back; nothing points at it)."""
    if idempotency_key is None:
        _check_request(template, data)
        made = _create_document(ctx, officer, merchant_id, template, data, client, None)
        return Requested(made, False)
    key = check_key(idempotency_key)
    _check_request(template, data)
    digest = request_digest({"merchant_id": merchant_id, "template": template, "data": data})
    return Requested(
        *once(
            lambda: _replayed_document(ctx, officer, key, digest),
            lambda: _create_document(
                ctx, officer, merchant_id, template, data, client, (key, digest)
            ),
        )
    )


def _check_request(template: str, data: object) -> None:
    if template not in NOTICE_TEMPLATES:
        allowed = ", ".join(NOTICE_TEMPLATES)
        raise FieldError("template", f"{template!r} cannot be served here; one of {allowed}")
    if not isinstance(data, Mapping):
        raise FieldError("data", "the document data must be a JSON object")


def _replayed_document(
    ctx: PortalContext, officer: OfficerRef, key: str, digest: str
) -> str | None:
    """The document this officer's earlier request with ``key`` made, if it asked the same."""
    with ctx.sessions() as session:
        earlier = session.scalars(
            select(Document).where(
                Document.created_by_id == officer.id, Document.idempotency_key == key
            )
        ).first()
        if earlier is None:
            return None
        if earlier.request_digest != digest:
            raise IdempotencyKeyReusedError(
                f"this Idempotency-Key was already used for another request (document "
                f"{earlier.id}, {earlier.template}); use a new key for each document"
            )
        return earlier.id


def _create_document(
    ctx: PortalContext,
    officer: OfficerRef,
    merchant_id: str,
    template: str,
    data: Mapping[str, Any],
    client: Client | None,
    idempotency: tuple[str, str] | None,
) -> str:
    from .documents import TEMPLATES

    now = ctx.now()
    with ctx.sessions() as session:
        merchant = merchants.officer_merchant(session, officer, merchant_id)
        unit = session.get(Unit, merchant.unit_id)
        assert unit is not None
        m_name, m_code, unit_id, unit_name = (
            merchant.name,
            merchant.credit_code,
            merchant.unit_id,
            unit.name,
        )
    filled = dict(data)
    party = filled.get("party")
    if party is None:
        filled["party"] = {"kind": "organization", "name": m_name, "credit_code": m_code}
    elif isinstance(party, Mapping):
        given = str(party.get("credit_code") or "").strip().upper()
        if given and given != m_code:
            raise FieldError(
                "party.credit_code",
                f"{given} is not the code of the merchant this document is for ({m_name}, "
                f"{m_code})",
            )
        if not given:
            filled["party"] = {**party, "credit_code": m_code}
    filled.setdefault("issuing_unit", unit_name)
    filled.setdefault("date", local_date(now))
    with scratch(ctx) as path:
        rendered = render(ctx, template, filled, path)
        stored = put_pdf(ctx, path)
    with session_scope(ctx.sessions) as session:
        doc = Document(
            unit_id=unit_id,
            merchant_id=merchant_id,
            kind="notice",
            template=template,
            title=TEMPLATES[template].title_zh,
            data=rendered.data,
            status="draft",
            created_by_id=officer.id,
            idempotency_key=None if idempotency is None else idempotency[0],
            request_digest=None if idempotency is None else idempotency[1],
            created_at=now,
            updated_at=now,
        )
        session.add(doc)
        session.flush()
        add_version(session, doc.id, stored, kind="rendered", actor=officer.actor, at=now)
        audit.record_document_action(
            session,
            "document.created",
            officer,
            doc,
            at=now,
            client=client,
            sha256_after=stored.sha256,
            details={"template": template},
        )
        return doc.id


def sign_as_unit(
    ctx: PortalContext, officer: OfficerRef, document_id: str, *, client: Client | None = None
) -> DocumentVersion:
    """Seal a draft with the unit's certificate (certifying, form filling and signing still
    allowed), PAdES B-LTA."""
    with ctx.sessions() as session:
        doc = _officer_document(session, officer, document_id)
        if doc.status != "draft":
            raise ConflictError("this document is already sealed", code="already_signed")
        version = latest_version(session, doc.id)
        assert version is not None
        unit = session.get(Unit, doc.unit_id)
        assert unit is not None
        unit_id, unit_name = unit.id, unit.name
        key, seq, before = version.object_key, version.seq, version.sha256
    seal = unit_seal_serial(ctx, unit_id)
    now = ctx.now()
    signature = _sign_stored(
        ctx,
        key,
        seal,
        reason="行政机关盖章 / Sealed by the issuing authority",
        location=unit_name,
        certify=True,
    )
    with session_scope(ctx.sessions) as session:
        doc = _officer_document(session, officer, document_id)
        if doc.status != "draft":
            raise ConflictError("this document was sealed meanwhile", code="already_signed")
        row = _add_signed_version(
            session,
            doc.id,
            signature,
            kind="unit-signed",
            actor=officer.actor,
            at=now,
            expect_seq=seq,
        )
        doc.status = "signed"
        audit.record_document_action(
            session,
            "document.unit_signed",
            officer,
            doc,
            at=now,
            client=client,
            sha256_before=before,
            sha256_after=signature.stored.sha256,
            details={"certificate_serial": seal, "level": signature.result.level},
        )
        return row


def _officer_slots(template: str) -> int:
    """How many officer slots (承办人) the template's PDF carries."""
    from .documents import TEMPLATES

    doc_type = TEMPLATES.get(template)
    return sum(1 for slot in doc_type.slots if slot.kind == "officer") if doc_type else 0


def _officer_signing_refusal(
    doc: Document, versions: Sequence[DocumentVersion], officer: OfficerRef
) -> ConflictError | None:
    """Why ``officer`` cannot sign ``doc`` now (None: they can), from the records alone."""
    if doc.kind != "notice":
        return ConflictError(
            "officers sign the notices and decisions served on merchants, not this document",
            code="not_signable",
        )
    if doc.status == "draft":
        return ConflictError(
            "seal the document with the unit's seal first: officers sign after the seal",
            code="not_signed",
        )
    if doc.served_at is not None or doc.status != "signed":
        return ConflictError(
            "this document was already served: no signature can be added to it any more",
            code="already_served",
        )
    if officer.unit_id != doc.unit_id:
        return ConflictError(
            "only an officer of the unit that issues this document can sign it",
            code="not_your_unit",
        )
    if any(v.kind == "officer-signed" and v.actor == officer.actor for v in versions):
        return ConflictError("you have already signed this document", code="already_signed")
    signed = sum(1 for v in versions if v.kind == "officer-signed")
    if signed >= _officer_slots(doc.template):
        return ConflictError(
            "every officer signature slot (承办人) of this document is already signed",
            code="no_officer_slot",
        )
    return None


def officer_may_sign(view: DocumentView, officer: OfficerRef) -> bool:
    """Whether a page should offer ``officer`` to sign this document with their own
    certificate (:func:`sign_as_officer` checks again, and checks the badge number)."""
    return _officer_signing_refusal(view.document, view.versions, officer) is None


def _empty_slot(data: bytes, prefix: str) -> str | None:
    """The first empty signature field of the PDF named ``prefix`` or ``prefix_<n>``."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import fields

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    for name, value, _ref in fields.enumerate_sig_fields(reader):
        name = str(name)
        if value is None and (name == prefix or name.startswith(prefix + "_")):
            return name
    return None


def _versions(session: Session, document_id: str) -> list[DocumentVersion]:
    """Every version of a document, oldest first."""
    return list(
        session.scalars(
            select(DocumentVersion)
            .where(DocumentVersion.document_id == document_id)
            .order_by(DocumentVersion.seq)
        )
    )


def sign_as_officer(
    ctx: PortalContext, officer: OfficerRef, document_id: str, *, client: Client | None = None
) -> DocumentVersion:
    """Sign a sealed, not yet served document with the officer's own certificate (issued on
    first use from the name, the unit and the badge number), PAdES B-LTA, in the next empty
    officer slot: an incremental update that keeps the unit's certification valid.

    Refused (:class:`ConflictError`) before the seal, after service, for an officer of
    another unit, a second time for the same officer, when no officer slot is left, and for
    an officer without a badge number (the message says how to set it)."""
    from .documents.types import SLOT_PREFIX

    with ctx.sessions() as session:
        doc = _officer_document(session, officer, document_id)
        versions = _versions(session, doc.id)
        refusal = _officer_signing_refusal(doc, versions, officer)
        if refusal is not None:
            raise refusal
        unit = session.get(Unit, doc.unit_id)
        assert unit is not None
        unit_name = unit.name
        version = versions[-1]
        key, seq, before = version.object_key, version.seq, version.sha256
        used_serials = {v.signer_serial for v in versions if v.kind == "officer-signed"}
    serial = officer_certificate_serial(ctx, officer.id)
    if serial in used_serials:
        raise ConflictError(
            "this certificate has already signed this document", code="already_signed"
        )
    slot = _empty_slot(ctx.store.read_bytes(key), SLOT_PREFIX["officer"])
    if slot is None:
        raise ConflictError(
            "the document has no empty officer signature slot (承办人) left", code="no_officer_slot"
        )
    now = ctx.now()
    signature = _sign_stored(
        ctx,
        key,
        serial,
        reason="承办人签名 / Signed by the officer in charge",
        location=unit_name,
        field_name=slot,
    )
    with session_scope(ctx.sessions) as session:
        doc = _officer_document(session, officer, document_id)
        versions = _versions(session, doc.id)
        refusal = _officer_signing_refusal(doc, versions, officer)
        if refusal is not None:
            raise refusal
        row = _add_signed_version(
            session,
            doc.id,
            signature,
            kind="officer-signed",
            actor=officer.actor,
            at=now,
            expect_seq=seq,
        )
        audit.record_document_action(
            session,
            "document.officer_signed",
            officer,
            doc,
            at=now,
            client=client,
            sha256_before=before,
            sha256_after=signature.stored.sha256,
            details={
                "certificate_serial": serial,
                "field": slot,
                "level": signature.result.level,
                "signer": f"{officer.display_name} ({officer.username})",
            },
        )
        return row


def serve(
    ctx: PortalContext, officer: OfficerRef, document_id: str, *, client: Client | None = None
) -> dt.datetime:
    """Serve a sealed document electronically; returns the time of service (when it reached
    the merchant's account, i.e. this commit)."""
    with session_scope(ctx.sessions) as session:
        doc = _officer_document(session, officer, document_id)
        if doc.kind != "notice":
            raise ConflictError("only notices and decisions are served", code="not_servable")
        if doc.status == "draft":
            raise ConflictError("seal the document before serving it", code="not_signed")
        if doc.served_at is not None:
            raise ConflictError("this document was already served", code="already_served")
        merchant = session.get(Merchant, doc.merchant_id) if doc.merchant_id else None
        if merchant is None:
            raise ConflictError(
                "the party has no portal account: serve this document by post or public "
                "notice, or link the party to its account first",
                code="no_account",
            )
        if merchant.status != "active" or merchant.consent_signed_at is None:
            raise ConflictError(
                f"{merchant.name} has not signed the service-address confirmation "
                "(送达地址确认书), so it has not consented to electronic service: serve this "
                "document another way, or ask the merchant to finish setting up its account",
                code="no_consent",
            )
        version = latest_version(session, doc.id)
        assert version is not None
        now = ctx.now()
        doc.served_at = now
        doc.served_by_id = officer.id
        doc.status = "served"
        audit.record_document_action(
            session,
            "document.served",
            officer,
            doc,
            at=now,
            client=client,
            sha256_before=version.sha256,
            details={
                "method": "electronic",
                "delivered_to": f"portal account {merchant.credit_code}",
                "version": version.seq,
                "sent_by": f"{officer.display_name} ({officer.username})",
            },
        )
        return now


# -- merchant: open, sign, upload --------------------------------------------------------------


def record_open(
    ctx: PortalContext, merchant_id: str, document_id: str, *, client: Client | None = None
) -> None:
    """Record the merchant's first opening of a served document (later views are not
    recorded)."""
    with ctx.sessions() as session:
        doc = _merchant_document(session, merchant_id, document_id)
        if doc.first_opened_at is not None or doc.kind != "notice":
            return
    c = (client or Client()).trimmed()
    now = ctx.now()
    with session_scope(ctx.sessions) as session:
        doc = _merchant_document(session, merchant_id, document_id)
        if doc.first_opened_at is not None:
            return
        doc.first_opened_at = now
        doc.first_opened_ip = c.ip
        doc.first_opened_user_agent = c.user_agent
        merchants.record_merchant_action(
            session,
            "document.opened",
            merchant_id,
            at=now,
            client=c,
            unit_id=doc.unit_id,
            document_id=doc.id,
            auth_method="session",
        )


def _signable(doc: Document) -> None:
    if doc.kind not in ("notice", "address_confirmation"):
        raise ConflictError("this document is not for the merchant to sign", code="not_signable")
    if doc.status == "acknowledged":
        raise ConflictError("you have already signed this document", code="already_signed")
    if doc.status != "served":
        raise ConflictError("this document cannot be signed now", code="not_signable")


def _signing_trail(
    purpose: str,
    merchant_id: str,
    name: str,
    credit_code: str,
    serial: str,
    client: Client,
    now: dt.datetime,
    **about: Any,
) -> dict[str, Any]:
    """What a merchant's signature states about the act of signing (it goes into the
    signature and into the audit row): the account, how the merchant proved it was itself,
    from where, when, ``about`` what, and with which certificate."""
    return {
        "purpose": purpose,
        "account": merchants.merchant_actor(merchant_id),
        "merchant": name,
        "credit_code": credit_code,
        "auth_method": "password re-entered at signing",
        "ip": client.ip,
        "user_agent": client.user_agent,
        "time": now.isoformat(),
        **about,
        "certificate_serial": serial,
    }


def merchant_sign(
    ctx: PortalContext,
    merchant_id: str,
    document_id: str,
    *,
    password: str,
    client: Client | None = None,
) -> DocumentVersion:
    """Counter-sign a served document (or the service-address confirmation) with the
    merchant's certificate, after checking the password again.

    The audit facts (account, authentication, address, browser, time, the hash of what was
    signed) go into the signature (``SignatureRequest.audit``) and into ``portal_audit``.
    A wrong password signs nothing."""
    with ctx.sessions() as session:
        doc = _merchant_document(session, merchant_id, document_id)
        _signable(doc)
    merchants.check_password(ctx, merchant_id, password, client=client, purpose="reauth")
    c = (client or Client()).trimmed()
    with ctx.sessions() as session:
        doc = _merchant_document(session, merchant_id, document_id)
        _signable(doc)
        merchant = session.get(Merchant, merchant_id)
        assert merchant is not None
        if not merchant.cert_serial:
            raise ConflictError("this account has no signing certificate", code="no_certificate")
        version = latest_version(session, doc.id)
        assert version is not None
        kind, unit_id = doc.kind, doc.unit_id
        key, seq, before = version.object_key, version.seq, version.sha256
        serial, name, code = merchant.cert_serial, merchant.name, merchant.credit_code
    now = ctx.now()
    trail = _signing_trail(
        "service-address confirmation" if kind == "address_confirmation" else "receipt",
        merchant_id,
        name,
        code,
        serial,
        c,
        now,
        document_id=document_id,
        document_version=seq,
        document_sha256=before,
    )
    signature = _sign_stored(
        ctx,
        key,
        serial,
        reason="当事人签收 / Acknowledged by the party"
        if kind == "notice"
        else "同意电子送达 / Consent to electronic service",
        location=ctx.portal_url,
        audit_trail=trail,
    )
    with session_scope(ctx.sessions) as session:
        doc = _merchant_document(session, merchant_id, document_id)
        _signable(doc)
        row = _add_signed_version(
            session,
            doc.id,
            signature,
            kind="merchant-signed",
            actor=merchants.merchant_actor(merchant_id),
            at=now,
            expect_seq=seq,
        )
        doc.status = "acknowledged"
        doc.merchant_signed_at = now
        if kind == "address_confirmation":
            m = session.get(Merchant, merchant_id)
            assert m is not None
            m.consent_signed_at = now
        merchants.record_merchant_action(
            session,
            "document.merchant_signed",
            merchant_id,
            at=now,
            client=c,
            unit_id=unit_id,
            document_id=doc.id,
            auth_method="password-reauth",
            sha256_before=before,
            sha256_after=signature.stored.sha256,
            details=trail,
        )
    if kind == "notice":
        _proof_quietly(ctx, document_id)
    return row


def _proof_quietly(ctx: PortalContext, document_id: str) -> None:
    """Refresh the proof of service after the merchant acknowledged; a failure here must not
    undo the acknowledgement (an officer can make the proof again from the document page)."""
    try:
        make_proof_of_service(ctx, None, document_id)
    except Exception:
        log.exception("the proof of service for %s could not be made", document_id)


def _signature_count(data: bytes) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    return len(reader.embedded_regular_signatures)


def _signers(data: bytes) -> list[x509.Certificate]:
    """Signer certificates of the regular signatures, in document order."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    out = []
    for emb in reader.embedded_regular_signatures:
        out.append(x509.load_der_x509_certificate(emb.signer_cert.dump()))
    return out


def _holds_code(cert: x509.Certificate, code: str) -> bool:
    """The certificate names this credit code (serialNumber, or organizationIdentifier
    ``NTRCN-<code>`` as ETSI EN 319 412-1 writes it)."""
    values = {a.value for a in cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)}
    values |= {
        str(a.value).removeprefix("NTRCN-")
        for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    }
    return code in {str(v).strip().upper() for v in values}


def check_upload(
    ctx: PortalContext, served: bytes, uploaded: bytes, credit_code: str
) -> tuple[list[str], Any]:
    """Reasons to refuse ``uploaded`` as the merchant's signed copy of ``served`` (empty:
    acceptable) and the validation report (None when refused before validating)."""
    from .documents.signing import validate_document

    if len(uploaded) > ctx.max_upload_pdf_bytes:
        return [f"the file is larger than {ctx.max_upload_pdf_bytes // (1024 * 1024)} MB"], None
    if not uploaded.startswith(b"%PDF-"):
        return ["the file is not a PDF"], None
    if len(uploaded) <= len(served) or not uploaded.startswith(served):
        return [
            "the file does not start with the exact bytes of the document as served: sign the "
            "served PDF as an incremental update (do not re-save, print or convert it)"
        ], None
    try:
        before = _signature_count(served)
        signers = _signers(uploaded)
    except Exception as exc:
        return [f"the PDF cannot be read: {type(exc).__name__}"], None
    if len(signers) <= before:
        return ["the file adds no signature to the served document"], None
    with scratch(ctx) as path:
        path.write_bytes(uploaded)
        report = validate_document(path, ctx.trust_roots_pem)
    reasons: list[str] = []
    sigs = list(report.signatures)
    for i, s in enumerate(sigs):
        label = f"signature {i + 1} ({s.field_name})"
        if s.intact is False or s.crypto_valid is False:
            reasons.append(f"{label} is broken: {s.reason.en}")
        elif s.indication.value == "TOTAL-FAILED":
            reasons.append(f"{label} fails validation: {s.reason.en}")
    for s in report.timestamps:
        if s.indication.value == "TOTAL-FAILED":
            reasons.append(f"document time-stamp {s.field_name} fails: {s.reason.en}")
    for i, (cert, s) in enumerate(zip(signers, sigs, strict=False)):
        if i < before:
            continue
        label = f"signature {i + 1} ({s.field_name})"
        if not _holds_code(cert, credit_code):
            reasons.append(
                f"{label} was made by {cert.subject.rfc4514_string()}, not by this merchant "
                f"(credit code {credit_code})"
            )
        if not s.trusted:
            reasons.append(
                f"{label}: the signer's certificate does not chain to a trusted root "
                "(this service's root or a root the administrator added)"
            )
    return reasons, report


def merchant_upload(
    ctx: PortalContext,
    merchant_id: str,
    document_id: str,
    uploaded: Path,
    *,
    client: Client | None = None,
) -> DocumentVersion:
    """Accept a PDF the merchant counter-signed with its own certificate, or raise
    :class:`UploadRejectedError` with the reasons (the refusal is audited too)."""
    c = (client or Client()).trimmed()
    with ctx.sessions() as session:
        doc = _merchant_document(session, merchant_id, document_id)
        if doc.kind != "notice":
            raise ConflictError(
                "this document is not for the merchant to sign", code="not_signable"
            )
        _signable(doc)
        merchant = session.get(Merchant, merchant_id)
        assert merchant is not None
        version = latest_version(session, doc.id)
        assert version is not None
        key, seq, before, code, unit_id = (
            version.object_key,
            version.seq,
            version.sha256,
            merchant.credit_code,
            doc.unit_id,
        )
    size = uploaded.stat().st_size
    if size > ctx.max_upload_pdf_bytes:
        reasons = [f"the file is larger than {ctx.max_upload_pdf_bytes // (1024 * 1024)} MB"]
        report = None
    else:
        reasons, report = check_upload(ctx, ctx.store.read_bytes(key), uploaded.read_bytes(), code)
    now = ctx.now()
    if reasons:
        with session_scope(ctx.sessions) as session:
            merchants.record_merchant_action(
                session,
                "document.upload_rejected",
                merchant_id,
                at=now,
                client=c,
                unit_id=unit_id,
                document_id=document_id,
                auth_method="session",
                sha256_before=before,
                details={"reasons": reasons, "size": size},
            )
        raise UploadRejectedError(reasons)
    stored = ctx.store.put_file(uploaded, content_type="application/pdf")
    last = report.signatures[-1] if report is not None and report.signatures else None
    with session_scope(ctx.sessions) as session:
        doc = _merchant_document(session, merchant_id, document_id)
        _signable(doc)
        row = add_version(
            session,
            doc.id,
            stored,
            kind="merchant-uploaded",
            actor=merchants.merchant_actor(merchant_id),
            at=now,
            signer_subject=(last.signer or {}).get("subject") if last else None,
            signer_serial=(last.signer or {}).get("serial") if last else None,
            signing_time=(last.signing_time_stamped or last.signing_time_claimed) if last else None,
            level=last.pades_level if last else None,
            expect_seq=seq,
        )
        doc.status = "acknowledged"
        doc.merchant_signed_at = now
        merchants.record_merchant_action(
            session,
            "document.upload_accepted",
            merchant_id,
            at=now,
            client=c,
            unit_id=unit_id,
            document_id=doc.id,
            auth_method="own-certificate",
            sha256_before=before,
            sha256_after=stored.sha256,
            details={
                "signer": (last.signer if last else None),
                "indication": report.indication.value if report else None,
            },
        )
    _proof_quietly(ctx, document_id)
    return row


# -- proof of service ------------------------------------------------------------------------


def _local(moment: dt.datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") + " (UTC+8)"


def make_proof_of_service(
    ctx: PortalContext,
    officer: OfficerRef | None,
    document_id: str,
    *,
    client: Client | None = None,
) -> str:
    """Make (again) the 送达回证 of a served document from the service records and seal it
    with the unit's certificate; returns the new proof's document id. ``officer=None``: made
    by the system (after the merchant's acknowledgement)."""
    with ctx.sessions() as session:
        if officer is not None:
            doc = _officer_document(session, officer, document_id)
        else:
            found = session.get(Document, document_id)
            if found is None:
                raise NotFoundError(f"no document {document_id}")
            doc = found
        if doc.kind != "notice" or doc.served_at is None:
            raise ConflictError("only a served document has a proof of service", code="not_served")
        merchant = session.get(Merchant, doc.merchant_id) if doc.merchant_id else None
        unit = session.get(Unit, doc.unit_id)
        sender = session.get(User, doc.served_by_id) if doc.served_by_id else None
        if merchant is None:
            raise ConflictError(
                "the party has no portal account; the case's own proof of service (送达回证) "
                "records this service",
                code="no_account",
            )
        assert unit is not None
        versions = _versions(session, doc.id)
        served_version = next(
            (v for v in reversed(versions) if v.created_at <= doc.served_at), versions[-1]
        )
        acknowledged = next(
            (v for v in reversed(versions) if v.kind in ("merchant-signed", "merchant-uploaded")),
            None,
        )
        facts = dict(doc.data)
        title, served_at, unit_id, merchant_id = doc.title, doc.served_at, unit.id, merchant.id
        opened = (doc.first_opened_at, doc.first_opened_ip, doc.first_opened_user_agent)
        m_name, m_code = merchant.name, merchant.credit_code
        sender_name = sender.display_name if sender else "—"
        sender_login = sender.username if sender else "—"
    servers = facts.get("officers") or [{"name": sender_name, "officer_id": sender_login}]
    lines = [
        f"电子送达记录：文书于 {_local(served_at)} 到达受送达人在本平台的账户"
        f"（{m_code}），即送达时间；由 {sender_name}（账号 {sender_login}）发送。",
        f"送达文书版本 SHA-256：{served_version.sha256}。",
    ]
    if opened[0] is not None:
        lines.append(
            f"受送达人于 {_local(opened[0])} 首次打开（IP {opened[1] or '—'}，"
            f"浏览器 {(opened[2] or '—')[:120]}）。"
        )
    else:
        lines.append("受送达人尚未打开该文书（电子送达自到达账户之日起生效）。")
    if acknowledged is not None:
        how = "以服务端托管证书签收" if acknowledged.kind == "merchant-signed" else "以自有证书签收"
        lines.append(
            f"受送达人于 {_local(acknowledged.created_at)} {how}，签收版本 SHA-256："
            f"{acknowledged.sha256}。"
        )
    data: dict[str, Any] = {
        "case_number": facts.get("case_number") or f"送达-{document_id[:8]}",
        "issuing_unit": facts.get("issuing_unit") or unit.name,
        "date": local_date(ctx.now()),
        "legal_basis": default_legal_basis("proof_of_service"),
        "party": facts.get("party")
        or {"kind": "organization", "name": m_name, "credit_code": m_code},
        "documents": [{"title": title, "number": facts.get("case_number")}],
        "method": "electronic",
        "served_at": served_at.isoformat(),
        "electronic_address": f"{ctx.portal_url}/portal ({m_code})",
        "servers": [
            {"name": s.get("name"), "officer_id": s.get("officer_id")}
            for s in servers
            if isinstance(s, Mapping)
        ],
        "receiver_name": m_name if acknowledged is not None or opened[0] is not None else None,
        "remarks": "\n".join(lines),
    }
    seal = unit_seal_serial(ctx, unit_id)
    now = ctx.now()
    actor = officer.actor if officer is not None else "system"
    made = _render_and_sign(
        ctx,
        "proof_of_service",
        data,
        seal,
        reason="送达回证 / Proof of service",
        location=unit.name,
        certify=True,
        field_name=PROOF_SEAL_FIELD,
    )
    with session_scope(ctx.sessions) as session:
        proof = _insert_child_document(
            session,
            made,
            parent_id=document_id,
            unit_id=unit_id,
            merchant_id=merchant_id,
            signed_kind="unit-signed",
            actor=actor,
            at=now,
            created_by_id=officer.id if officer is not None else None,
        )
        audit.record(
            session,
            "proof_of_service.made",
            actor_type="officer" if officer is not None else "system",
            actor_id=actor,
            at=now,
            client=client,
            unit_id=unit_id,
            merchant_id=merchant_id,
            document_id=document_id,
            sha256_after=made.signature.stored.sha256,
            details={"proof_id": proof.id},
        )
        return proof.id


#: The proof of service has no seal slot (送达人 and 受送达人 only): the unit seals it in a
#: field of its own, as the first (certifying) signature.
PROOF_SEAL_FIELD = "unit"


# -- statements ------------------------------------------------------------------------------


_UNSAFE = re.compile(r"[^\w.\- ()\u4e00-\u9fff]+")


def _safe_name(name: str, taken: set[str]) -> str:
    base = unicodedata.normalize("NFC", Path(name or "attachment").name).strip() or "attachment"
    base = _UNSAFE.sub("_", base)[:100] or "attachment"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        stem, dot, ext = base.rpartition(".")
        candidate = f"{stem}-{n}.{ext}" if dot else f"{base}-{n}"
    taken.add(candidate)
    return candidate


def _sniff(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    for content_type, magics in ATTACHMENT_TYPES.items():
        if any(head.startswith(m) for m in magics):
            return content_type
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the 4 KiB boundary
            return None
    return TEXT_TYPE if b"\x00" not in head else None


def submit_statement(
    ctx: PortalContext,
    merchant_id: str,
    document_id: str,
    *,
    text: str,
    password: str,
    attachments: Sequence[UploadedFile] = (),
    requests_hearing: bool = False,
    client: Client | None = None,
) -> str:
    """The merchant's written statement/defence on a served document: attachments stored
    as objects with their hashes, the statement rendered ("statement" template) and signed
    with the merchant's key after the password is checked again. Returns its document id."""
    body = (text or "").strip()
    if not body:
        raise FieldError("text", "write the statement (it cannot be empty)")
    if len(body) > MAX_STATEMENT_CHARS:
        raise FieldError("text", f"at most {MAX_STATEMENT_CHARS} characters")
    files = [f for f in attachments if f.filename]
    if len(files) > ctx.max_attachments:
        raise FieldError("attachments", f"at most {ctx.max_attachments} files")
    kinds = []
    for f in files:
        if f.path.stat().st_size > ctx.max_attachment_bytes:
            raise FieldError(
                "attachments",
                f"{f.filename}: larger than {ctx.max_attachment_bytes // (1024 * 1024)} MB",
            )
        kind = _sniff(f.path)
        if kind is None:
            raise FieldError(
                "attachments", f"{f.filename}: only PDF, PNG, JPEG or plain text files"
            )
        kinds.append(kind)
    with ctx.sessions() as session:
        parent = _merchant_document(session, merchant_id, document_id)
        if parent.kind != "notice":
            raise ConflictError("statements answer a served document", code="not_servable")
    merchants.check_password(ctx, merchant_id, password, client=client, purpose="reauth")
    c = (client or Client()).trimmed()
    with ctx.sessions() as session:
        parent = _merchant_document(session, merchant_id, document_id)
        merchant = session.get(Merchant, merchant_id)
        assert merchant is not None
        if not merchant.cert_serial:
            raise ConflictError("this account has no signing certificate", code="no_certificate")
        facts = dict(parent.data)
        title, unit_id = parent.title, parent.unit_id
        unit = session.get(Unit, unit_id)
        assert unit is not None
        unit_name = unit.name
        serial, name, code = merchant.cert_serial, merchant.name, merchant.credit_code
    taken: set[str] = set()
    stored_files = []
    for f, kind in zip(files, kinds, strict=True):
        obj = ctx.store.put_file(f.path, content_type=kind)
        stored_files.append((_safe_name(f.filename, taken), kind, obj))
    now = ctx.now()
    data: dict[str, Any] = {
        "case_number": facts.get("case_number") or f"陈述-{document_id[:8]}",
        "issuing_unit": facts.get("issuing_unit") or unit_name,
        "date": local_date(now),
        "legal_basis": default_legal_basis("statement"),
        "party": facts.get("party") or {"kind": "organization", "name": name, "credit_code": code},
        "responds_to": {"title": title, "number": facts.get("case_number")},
        "statement": body,
        "requests_hearing": bool(requests_hearing),
        "attachments": [
            {"name": n, "sha256": obj.sha256, "size": obj.size} for n, _, obj in stored_files
        ],
        "submitted_at": now.isoformat(),
    }
    trail = _signing_trail(
        "statement", merchant_id, name, code, serial, c, now, responds_to=document_id
    )
    made = _render_and_sign(
        ctx,
        "statement",
        data,
        serial,
        audit_trail=trail,
        reason="陈述申辩 / Statement and defence",
        location=ctx.portal_url,
    )
    actor = merchants.merchant_actor(merchant_id)
    with session_scope(ctx.sessions) as session:
        statement = _insert_child_document(
            session,
            made,
            parent_id=document_id,
            unit_id=unit_id,
            merchant_id=merchant_id,
            signed_kind="merchant-signed",
            actor=actor,
            at=now,
            merchant_signed_at=now,
        )
        for n, kind, obj in stored_files:
            session.add(
                DocumentAttachment(
                    document_id=statement.id,
                    filename=n,
                    content_type=kind,
                    object_key=obj.key,
                    sha256=obj.sha256,
                    size=obj.size,
                    created_at=now,
                )
            )
        merchants.record_merchant_action(
            session,
            "statement.submitted",
            merchant_id,
            at=now,
            client=c,
            unit_id=unit_id,
            document_id=statement.id,
            auth_method="password-reauth",
            sha256_before=made.unsigned.sha256,
            sha256_after=made.signature.stored.sha256,
            details={**trail, "attachments": data["attachments"]},
        )
        return statement.id
