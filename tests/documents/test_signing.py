"""Documents signed in order (officer certifies, the unit seals, the merchant acknowledges with
an audit trail), each signature PAdES B-LTA, checked by pyHanko's validator, Poppler's pdfsig
(OCSP against the served responder) and ``openssl ts -verify``; tampering, revocation,
offline validation and malformed signatures reported by ``validate_document``."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore

from certs import SubjectInfo
from certs.pki import Pki
from signing.errors import TsaUnavailableError
from signing.timestamp import HttpTimestamper, LocalTimestamper
from signing.tsa import TimeStampAuthority
from signing.verify import Indication, Sub, validate_pdf
from tests.fixtures.http_tsa import free_port
from workflow.documents import (
    TEMPLATES,
    DocumentInputError,
    SignatureRequest,
    SignerError,
    render_document,
    sample_data,
    sign_document,
    validate_document,
)

from .conftest import (
    MERCHANT_CODE,
    OFFICER_2_ID,
    OFFICER_ID,
    UNIT,
    Case,
    byte_range_digest,
    encrypted_pdf,
    pdfsig,
    pdfsig_blocks,
    run,
    signatures_by_field,
)

AUDIT = {
    "account": "m-9144030071526726XG",
    "auth_method": "password",
    "ip": "203.0.113.7",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) 商户端",
    "time": "2026-12-06T02:30:00Z",
}


def _root(pki: Pki) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(pki.root.public_bytes(Encoding.DER))


def _render(tmp: Path, template: str = "penalty_decision") -> Path:
    out = tmp / f"{template}.pdf"
    render_document(template, sample_data(template), out)
    return out


@pytest.fixture(scope="module")
def issued(case: Case, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A decision after each signature: officer (certifying), unit seal, merchant + audit."""
    base = tmp_path_factory.mktemp("issued")
    steps = {"rendered": _render(base)}
    plan = [
        ("officer", SignatureRequest(OFFICER_ID, certify=True, reason="承办人审核")),
        ("unit", SignatureRequest(UNIT, reason="行政处罚决定", location="示例市")),
        ("party", SignatureRequest(MERCHANT_CODE, reason="当事人签收", audit=AUDIT)),
    ]
    previous = steps["rendered"]
    for name, request in plan:
        out = base / f"after-{name}.pdf"
        signed = sign_document(case.pki, previous, out, request, timestampers=case.timestampers)
        assert signed.field_name == name and signed.level == "b-lta"
        steps[name] = previous = out
    return steps


def test_three_signatures_in_order_all_valid_and_earlier_ones_intact(
    case: Case, issued: dict[str, Path]
) -> None:
    expected_levels = {"officer": "FORM_FILLING", "unit": "FORM_FILLING", "party": "LTA_UPDATES"}
    for step, fields in (("officer", 1), ("unit", 2), ("party", 3)):
        report = validate_document(issued[step], case.bundle.read_bytes())
        assert report.indication is Indication.TOTAL_PASSED, report.reason.en
        assert [s.field_name for s in report.signatures] == ["officer", "unit", "party"][:fields]
        assert len(report.timestamps) == fields  # one document time-stamp per B-LTA signature
    final = validate_document(issued["party"], case.bundle.read_bytes())
    for sig in final.signatures:
        assert sig.indication is Indication.TOTAL_PASSED, sig.reason.en
        assert sig.intact and sig.crypto_valid and sig.trusted and sig.docmdp_ok
        assert sig.pades_level == "B-LTA" and sig.revocation == "good"
        assert sig.coverage == "ENTIRE_REVISION"
        assert sig.modification_level == expected_levels[sig.field_name]
        assert sig.signing_time_stamped is not None
    signers = [s.signer["subject"] for s in final.signatures if s.signer]
    assert "张三" in signers[0] and UNIT in signers[1] and MERCHANT_CODE in signers[2]
    assert final.signatures[1].stated_reason == "行政处罚决定"
    assert final.signatures[1].location == "示例市"
    reader = PdfFileReader(io.BytesIO(issued["party"].read_bytes()))
    assert "/DocMDP" in reader.root["/Perms"]  # the officer's signature certifies


