"""The building blocks the portal's flows share: scratch files, immutable document versions
in the object store, the unit's seal, rendering and signing through ``workflow.documents``,
and the service-address confirmation every merchant signs first.

Every PDF a document ever had is kept: each rendering and each signature becomes a new
object in the store (content-addressed, never replaced) and a new ``document_versions`` row
(append-only). The newest version is the document; older ones show its history.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from certs.errors import CertsError, UnknownCertificateError
from certs.subjects import SubjectInfo
from storage.db import session_scope
from storage.models import Document, DocumentVersion, Merchant, Unit, User

from . import audit
from .context import Client, PortalContext
from .errors import ConflictError, FieldError

log = logging.getLogger(__name__)

__all__ = [
    "BEIJING",
    "add_version",
    "address_confirmation",
    "default_legal_basis",
    "insert_address_confirmation",
    "latest_version",
    "local_date",
    "officer_certificate_serial",
    "render",
    "render_address_confirmation",
    "scratch",
    "sign",
    "unit_seal_serial",
]

BEIJING = dt.timezone(dt.timedelta(hours=8), "UTC+8")
SAMPLES_DIR = Path(__file__).resolve().parent / "documents" / "samples"

#: Used when the documents package ships no sample for a template (article numbers are data
#: that legal staff correct; see docs case-process.md).
_FALLBACK_BASIS: dict[str, list[dict[str, str]]] = {
    "service_address_confirmation": [
        {"rule": "市场监督管理行政处罚程序规定", "article": "第八十二条"},
    ],
    "proof_of_service": [{"rule": "市场监督管理行政处罚程序规定", "article": "第八十二条"}],
    "statement": [{"rule": "中华人民共和国行政处罚法", "article": "第四十五条"}],
}


def local_date(moment: dt.datetime) -> str:
    """The date in China (UTC+8) of an instant: documents are dated in local time."""
    return moment.astimezone(BEIJING).date().isoformat()


def default_legal_basis(template: str) -> list[dict[str, Any]]:
    """The legal basis of the template's sample data (kept by legal staff), else a fallback."""
    path = SAMPLES_DIR / f"{template}.json"
    try:
        sample = json.loads(path.read_text(encoding="utf-8"))
        basis = sample.get("legal_basis")
        if isinstance(basis, list) and basis:
            return [dict(item) for item in basis]
    except (OSError, ValueError, AttributeError):
        pass
    return [dict(item) for item in _FALLBACK_BASIS.get(template, [])]


@contextlib.contextmanager
def scratch(ctx: PortalContext, suffix: str = ".pdf") -> Iterator[Path]:
    """A private temporary file path under the work folder, removed afterwards."""
    ctx.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(dir=ctx.work_dir, prefix="portal-", suffix=suffix)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        path.with_name(f".{path.name}.tmp").unlink(missing_ok=True)


def latest_version(session: Session, document_id: str) -> DocumentVersion | None:
    return session.scalar(
        select(DocumentVersion)
        .where(DocumentVersion.document_id == document_id)
        .order_by(DocumentVersion.seq.desc())
        .limit(1)
    )


def add_version(
    session: Session,
    document_id: str,
    stored: Any,
    *,
    kind: str,
    actor: str,
    at: dt.datetime,
    signer_subject: str | None = None,
    signer_serial: str | None = None,
    signing_time: dt.datetime | None = None,
    level: str | None = None,
    expect_seq: int | None = None,
) -> DocumentVersion:
    """Record ``stored`` (a ``StoredObject``) as the document's next version. With
    ``expect_seq``, refuse (:class:`ConflictError`) if someone added a version meanwhile."""
    current = session.scalar(
        select(func.max(DocumentVersion.seq)).where(DocumentVersion.document_id == document_id)
    )
    current = int(current or 0)
    if expect_seq is not None and current != expect_seq:
        raise ConflictError(
            "the document changed while this was being done (another signature?); reload it",
        )
    row = DocumentVersion(
        document_id=document_id,
        seq=current + 1,
        kind=kind,
        object_key=stored.key,
        sha256=stored.sha256,
        size=stored.size,
        signer_subject=signer_subject,
        signer_serial=signer_serial,
        signing_time=signing_time,
        level=level,
        actor=actor,
        created_at=at,
    )
    session.add(row)
    session.flush()
    return row


def put_pdf(ctx: PortalContext, path: Path) -> Any:
    return ctx.store.put_file(path, content_type="application/pdf")


# -- rendering and signing (workflow.documents) ------------------------------------------------


def render(ctx: PortalContext, template: str, data: Mapping[str, Any], output: Path) -> Any:
    """Render through ``workflow.documents``; bad data becomes a :class:`FieldError` naming
    the first field at fault (``errors`` lists them all)."""
    from .documents import DocumentDataError, render_document

    try:
        return render_document(template, dict(data), output)
    except DocumentDataError as exc:
        field = getattr(exc, "field", "(document)")
        errors = list(getattr(exc, "errors", None) or [(field, str(exc))])
        raise FieldError(field, str(exc), errors=errors, code="invalid_document_data") from None


