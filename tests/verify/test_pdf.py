"""``validate_pdf`` on PAdES PDFs signed here with pyHanko: levels, agreement with pyHanko's own
validator, modifications after signing, and broken files (never an exception)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.settings import KeyUsageConstraints

from signing.verify import Indication, Sub, validate_pdf
from tests.verify.sealing import Authorities, asn1, blank_pdf, issue_leaf, sign_pdf

LEVELS = ["B-B", "B-T", "B-LT", "B-LTA"]


@pytest.fixture(scope="module")
def signed(auth: Authorities) -> dict[str, bytes]:
    return {
        level: sign_pdf(blank_pdf(text=f"level {level}"), auth, level=level) for level in LEVELS
    }


def _pyhanko_says(data: bytes, auth: Authorities) -> tuple[bool, str, str | None]:
    """pyHanko's own validation (offline, from the DSS): bottom line, coverage, level."""
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    sig = reader.embedded_regular_signatures[0]
    try:
        dss = DocumentSecurityStore.read_dss(reader)
        vc = dss.as_validation_context(
            {
                "trust_roots": [asn1(auth.pki.root)],
                "allow_fetching": False,
                "other_certs": [asn1(auth.pki.issuing)],
            }
        )
    except Exception:
        from pyhanko_certvalidator import ValidationContext

        vc = ValidationContext(
            trust_roots=[asn1(auth.pki.root)], other_certs=[asn1(auth.pki.issuing)]
        )
    status = validate_pdf_signature(
        sig,
        vc,
        key_usage_settings=KeyUsageConstraints(
            key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
        ),
    )
    level = status.modification_level
    coverage = status.coverage.name if status.coverage is not None else "?"
    return status.bottom_line, coverage, level.name if level is not None else None


@pytest.mark.parametrize("level", LEVELS)
def test_levels_and_agreement_with_pyhanko(
    level: str, signed: dict[str, bytes], auth: Authorities
) -> None:
    data = signed[level]
    ours = validate_pdf(data, auth.bundle())
    assert ours.indication is Indication.TOTAL_PASSED, ours.reason.en
    sig = ours.signatures[0]
    assert sig.pades_level == level
    assert sig.signer is not None and "取证专用章" in sig.signer["subject"]
    assert sig.signer["serial"] == f"{auth.seal.cert.serial_number:x}"
    assert sig.trusted and sig.intact and sig.crypto_valid
    if level != "B-B":
        assert sig.signing_time_stamped is not None
        assert abs(sig.signing_time_stamped - datetime.now(UTC)) < timedelta(minutes=5)
    assert sig.revocation == ("good" if level in ("B-LT", "B-LTA") else "unknown")
    assert len(ours.timestamps) == (1 if level == "B-LTA" else 0)
    bottom_line, coverage, modification = _pyhanko_says(data, auth)
    assert bottom_line is True
    assert (sig.coverage, sig.modification_level) == (coverage, modification)


def test_untrusted_and_unsigned(signed: dict[str, bytes], foreign: Authorities) -> None:
    report = validate_pdf(signed["B-LTA"], foreign.bundle())
    assert (report.indication, report.sub_indication) == (
        Indication.INDETERMINATE,
        Sub.NO_CERTIFICATE_CHAIN_FOUND,
    )
    report = validate_pdf(blank_pdf(), foreign.bundle())
    assert report.sub_indication is Sub.NO_SIGNING_CERTIFICATE_FOUND


def test_require_revocation(signed: dict[str, bytes], auth: Authorities) -> None:
    assert validate_pdf(signed["B-T"], auth.bundle(), require_revocation=True).sub_indication is (
        Sub.TRY_LATER
    )
    assert validate_pdf(signed["B-LT"], auth.bundle(), require_revocation=True).ok
    # CRLs given from outside make a B-T signature's revocation status known too
    report = validate_pdf(signed["B-T"], auth.bundle(auth.crls_pem()), require_revocation=True)
    assert report.ok and report.signatures[0].revocation == "good"