def test_the_merchant_audit_trail_is_signed_and_reported(
    case: Case, issued: dict[str, Path]
) -> None:
    import hashlib

    report = validate_document(issued["party"], case.bundle.read_bytes())
    party = report.signatures[-1]
    assert party.audit is not None
    for key, value in AUDIT.items():
        assert party.audit[key] == value
    # the hash of the document the merchant saw (before their signature)
    assert party.audit["document_sha256"] == hashlib.sha256(issued["unit"].read_bytes()).hexdigest()
    assert party.audit["signed_at"].endswith("Z")
    assert report.signatures[0].audit is None and report.signatures[1].audit is None
    # It lives in the signature dictionary, inside the merchant signature's byte range.
    emb = signatures_by_field(issued["party"])["party"]
    data = issued["party"].read_bytes()
    start, length = emb.byte_range[2], emb.byte_range[3]
    signed = data[: emb.byte_range[1]] + data[start : start + length]
    assert b"/EvidenceAudit" in signed and b"/Prop_AuthType (Password)" in signed


def test_an_embedded_file_added_after_a_signature_would_break_it(
    case: Case, issued: dict[str, Path], tmp_path: Path
) -> None:
    """Why the audit trail is not an attachment added at counter-signing: pyHanko's
    modification analysis does not accept a new embedded file after a signature."""
    from pyhanko.pdf_utils import embed

    writer = IncrementalPdfFileWriter(io.BytesIO(issued["unit"].read_bytes()))
    ef = embed.EmbeddedFileObject.from_file_data(writer, data=b'{"account":"m"}')
    embed.embed_file(writer, embed.FileSpec(file_spec_string="audit.json", embedded_data=ef))
    out = tmp_path / "attached.pdf"
    with out.open("wb") as fh:
        writer.write(fh)
    report = validate_document(out, case.bundle.read_bytes())
    assert report.indication is Indication.TOTAL_FAILED
    assert {s.modification_level for s in report.signatures} == {"OTHER"}


def test_pyhanko_validates_every_signature_and_time_stamp_from_the_file_alone(
    case: Case, issued: dict[str, Path]
) -> None:
    reader = PdfFileReader(io.BytesIO(issued["party"].read_bytes()))
    dss = DocumentSecurityStore.read_dss(reader)
    vc_args = {"trust_roots": [_root(case.pki)], "allow_fetching": False}
    seen = {"signature": 0, "timestamp": 0}
    for emb in reader.embedded_signatures:
        vc = dss.as_validation_context(dict(vc_args, revocation_mode="require"))
        if str(emb.sig_object_type) == "/DocTimeStamp":
            ts = validate_pdf_timestamp(emb, validation_context=vc)
            assert ts.intact and ts.valid and ts.trusted, ts
            seen["timestamp"] += 1
        else:
            st = validate_pdf_signature(emb, vc)
            assert st.intact and st.valid and st.trusted, st.pretty_print_details()
            assert st.timestamp_validity is not None and st.timestamp_validity.trusted
            seen["signature"] += 1
    assert seen == {"signature": 3, "timestamp": 3}


def test_pdfsig_reports_each_signature_valid_and_trusted(
    case: Case, issued: dict[str, Path]
) -> None:
    out = pdfsig(case, issued["party"])
    blocks = pdfsig_blocks(out)
    signatures = [b for b in blocks if "ETSI.CAdES.detached" in b]
    assert len(signatures) == 3, out
    names = set()
    for block in signatures:
        assert "Signature Validation: Signature is Valid." in block, block
        assert "Certificate Validation: Certificate is Trusted." in block, block
        names.add(re.search(r"Signature Field Name: (\S+)", block).group(1))  # type: ignore[union-attr]
    assert names == {"officer", "unit", "party"}
    assert "Signer Certificate Common Name: 张三" in out
    assert f"Signer Certificate Common Name: {UNIT}" in out


