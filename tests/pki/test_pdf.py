"""PDFs signed with ``pdf_signer`` for unit, officer and merchant certificates (ECDSA P-256
and RSA-2048): accepted by pyHanko's validator and by Poppler's pdfsig with only our root
trusted; B-LT embedding works with no server; revoked certificates cannot sign.

pdfsig runs WITH its OCSP check, against the served responder. Poppler 22.12 (Debian 12)
cannot report "Certificate is Trusted." with ``-no-ocsp`` for any chain: after a successful
``CERT_PKIXVerifyCert`` it reads ``PORT_GetError()`` without looking at the return value, and
NSS leaves a stale SEC_ERROR_EXTENSION_NOT_FOUND from an optional-extension lookup; NSS's
OCSP path resets it. So the check is stronger than planned: NSS also fetches and accepts our
OCSP answers, and reports the revocation.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore

from certs import CertificateRevokedError, SubjectInfo
from certs.pki import Credential, Pki
from signing.signers import SoftwarePdfSigner, pdf_signer, validation_context
from tests.pki.conftest import UNIT, Served, blank_pdf, run

SUBJECTS = {
    "unit": SubjectInfo(UNIT),
    "officer": SubjectInfo("吴十", organization=UNIT, officer_id="GZ-0010"),
    "merchant": SubjectInfo("广州某某电子商务有限公司", credit_code="9144030071526726XG"),
}


def sign(signer: signers.Signer, meta: signers.PdfSignatureMetadata | None = None) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(blank_pdf()))
    out = signers.sign_pdf(
        writer, meta or signers.PdfSignatureMetadata(field_name="Seal"), signer=signer
    )
    return out.getvalue()


def _root(pki: Pki) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(pki.root.public_bytes(Encoding.DER))


def pdfsig(pdf: Path, nss: str) -> str:
    proc = run("pdfsig", "-nssdir", nss, str(pdf))
    return proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("kind", "key_type"),
    [("unit", "ec-p256"), ("unit", "rsa-2048"), ("officer", "ec-p256"), ("merchant", "rsa-2048")],
)
def test_signed_pdf_validates_in_pyhanko_and_pdfsig(
    served: Served,
    offline_pki: Pki,
    nssdb: Callable[[x509.Certificate], str],
    tmp_path: Path,
    kind: str,
    key_type: str,
) -> None:
    pki = served.pki
    record = pki.issue(kind, SUBJECTS[kind], key_type=key_type)  # type: ignore[arg-type]
    signer = pdf_signer(record.serial_hex, pki)
    assert isinstance(signer, SoftwarePdfSigner)
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(sign(signer))

    reader = PdfFileReader(io.BytesIO(pdf.read_bytes()))
    vc = validation_context(pki, online=False, for_certs=[record.certificate])
    status = validate_pdf_signature(reader.embedded_signatures[0], vc)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.signing_cert.serial_number == record.serial

    out = pdfsig(pdf, nssdb(pki.root))
    assert "Signature is Valid." in out, out
    assert "Certificate is Trusted." in out, out
    assert f"Signer Certificate Common Name: {SUBJECTS[kind].name}" in out, out

    # Controls: with another root trusted pdfsig does not trust the signer; once revoked,
    # it says so (from our OCSP responder).
    out = pdfsig(pdf, nssdb(offline_pki.root))
    assert "Signature is Valid." in out and "Certificate issuer isn't Trusted." in out, out
    pki.revoke(record.serial_hex, "keyCompromise")
    out = pdfsig(pdf, nssdb(pki.root))
    assert "Signature is Valid." in out and "Certificate has been Revoked." in out, out


def test_the_signer_is_reused_across_signatures(offline_pki: Pki) -> None:
    credential = offline_pki.credential(offline_pki.issue("unit", SUBJECTS["unit"]).serial)
    assert isinstance(credential, Credential)
    signer = pdf_signer(credential, offline_pki)
    vc_root = _root(offline_pki)
    from pyhanko_certvalidator import ValidationContext

    for _ in range(3):
        reader = PdfFileReader(io.BytesIO(sign(signer)))
        status = validate_pdf_signature(
            reader.embedded_signatures[0], ValidationContext(trust_roots=[vc_root])
        )
        assert status.intact and status.valid and status.trusted


def test_b_lt_embeds_local_revocation_data_without_a_server(offline_pki: Pki) -> None:
    pki = offline_pki
    record = pki.issue("unit", SUBJECTS["unit"])
    signer = pdf_signer(record.serial_hex, pki)
    meta = signers.PdfSignatureMetadata(
        field_name="Seal",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=True,
        validation_context=validation_context(pki, online=False, for_certs=[record.certificate]),
    )
    reader = PdfFileReader(io.BytesIO(sign(signer, meta)))
    dss = DocumentSecurityStore.read_dss(reader)
    assert len(dss.ocsps) >= 1 and len(dss.crls) >= 2
    # Validated from what the file carries alone, revocation data required.
    vc = dss.as_validation_context(
        {"trust_roots": [_root(pki)], "allow_fetching": False, "revocation_mode": "require"}
    )
    status = validate_pdf_signature(reader.embedded_signatures[0], vc)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()


def test_revoked_or_unknown_credentials_cannot_sign(offline_pki: Pki) -> None:
    record = offline_pki.issue("merchant", SUBJECTS["merchant"])
    credential = offline_pki.credential(record.serial)
    offline_pki.revoke(record.serial, "cessationOfOperation")
    with pytest.raises(CertificateRevokedError, match="revoked"):
        pdf_signer(record.serial_hex, offline_pki)
    with pytest.raises(CertificateRevokedError, match="revoked"):
        pdf_signer(credential, offline_pki)
