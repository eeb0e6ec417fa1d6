"""The /pki endpoints of the real app under uvicorn: CA certificates, CRLs and the OCSP
responder as ``openssl ocsp`` and an HTTP client see them."""

from __future__ import annotations

import base64
import urllib.parse
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
from asn1crypto import ocsp
from cryptography import x509

from certs import SubjectInfo
from tests.pki.conftest import UNIT, Served, run, write_pem


def _max_age(response: httpx.Response) -> int:
    for part in response.headers["cache-control"].split(","):
        name, _, value = part.strip().partition("=")
        if name == "max-age":
            return int(value)
    raise AssertionError(f"no max-age in {response.headers['cache-control']!r}")


def test_ca_certificates_and_crls(served: Served) -> None:
    with httpx.Client(base_url=served.url) as client:
        for name, cert in (("root", served.pki.root), ("issuing", served.pki.issuing)):
            r = client.get(f"/pki/{name}.crt")
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/pkix-cert"
            assert x509.load_der_x509_certificate(r.content) == cert
        for name, issuer in (("issuing", served.pki.issuing), ("root", served.pki.root)):
            r = client.get(f"/pki/{name}.crl")
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/pkix-crl"
            crl = x509.load_der_x509_crl(r.content)
            assert crl.issuer == issuer.subject
            assert crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
            assert crl.next_update_utc is not None
            # RFC 5019-style caching: never cached past nextUpdate.
            assert parsedate_to_datetime(r.headers["expires"]) == crl.next_update_utc
            assert parsedate_to_datetime(r.headers["last-modified"]) == crl.last_update_utc
            left = (crl.next_update_utc - datetime.now(UTC)).total_seconds()
            assert 0 <= _max_age(r) <= min(left, 3600)
        assert client.get("/pki/other.crl").status_code == 404


def _openssl_ocsp(served: Served, tmp: Path, *args: str) -> str:
    proc = run(
        "openssl", "ocsp",
        "-issuer", str(served.files / "issuing.pem"),
        *args,
        "-url", f"{served.url}/pki/ocsp",
        "-CAfile", str(served.files / "root.pem"),
        "-reqout", str(tmp / "req.der"),
        "-respout", str(tmp / "resp.der"),
        "-resp_text",
    )  # fmt: skip
    return proc.stdout + proc.stderr


def _nonce(der: bytes, field: str) -> bytes:
    if field == "request":
        exts = ocsp.OCSPRequest.load(der)["tbs_request"]["request_extensions"]
    else:
        exts = ocsp.OCSPResponse.load(der).basic_ocsp_response["tbs_response_data"][
            "response_extensions"
        ]
    return next(bytes(e["extn_value"].contents) for e in exts if e["extn_id"].native == "nonce")


def test_openssl_ocsp_good_then_revoked_and_unknown(served: Served, tmp_path: Path) -> None:
    record = served.pki.issue(
        "officer", SubjectInfo("孙八", organization=UNIT, officer_id="GZ-0815")
    )
    leaf = write_pem(tmp_path / "leaf.pem", record.certificate)

    out = _openssl_ocsp(served, tmp_path, "-cert", str(leaf))
    assert "Response verify OK" in out
    assert f"{leaf}: good" in out
    # openssl sent a nonce and checked the echo (it warns when it is missing).
    assert "WARNING" not in out and "Nonce Verify error" not in out
    req_nonce = _nonce((tmp_path / "req.der").read_bytes(), "request")
    assert _nonce((tmp_path / "resp.der").read_bytes(), "response") == req_nonce

    served.pki.revoke(record.serial_hex, "keyCompromise")
    out = _openssl_ocsp(served, tmp_path, "-cert", str(leaf))
    assert "Response verify OK" in out
    assert f"{leaf}: revoked" in out
    assert "Reason: keyCompromise" in out and "Revocation Time:" in out

    out = _openssl_ocsp(served, tmp_path, "-serial", "0x5eed5eed")
    assert "Response verify OK" in out and "0x5eed5eed: unknown" in out


def test_ocsp_get_and_errors(served: Served, tmp_path: Path) -> None:
    record = served.pki.issue("unit", SubjectInfo(UNIT))
    leaf = write_pem(tmp_path / "leaf.pem", record.certificate)
    proc = run(
        "openssl", "ocsp", "-issuer", str(served.files / "issuing.pem"), "-cert", str(leaf),
        "-reqout", str(tmp_path / "req.der"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    request = (tmp_path / "req.der").read_bytes()
    encoded = base64.b64encode(request).decode()
    with httpx.Client(base_url=served.url) as client:
        # RFC 6960 A.1: GET {url}/{url-encoding of base-64 encoding of the DER request}.
        for path in (urllib.parse.quote(encoded, safe=""), encoded):
            r = client.get(f"/pki/ocsp/{path}")
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/ocsp-response"
            answer = ocsp.OCSPResponse.load(r.content)
            single = answer.basic_ocsp_response["tbs_response_data"]["responses"][0]
            assert single["cert_status"].name == "good"
            assert single["cert_id"]["serial_number"].native == record.serial
            assert parsedate_to_datetime(r.headers["expires"]) == single["next_update"].native
            assert 0 < _max_age(r) <= 300
        assert _nonce(r.content, "response") == _nonce(request, "request")

        r = client.post(
            "/pki/ocsp", content=request, headers={"content-type": "application/ocsp-request"}
        )
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"

        def status(response: httpx.Response) -> str:
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/ocsp-response"
            return str(ocsp.OCSPResponse.load(response.content)["response_status"].native)

        bad = {"content-type": "application/ocsp-request"}
        assert status(client.post("/pki/ocsp", content=b"garbage", headers=bad)) == (
            "malformed_request"
        )
        assert status(client.get("/pki/ocsp/not*base64")) == "malformed_request"
        assert status(client.get("/pki/ocsp/" + base64.b64encode(b"\x30\x00").decode())) == (
            "malformed_request"
        )
        assert client.post("/pki/ocsp", content=request).status_code == 415
        big = client.post("/pki/ocsp", content=b"0" * 70_000, headers=bad)
        assert big.status_code == 413

    # A certificate of another CA: "unauthorized", as openssl reports it.
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
        "-out", str(tmp_path / "k.pem"))  # fmt: skip
    run("openssl", "req", "-new", "-x509", "-key", str(tmp_path / "k.pem"), "-subj",
        "/CN=Someone Else CA", "-days", "2", "-out", str(tmp_path / "other.pem"))  # fmt: skip
    proc = run(
        "openssl", "ocsp", "-issuer", str(tmp_path / "other.pem"), "-serial", "0x10",
        "-url", f"{served.url}/pki/ocsp",
    )  # fmt: skip
    assert "Responder Error: unauthorized" in proc.stdout + proc.stderr