def test_openssl_accepts_the_document_time_stamps(
    case: Case, issued: dict[str, Path], tmp_path: Path
) -> None:
    data = issued["party"].read_bytes()
    stamps = [
        e
        for e in signatures_by_field(issued["party"]).values()
        if str(e.sig_object_type) == "/DocTimeStamp"
    ]
    assert len(stamps) == 3
    for i, emb in enumerate(stamps):
        token = cms.ContentInfo.load(emb.pkcs7_content, strict=False).dump()  # drop padding
        tok = tmp_path / f"ts{i}.der"
        tok.write_bytes(token)
        digest = byte_range_digest(data, list(emb.byte_range))
        proc = run(
            "openssl",
            "ts",
            "-verify",
            "-token_in",
            "-in",
            str(tok),
            "-digest",
            digest,
            "-CAfile",
            str(case.root_pem),
            "-untrusted",
            str(case.chain_pem),
        )
        assert proc.returncode == 0 and "Verification: OK" in proc.stdout, proc.stdout + proc.stderr
        # and refuses the same token for other bytes
        wrong = run(
            "openssl",
            "ts",
            "-verify",
            "-token_in",
            "-in",
            str(tok),
            "-digest",
            "00" * 32,
            "-CAfile",
            str(case.root_pem),
            "-untrusted",
            str(case.chain_pem),
        )
        assert wrong.returncode != 0


def _change_page_content(source: Path, out: Path) -> None:
    """A malicious incremental update: page 1's content replaced after the signatures."""
    from pyhanko.pdf_utils import generic

    writer = IncrementalPdfFileWriter(io.BytesIO(source.read_bytes()))
    page_ref = writer.find_page_for_modification(0)[0]  # [1] is the page's resources
    page = page_ref.get_object()
    stream = generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 720 Td (FORGED) Tj ET")
    page["/Contents"] = writer.add_object(stream)
    writer.update_container(page)
    with out.open("wb") as fh:
        writer.write(fh)


def test_a_content_change_after_signing_is_reported(
    case: Case, issued: dict[str, Path], tmp_path: Path
) -> None:
    forged = tmp_path / "forged.pdf"
    _change_page_content(issued["party"], forged)
    report = validate_document(forged, case.bundle.read_bytes())
    assert report.indication is Indication.TOTAL_FAILED
    for sig in report.signatures:
        # the signed bytes are intact; what was added after them is not allowed
        assert sig.intact and sig.modification_level == "OTHER", sig.to_dict()
        assert (
            sig.indication is Indication.TOTAL_FAILED and sig.sub_indication is Sub.FORMAT_FAILURE
        )
        assert "OTHER" in sig.reason.en
    # pdfsig checks only the signed byte ranges and still calls them valid (pitfalls.md):
    # this is what the modification analysis is for.
    assert pdfsig(case, forged).count("Signature is Valid.") == 3


def test_revoked_signer_is_refused_and_a_signature_made_after_revocation_fails(
    case: Case, tmp_path: Path
) -> None:
    pki = case.pki
    record = pki.issue("officer", SubjectInfo("赵六", organization=UNIT, officer_id="SL-REV-1"))
    before = tmp_path / "before.pdf"
    signed = sign_document(
        pki,
        _render(tmp_path, "order_to_correct"),
        before,
        SignatureRequest("SL-REV-1"),
        timestampers=case.timestampers,
    )
    credential = pki.credential(record.serial)  # the key, kept by someone who bypasses us
    time.sleep(1.1)  # revocation times have whole seconds: keep them after the signature
    pki.revoke(record.serial_hex, "keyCompromise")

    after = tmp_path / "after.pdf"
    with pytest.raises(SignerError, match=r"revoked on \d{4}-\d\d-\d\d .*cannot sign"):
        sign_document(
            pki,
            tmp_path / "order_to_correct.pdf",
            after,
            SignatureRequest("SL-REV-1"),
            timestampers=case.timestampers,
        )
    assert not after.exists()

    # Bypassing our guard with pyHanko directly: a time-stamped signature after revocation,
    # then the revocation data (our OCSP answer and CRLs) added to the DSS.
    from signing.pades import sign_pdf
    from signing.signers import SoftwarePdfSigner

    sign_pdf(
        tmp_path / "order_to_correct.pdf",
        after,
        SoftwarePdfSigner(credential),  # type: ignore[arg-type]
        level="b-t",
        timestamper=case.timestampers[0],
        field_name="officer",
    )
    emb = signatures_by_field(after)["officer"]
    buf = io.BytesIO(after.read_bytes())
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp

    DocumentSecurityStore.add_dss(
        buf,
        emb.pkcs7_content,
        certs=[
            asn1_x509.Certificate.load(c.public_bytes(Encoding.DER))
            for c in (credential.cert, pki.issuing)
        ],
        ocsps=[asn1_ocsp.OCSPResponse.load(pki.ocsp_response_for(credential.cert))],
        crls=[asn1_crl.CertificateList.load(pki.crl_der(w)) for w in ("issuing", "root")],
    )
    after.write_bytes(buf.getvalue())

    bundle = case.bundle.read_bytes()
    first = validate_document(before, bundle)
    assert first.indication is Indication.TOTAL_PASSED, first.reason.en
    assert first.signatures[0].revocation == "good" and first.signatures[0].pades_level == "B-LTA"
    second = validate_document(after, bundle)
    sig = second.signatures[0]
    assert second.indication is Indication.TOTAL_FAILED
    assert sig.sub_indication is Sub.REVOKED and sig.revocation == "revoked", sig.to_dict()
    assert "revoked" in sig.reason.en and sig.revocation_reason is not None

    # With today's CRL given too, the document signed before the revocation stays valid.
    later = validate_pdf(before, case.pki.export_bundle_pem())
    assert later.indication is Indication.TOTAL_PASSED, later.reason.en
    assert signed.signing_time < record_revoked_at(pki, record.serial)


