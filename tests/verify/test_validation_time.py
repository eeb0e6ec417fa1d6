"""Validation at a past moment (``--at``, the ``at`` field of ``/api/verify``), as DSS and
pyHanko's validation time do: certificates checked for validity at that moment, time-stamps
accepted if their TSA was valid then, revocation as known; and the present-time verdict shown
next to it.

The evidence here was made in January 2022 by a small PKI whose certificates all expired in
2022 (the package is built with the clock moved back): today it is INDETERMINATE
OUT_OF_BOUNDS_NO_POE (no archive time-stamp renewed it), as of 2022-02-01 it was valid.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import time_machine
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi.testclient import TestClient

from capture.wacz import build_wacz
from certs.pki import Credential
from evidence_service.services import Services
from evidence_service.web.app import create_app
from signing.timestamp import LocalTimestamper
from signing.tsa import TimeStampAuthority
from signing.verify import (
    REPORT_JSON_SCHEMA,
    Indication,
    Report,
    Sub,
    VerifyOptions,
    parse_validation_time,
    render_html,
    render_text,
    verify_file,
)
from signing.verify.engine import ValidationTimeError
from signing.wacz_sign import PackageSigner
from tests.fixtures.venv import run_text, venv_command
from tests.service.conftest import make_settings
from tests.verify.conftest import trust_of
from tests.verify.sealing import InProcessTimeStamper, asn1, blank_pdf
from tests.wacz.conftest import write_capture

MADE = datetime(2022, 1, 15, 10, 0, tzinfo=UTC)
AT = datetime(2022, 2, 1, tzinfo=UTC)
AT_TEXT = "2022-02-01T00:00:00Z"
EXPIRED = datetime(2022, 6, 1, tzinfo=UTC)
DOMAIN = "old.example.org"
EXE = venv_command("evidence")


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: Credential | None,
    *,
    start: datetime,
    end: datetime,
    ca: bool = False,
    eku: x509.ObjectIdentifier | None = None,
    dns: str | None = None,
) -> Credential:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(not ca, False, False, False, False, ca, ca, False, False),
            critical=True,
        )
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=True)
    if dns is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False
        )
    signer_key = issuer.key if issuer else key
    cert = builder.sign(signer_key, hashes.SHA256())  # type: ignore[arg-type]
    chain = (issuer.cert, *issuer.chain) if issuer else ()
    return Credential(key, cert, chain)


@dataclass
class OldEvidence:
    root: Credential
    bundle: Path
    package: Path
    pdf: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _sign_pdf(data: bytes, signer: Credential, tsa: TimeStampAuthority) -> bytes:
    """PAdES B-T with pyHanko: the signature time-stamped by the 2022 TSA."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der = serialization.Encoding.DER
    key = asn1_keys.PrivateKeyInfo.load(
        signer.key.private_bytes(
            der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pdf_signer = signers.SimpleSigner(
        signing_cert=asn1(signer.cert),
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs([asn1(c) for c in signer.chain]),
    )
    meta = PdfSignatureMetadata(field_name="Seal", subfilter=fields.SigSeedSubFilter.PADES)
    out = io.BytesIO()
    PdfSigner(meta, pdf_signer, timestamper=InProcessTimeStamper(tsa)).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(data)), output=out
    )
    return out.getvalue()


@pytest.fixture(scope="module")
def old(tmp_path_factory: pytest.TempPathFactory) -> OldEvidence:
    base = tmp_path_factory.mktemp("old-evidence")
    root = _cert(
        "Old Root CA 2021",
        _key(),
        None,
        start=datetime(2021, 1, 1, tzinfo=UTC),
        end=datetime(2022, 12, 31, tzinfo=UTC),
        ca=True,
    )
    tsa_cred = _cert(
        "Old TSA 2021",
        _key(),
        root,
        start=datetime(2021, 6, 1, tzinfo=UTC),
        end=EXPIRED,
        eku=ExtendedKeyUsageOID.TIME_STAMPING,
    )
    signer = _cert(DOMAIN, _key(), root, start=MADE - timedelta(days=1), end=EXPIRED, dns=DOMAIN)
    bundle = base / "old-bundle.pem"
    bundle.write_bytes(root.cert.public_bytes(serialization.Encoding.PEM))
    with time_machine.travel(MADE, tick=True):
        capture = write_capture(base / "capture")
        tsa = TimeStampAuthority(tsa_cred)
        package_signer = PackageSigner(lambda: signer, [LocalTimestamper(tsa)], domain=DOMAIN)
        package = base / "old.wacz"
        build_wacz(capture, package, sign=package_signer.sign)
        pdf = base / "old.pdf"
        pdf.write_bytes(_sign_pdf(blank_pdf(text="2022"), signer, tsa))
    return OldEvidence(root, bundle, package, pdf)