def _edit_after_signing(data: bytes) -> bytes:
    """An incremental update replacing the page's content (what a forger would do)."""
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    new = generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 720 Td (forged price 1 yuan) Tj ET")
    page[generic.pdf_name("/Contents")] = w.add_object(new)
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def test_content_changed_after_signing_fails_like_pyhanko_says(
    signed: dict[str, bytes], auth: Authorities
) -> None:
    forged = _edit_after_signing(signed["B-T"])
    report = validate_pdf(forged, auth.bundle())
    assert (report.indication, report.sub_indication) == (
        Indication.TOTAL_FAILED,
        Sub.FORMAT_FAILURE,
    )
    sig = report.signatures[0]
    assert sig.modification_level == "OTHER" and sig.intact  # the signed bytes are intact...
    bottom_line, _coverage, modification = _pyhanko_says(forged, auth)
    assert bottom_line is False and modification == "OTHER"  # ...pyHanko agrees it is invalid


def test_byte_flip_in_signed_range(signed: dict[str, bytes], auth: Authorities) -> None:
    data = bytearray(signed["B-B"])
    data[data.index(b"forged") if b"forged" in data else data.index(b"level B-B")] ^= 0x01
    report = validate_pdf(bytes(data), auth.bundle())
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, Sub.HASH_FAILURE)


def test_corrupted_signature_container_is_a_result_not_an_exception(
    signed: dict[str, bytes], auth: Authorities
) -> None:
    """Corrupt the CMS inside /Contents where it matters -- its DER header (asn1crypto can no
    longer parse it), the signed attributes, the signature value -- and get TOTAL-FAILED with
    a reason, never an exception."""
    from asn1crypto import cms

    data = signed["B-T"]
    match = re.search(rb"/Contents <([0-9a-fA-F]+)>", data)
    assert match is not None
    der = bytes.fromhex(match.group(1).decode())
    info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    targets = {
        "der header": 1,
        "signed attributes": der.index(info["signed_attrs"].contents) + 20,
        "signature value": der.index(bytes(info["signature"].contents)) + 5,
    }
    for what, offset in targets.items():
        broken = bytearray(der)
        broken[offset] ^= 0xFF
        hexed = broken.hex().encode()
        patched = data[: match.start(1)] + hexed + data[match.start(1) + len(hexed) :]
        report = validate_pdf(patched, auth.bundle())
        assert report.indication is Indication.TOTAL_FAILED, (what, report.reason.en)
        assert report.reason.en


@pytest.mark.parametrize(
    "damage",
    ["truncate", "xref", "startxref", "garbage", "empty"],
)
def test_broken_pdfs(damage: str, signed: dict[str, bytes], auth: Authorities) -> None:
    data = signed["B-LTA"]
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "xref":
        data = data.replace(b"xref", b"xrex")
    elif damage == "startxref":
        data = re.sub(rb"startxref\s+\d+", b"startxref\n99999999", data)
    elif damage == "garbage":
        data = b"%PDF-1.7\n" + bytes(range(256)) * 40
    else:
        data = b""
    report = validate_pdf(data, auth.bundle())
    assert report.indication is not Indication.TOTAL_PASSED or damage in ("xref", "startxref"), (
        damage,
        report.reason.en,
    )
    assert report.reason.en and report.reason.zh


def test_expired_signer_without_proof_of_existence(auth: Authorities) -> None:
    """A signature made with a certificate that has expired, with nothing proving it existed
    while the certificate was valid: pyHanko's long-term (past) validation is consulted and
    the answer is ETSI's INDETERMINATE OUT_OF_BOUNDS_NO_POE, with its reason."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    base = issue_leaf(auth.issuing, "expired signer")
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(base.cert.subject)
        .issuer_name(auth.pki.issuing.subject)
        .public_key(base.cert.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now - timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(auth.issuing.key, hashes.SHA384())  # type: ignore[arg-type]
    )
    signer = type(base)(base.key, cert, base.chain)
    data = sign_pdf(blank_pdf(text="expired"), auth, level="B-B", signer=signer)
    report = validate_pdf(data, auth.bundle())
    assert (report.indication, report.sub_indication) == (
        Indication.INDETERMINATE,
        Sub.OUT_OF_BOUNDS_NO_POE,
    ), report.reason.en
    assert "expired" in report.reason.en
