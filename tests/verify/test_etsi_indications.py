"""Every row of the ETSI outcome table (``signing.verify.pdf_etsi.OUTCOMES``) with a PDF made
for it, and the table in ``docs/etsi-indications.md`` generated from the same rows."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certs.pki import Credential
from signing.verify import Indication, Sub, validate_pdf
from signing.verify.pdf import PdfReport
from signing.verify.pdf_etsi import OUTCOMES, markdown_table, outcome, resolve, trust_outcome
from tests.verify import pdfcraft
from tests.verify.sealing import Authorities, blank_pdf, issue_leaf, make_crl

PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER
DOC = Path(__file__).resolve().parents[2] / "docs" / "etsi-indications.md"


class Case:
    """What to validate: the PDF, the trust bundle, ``validate_pdf`` keywords."""

    def __init__(self, data: bytes, trust: bytes, **kw: Any) -> None:
        self.data, self.trust, self.kw = data, trust, kw


Build = Callable[[Authorities, Authorities, pytest.MonkeyPatch], Case]


def _cert(
    subject: str,
    issuer: Credential | None,
    *,
    key_usage: x509.KeyUsage,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    crl_url: str | None = None,
) -> Credential:
    """A certificate for tests that need what ``issue_leaf`` cannot make (self-signed,
    expired, odd key usage, a CRL distribution point: pyHanko checks revocation only for
    certificates that declare where their status is published)."""
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(minutes=5))
        .not_valid_after(not_after or now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
    )
    if crl_url:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())  # type: ignore[arg-type]
    chain = (issuer.cert, *issuer.chain) if issuer else (cert,)
    return Credential(key, cert, chain)


def _ku(*, signing: bool = True, agreement: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(signing, signing, False, False, agreement, False, False, False, False)


def _signed(auth: Authorities, level: str = "B-T", **kw: Any) -> bytes:
    return pdfcraft.sign(pdfcraft.document(1), auth, field_name="Seal", level=level, **kw)


def _contents(data: bytes) -> re.Match[bytes]:
    match = re.search(rb"/Contents <([0-9a-fA-F]+)>", data)
    assert match is not None
    return match


def _damage_cms(data: bytes, what: str) -> bytes:
    from asn1crypto import cms

    match = _contents(data)
    der = bytes.fromhex(match.group(1).decode())
    info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    if what == "attributes":
        offset = der.index(info["signed_attrs"].contents) + 20
    else:
        offset = der.index(bytes(info["signature"].contents)) + 5
    broken = bytearray(der)
    broken[offset] ^= 0xFF
    hexed = broken.hex().encode()
    return data[: match.start(1)] + hexed + data[match.start(1) + len(hexed) :]


def _unsigned_gap(data: bytes) -> bytes:
    """Shorten the signature's hex string and pad with spaces: the byte range no longer
    consists of exactly the signed bytes and the signature (room for a wrapped payload)."""
    match = _contents(data)
    hexed = match.group(1)
    short = hexed.rstrip(b"0")
    short += b"0" * (len(short) % 2)
    return data[: match.start(1)] + short + b" " * (len(hexed) - len(short)) + data[match.end(1) :]


def _encrypted() -> bytes:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(pdfcraft.document(1))))
    writer.encrypt("owner", "user")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _certified_then_signed(auth: Authorities, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Certified with DocMDP "no changes", then signed again (pyHanko's signer refuses that;
    an attacker's tool does not)."""
    from asn1crypto import keys as asn1_keys
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from tests.verify.sealing import asn1

    key = asn1_keys.PrivateKeyInfo.load(
        auth.seal.key.private_bytes(
            DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    signer = signers.SimpleSigner(
        signing_cert=asn1(auth.seal.cert),
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs([asn1(c) for c in auth.seal.chain]),
    )
    meta = PdfSignatureMetadata(
        field_name="Certification",
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    out = io.BytesIO()
    PdfSigner(meta, signer).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdfcraft.document(1))), output=out
    )
    monkeypatch.setattr("pyhanko.sign.validation.read_certification_data", lambda _r: None)
    return pdfcraft.sign(out.getvalue(), auth, field_name="Second", level="B-B")


def _revoked_signer(auth: Authorities) -> tuple[Credential, bytes]:
    """A signer that declares its CRL, and that CRL (valid now) listing it as revoked since
    it was issued."""
    signer = _cert(
        "revoked signer", auth.issuing, key_usage=_ku(), crl_url="http://crl.example.org/i.crl"
    )
    cert = signer.cert
    return signer, make_crl(
        auth.issuing,
        revoked=[(cert.serial_number, cert.not_valid_before_utc)],
        last_update=datetime.now(UTC) - timedelta(seconds=1),
    ).public_bytes(DER)


def _revoked(auth: Authorities, level: str) -> Case:
    signer, crl = _revoked_signer(auth)
    return Case(_signed(auth, level, signer=signer), auth.bundle(), extra_crls=[crl])