def record_revoked_at(pki: Pki, serial: int) -> Any:
    entry = pki.certificate(serial)
    assert entry.revoked_at is not None
    return entry.revoked_at


@pytest.mark.parametrize("level", ["b-lt", "b-lta"])
def test_long_term_documents_validate_with_no_responder_reachable(
    tmp_path: Path, level: str
) -> None:
    """A PKI whose OCSP/CRL URLs point where nobody listens: signing embeds local revocation
    data, and validation then needs nothing else, even when revocation data is required."""
    pki = Pki.open(
        tmp_path / "pki",
        b"offline",
        hostname="offline.example",
        public_url=f"http://127.0.0.1:{free_port()}",
    )
    pki.issue("unit", SubjectInfo(UNIT))
    tsa = LocalTimestamper(TimeStampAuthority(pki.tsa_credential()))
    out = tmp_path / "signed.pdf"
    sign_document(
        pki,
        _render(tmp_path),
        out,
        SignatureRequest(UNIT, level=level),  # type: ignore[arg-type]
        timestampers=[tsa],
    )
    report = validate_pdf(out, pki.trust_bundle_pem(), require_revocation=True)
    assert report.indication is Indication.TOTAL_PASSED, report.reason.en
    sig = report.signatures[0]
    assert sig.trusted and sig.revocation == "good" and sig.pades_level == level.upper()


def _corrupt_signature_value(data: bytes, field: str) -> bytes:
    """``field``'s CMS with its signature value's bits flipped, written back in place (same
    length: the byte ranges stay as they were)."""
    reader = PdfFileReader(io.BytesIO(data))
    emb = next(e for e in reader.embedded_signatures if e.field_name == field)
    der = bytes(emb.pkcs7_content)
    info = cms.ContentInfo.load(der, strict=False)
    value = bytes(info["content"]["signer_infos"][0]["signature"].native)
    at = der.index(value)
    der = der[:at] + bytes(b ^ 0xFF for b in value) + der[at + len(value) :]
    start = emb.byte_range[1] + 1  # after '<'
    new_hex = der.hex().encode()
    return data[:start] + new_hex + data[start + len(new_hex) :]


def _garbage_contents(data: bytes, field: str) -> bytes:
    """``field``'s /Contents starting with bytes that are no DER at all."""
    reader = PdfFileReader(io.BytesIO(data))
    emb = next(e for e in reader.embedded_signatures if e.field_name == field)
    start = emb.byte_range[1] + 1
    return data[:start] + b"ff" * 20 + data[start + 40 :]