def _verify(path: Path, trust: Path, at: datetime | None = None) -> Report:
    return verify_file(path, trust=trust_of(trust), options=VerifyOptions(at=at))


# -- the engine ---------------------------------------------------------------------------------


def test_expired_package_is_valid_as_of_a_moment_inside_its_certificates_lives(
    old: OldEvidence,
) -> None:
    present = _verify(old.package, old.bundle)
    assert present.indication_line() == "INDETERMINATE OUT_OF_BOUNDS_NO_POE"
    assert present.validation_time is None and present.present is None

    past = _verify(old.package, old.bundle, AT)
    assert past.indication_line() == "TOTAL-PASSED", past.summary.en
    assert past.validation_time == AT
    # ... and the report says so, with the present-time verdict next to it
    assert past.present is not None
    assert (past.present["indication"], past.present["sub_indication"]) == (
        "INDETERMINATE",
        "OUT_OF_BOUNDS_NO_POE",
    )
    data = past.to_dict()
    jsonschema.validate(data, REPORT_JSON_SCHEMA)
    assert data["validation_time"] == "2022-02-01T00:00:00.000Z"
    assert data["present"]["indication"] == "INDETERMINATE"
    assert datetime.fromisoformat(data["verified_at"].replace("Z", "+00:00")) > EXPIRED
    assert Report.from_dict(data).present == past.present
    text = render_text(past, "en")
    assert "2022-02-01T00:00:00.000Z" in text and "INDETERMINATE OUT_OF_BOUNDS_NO_POE" in text
    assert text.rstrip("\n").split("\n")[-1] == "TOTAL-PASSED"
    html = render_html(past, "en")
    assert 'id="vr-validation-time"' in html and "OUT_OF_BOUNDS_NO_POE" in html
    # the package's tokens were checked against the moment, not today
    assert past.check("package.timestamp").facts["tsa_certificate"]["not_after"].startswith("2022")


def test_after_the_tsa_expired_or_before_the_package_existed_it_is_not_valid(
    old: OldEvidence,
) -> None:
    later = _verify(old.package, old.bundle, datetime(2022, 7, 1, tzinfo=UTC))
    assert later.indication_line() == "INDETERMINATE OUT_OF_BOUNDS_NO_POE"
    before = _verify(old.package, old.bundle, datetime(2022, 1, 10, tzinfo=UTC))
    assert before.indication is Indication.INDETERMINATE
    # the signer's certificate (from 2022-01-14) was not valid yet, and nothing proves more
    signature = before.check("package.signature")
    assert signature.sub_indication is Sub.OUT_OF_BOUNDS_NO_POE, signature.reason.en
    assert "not yet valid at the validation time" in signature.reason.en
    check = before.check("package.timestamp")
    assert (check.sub_indication, "after the validation time" in check.reason.en) == (
        Sub.NO_POE,
        True,
    )


def test_an_untrusted_chain_stays_untrusted_whatever_the_date(
    old: OldEvidence, bundle: Path
) -> None:
    for at in (None, AT, datetime(2022, 7, 1, tzinfo=UTC)):
        report = _verify(old.package, bundle, at)  # another PKI's trust bundle
        assert report.indication_line() == "INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND", at


def test_pdf_validated_at_a_past_moment(old: OldEvidence, bundle: Path) -> None:
    present = _verify(old.pdf, old.bundle)
    assert present.indication is Indication.INDETERMINATE, present.summary.en
    past = _verify(old.pdf, old.bundle, AT)
    assert past.indication_line() == "TOTAL-PASSED", past.summary.en
    assert past.present is not None and past.present["indication"] == "INDETERMINATE"
    untrusted = _verify(old.pdf, bundle, AT)
    assert untrusted.indication_line() == "INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND"


