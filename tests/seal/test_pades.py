"""signing.pades and signing.pdf_render on their own: every PAdES level on a rendered
PDF/A-3b document, validated by pyHanko from what the file carries; errors are clear."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore

from certs import SubjectInfo
from certs.pki import Credential, Pki
from signing.errors import TsaUnavailableError
from signing.pades import Appearance, PadesError, credential_signer, sign_pdf
from signing.pdf_render import Attachment, RenderError, embedded_fonts, render_pdf
from signing.signers import validation_context
from signing.timestamp import HttpTimestamper, LocalTimestamper
from signing.tsa import TimeStampAuthority
from tests.fixtures.http_tsa import free_port
from tests.seal.conftest import run

HTML = """<html><body style="font-family: 'WenQuanYi Zen Hei'">
<h1>行政处罚决定书</h1><p>Decision 2026-001: <img src="http://127.0.0.1:9/leak.png"></p>
</body></html>"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pki]:
    yield Pki.open(
        tmp_path_factory.mktemp("pades") / "pki",
        b"pades test",
        hostname="pades.example",
        public_url=f"http://127.0.0.1:{free_port()}",  # nobody listens: no fetching works
    )


@pytest.fixture(scope="module")
def seal(pki: Pki) -> Credential:
    credential = pki.credential(pki.issue("unit", SubjectInfo("测试市场监督管理局")).serial)
    assert isinstance(credential, Credential)
    return credential


def _root(pki: Pki) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(pki.root.public_bytes(Encoding.DER))


def test_render_is_pdf_a_3b_with_cjk_font_and_attachment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pdf = render_pdf(HTML, attachments=[Attachment("facts.json", b'{"a": 1}', "facts")])
    assert "disallowed protocol" in caplog.text  # the http: image was refused, not fetched
    assert "WenQuanYi-Zen-Hei" in " ".join(embedded_fonts(pdf))
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    assert "facts.json" in run("pdfdetach", "-list", str(path)).stdout
    assert "行政处罚决定书" in run("pdftotext", str(path), "-").stdout
    reader = PdfFileReader(io.BytesIO(pdf))
    assert b"pdfaid:part" in reader.root["/Metadata"].get_object().data
    with pytest.raises(RenderError):
        render_pdf("<html><body>x</body></html>", pdf_variant="pdf/a-9z")


@pytest.mark.parametrize("level", ["b-b", "b-t", "b-lt", "b-lta"])
def test_every_level_validates_from_the_file_alone(
    pki: Pki, seal: Credential, tmp_path: Path, level: str
) -> None:
    tsa = LocalTimestamper(TimeStampAuthority(pki.tsa_credential()))
    out = tmp_path / "signed.pdf"
    vc = validation_context(pki, online=False, for_certs=[seal.cert])
    sign_pdf(
        render_pdf(HTML),
        out,
        credential_signer(seal),
        level=level,  # type: ignore[arg-type]
        timestamper=tsa if level != "b-b" else None,
        validation_context=vc if level in ("b-lt", "b-lta") else None,
        reason="测试",
        appearance=Appearance(box=(50, 50, 250, 110)) if level == "b-b" else None,
    )
    reader = PdfFileReader(io.BytesIO(out.read_bytes()))
    signatures = reader.embedded_signatures
    if level in ("b-lt", "b-lta"):
        dss = DocumentSecurityStore.read_dss(reader)
        assert dss.crls and dss.ocsps
        check_vc = dss.as_validation_context(
            {"trust_roots": [_root(pki)], "allow_fetching": False, "revocation_mode": "require"}
        )
    else:
        from pyhanko_certvalidator import ValidationContext

        check_vc = ValidationContext(trust_roots=[_root(pki)], allow_fetching=False)
    status = validate_pdf_signature(signatures[0], check_vc)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert (status.timestamp_validity is not None) == (level != "b-b")
    if level == "b-lta":
        assert len(signatures) == 2  # the document time-stamp over signature and DSS
        ts_status = validate_pdf_timestamp(signatures[1], validation_context=check_vc)
        assert ts_status.intact and ts_status.valid and ts_status.trusted
    else:
        assert len(signatures) == 1


def test_unusable_arguments_and_a_dead_tsa_are_clear_errors(
    pki: Pki, seal: Credential, tmp_path: Path
) -> None:
    pdf = render_pdf(HTML)
    signer = credential_signer(seal)
    with pytest.raises(PadesError, match="time-stamp authority"):
        sign_pdf(pdf, tmp_path / "x.pdf", signer, level="b-t")
    with pytest.raises(PadesError, match="validation context"):
        tsa = LocalTimestamper(TimeStampAuthority(pki.tsa_credential()))
        sign_pdf(pdf, tmp_path / "x.pdf", signer, level="b-lt", timestamper=tsa)
    with pytest.raises(PadesError, match="unknown PAdES level"):
        sign_pdf(pdf, tmp_path / "x.pdf", signer, level="b-x")  # type: ignore[arg-type]
    dead = HttpTimestamper(f"http://127.0.0.1:{free_port()}/tsa", timeout=2)
    with pytest.raises(TsaUnavailableError):
        sign_pdf(pdf, tmp_path / "x.pdf", signer, level="b-t", timestamper=dead)
    assert not (tmp_path / "x.pdf").exists()


def test_a_too_small_reservation_falls_back_to_measuring(
    pki: Pki, seal: Credential, tmp_path: Path
) -> None:
    from pyhanko_certvalidator import ValidationContext

    tsa = LocalTimestamper(TimeStampAuthority(pki.tsa_credential()))
    for reserved in (64, 16384):
        out = tmp_path / f"r{reserved}.pdf"
        sign_pdf(
            render_pdf(HTML),
            out,
            credential_signer(seal),
            level="b-t",
            timestamper=tsa,
            bytes_reserved=reserved,
        )
        reader = PdfFileReader(io.BytesIO(out.read_bytes()))
        status = validate_pdf_signature(
            reader.embedded_signatures[0], ValidationContext(trust_roots=[_root(pki)])
        )
        assert status.intact and status.valid and status.trusted