def sign(
    ctx: PortalContext,
    source: Path,
    output: Path,
    *,
    signer: str,
    reason: str,
    location: str,
    certify: bool = False,
    audit_trail: Mapping[str, Any] | None = None,
    field_name: str | None = None,
) -> Any:
    """Sign at PAdES B-LTA through ``workflow.documents.signing``."""
    from .documents.signing import SignatureRequest, sign_document

    request = SignatureRequest(
        signer=signer,
        level="b-lta",
        reason=reason,
        location=location,
        visible=True,
        field_name=field_name,
        certify=certify,
        audit=dict(audit_trail) if audit_trail is not None else None,
    )
    return sign_document(
        ctx.pki,
        source,
        output,
        request,
        timestampers=list(ctx.timestampers),
        online_revocation=ctx.online_revocation,
    )


def unit_seal_serial(ctx: PortalContext, unit_id: int) -> str:
    """The serial of the unit's seal certificate: the one recorded on the unit, else the
    newest unit certificate of that name in the PKI, else a new one (then recorded).

    A recorded or found seal that is revoked or expired is not silently replaced (replacing
    a seal is a decision for a person): :class:`ConflictError` says what to do. The person's
    decision is a new unit certificate issued by hand (``evidence certs issue --kind unit``):
    once the recorded seal can no longer sign, that newest valid one of the unit's name takes
    over (then recorded) -- how a seal is rotated: issue the new one, revoke the old one."""
    with ctx.sessions() as session:
        unit = session.get(Unit, unit_id)
        if unit is None:
            raise ConflictError(f"unit {unit_id} does not exist")
        name, recorded = unit.name, unit.seal_serial
    found_any = False
    record = None
    refusal: CertsError | None = None
    for candidate in ([recorded] if recorded else []) + [name]:
        try:
            found = ctx.pki.certificate(candidate)
        except CertsError:
            continue
        if found.kind != "unit":
            continue
        found_any = True
        try:
            ctx.pki.credential(found.serial_hex)
        except CertsError as exc:
            refusal = refusal or exc
            continue
        record = found
        break
    if record is None and found_any:
        raise ConflictError(
            f"the seal certificate of {name} cannot sign ({refusal}); an administrator must "
            f"issue a new one: evidence certs issue --kind unit --name {name!r}",
            code="seal_unusable",
        )
    if record is None:
        record = ctx.pki.issue("unit", SubjectInfo(name))
        log.info("issued seal certificate %s for unit %s", record.serial_hex, name)
    serial = record.serial_hex
    if serial != recorded:
        with session_scope(ctx.sessions) as session:
            unit = session.get(Unit, unit_id)
            assert unit is not None
            unit.seal_serial = serial
    return serial


def _officer_record_fits(record: Any, badge: str, unit_name: str) -> bool:
    """An officer certificate names this badge and this unit (``O``): one made for the
    officer by hand (``evidence certs issue --kind officer``) is used rather than a second."""
    from cryptography.x509.oid import NameOID

    if record.kind != "officer" or record.owner_id != badge:
        return False
    orgs = record.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return any(" ".join(str(a.value).split()) == " ".join(unit_name.split()) for a in orgs)