CASES: dict[str, Build] = {
    "valid": lambda a, f, m: Case(_signed(a), a.bundle()),
    "not-pdf": lambda a, f, m: Case(b"PK\x03\x04 not a pdf at all", a.bundle()),
    "unreadable": lambda a, f, m: Case(b"%PDF-1.7\n" + bytes(range(256)) * 40, a.bundle()),
    "encrypted": lambda a, f, m: Case(_encrypted(), a.bundle()),
    "no-signature": lambda a, f, m: Case(blank_pdf(), a.bundle()),
    "signature-damaged": lambda a, f, m: Case(_damage_cms(_signed(a), "attributes"), a.bundle()),
    "digest-mismatch": lambda a, f, m: Case(
        _signed(a).replace(b"Fine: 1000 yuan", b"Fine: 9000 yuan", 1), a.bundle()
    ),
    "signature-invalid": lambda a, f, m: Case(_damage_cms(_signed(a), "value"), a.bundle()),
    "partial-coverage": lambda a, f, m: Case(_unsigned_gap(_signed(a, "B-B")), a.bundle()),
    "docmdp-violated": lambda a, f, m: Case(_certified_then_signed(a, m), a.bundle()),
    "changed-visibly": lambda a, f, m: Case(pdfcraft.change_text(_signed(a)), a.bundle()),
    "attachments-changed": lambda a, f, m: Case(
        pdfcraft.replace_attachment(
            pdfcraft.sign(blank_pdf({"a.json": b"1"}), a, field_name="Seal"), "a.json", b"2"
        ),
        a.bundle(),
    ),
    "changes-not-judged": lambda a, f, m: (
        m.setattr("signing.verify.pdf_changes.MAX_VISUAL_PAGES", 0),
        Case(
            pdfcraft.rewrite_dss(_signed(a), *pdfcraft.validation_data(a), vri_key_case="lower"),
            a.bundle(),
        ),
    )[1],
    "revoked": lambda a, f, m: _revoked(a, "B-T"),
    "revoked-no-poe": lambda a, f, m: _revoked(a, "B-B"),
    "ca-revoked-no-poe": lambda a, f, m: Case(
        _signed(a, "B-B"),
        a.bundle(),
        extra_crls=[
            make_crl(
                a.root, revoked=[(a.pki.issuing.serial_number, a.pki.issuing.not_valid_before_utc)]
            ).public_bytes(DER),
            make_crl(a.issuing).public_bytes(DER),
        ],
    ),
    "untrusted-root": lambda a, f, m: Case(_signed(a), f.bundle()),
    "untrusted-self-signed": lambda a, f, m: Case(
        _signed(a, signer=_cert("self-made seal", None, key_usage=_ku())), a.bundle()
    ),
    # B-B: a time-stamp token would bring the issuing CA's certificate along
    "missing-issuer": lambda a, f, m: Case(
        _signed(a, "B-B", embedded_certs=[]), a.pki.root.public_bytes(PEM)
    ),
    "wrong-key-usage": lambda a, f, m: Case(
        _signed(
            a,
            signer=_cert(
                "key agreement only", a.issuing, key_usage=_ku(signing=False, agreement=True)
            ),
        ),
        a.bundle(),
    ),
    "chain-general-failure": lambda a, f, m: Case(
        _signed(a, signer=issue_leaf(a.seal, "issued by a seal, not a CA")), a.bundle()
    ),
    "weak-algorithm": lambda a, f, m: Case(_signed(a, "B-B", md_algorithm="sha1"), a.bundle()),
    "expired-no-poe": lambda a, f, m: Case(
        _signed(
            a,
            "B-B",
            signer=_cert(
                "expired signer",
                a.issuing,
                key_usage=_ku(),
                not_before=datetime.now(UTC) - timedelta(days=30),
                not_after=datetime.now(UTC) - timedelta(days=1),
            ),
        ),
        a.bundle(),
    ),
    "revocation-unknown-required": lambda a, f, m: Case(
        _signed(a), a.bundle(), require_revocation=True
    ),
}

#: Rows no PDF made here can reach: tested on the mapping itself (below).
WITHOUT_PDF = {"trust-other"}


def test_every_row_has_a_case() -> None:
    assert set(CASES) | WITHOUT_PDF == {row.key for row in OUTCOMES}


def _decided_by(report: PdfReport) -> str | None:
    if report.outcome is not None:
        return report.outcome
    items = [*report.signatures, *report.timestamps]
    return next((s.outcome for s in items if s.indication is report.indication), None)


@pytest.mark.parametrize("key", list(CASES))
def test_row(
    key: str, auth: Authorities, foreign: Authorities, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[key](auth, foreign, monkeypatch)
    report = validate_pdf(case.data, case.trust, **case.kw)
    row = outcome(key)
    assert (report.indication, report.sub_indication) == (row.indication, row.sub), report.reason.en
    assert _decided_by(report) == key, report.reason.en
    if report.outcome is None:
        assert all(s.to_dict()["outcome"] for s in [*report.signatures, *report.timestamps])


def test_untrusted_rows_say_which_piece_is_missing(
    auth: Authorities, foreign: Authorities, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = validate_pdf(_signed(auth), foreign.bundle()).reason.en
    assert "is not trusted" in root and "Root CA" in root
    missing = CASES["missing-issuer"](auth, foreign, monkeypatch)
    reason = validate_pdf(missing.data, missing.trust).reason.en
    assert "is missing" in reason and "Issuing" in reason


def test_passthrough_row_keeps_pyhankos_indeterminate_sub_indication() -> None:
    """``trust-other``: a pyHanko trust problem with no row of its own (e.g. NO_POE)."""
    row = trust_outcome("NO_POE", "trusted-anchor")
    assert row.key == "trust-other"
    assert resolve(row, Sub.NO_POE) == (Indication.INDETERMINATE, Sub.NO_POE)
    assert resolve(row, Sub.HASH_FAILURE) == (Indication.INDETERMINATE, Sub.GENERIC)
    assert resolve(row) == (Indication.INDETERMINATE, Sub.GENERIC)


def test_document_carries_the_same_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    begin = text.index("<!-- BEGIN OUTCOMES")
    table = text[text.index("\n", begin) + 1 : text.index("<!-- END OUTCOMES -->")]
    assert table == markdown_table(), "run: python -m signing.verify.pdf_etsi"
    for row in OUTCOMES:
        assert f"`{row.key}`" in table
