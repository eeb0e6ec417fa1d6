"""Sign a document (or any PDF) with a unit's, officer's or merchant's key, and validate it.

:func:`sign_document` is ``signing.pades.sign_pdf`` plus what a document needs:

* the signer named by serial or holder (``Pki.certificate``) and refused *before* anything is
  written when unknown, ambiguous, revoked ("certificate ... revoked on ..., cannot sign") or
  expired; the pyHanko signer is kept per certificate (the key stays loaded, see
  ``signing.signers``), the register is asked on every signature;
* the slot: with no ``field_name``, the first empty signature field of the signer's kind
  (``officer``..., ``unit``, ``party`` -- see ``types``), else a new field. A new *visible*
  field on a certified document would break the certification, so that is refused;
* the appearance: the unit's red seal (``seal``) under its name and the time for a unit, the
  name, credential number and time for an officer, "当事人" and the name for a merchant; CJK
  text in a per-signer font subset;
* the audit trail of a counter-signature (account, auth method, IP, user agent, time, and
  the SHA-256 of the document as it was before this signature -- filled in, or checked when
  the caller gives it) in the signature dictionary (``signing.pades``);
* revocation data for B-LT/B-LTA made locally by the PKI (no server needed), or fetched from
  the certificates' URLs with ``online_revocation=True``;
* the time-stamp authorities tried in order (the next one when one is down).

:func:`validate_document` is the court verifier's engine (``signing.verify.validate_pdf``), so
the service and a court say the same thing about the same file.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from certs import SubjectInfo
from certs.errors import AmbiguousCertificateError, CertsError, UnknownCertificateError
from certs.pki import Pki
from certs.registry import IssuedCertificate
from certs.subjects import SIGNER_KINDS
from signing.errors import SigningError, TsaUnavailableError
from signing.pades import LEVELS, Appearance, Level, PadesError, sign_pdf
from signing.timestamp import Timestamper
from signing.verify import PdfReport, validate_pdf

from .seal import seal_image, stamp_font
from .types import SLOT_PREFIX

__all__ = [
    "DocumentInputError",
    "DocumentSigningError",
    "PadesError",
    "SignatureRequest",
    "SignedDocument",
    "SignerError",
    "ensure_unit_certificate",
    "sign_document",
    "validate_document",
]

MAX_PDF_BYTES = 256 * 1024 * 1024
#: Room for the CMS signature (hex characters): ECDSA or RSA-2048 with our chains and a
#: time-stamp token fit; a longer foreign TSA chain makes pyHanko measure instead.
RESERVED = {"b-b": 8192, "b-t": 16384, "b-lt": 16384, "b-lta": 16384}
#: Automatic places for new visible signatures on the last page (PDF points).
AUTO_BOX = (170, 74)
AUTO_MARGIN = (40, 36)


class DocumentSigningError(SigningError):
    """A document could not be signed as asked."""


class DocumentInputError(DocumentSigningError):
    """The input is missing, not a PDF, encrypted or unreadable, or cannot take the
    signature asked for (already signed field, certified document)."""


class SignerError(DocumentSigningError):
    """The signer is unknown, ambiguous, revoked, expired, or not a document signer."""


@dataclass(frozen=True)
class SignatureRequest:
    """One signature on a document.

    ``signer``: certificate serial (hex) or holder (unit name, officer id, credit code, common
    name), resolved with ``Pki.certificate``. ``certify``: for the first signature of an
    issued document -- a certification signature allowing form filling and signing, so the
    later signatures (in the document's empty slots) keep it valid. ``audit``: the audit
    trail of a merchant's counter-signature (``account``, ``auth_method``, ``ip``,
    ``user_agent``, ``time``, ``document_sha256``...), JSON values, embedded in the
    signature dictionary and reported by :func:`validate_document`.
    """

    signer: str
    level: Level = "b-lta"
    reason: str | None = None
    location: str | None = None
    visible: bool = True
    field_name: str | None = None
    certify: bool = False
    audit: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SignedDocument:
    path: Path
    sha256: str
    #: RFC 4514 subject of the signing certificate.
    signer_subject: str
    #: The signature time-stamp's genTime (B-T and above), else the signer's claimed time.
    signing_time: datetime
    level: Level
    field_name: str = ""
    signer_serial: str = ""


# -- input ---------------------------------------------------------------------------------


def _read_pdf(source: Path) -> tuple[bytes, Any]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    source = Path(source)
    if not source.exists():
        raise DocumentInputError(f"{source}: no such file")
    if not source.is_file():
        raise DocumentInputError(f"{source}: not a file")
    with source.open("rb") as fh:
        data = fh.read(MAX_PDF_BYTES + 1)
    if len(data) > MAX_PDF_BYTES:
        raise DocumentInputError(f"{source}: larger than {MAX_PDF_BYTES // 2**20} MiB")
    if b"%PDF-" not in data[:1024]:
        raise DocumentInputError(f"{source}: not a PDF file (no %PDF- header)")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        encrypted = reader.encrypted
        _ = reader.root["/Pages"]
    except Exception as exc:  # pyHanko raises assorted errors for broken files
        raise DocumentInputError(
            f"{source}: cannot be read as a PDF ({type(exc).__name__}: {exc})"[:400]
        ) from None
    if encrypted:
        raise DocumentInputError(
            f"{source}: the PDF is encrypted; remove the encryption first (an encrypted PDF "
            "cannot be signed for long-term validation)"
        )
    return data, reader


# -- signer --------------------------------------------------------------------------------


def _when(moment: datetime | None) -> str:
    return "?" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _resolve(pki: Pki, signer: str) -> IssuedCertificate:
    try:
        record = pki.certificate(signer)
    except (UnknownCertificateError, AmbiguousCertificateError) as exc:
        raise SignerError(f"unknown signer {signer!r}: {exc}") from None
    if record.kind not in SIGNER_KINDS:
        raise SignerError(
            f"certificate {record.serial_hex} is a {record.kind} certificate; documents are "
            f"signed with {', '.join(SIGNER_KINDS)} certificates"
        )
    if record.status == "revoked":
        raise SignerError(
            f"certificate {record.serial_hex} ({record.subject}) revoked on "
            f"{_when(record.revoked_at)} ({record.revocation_reason}), cannot sign; issue a "
            "new certificate (evidence certs issue)"
        )
    now = datetime.now(UTC)
    if now > record.not_after or now < record.not_before:
        raise SignerError(
            f"certificate {record.serial_hex} ({record.subject}) is valid only from "
            f"{_when(record.not_before)} to {_when(record.not_after)}, cannot sign"
        )
    return record


_SIGNERS: dict[tuple[str, int], Any] = {}
_SIGNERS_LOCK = threading.Lock()


def _signer(pki: Pki, record: IssuedCertificate) -> Any:
    """The pyHanko signer for ``record``, kept per PKI and certificate (key stays loaded)."""
    from signing.signers import pdf_signer

    key = (str(pki.directory), record.serial)
    with _SIGNERS_LOCK:
        kept = _SIGNERS.get(key)
    if kept is not None:
        return kept
    try:
        made = pdf_signer(pki.credential(record.serial), pki)
    except CertsError as exc:
        raise SignerError(f"certificate {record.serial_hex} cannot sign: {exc}") from None
    with _SIGNERS_LOCK:
        return _SIGNERS.setdefault(key, made)


def ensure_unit_certificate(pki: Pki, unit_name: str) -> IssuedCertificate | None:
    """Issue a unit (seal) certificate for ``unit_name`` if the PKI never issued one; returns
    the new certificate, or None when one exists (even revoked or expired: replacing those is
    a decision for a person, ``evidence certs issue``)."""
    try:
        pki.certificate(unit_name)
        return None
    except UnknownCertificateError:
        return pki.issue("unit", SubjectInfo(unit_name))


# -- field and appearance ------------------------------------------------------------------


def _sig_fields(reader: Any) -> list[tuple[str, bool, Any]]:
    """(name, filled, field dict) of every signature field, in form order."""
    from pyhanko.sign import fields

    out = []
    for name, value, ref in fields.enumerate_sig_fields(reader):
        out.append((str(name), value is not None, ref.get_object()))
    return out


def _certified(reader: Any) -> bool:
    try:
        return "/DocMDP" in reader.root["/Perms"]
    except (KeyError, TypeError):
        return False


def _rect(field: Any) -> tuple[int, int, int, int] | None:
    """The widget rectangle of a signature field, or None when it has no area."""
    rect = field.get("/Rect")
    if rect is None and "/Kids" in field:
        rect = field["/Kids"][0].get_object().get("/Rect")
    if rect is None:
        return None
    x1, y1, x2, y2 = (round(float(v)) for v in rect)
    box = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
    return box if box[2] > box[0] and box[3] > box[1] else None


@dataclass(frozen=True)
class _Target:
    name: str
    #: The existing empty field's rectangle (None: a new field, or an invisible one).
    box: tuple[int, int, int, int] | None
    exists: bool
    visible_count: int
    signed: int


def _choose_field(reader: Any, request: SignatureRequest, kind: str) -> _Target:
    existing = _sig_fields(reader)
    visible = sum(1 for _n, _f, d in existing if _rect(d) is not None)
    signed = sum(1 for _n, filled, _d in existing if filled)
    if request.field_name:
        for name, filled, field in existing:
            if name == request.field_name:
                if filled:
                    raise DocumentInputError(f"the signature field {name!r} is already signed")
                return _Target(name, _rect(field), True, visible, signed)
        return _Target(request.field_name, None, False, visible, signed)
    prefix = SLOT_PREFIX[kind]
    for name, filled, field in existing if request.visible else []:
        if not filled and (name == prefix or name.startswith(prefix + "_")):
            return _Target(name, _rect(field), True, visible, signed)
    taken = {n for n, _f, _d in existing}
    n = 1
    while f"{prefix}_{n}" in taken:
        n += 1
    return _Target(f"{prefix}_{n}", None, False, visible, signed)


def _attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def _appearance(record: IssuedCertificate, reader: Any, target: _Target) -> Appearance:
    cert = record.certificate
    name = _attr(cert, NameOID.COMMON_NAME) or record.subject
    if record.kind == "unit":
        text = f"{name}\n%(ts)s"
    elif record.kind == "officer":
        unit = _attr(cert, NameOID.ORGANIZATION_NAME)
        officer_id = _attr(cert, NameOID.SERIAL_NUMBER)
        text = f"执法人员 {name}（{officer_id}）\n{unit}\n%(ts)s"
    else:
        text = f"当事人 {name}\n已签收 %(ts)s"
    box = target.box
    if not target.exists:
        slot_index = target.visible_count
        pages = reader.root["/Pages"]
        count = int(pages.get("/Count", 1))
        last = reader.find_page_for_modification(count - 1)[0].get_object()
        x1, y1, x2, _y2 = (float(v) for v in last.get("/MediaBox", [0, 0, 595, 842]))
        width, height = AUTO_BOX
        per_row = max(1, int((x2 - x1 - 2 * AUTO_MARGIN[0]) // (width + 10)))
        col, row = slot_index % per_row, slot_index // per_row
        left = int(x1 + AUTO_MARGIN[0] + col * (width + 10))
        bottom = int(y1 + AUTO_MARGIN[1] + row * (height + 10))
        box = (left, bottom, left + width, bottom + height)
    return Appearance(
        box=box,
        page=-1,
        text=text,
        font_file=stamp_font([text]),
        font_size=8,
        image=seal_image(name) if record.kind == "unit" else None,
        image_opacity=0.9,
        border_width=0,
    )


# -- signing -------------------------------------------------------------------------------


#: Local revocation data (CRLs, OCSP answers made by the PKI) is reused this long, per thread
#: (pyHanko's validation context keeps asyncio state and caches; one per thread is safe).
#: The signer's own status is read from the register on every signature regardless.
LOCAL_REVOCATION_TTL_S = 60.0
_local_contexts = threading.local()


def _validation_context(
    pki: Pki, cert: x509.Certificate, online: bool, timestamper: Timestamper | None
) -> Any:
    """What B-LT/B-LTA embeds: our certificates and revocation data (made locally, or fetched
    from the certificates' URLs with ``online``), and the TSA's chain. A TSA that is not ours
    has its own root: it is trusted for this purpose (the operator chose that TSA and, via
    ``EVIDENCE_TSA_CA_FILE``, its root); its revocation data cannot be had here, so its
    certificates are embedded without it (as for the evidence certificate)."""
    from signing.signers import validation_context

    foreign = _foreign_tsa_chain(pki, timestamper)
    if foreign:
        return _foreign_context(pki, cert, foreign, online)
    if online:
        return validation_context(pki, online=True)
    cache: dict[tuple[str, int], tuple[float, Any]] = _local_contexts.__dict__.setdefault(
        "cache", {}
    )
    key = (str(pki.directory), cert.serial_number)
    now = time.monotonic()
    kept = cache.get(key)
    if kept is not None and now - kept[0] < LOCAL_REVOCATION_TTL_S:
        return kept[1]
    vc = validation_context(pki, online=False, for_certs=[cert])
    cache[key] = (now, vc)
    return vc


_TSA_CHAINS: dict[int, tuple[Any, list[x509.Certificate]]] = {}
_TSA_LOCK = threading.Lock()


def _foreign_tsa_chain(pki: Pki, timestamper: Timestamper | None) -> list[x509.Certificate]:
    """The chain of a TSA that is not this PKI's (learnt from one probe token, kept per
    time-stamper), or [] for our own TSA."""
    from signing.timestamp import LocalTimestamper

    if timestamper is None or isinstance(timestamper, LocalTimestamper):
        return []
    with _TSA_LOCK:
        kept = _TSA_CHAINS.get(id(timestamper))
    if kept is not None and kept[0]() is timestamper:
        chain = kept[1]
    else:
        import weakref

        token = timestamper.stamp(b"evidence-service: which certificates does this TSA use?")
        chain = token.certificates
        with _TSA_LOCK:
            _TSA_CHAINS[id(timestamper)] = (weakref.ref(timestamper), chain)
    ours = (pki.issuing.subject, pki.root.subject)
    if all(c.issuer in ours for c in chain):
        return []
    return chain


def _foreign_context(
    pki: Pki, cert: x509.Certificate, chain: list[x509.Certificate], online: bool
) -> Any:
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from pyhanko_certvalidator import ValidationContext

    from signing.chains import is_self_signed

    def asn1(c: x509.Certificate) -> Any:
        return asn1_x509.Certificate.load(c.public_bytes(Encoding.DER))

    roots = [pki.root, *(c for c in chain if is_self_signed(c))]
    if len(roots) == 1:
        raise DocumentSigningError(
            "the time-stamp authority's tokens do not carry its root certificate, so B-LT and "
            "B-LTA cannot embed its chain: give its CA certificates in EVIDENCE_TSA_CA_FILE, "
            "or sign at B-T"
        )
    others = [pki.issuing, pki.ocsp_credential().cert, *(c for c in chain if not is_self_signed(c))]
    local: dict[str, Any] = {}
    if not online:
        local = {
            "crls": [pki.crl_der("issuing"), pki.crl_der("root")],
            "ocsps": [pki.ocsp_response_for(cert)],
        }
    return ValidationContext(
        trust_roots=[asn1(c) for c in roots],
        other_certs=[asn1(c) for c in others],
        allow_fetching=online,
        revocation_mode="soft-fail",
        **local,
    )


def sign_document(
    pki: Pki,
    source: Path,
    output: Path,
    request: SignatureRequest,
    *,
    timestampers: Sequence[Timestamper],
    online_revocation: bool = False,
) -> SignedDocument:
    """Sign ``source`` into ``output`` (atomically; ``source`` may be ``output``).

    Raises :class:`DocumentInputError` (input), :class:`SignerError` (signer),
    ``signing.errors.TsaUnavailableError`` when every TSA is down (retry later) and
    ``signing.pades.PadesError`` for anything else pyHanko refuses. Nothing is written then.
    """
    if request.level not in LEVELS:
        raise DocumentSigningError(
            f"unknown PAdES level {request.level!r}; one of {', '.join(LEVELS)}"
        )
    if request.level != "b-b" and not timestampers:
        raise DocumentSigningError(f"PAdES {request.level.upper()} needs a time-stamp authority")
    output = Path(output)
    if not output.parent.is_dir():
        raise DocumentInputError(f"{output}: the folder {output.parent} does not exist")
    data, reader = _read_pdf(Path(source))
    record = _resolve(pki, request.signer)
    signer = _signer(pki, record)
    target = _choose_field(reader, request, record.kind)
    field_name = target.name
    if request.certify and target.signed:
        raise DocumentInputError(
            "only the first signature of a document can certify it; this PDF is already signed"
        )
    if request.visible and not target.exists and _certified(reader):
        raise DocumentInputError(
            "the document is certified and has no empty signature field for this signature; "
            "a new visible field would invalidate the certification: sign invisibly or into "
            "an empty field"
        )
    # A field with an area needs an appearance (PDF/A; and pyHanko's default stamp uses a
    # font that is not embedded), even when an invisible signature was asked for.
    drawn = request.visible or target.box is not None
    appearance = _appearance(record, reader, target) if drawn else None
    audit: dict[str, Any] | None = None
    if request.audit is not None:
        audit = dict(request.audit)
        digest = hashlib.sha256(data).hexdigest()
        given = audit.get("document_sha256")
        if given is not None and str(given).lower().removeprefix("sha256:") != digest:
            raise DocumentInputError(
                f"the audit trail names document SHA-256 {given}, but the PDF being signed "
                f"has {digest}: the signer acknowledged a different document"
            )
        audit["document_sha256"] = digest
        audit.setdefault("signed_at", datetime.now(UTC).isoformat().replace("+00:00", "Z"))
    candidates: list[Timestamper | None] = [None] if request.level == "b-b" else list(timestampers)
    last_error: TsaUnavailableError | None = None
    for timestamper in candidates:
        try:
            vc = None
            if request.level in ("b-lt", "b-lta"):
                vc = _validation_context(pki, record.certificate, online_revocation, timestamper)
            signed = sign_pdf(
                data,
                output,
                signer,
                level=request.level,
                timestamper=timestamper,
                validation_context=vc,
                field_name=field_name,
                reason=request.reason,
                location=request.location,
                appearance=appearance,
                certify=request.certify,
                bytes_reserved=RESERVED[request.level],
                audit=audit,
                reader=reader,
            )
            break
        except TsaUnavailableError as exc:
            last_error = exc
            reader = None  # pyHanko's writer took it over; the next attempt parses again
    else:
        assert last_error is not None
        raise last_error
    when = signed.timestamp_time or signed.signing_time or datetime.now(UTC)
    return SignedDocument(
        path=output,
        sha256=signed.sha256,
        signer_subject=record.subject,
        signing_time=when,
        level=request.level,
        field_name=field_name,
        signer_serial=record.serial_hex,
    )


def validate_document(path: Path, trust_roots_pem: bytes) -> PdfReport:
    """Every signature and document time-stamp of ``path``, validated offline by the court
    verifier's engine: signer, times, trust, revocation (from the document's DSS), coverage,
    modification level after each signature, PAdES level, and a counter-signature's audit
    trail (``PdfSignatureReport.audit``). Never raises for a bad file."""
    return validate_pdf(path, trust_roots_pem)
