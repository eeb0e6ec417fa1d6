"""Revocation without HTTP: CRLs checked by ``openssl verify -crl_check_all`` and ``openssl
crl``, OCSP answers made by ``Pki.ocsp_response`` from requests that ``openssl ocsp`` wrote and
checked by ``openssl ocsp`` again (signature, responder authorization, nonce, status)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import core, ocsp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certs import (
    AlreadyRevokedError,
    RevocationReasonError,
    SubjectInfo,
    UnknownCertificateError,
)
from certs.pki import Pki
from tests.certs.conftest import PASSPHRASE, PUBLIC_URL, openssl

UNIT = "上海市市场监督管理局"


def _pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    return path


def _crls(pki: Pki, directory: Path) -> Path:
    path = directory / "crls.pem"
    path.write_bytes(
        b"".join(
            x509.load_der_x509_crl(pki.crl_der(w)).public_bytes(Encoding.PEM)
            for w in ("issuing", "root")
        )
    )
    return path


def _verify_with_crls(pki: Pki, leaf: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    return openssl(
        "verify",
        "-crl_check_all",
        "-CAfile",
        str(pki.directory / "root.pem"),
        "-untrusted",
        str(pki.directory / "issuing.pem"),
        "-CRLfile",
        str(_crls(pki, tmp)),
        str(leaf),
        check=False,
    )


def _crl_number(der: bytes) -> int:
    crl = x509.load_der_x509_crl(der)
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


@pytest.mark.parametrize(
    ("kind", "subject", "reason", "openssl_reason"),
    [
        ("unit", SubjectInfo(UNIT), "keyCompromise", "Key Compromise"),
        (
            "officer",
            SubjectInfo("赵六", organization=UNIT, officer_id="SH-9"),
            "affiliationChanged",
            "Affiliation Changed",
        ),
        (
            "merchant",
            SubjectInfo("某某商贸有限公司", credit_code="91110000802100433B"),
            "cessationOfOperation",
            "Cessation Of Operation",
        ),
    ],
)
def test_crl_revokes_for_openssl_verify(
    open_pki: Callable[..., Pki],
    tmp_path: Path,
    kind: str,
    subject: SubjectInfo,
    reason: str,
    openssl_reason: str,
) -> None:
    pki = open_pki()
    record = pki.issue(kind, subject)  # type: ignore[arg-type]
    leaf = _pem(tmp_path / "leaf.pem", record.certificate)
    ok = _verify_with_crls(pki, leaf, tmp_path)
    assert ok.returncode == 0 and ok.stdout.strip().endswith("OK"), ok.stdout + ok.stderr
    before = _crl_number(pki.crl_der())

    revoked = pki.revoke(record.serial_hex, reason)
    assert revoked.status == "revoked" and revoked.revocation_reason == reason
    refused = _verify_with_crls(pki, leaf, tmp_path)
    assert refused.returncode != 0
    assert "certificate revoked" in refused.stdout + refused.stderr

    der = pki.crl_der()
    assert _crl_number(der) > before
    (tmp_path / "issuing.crl").write_bytes(der)
    text = openssl(
        "crl", "-inform", "DER", "-in", str(tmp_path / "issuing.crl"), "-noout", "-text"
    ).stdout
    serial = format(record.serial, "X")
    assert f"Serial Number: {serial.zfill(len(serial) + len(serial) % 2)}" in text
    assert openssl_reason in text
    assert "CRL Number" in text and "Authority Key Identifier" in text
    crl = x509.load_der_x509_crl(der)
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=3)
    assert crl.is_signature_valid(pki.issuing.public_key())  # type: ignore[arg-type]


def test_crl_is_reused_until_stale_then_renumbered(tmp_path: Path) -> None:
    now = [datetime.now(UTC)]
    pki = Pki.open(
        tmp_path / "pki",
        PASSPHRASE,
        hostname="h.example",
        public_url=PUBLIC_URL,
        clock=lambda: now[0],
    )
    first = pki.crl_der()
    assert pki.crl_der() == first  # cached: same bytes, same number
    now[0] += timedelta(minutes=61)
    second = pki.crl_der()
    assert _crl_number(second) == _crl_number(first) + 1
    # Another Pki object (another process) uses the same file and numbering.
    other = Pki.open(
        tmp_path / "pki",
        PASSPHRASE,
        hostname="h.example",
        public_url=PUBLIC_URL,
        clock=lambda: now[0],
    )
    assert other.crl_der() == second
    root_crl = x509.load_der_x509_crl(pki.crl_der("root"))
    assert root_crl.issuer == pki.root.subject and len(root_crl) == 0


def test_revoking_the_issuing_ca_shows_in_the_root_crl(
    open_pki: Callable[..., Pki], tmp_path: Path
) -> None:
    pki = open_pki()
    leaf = _pem(tmp_path / "leaf.pem", pki.issue("unit", SubjectInfo(UNIT)).certificate)
    with pytest.raises(RevocationReasonError, match="trust anchor"):
        pki.revoke(pki.root.serial_number, "cACompromise")
    pki.revoke(format(pki.issuing.serial_number, "x"), "cACompromise")
    root_crl = x509.load_der_x509_crl(pki.crl_der("root"))
    assert [e.serial_number for e in root_crl] == [pki.issuing.serial_number]
    refused = _verify_with_crls(pki, leaf, tmp_path)
    assert refused.returncode != 0 and "certificate revoked" in refused.stdout + refused.stderr


def test_revocation_errors_and_backdating(open_pki: Callable[..., Pki], tmp_path: Path) -> None:
    pki = open_pki()
    record = pki.issue("officer", SubjectInfo("钱七", organization=UNIT, officer_id="SH-1"))
    with pytest.raises(RevocationReasonError, match="unknown revocation reason"):
        pki.revoke(record.serial_hex, "lostBadge")
    with pytest.raises(RevocationReasonError, match="for CA certificates"):
        pki.revoke(record.serial_hex, "cACompromise")
    with pytest.raises(RevocationReasonError, match="future"):
        pki.revoke(record.serial_hex, "keyCompromise", when=datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(RevocationReasonError, match="before the certificate was valid"):
        pki.revoke(record.serial_hex, "keyCompromise", when=datetime.now(UTC) - timedelta(days=9))
    with pytest.raises(UnknownCertificateError, match="no certificate with serial 1234"):
        pki.revoke("1234", "keyCompromise")
    with pytest.raises(UnknownCertificateError, match="hexadecimal"):
        pki.revoke("not-a-serial", "keyCompromise")

    compromised = (record.not_before + timedelta(seconds=30)).replace(microsecond=0)
    revoked = pki.revoke(record.serial_hex.upper(), "KEYCOMPROMISE", when=compromised)
    assert revoked.revoked_at == compromised and revoked.revocation_reason == "keyCompromise"
    with pytest.raises(AlreadyRevokedError, match="already revoked"):
        pki.revoke(record.serial_hex, "superseded")
    entry = x509.load_der_x509_crl(pki.crl_der()).get_revoked_certificate_by_serial_number(
        record.serial
    )
    assert entry is not None and entry.revocation_date_utc == compromised
    # "unspecified" is recorded, and omitted from the CRL entry as RFC 5280 asks.
    other = pki.issue("unit", SubjectInfo(UNIT))
    pki.revoke(other.serial_hex, "unspecified")
    entry = x509.load_der_x509_crl(pki.crl_der()).get_revoked_certificate_by_serial_number(
        other.serial
    )
    assert entry is not None and len(entry.extensions) == 0


def _ocsp_request(tmp: Path, issuer: Path, *args: str) -> bytes:
    openssl("ocsp", "-issuer", str(issuer), *args, "-reqout", str(tmp / "req.der"))
    return (tmp / "req.der").read_bytes()


def _check_response(pki: Pki, tmp: Path, response: bytes) -> str:
    """openssl verifies the response against the request (nonce) and our root; returns the
    response text."""
    (tmp / "resp.der").write_bytes(response)
    checked = openssl(
        "ocsp",
        "-reqin",
        str(tmp / "req.der"),
        "-respin",
        str(tmp / "resp.der"),
        "-CAfile",
        str(pki.directory / "root.pem"),
        "-resp_text",
        check=False,
    )
    out = checked.stdout + checked.stderr
    assert checked.returncode == 0, out
    assert "Response verify OK" in out
    assert "Nonce Verify error" not in out and "WARNING" not in out
    return out


def test_ocsp_answers_good_revoked_unknown(open_pki: Callable[..., Pki], tmp_path: Path) -> None:
    pki = open_pki()
    issuing = pki.directory / "issuing.pem"
    record = pki.issue("unit", SubjectInfo(UNIT))
    leaf = _pem(tmp_path / "leaf.pem", record.certificate)

    text = _check_response(
        pki, tmp_path, pki.ocsp_response(_ocsp_request(tmp_path, issuing, "-cert", str(leaf)))
    )
    assert "Cert Status: good" in text and "OCSP Nonce" in text

    pki.revoke(record.serial_hex, "keyCompromise")
    text = _check_response(
        pki, tmp_path, pki.ocsp_response(_ocsp_request(tmp_path, issuing, "-cert", str(leaf)))
    )
    assert "Cert Status: revoked" in text
    assert "Revocation Reason: keyCompromise" in text and "Revocation Time:" in text

    text = _check_response(
        pki, tmp_path, pki.ocsp_response(_ocsp_request(tmp_path, issuing, "-serial", "0x1234"))
    )
    assert "Cert Status: unknown" in text

    # Several certificates in one request, SHA-256 CertIDs: one answer each, in order.
    good = _pem(tmp_path / "good.pem", pki.issue("unit", SubjectInfo(UNIT)).certificate)
    req = _ocsp_request(tmp_path, issuing, "-sha256", "-cert", str(leaf), "-cert", str(good))
    text = _check_response(pki, tmp_path, pki.ocsp_response(req))
    assert text.count("Hash Algorithm: sha256") == 2
    assert text.index("Cert Status: revoked") < text.index("Cert Status: good")


def _status(response: bytes) -> str:
    return str(ocsp.OCSPResponse.load(response)["response_status"].native)


def test_ocsp_error_answers(open_pki: Callable[..., Pki], tmp_path: Path) -> None:
    pki = open_pki()
    issuing = pki.directory / "issuing.pem"
    assert _status(pki.ocsp_response(b"")) == "malformed_request"
    assert _status(pki.ocsp_response(b"\x30\x03\x02\x01\x01")) == "malformed_request"
    good_req = _ocsp_request(tmp_path, issuing, "-serial", "0x10")
    assert _status(pki.ocsp_response(good_req)) == "successful"
    assert _status(pki.ocsp_response(good_req + b"\x00")) == "malformed_request"

    # A 33-octet nonce (RFC 8954 allows at most 32).
    long_nonce = ocsp.OCSPRequest.load(good_req)
    ext = long_nonce["tbs_request"]["request_extensions"][0]
    ext["extn_value"] = core.ParsableOctetString(core.OctetString(b"n" * 33).dump())
    long_der = ocsp.OCSPRequest({"tbs_request": long_nonce["tbs_request"]}).dump(force=True)
    assert _status(pki.ocsp_response(long_der)) == "malformed_request"

    # Another CA's certificates: not ours to answer for.
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(tmp_path / "k.pem"))
    openssl(
        "req",
        "-new",
        "-x509",
        "-key",
        str(tmp_path / "k.pem"),
        "-subj",
        "/CN=Other CA",
        "-days",
        "2",
        "-out",
        str(tmp_path / "other.pem"),
    )
    foreign = _ocsp_request(tmp_path, tmp_path / "other.pem", "-serial", "0x10")
    assert _status(pki.ocsp_response(foreign)) == "unauthorized"
    # ...even mixed with one of ours: the whole request is refused.
    ours = ocsp.OCSPRequest.load(good_req)["tbs_request"]["request_list"][0]
    theirs = ocsp.OCSPRequest.load(foreign)["tbs_request"]
    mixed = ocsp.OCSPRequest(
        {"tbs_request": {"request_list": [ours, theirs["request_list"][0]]}}
    ).dump()
    assert _status(pki.ocsp_response(mixed)) == "unauthorized"


def test_ocsp_response_for_needs_no_request(open_pki: Callable[..., Pki], tmp_path: Path) -> None:
    pki = open_pki()
    record = pki.issue("merchant", SubjectInfo("某店", credit_code="914403001922038216"))
    leaf = _pem(tmp_path / "leaf.pem", record.certificate)
    (tmp_path / "resp.der").write_bytes(pki.ocsp_response_for(record.certificate))
    checked = openssl(
        "ocsp",
        "-respin",
        str(tmp_path / "resp.der"),
        "-issuer",
        str(pki.directory / "issuing.pem"),
        "-cert",
        str(leaf),
        "-CAfile",
        str(pki.directory / "root.pem"),
        "-no_nonce",
    )
    assert "Response verify OK" in checked.stdout + checked.stderr
    assert f"{leaf}: good" in checked.stdout
    with pytest.raises(Exception, match="not issued by this PKI's issuing CA"):
        pki.ocsp_response_for(pki.issuing)


def test_revoked_service_certificates_are_replaced(tmp_path: Path) -> None:
    """A revoked OCSP responder or package-signing certificate is not used again; the
    responder also rotates by age (it cannot be revoked in a way clients check)."""
    now = [datetime.now(UTC)]
    pki = Pki.open(
        tmp_path / "pki",
        PASSPHRASE,
        hostname="h.example",
        public_url=PUBLIC_URL,
        clock=lambda: now[0],
    )
    responder = pki.ocsp_credential().cert
    pki.revoke(responder.serial_number, "superseded")
    second = pki.ocsp_credential().cert
    assert second != responder
    now[0] += timedelta(days=31)
    third = pki.ocsp_credential().cert
    assert third not in (responder, second)
    assert len(pki.list_certificates("ocsp-responder")) == 3

    signing = pki.package_signing_credential().cert
    pki.revoke(signing.serial_number, "keyCompromise")
    assert pki.package_signing_credential().cert != signing
    # A fresh Pki object (another process) does not pick the revoked one either.
    other = Pki.open(
        tmp_path / "pki",
        PASSPHRASE,
        hostname="h.example",
        public_url=PUBLIC_URL,
        clock=lambda: now[0],
    )
    assert other.package_signing_credential().cert not in (signing,)
    assert other.ocsp_credential().cert == third