def test_parse_validation_time() -> None:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    assert parse_validation_time(AT_TEXT, now=now) == AT
    assert parse_validation_time("2022-02-01T08:00:00+08:00", now=now) == AT
    for bad, words in (
        ("yesterday", "ISO 8601"),
        ("2022-02-01", "time zone"),
        ("2022-02-01T00:00:00", "time zone"),
        ("2025-03-02T00:00:00Z", "future"),
        ("", "ISO 8601"),
    ):
        with pytest.raises(ValidationTimeError, match=words):
            parse_validation_time(bad, now=now)
    with pytest.raises(ValidationTimeError, match="future"):
        verify_file(
            Path(__file__),
            trust=trust_of(b""),
            options=VerifyOptions(at=datetime.now(UTC) + timedelta(hours=1)),
        )


# -- the command line ---------------------------------------------------------------------------


def _cli(*args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
    return run_text([str(EXE), "verify", *args], env=env)


def test_cli_at(old: OldEvidence) -> None:
    proc = _cli(str(old.package), "--trust", str(old.bundle), "--at", AT_TEXT, "--lang", "en")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.rstrip("\n").split("\n")
    assert lines[-1] == "TOTAL-PASSED"
    assert any("2022-02-01T00:00:00.000Z" in line for line in lines)
    assert any("INDETERMINATE OUT_OF_BOUNDS_NO_POE" in line for line in lines[:-1])

    proc = _cli(str(old.package), "--trust", str(old.bundle), "--at", AT_TEXT, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["indication"] == "TOTAL-PASSED"
    assert data["validation_time"] == "2022-02-01T00:00:00.000Z"
    assert data["present"]["sub_indication"] == "OUT_OF_BOUNDS_NO_POE"

    now = _cli(str(old.package), "--trust", str(old.bundle))
    assert now.returncode == 2
    assert now.stdout.rstrip("\n").split("\n")[-1] == "INDETERMINATE OUT_OF_BOUNDS_NO_POE"


def test_cli_bad_at(old: OldEvidence) -> None:
    future = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for value, words in (("1st of February", "ISO 8601"), (future, "future")):
        proc = _cli(str(old.package), "--trust", str(old.bundle), "--at", value)
        assert proc.returncode == 2, proc.stdout
        assert proc.stdout == ""
        assert proc.stderr.startswith("error: ") and words in proc.stderr, proc.stderr


# -- over HTTP ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    services = Services(make_settings(tmp_path_factory.mktemp("verify-at") / "data"))
    services.migrate()
    yield TestClient(create_app(services=services))
    services.close()


def _files(old: OldEvidence) -> dict[str, tuple[str, bytes]]:
    return {
        "file": ("old.wacz", old.package.read_bytes()),
        "trust": ("bundle.pem", old.bundle.read_bytes()),
    }


def test_api_at_query_and_form(client: TestClient, old: OldEvidence) -> None:
    now = client.post("/api/verify", files=_files(old)).json()
    assert (now["indication"], now["present"]) == ("INDETERMINATE", None)

    by_query = client.post("/api/verify", params={"at": AT_TEXT}, files=_files(old)).json()
    by_form = client.post("/api/verify", data={"at": AT_TEXT}, files=_files(old)).json()
    for data in (by_query, by_form):
        assert data["indication"] == "TOTAL-PASSED"
        assert data["validation_time"] == "2022-02-01T00:00:00.000Z"
        assert data["present"]["sub_indication"] == "OUT_OF_BOUNDS_NO_POE"

    for bad in ("soon", "2999-01-01T00:00:00Z"):
        resp = client.post("/api/verify", params={"at": bad}, files=_files(old))
        assert resp.status_code == 422
        assert resp.json()["detail"]["code"] == "bad_validation_time"


def test_web_page_has_the_field_and_reports_both(client: TestClient, old: OldEvidence) -> None:
    page = client.get("/verify?lang=en")
    assert 'name="at"' in page.text
    resp = client.post("/verify?lang=en", data={"at": AT_TEXT}, files=_files(old))
    assert resp.status_code == 200
    assert 'data-indication="TOTAL-PASSED"' in resp.text
    assert 'id="vr-validation-time"' in resp.text and "OUT_OF_BOUNDS_NO_POE" in resp.text
    bad = client.post("/verify?lang=en", data={"at": "soon"}, files=_files(old))
    assert bad.status_code == 422 and "ISO 8601" in bad.text
