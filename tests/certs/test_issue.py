"""Issuing unit, officer and merchant certificates: profiles as openssl reads them, subjects
(Chinese names, credit codes), the register, lookups, and issuance from several processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certs import (
    AmbiguousCertificateError,
    CertificateRevokedError,
    PkiConfigError,
    SubjectError,
    SubjectInfo,
    UnknownCertificateError,
    check_credit_code,
)
from certs.pki import Credential, Pki
from tests.certs.conftest import PASSPHRASE, PUBLIC_URL, openssl

REPO = Path(__file__).resolve().parents[2]
UNIT = "北京市朝阳区市场监督管理局"
CODE = "91330100799655058B"  # a published, valid unified social credit code


def _write(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    return path


def _text(path: Path) -> str:
    return openssl(
        "x509", "-in", str(path), "-noout", "-text", "-nameopt", "oneline,-esc_msb"
    ).stdout


def _verify(pki: Pki, leaf: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    d = pki.directory
    return openssl(
        "verify",
        "-CAfile",
        str(d / "root.pem"),
        "-untrusted",
        str(d / "issuing.pem"),
        *extra,
        str(leaf),
        check=False,
    )


@pytest.mark.parametrize(
    ("kind", "subject", "key_type", "expected_subject", "expected_key"),
    [
        (
            "unit",
            SubjectInfo(UNIT),
            "ec-p256",
            f"O = {UNIT}, CN = {UNIT}",
            "ASN1 OID: prime256v1",
        ),
        (
            "officer",
            SubjectInfo("张三", organization=UNIT, officer_id="BJ-0042"),
            "rsa-2048",
            f"O = {UNIT}, serialNumber = BJ-0042, CN = 张三",
            "Public-Key: (2048 bit)",
        ),
        (
            "merchant",
            SubjectInfo("杭州某某网络科技有限公司", credit_code=CODE.lower()),
            "ec-p256",
            "O = 杭州某某网络科技有限公司, serialNumber = 91330100799655058B, "
            "organizationIdentifier = NTRCN-91330100799655058B, CN = 杭州某某网络科技有限公司",
            "ASN1 OID: prime256v1",
        ),
    ],
)
def test_signer_profiles_as_openssl_reads_them(
    open_pki: Callable[..., Pki],
    tmp_path: Path,
    kind: str,
    subject: SubjectInfo,
    key_type: str,
    expected_subject: str,
    expected_key: str,
) -> None:
    pki = open_pki()
    record = pki.issue(kind, subject, key_type=key_type)  # type: ignore[arg-type]
    leaf = _write(tmp_path / "leaf.pem", record.certificate)
    text = _text(leaf)
    assert f"Subject: {expected_subject}" in text
    assert expected_key in text
    assert "Key Usage: critical" in text and "Digital Signature, Non Repudiation" in text
    assert "CA:FALSE" in text
    # No extendedKeyUsage on document signers (pdfsig: "Unknown issue with Certificate").
    assert "Extended Key Usage" not in text
    assert f"URI:{PUBLIC_URL}/pki/issuing.crl" in text
    assert f"OCSP - URI:{PUBLIC_URL}/pki/ocsp" in text
    assert f"CA Issuers - URI:{PUBLIC_URL}/pki/issuing.crt" in text
    assert _verify(pki, leaf).stdout.strip().endswith("OK")
    # Names are UTF8String, serialNumber a PrintableString (RFC 5280 / X.520).
    parsed = openssl("asn1parse", "-in", str(leaf)).stdout
    assert ":commonName" in parsed and "UTF8STRING" in parsed
    if subject.officer_id or subject.credit_code:
        assert "PRINTABLESTRING" in parsed
    # The register has it, with the holder's id.
    assert record.kind == kind and record.status == "good"
    assert record.owner_id == (subject.officer_id or (subject.credit_code or "").upper() or UNIT)
    assert pki.certificate(record.serial_hex) == record
    assert record.key_storage == "software"
    assert (
        (pki.directory / f"issued/{record.serial_hex}.key.pem")
        .read_bytes()
        .startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    )


def test_issuing_ca_and_ocsp_responder_profiles(
    open_pki: Callable[..., Pki], tmp_path: Path
) -> None:
    pki = open_pki()
    issuing = _text(pki.directory / "issuing.pem")
    assert f"URI:{PUBLIC_URL}/pki/root.crl" in issuing
    assert f"CA Issuers - URI:{PUBLIC_URL}/pki/root.crt" in issuing

    responder = _write(tmp_path / "ocsp.pem", pki.ocsp_credential().cert)
    text = _text(responder)
    assert "OCSP Signing" in text and "OCSP No Check" in text
    assert "CRL Distribution Points" not in text and "OCSP - URI" not in text
    cert = pki.ocsp_credential().cert
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=90)
    assert _verify(pki, responder, "-purpose", "ocsphelper").stdout.strip().endswith("OK")
    # The trust bundle names it.
    bundle = pki.trust_bundle_pem()
    assert b"# OCSP responder" in bundle and cert.public_bytes(Encoding.PEM) in bundle


@pytest.mark.parametrize(
    ("kind", "subject", "message"),
    [
        ("merchant", SubjectInfo("某网店"), "credit code"),
        ("merchant", SubjectInfo("某网店", credit_code="91330100799655058C"), "check character"),
        ("merchant", SubjectInfo("某网店", credit_code="9133010079965505"), "18 characters"),
        ("merchant", SubjectInfo("某网店", credit_code="91330100799655O58B"), "contains 'O'"),
        ("officer", SubjectInfo("张三", officer_id="BJ-1"), "unit"),
        ("officer", SubjectInfo("张三", organization=UNIT), "officer id"),
        ("officer", SubjectInfo("张三", organization=UNIT, officer_id="警号123"), "serialNumber"),
        ("unit", SubjectInfo(UNIT, organization="other"), "does not apply"),
        ("unit", SubjectInfo("局" * 65), "at most 64"),
        ("unit", SubjectInfo("  "), "unit name"),
        ("seal", SubjectInfo(UNIT), "unknown certificate kind"),
    ],
)
def test_bad_subjects_are_refused_with_the_reason(
    open_pki: Callable[..., Pki], kind: str, subject: SubjectInfo, message: str
) -> None:
    pki = open_pki()
    with pytest.raises(SubjectError, match=message):
        pki.issue(kind, subject)  # type: ignore[arg-type]
    assert pki.list_certificates(kind) == []


def test_credit_code_checksum_matches_published_codes() -> None:
    for code in ("9144030071526726XG", "914403001922038216", CODE, "91110000802100433B"):
        assert check_credit_code(code) == code
    with pytest.raises(SubjectError):
        check_credit_code("914403001922038217")


def test_validity_defaults_limits_and_lookup_by_holder(open_pki: Callable[..., Pki]) -> None:
    pki = open_pki()
    officer = pki.issue("officer", SubjectInfo("李四", organization=UNIT, officer_id="BJ-7"))
    assert officer.not_after - officer.not_before == timedelta(days=730)
    short = pki.issue("unit", SubjectInfo(UNIT), days=30)
    assert short.not_after - short.not_before == timedelta(days=30)
    with pytest.raises(PkiConfigError, match="between 1 and"):
        pki.issue("unit", SubjectInfo(UNIT), days=0)

    # By officer id and by name; the newest valid certificate of the holder wins.
    renewed = pki.issue("officer", SubjectInfo("李四", organization=UNIT, officer_id="BJ-7"))
    assert pki.certificate("BJ-7").serial == renewed.serial
    assert pki.certificate("李四").serial == renewed.serial
    cred = pki.credential("BJ-7")
    assert isinstance(cred, Credential)
    assert cred.cert == renewed.certificate and cred.chain == (pki.issuing, pki.root)
    # Serial forms openssl prints work too.
    colon_hex = ":".join(f"{b:02X}" for b in renewed.serial.to_bytes(20, "big")).lstrip("0:")
    assert pki.certificate(colon_hex).serial == renewed.serial

    # A second officer with the same name: the name is ambiguous, the id is not.
    pki.issue("officer", SubjectInfo("李四", organization=UNIT, officer_id="BJ-8"))
    with pytest.raises(AmbiguousCertificateError, match="several holders"):
        pki.certificate("李四")
    assert pki.certificate("BJ-8").owner_id == "BJ-8"
    with pytest.raises(UnknownCertificateError):
        pki.certificate("nobody")
    with pytest.raises(UnknownCertificateError):
        pki.certificate(12345)

    # Revoked certificates give no credential.
    pki.revoke(renewed.serial_hex, "affiliationChanged")
    with pytest.raises(CertificateRevokedError, match="revoked"):
        pki.credential(renewed.serial)
    # ...and the holder's name falls back to the older, still valid certificate.
    assert pki.certificate("BJ-7").serial == officer.serial

    kinds = [r.kind for r in pki.list_certificates()]
    assert kinds.count("officer") == 3 and kinds.count("unit") == 1
    assert {"issuing-ca", "tsa", "ocsp-responder"} <= set(kinds)
    assert [r.serial for r in pki.list_certificates("officer", status="revoked")] == [
        renewed.serial
    ]


def test_expired_certificates_give_no_credential(tmp_path: Path) -> None:
    now = [datetime.now(UTC)]
    pki = Pki.open(
        tmp_path / "pki",
        PASSPHRASE,
        hostname="h.example",
        public_url=PUBLIC_URL,
        clock=lambda: now[0],
    )
    record = pki.issue("unit", SubjectInfo(UNIT), days=1)
    assert isinstance(pki.credential(record.serial), Credential)
    now[0] += timedelta(days=2)
    with pytest.raises(CertificateRevokedError, match="valid only"):
        pki.credential(record.serial)


def test_an_old_pki_folder_gets_a_register_with_its_certificates(
    open_pki: Callable[..., Pki],
) -> None:
    """PKIs created before the register existed: their TSA and package-signing certificates
    are recorded on first open, so OCSP answers "good" for them and they can be revoked."""
    pki = open_pki()
    signing = pki.package_signing_credential().cert
    (pki.directory / "registry.sqlite3").unlink()
    for extra in pki.directory.glob("registry.sqlite3-*"):
        extra.unlink()
    reopened = open_pki()
    serials = {r.serial: r.kind for r in reopened.list_certificates()}
    assert serials[signing.serial_number] == "package-signing"
    assert serials[reopened.tsa_credential().cert.serial_number] == "tsa"
    assert serials[reopened.issuing.serial_number] == "issuing-ca"
    assert serials[reopened.ocsp_credential().cert.serial_number] == "ocsp-responder"


_ISSUE = """
import json, sys, time
from pathlib import Path
from certs import Pki, SubjectInfo
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
pki = Pki.open(Path(sys.argv[1]), b"pw", hostname="race.example", public_url="http://x")
serials = []
for i in range(4):
    who = SubjectInfo("王五", organization="某局", officer_id=f"{sys.argv[3]}-{i}")
    r = pki.issue("officer", who)
    serials.append(r.serial_hex)
pki.revoke(serials[0], "superseded")
numbers = []
from cryptography import x509
for _ in range(3):
    crl = x509.load_der_x509_crl(pki.crl_der())
    numbers.append(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
print(json.dumps({"serials": serials, "numbers": numbers}))
"""


def test_processes_issue_and_revoke_at_once(tmp_path: Path) -> None:
    directory = tmp_path / "pki"
    Pki.open(directory, b"pw", hostname="race.example", public_url="http://x")
    start = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _ISSUE, str(directory), str(start), f"P{n}"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    pki = Pki.open(directory, b"pw", hostname="race.example", public_url="http://x")
    officers = pki.list_certificates("officer")
    assert len(officers) == 12
    assert {r.serial_hex for r in officers} == {s for r in results for s in r["serials"]}
    assert {r.owner_id for r in officers} == {f"P{n}-{i}" for n in range(3) for i in range(4)}
    revoked = {r["serials"][0] for r in results}
    crl = x509.load_der_x509_crl(pki.crl_der())
    assert {format(e.serial_number, "x") for e in crl} == revoked
    # Each process saw CRL numbers that never went backwards.
    for r in results:
        assert r["numbers"] == sorted(r["numbers"])