def test_the_service_seal_is_replaced_when_revoked(tmp_path: Path) -> None:
    from evidence_service.sealing.certificate import seal_name, service_seal_credential
    from tests.seal.conftest import services_for

    services = services_for(tmp_path / "data", free_port())
    try:
        first = service_seal_credential(services)
        assert service_seal_credential(services) is first  # kept, not re-read
        subject = first.cert.subject.rfc4514_string()
        assert seal_name(services.pki.hostname) in subject
        usage = first.cert.extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.digital_signature and usage.content_commitment
        services.pki.revoke(first.cert.serial_number, "keyCompromise")
        second = service_seal_credential(services)
        assert second.cert.serial_number != first.cert.serial_number
    finally:
        services.close()


def test_b_lt_with_given_validation_data_carries_exactly_it_and_validates(
    pki: Pki, seal: Credential, tmp_path: Path
) -> None:
    """The seal's fast B-LT: the DSS holds what the caller gave (no path validation to
    collect it), registered for the signature in a VRI entry, and pyHanko validates the
    signature from the file alone with revocation data required."""
    import hashlib

    from pyhanko.pdf_utils.generic import pdf_name

    from signing.pades import ValidationData

    tsa_cred = pki.tsa_credential()
    tsa = LocalTimestamper(TimeStampAuthority(tsa_cred))
    data = ValidationData(
        certs=(seal.cert, *seal.chain, tsa_cred.cert, pki.ocsp_credential().cert),
        ocsps=(pki.ocsp_response_for(seal.cert), pki.ocsp_response_for(tsa_cred.cert)),
        crls=(pki.crl_der("issuing"), pki.crl_der("root")),
    )
    out = tmp_path / "lt.pdf"
    signed = sign_pdf(
        render_pdf(HTML),
        out,
        credential_signer(seal),
        level="b-lt",
        timestamper=tsa,
        validation_data=data,
        bytes_reserved=16384,
    )
    assert signed.level == "b-lt"
    reader = PdfFileReader(io.BytesIO(out.read_bytes()))
    dss = DocumentSecurityStore.read_dss(reader)

    def streams(refs: object) -> set[bytes]:
        return {ref.get_object().data for ref in refs}  # type: ignore[attr-defined]

    assert streams(dss.certs.values()) == {c.public_bytes(Encoding.DER) for c in data.certs}
    assert streams(dss.ocsps) == set(data.ocsps)
    assert streams(dss.crls) == set(data.crls)
    signature = reader.embedded_signatures[0]
    vri = reader.root["/DSS"]["/VRI"]
    key = hashlib.sha1(signature.sig_object["/Contents"]).hexdigest().upper()
    assert pdf_name("/" + key) in vri  # the VRI entry is this signature's
    check_vc = dss.as_validation_context(
        {"trust_roots": [_root(pki)], "allow_fetching": False, "revocation_mode": "require"}
    )
    status = validate_pdf_signature(signature, check_vc)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted

    # Without the TSA's OCSP response the same check fails: the data is taken as given.
    thin = ValidationData(certs=data.certs, ocsps=data.ocsps[:1], crls=data.crls[:1])
    sign_pdf(
        render_pdf(HTML),
        tmp_path / "thin.pdf",
        credential_signer(seal),
        level="b-lt",
        timestamper=tsa,
        validation_data=thin,
    )
    reader = PdfFileReader(io.BytesIO((tmp_path / "thin.pdf").read_bytes()))
    thin_vc = DocumentSecurityStore.read_dss(reader).as_validation_context(
        {"trust_roots": [_root(pki)], "allow_fetching": False, "revocation_mode": "require"}
    )
    status = validate_pdf_signature(reader.embedded_signatures[0], thin_vc)
    assert not status.trusted


def test_validation_data_is_for_b_lt_only(pki: Pki, seal: Credential, tmp_path: Path) -> None:
    from signing.pades import ValidationData

    tsa = LocalTimestamper(TimeStampAuthority(pki.tsa_credential()))
    data = ValidationData(certs=(seal.cert,))
    for level, extra in (("b-lta", {}), ("b-t", {}), ("b-lt", {"validation_context": object()})):
        with pytest.raises(PadesError, match="B-LT only"):
            sign_pdf(
                render_pdf(HTML),
                tmp_path / "x.pdf",
                credential_signer(seal),
                level=level,  # type: ignore[arg-type]
                timestamper=tsa,
                validation_data=data,
                **extra,  # type: ignore[arg-type]
            )
    assert not (tmp_path / "x.pdf").exists()


def test_a_seal_not_in_good_standing_gets_no_validation_data(tmp_path: Path) -> None:
    """What pyHanko's path validation used to catch before signing: the certificate's seal
    must be good in the OCSP response it embeds."""
    from certs.errors import CertsError
    from evidence_service.sealing.certificate import _validation_data, service_seal_credential
    from tests.seal.conftest import services_for

    services = services_for(tmp_path / "data", free_port())
    try:
        seal_now = service_seal_credential(services)
        good = _validation_data(services, seal_now, ())
        assert seal_now.cert in good.certs and services.pki.tsa_credential().cert in good.certs
        assert len(good.ocsps) == 2 and len(good.crls) == 2
        services.pki.revoke(seal_now.cert.serial_number, "keyCompromise")
        with pytest.raises(CertsError, match=f"{seal_now.cert.serial_number:x} is not in good"):
            _validation_data(services, seal_now, ())
    finally:
        services.close()
