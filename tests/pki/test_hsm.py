"""Unit seal keys in an HSM (SoftHSM2 through PKCS#11): generated on the token, certified by
the CA, the certificate stored on the token and in the register, PDFs signed through
pyHanko's PKCS11Signer and accepted by pyHanko and pdfsig; PIN mistakes are clear errors."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pkcs11
import pytest
from cryptography import x509
from pkcs11 import Attribute, ObjectClass
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature

from certs import HsmCredential, HsmError, HsmKeyRef, HsmPinError, SubjectInfo
from certs.pki import Pki
from signing.signers import HsmPdfSigner, pdf_signer, validation_context
from tests.pki.conftest import UNIT, Served, SoftHsm
from tests.pki.test_pdf import pdfsig, sign


def _ref(
    softhsm: SoftHsm, token: str, key: str, pin_env: str = "EVIDENCE_TEST_HSM_PIN"
) -> HsmKeyRef:
    return HsmKeyRef(module=softhsm.module, token_label=token, key_label=key, pin_env=pin_env)


def _token_objects(softhsm: SoftHsm, label: str) -> dict[ObjectClass, pkcs11.Object]:
    """The token's objects labelled ``label``, seen through a fresh session of this process."""
    from certs.hsm import hsm_session

    opened = hsm_session(_ref(softhsm, "evidence-unit", label))
    with opened.lock:
        return {o.object_class: o for o in opened.session.get_objects({Attribute.LABEL: label})}


@pytest.mark.parametrize("key_type", ["ec-p256", "rsa-2048"])
def test_unit_seal_key_on_the_token_signs_pdfs(
    softhsm: SoftHsm,
    served: Served,
    nssdb: Callable[[x509.Certificate], str],
    tmp_path: Path,
    key_type: str,
) -> None:
    pki = served.pki
    label = f"seal-{key_type}"
    ref = _ref(softhsm, "evidence-unit", label)
    record = pki.issue("unit", SubjectInfo(UNIT), key=ref, key_type=key_type)  # type: ignore[arg-type]

    # The register knows where the key is (no PIN), and no key file exists.
    assert record.key_storage == "hsm" and record.hsm == ref
    assert pki.certificate(record.serial_hex).hsm == ref
    assert not (pki.directory / f"issued/{record.serial_hex}.key.pem").exists()
    assert "246810" not in (pki.directory / "registry.sqlite3").read_bytes().decode("latin-1")

    # On the token: non-extractable private key, public key, and the issued certificate,
    # sharing one CKA_ID (the subject key identifier).
    objects = _token_objects(softhsm, label)
    private = objects[ObjectClass.PRIVATE_KEY]
    assert private[Attribute.SENSITIVE] is True and private[Attribute.EXTRACTABLE] is False
    cert_obj = objects[ObjectClass.CERTIFICATE]
    assert x509.load_der_x509_certificate(cert_obj[Attribute.VALUE]) == record.certificate
    ski = record.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert cert_obj[Attribute.ID] == private[Attribute.ID] == ski.value.digest

    credential = pki.credential(record.serial)
    assert isinstance(credential, HsmCredential)
    signer = pdf_signer(credential, pki)
    assert isinstance(signer, HsmPdfSigner)
    pdf = tmp_path / "hsm.pdf"
    pdf.write_bytes(sign(signer))
    reader = PdfFileReader(io.BytesIO(pdf.read_bytes()))
    status = validate_pdf_signature(
        reader.embedded_signatures[0],
        validation_context(pki, online=False, for_certs=[record.certificate]),
    )
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.signing_cert.serial_number == record.serial
    out = pdfsig(pdf, nssdb(pki.root))
    assert "Signature is Valid." in out and "Certificate is Trusted." in out, out

    # The same signer signs again (shared session, key handle kept).
    again = PdfFileReader(io.BytesIO(sign(signer)))
    assert validate_pdf_signature(
        again.embedded_signatures[0], validation_context(pki, online=False)
    ).valid


def test_pin_and_token_mistakes_are_clear_errors(softhsm: SoftHsm, offline_pki: Pki) -> None:
    pki = offline_pki
    subject = SubjectInfo(UNIT)
    before = len(pki.list_certificates("unit"))

    wrong = _ref(softhsm, "evidence-wrongpin", "k1", pin_env="EVIDENCE_TEST_WRONG_PIN")
    with pytest.raises(HsmPinError, match=r"refused the PIN from \$EVIDENCE_TEST_WRONG_PIN") as err:
        pki.issue("unit", subject, key=wrong)
    assert "000000" not in str(err.value)

    with pytest.raises(HsmPinError, match="EVIDENCE_TEST_NO_SUCH_PIN, which is not set"):
        pki.issue(
            "unit",
            subject,
            key=_ref(softhsm, "evidence-wrongpin", "k1", "EVIDENCE_TEST_NO_SUCH_PIN"),
        )
    with pytest.raises(HsmError, match="no token labelled 'no-such-token'"):
        pki.issue("unit", subject, key=_ref(softhsm, "no-such-token", "k1"))
    missing = HsmKeyRef(Path("/nonexistent/p11.so"), "evidence-unit", "k1", "EVIDENCE_TEST_HSM_PIN")
    with pytest.raises(HsmError, match="does not exist"):
        pki.issue("unit", subject, key=missing)

    # The right PIN works after a wrong one (a failed login leaves nothing behind)...
    good = _ref(softhsm, "evidence-wrongpin", "k1")
    record = pki.issue("unit", subject, key=good)
    assert record.key_storage == "hsm"
    # ...a second key under the same label is refused...
    with pytest.raises(HsmError, match="already exists"):
        pki.issue("unit", subject, key=good)
    # ...and once this process is logged in, another PIN is not silently accepted (the
    # token itself would not check it again).
    with pytest.raises(HsmPinError, match="another PIN"):
        pki.issue("unit", subject, key=wrong)
    with pytest.raises(HsmPinError, match="another PIN"):
        pdf_signer(HsmCredential(wrong, record.certificate, (pki.issuing, pki.root)), pki)
    assert len(pki.list_certificates("unit")) == before + 1


def test_a_missing_token_key_is_reported_when_the_signer_is_built(
    softhsm: SoftHsm, offline_pki: Pki
) -> None:
    record = offline_pki.issue(
        "unit", SubjectInfo(UNIT), key=_ref(softhsm, "evidence-unit", "k-present")
    )
    moved = HsmCredential(
        _ref(softhsm, "evidence-unit", "k-absent"),
        record.certificate,
        (offline_pki.issuing, offline_pki.root),
    )
    with pytest.raises(HsmError, match="signing key is not on the token"):
        pdf_signer(moved, offline_pki)