def test_malformed_signatures_give_invalid_results_never_exceptions(
    case: Case, issued: dict[str, Path], tmp_path: Path
) -> None:
    data = issued["unit"].read_bytes()
    cases = {
        "corrupt-cms": _corrupt_signature_value(data, "unit"),
        "truncated": data[: len(data) // 2],
        "not-der": _garbage_contents(data, "unit"),
    }
    for name, bad in cases.items():
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(bad)
        report = validate_document(path, case.bundle.read_bytes())
        assert report.indication is not Indication.TOTAL_PASSED, name
        assert report.reason.en, name
        if name == "corrupt-cms":
            failed = [s for s in report.signatures if s.indication is not Indication.TOTAL_PASSED]
            assert failed and failed[0].field_name in ("unit", "officer"), report.to_dict()


def test_online_revocation_data_comes_from_the_served_responder(case: Case, tmp_path: Path) -> None:
    out = tmp_path / "online.pdf"
    sign_document(
        case.pki,
        _render(tmp_path),
        out,
        SignatureRequest(OFFICER_2_ID),
        timestampers=case.timestampers,
        online_revocation=True,
    )
    reader = PdfFileReader(io.BytesIO(out.read_bytes()))
    dss = DocumentSecurityStore.read_dss(reader)
    assert dss.ocsps and dss.crls
    report = validate_pdf(out, case.bundle.read_bytes(), require_revocation=True)
    assert report.indication is Indication.TOTAL_PASSED, report.reason.en


def test_clear_errors_and_nothing_written(case: Case, tmp_path: Path) -> None:
    src = _render(tmp_path)
    out = tmp_path / "out" / "x.pdf"
    out.parent.mkdir()

    def sign(source: Path, request: SignatureRequest, **kw: Any) -> Any:
        return sign_document(case.pki, source, out, request, timestampers=case.timestampers, **kw)

    with pytest.raises(DocumentInputError, match="no such file"):
        sign(tmp_path / "missing.pdf", SignatureRequest(UNIT))
    (tmp_path / "text.pdf").write_text("not a pdf")
    with pytest.raises(DocumentInputError, match="not a PDF"):
        sign(tmp_path / "text.pdf", SignatureRequest(UNIT))
    encrypted = tmp_path / "encrypted.pdf"
    encrypted.write_bytes(encrypted_pdf())
    with pytest.raises(DocumentInputError, match="encrypted"):
        sign(encrypted, SignatureRequest(UNIT))
    with pytest.raises(SignerError, match="unknown signer 'nobody'"):
        sign(src, SignatureRequest("nobody"))
    with pytest.raises(SignerError, match="tsa certificate"):
        sign(src, SignatureRequest(case.pki.tsa_credential().cert.serial_number.__format__("x")))
    with pytest.raises(DocumentInputError, match="folder"):
        sign_document(
            case.pki,
            src,
            tmp_path / "nowhere" / "x.pdf",
            SignatureRequest(UNIT),
            timestampers=case.timestampers,
        )
    dead = HttpTimestamper(f"http://127.0.0.1:{free_port()}/tsa", timeout=2)
    with pytest.raises(TsaUnavailableError):
        sign_document(case.pki, src, out, SignatureRequest(UNIT), timestampers=[dead])
    assert list(out.parent.iterdir()) == []  # no output, no temporary file

    # The next TSA is tried when one is down.
    signed = sign_document(
        case.pki,
        src,
        out,
        SignatureRequest(UNIT, certify=True),
        timestampers=[dead, *case.timestampers],
    )
    assert signed.path == out and out.is_file()
    with pytest.raises(DocumentInputError, match="already signed"):
        sign(out, SignatureRequest(UNIT, field_name="unit"))
    with pytest.raises(DocumentInputError, match="only the first signature"):
        sign(out, SignatureRequest(OFFICER_ID, certify=True))
    # A second unit signature has no empty unit slot left on this certified document.
    with pytest.raises(DocumentInputError, match="certified"):
        sign(out, SignatureRequest(UNIT))
    # ...but may sign invisibly; and the source may be the output.
    again = sign_document(
        case.pki,
        out,
        out,
        SignatureRequest(UNIT, visible=False, level="b-t"),
        timestampers=case.timestampers,
    )
    assert again.field_name == "unit_1"
    report = validate_document(out, case.bundle.read_bytes())
    assert report.indication is Indication.TOTAL_PASSED, report.reason.en
    assert sorted(p.name for p in out.parent.iterdir()) == ["x.pdf"]


def test_any_pdf_gets_visible_signatures_placed_apart(case: Case, tmp_path: Path) -> None:
    from tests.pki.conftest import blank_pdf

    src = tmp_path / "blank.pdf"
    src.write_bytes(blank_pdf())
    one, two = tmp_path / "one.pdf", tmp_path / "two.pdf"
    sign_document(case.pki, src, one, SignatureRequest(UNIT, level="b-b"), timestampers=[])
    sign_document(case.pki, one, two, SignatureRequest(OFFICER_ID, level="b-b"), timestampers=[])
    reader = PdfFileReader(io.BytesIO(two.read_bytes()))
    from pyhanko.sign.fields import enumerate_sig_fields

    rects = [
        tuple(float(v) for v in ref.get_object()["/Rect"])
        for _n, _v, ref in enumerate_sig_fields(reader)
    ]
    assert len(rects) == 2
    (a1, b1, a2, b2), (c1, d1, c2, d2) = rects
    assert a2 <= c1 or c2 <= a1 or b2 <= d1 or d2 <= b1  # no overlap
    report = validate_document(two, case.bundle.read_bytes())
    assert report.indication is Indication.TOTAL_PASSED, report.reason.en
    assert [s.pades_level for s in report.signatures] == ["B-B", "B-B"]


SIGNER_OF_KIND = {"officer": OFFICER_ID, "unit": UNIT, "merchant": MERCHANT_CODE}


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_every_template_signed_in_all_its_slots_validates_everywhere(
    case: Case, slot_signers: dict[str, str], tmp_path: Path, template: str
) -> None:
    """Each document type, every slot signed in order (the first certifying), B-LTA: our
    validator and pdfsig (OCSP on, against the served responder) accept every signature."""
    current = _render(tmp_path, template)
    slots = TEMPLATES[template].slots
    for i, slot in enumerate(slots):
        signer = slot_signers.get(slot.name) if slot.kind == "officer" else None
        signer = signer or SIGNER_OF_KIND[slot.kind]
        out = tmp_path / f"{i}-{slot.name}.pdf"
        signed = sign_document(
            case.pki,
            current,
            out,
            SignatureRequest(signer, field_name=slot.name, certify=i == 0),
            timestampers=case.timestampers,
        )
        assert signed.field_name == slot.name
        current = out
    report = validate_document(current, case.bundle.read_bytes())
    assert report.indication is Indication.TOTAL_PASSED, report.reason.en
    assert [s.field_name for s in report.signatures] == [s.name for s in slots]
    assert {s.pades_level for s in report.signatures} == {"B-LTA"}
    text = pdfsig(case, current)
    signatures = [b for b in pdfsig_blocks(text) if "ETSI.CAdES.detached" in b]
    assert len(signatures) == len(slots), text
    for block in signatures:
        assert "Signature is Valid." in block and "Certificate is Trusted." in block, block


def test_a_foreign_tsa_works_up_to_b_lta(case: Case, tmp_path: Path) -> None:
    """A TSA that is not ours (OpenSSL's, with its own CA): its chain is learnt from a token
    and embedded; the document validates with that CA added to our bundle."""
    from tests.fixtures.openssl_tsa import serve_openssl_tsa

    src = _render(tmp_path, "statement")
    with serve_openssl_tsa(tmp_path / "tsa") as tsa:
        out = tmp_path / "foreign.pdf"
        sign_document(
            case.pki,
            src,
            out,
            SignatureRequest(MERCHANT_CODE),
            timestampers=[HttpTimestamper(tsa.url, timeout=10)],
        )
        report = validate_document(out, case.bundle.read_bytes() + tsa.ca_pem)
    assert report.indication is Indication.TOTAL_PASSED, report.reason.en
    sig = report.signatures[0]
    assert sig.pades_level == "B-LTA" and sig.revocation == "good"
    assert "OpenSSL Test TSA" in (sig.timestamp_authority or "")
    assert "OpenSSL Test TSA" in (report.timestamps[0].timestamp_authority or "")