def officer_certificate_serial(ctx: PortalContext, user_id: int) -> str:
    """The serial of the officer's own signing certificate: the one recorded on the account,
    else the PKI's certificate for the officer's badge number and unit, else a new one issued
    from the display name, the unit's name and the badge number (then recorded).

    Without a badge number there is no certificate to name the officer by (two officers may
    share a name, never a 执法证号): :class:`ConflictError` says how to set it. A recorded or
    found certificate that is revoked or expired is not silently replaced (that is a
    decision for a person, as for the unit's seal)."""
    with ctx.sessions() as session:
        user = session.get(User, user_id)
        if user is None:
            raise ConflictError(f"user {user_id} does not exist", code="no_officer")
        unit = session.get(Unit, user.unit_id) if user.unit_id is not None else None
        username, name = user.username, user.display_name
        badge, recorded = user.badge_number, user.signing_cert_serial
        unit_name = unit.name if unit is not None else None
    if not badge:
        raise ConflictError(
            f"{username} has no badge number (执法证号) on the account, and an officer's "
            "signing certificate must name it; an administrator sets it with: "
            f"evidence user set-badge {username} NUMBER",
            code="no_badge",
        )
    if unit_name is None:
        raise ConflictError(
            f"{username} belongs to no enforcement unit, so no officer certificate can name "
            "one; an administrator must recreate the account with --unit",
            code="no_unit",
        )
    # The recorded certificate first; then the PKI's newest valid one for the badge (an
    # administrator's replacement for a revoked one is found that way).
    fitting: list[Any] = []
    for candidate in ([recorded] if recorded else []) + [badge]:
        try:
            found = ctx.pki.certificate(candidate)
        except UnknownCertificateError:
            continue
        except CertsError as exc:
            raise ConflictError(
                f"the certificate of {username} cannot be chosen ({exc})",
                code="officer_certificate_unusable",
            ) from None
        if _officer_record_fits(found, badge, unit_name) and all(
            f.serial != found.serial for f in fitting
        ):
            fitting.append(found)
    record = None
    refusal: CertsError | None = None
    for found in fitting:
        try:
            ctx.pki.credential(found.serial_hex)
        except CertsError as exc:
            refusal = refusal or exc
            continue
        record = found
        break
    if record is None and refusal is not None:
        raise ConflictError(
            f"the signing certificate of {username} cannot sign ({refusal}); an administrator "
            f"must issue a new one: evidence certs issue --kind officer --name {name!r} "
            f"--org {unit_name!r} --id {badge!r}",
            code="officer_certificate_unusable",
        )
    if record is None:
        try:
            record = ctx.pki.issue(
                "officer", SubjectInfo(name, organization=unit_name, officer_id=badge)
            )
        except CertsError as exc:
            raise ConflictError(
                f"no officer certificate can be issued for {username}: {exc}",
                code="officer_certificate_unusable",
            ) from None
        log.info("issued officer certificate %s for %s", record.serial_hex, username)
    serial = record.serial_hex
    if serial != recorded:
        with session_scope(ctx.sessions) as session:
            user = session.get(User, user_id)
            assert user is not None
            if user.badge_number == badge:  # not changed meanwhile
                user.signing_cert_serial = serial
    return serial


# -- the service-address confirmation -----------------------------------------------------------


def render_address_confirmation(
    ctx: PortalContext,
    merchant_id: str,
    contacts: Mapping[str, Any],
) -> tuple[Any, Any]:
    """Render the merchant's 送达地址确认书 (consent to electronic service through the portal)
    and store the PDF; returns (rendered document, stored object). Nothing is recorded in
    the database yet: see :func:`insert_address_confirmation`."""
    template = "service_address_confirmation"
    now = ctx.now()
    with ctx.sessions() as session:
        merchant = session.get(Merchant, merchant_id)
        assert merchant is not None
        unit = session.get(Unit, merchant.unit_id)
        assert unit is not None
        name, code, unit_name = merchant.name, merchant.credit_code, unit.name
    email = contacts.get("email") or None
    phone = str(contacts.get("phone") or "")
    data: dict[str, Any] = {
        "case_number": f"送达地址确认-{code}",
        "issuing_unit": unit_name,
        "date": local_date(now),
        "legal_basis": default_legal_basis(template),
        "party": {"kind": "organization", "name": name, "credit_code": code},
        "recipient": {
            "name": contacts["contact_name"],
            "phone": phone,
            "address": contacts["address"],
        },
        "electronic_service": {
            "consent": True,
            "email": email,
            "mobile": phone or None,
            "portal_account": f"{ctx.portal_url}/portal ({code})",
        },
        "notes": "同意通过电子送达平台接收行政执法文书；文书到达本账户之时为送达之时。",
    }
    with scratch(ctx) as path:
        rendered = render(ctx, template, data, path)
        stored = put_pdf(ctx, path)
    return rendered, stored


def insert_address_confirmation(
    session: Session,
    merchant: Merchant,
    rendered: Any,
    stored: Any,
    *,
    at: dt.datetime,
    client: Client | None = None,
) -> Document:
    """Record the rendered confirmation as the merchant's document awaiting its signature."""
    from .documents import TEMPLATES

    template = "service_address_confirmation"
    doc = Document(
        unit_id=merchant.unit_id,
        merchant_id=merchant.id,
        kind="address_confirmation",
        template=template,
        title=TEMPLATES[template].title_zh,
        data=rendered.data,
        status="served",
        created_at=at,
        updated_at=at,
    )
    session.add(doc)
    session.flush()
    add_version(session, doc.id, stored, kind="rendered", actor="system", at=at)
    audit.record(
        session,
        "document.created",
        actor_type="system",
        actor_id="system",
        at=at,
        client=client,
        unit_id=merchant.unit_id,
        merchant_id=merchant.id,
        document_id=doc.id,
        sha256_after=stored.sha256,
        details={"template": template},
    )
    return doc


def address_confirmation(session: Session, merchant_id: str) -> Document | None:
    """The merchant's newest service-address confirmation."""
    return session.scalar(
        select(Document)
        .where(Document.merchant_id == merchant_id, Document.kind == "address_confirmation")
        .order_by(Document.created_at.desc())
        .limit(1)
    )
