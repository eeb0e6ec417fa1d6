"""The TSA client against a TSA that is not ours (openssl ts -reply), and against TSAs that
are down or misbehave; and verify_timestamp."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from certs.pki import Pki
from signing.errors import (
    TimestampVerificationError,
    TsaBadResponseError,
    TsaUnavailableError,
)
from signing.timestamp import HttpTimestamper, verify_timestamp
from tests.fixtures.openssl_tsa import OPENSSL_TSA_POLICY, OpensslTsa
from tests.signing.conftest import PkiFiles, openssl, serve_canned


def test_openssl_tsa_tokens_are_accepted_and_verified(
    openssl_tsa: OpensslTsa, pki: Pki, tmp_path: Path
) -> None:
    token = HttpTimestamper(openssl_tsa.url).stamp(b"evidence for openssl")
    assert token.policy_oid == OPENSSL_TSA_POLICY
    assert token.tsa_url == openssl_tsa.url
    assert "OpenSSL Test TSA" in token.tsa_name
    # certReq: the token carries the TSA certificate and the CA (from openssl's `certs`).
    assert token.certs_pem == openssl_tsa.tsa_chain_pem
    assert token.chain_complete

    verified = verify_timestamp(token.token_der, b"evidence for openssl", openssl_tsa.ca_pem)
    assert verified.serial == token.serial and verified.gen_time == token.gen_time
    # Trust is pinned: our own root does not vouch for that TSA.
    with pytest.raises(TimestampVerificationError, match="untrusted root"):
        verify_timestamp(token.token_der, b"evidence for openssl", pki.trust_bundle_pem())
    with pytest.raises(TimestampVerificationError, match="does not cover this data"):
        verify_timestamp(token.token_der, b"other data", openssl_tsa.ca_pem)

    # And openssl agrees about what we received.
    data = tmp_path / "data"
    data.write_bytes(b"evidence for openssl")
    tsr = tmp_path / "r.tsr"
    tsr.write_bytes(token.response_der)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(openssl_tsa.ca_pem)
    ok = openssl("ts", "-verify", "-data", str(data), "-in", str(tsr), "-CAfile", str(ca))
    assert "Verification: OK" in ok.stdout


def test_extra_certs_complete_a_chain_the_token_lacks(
    openssl_tsa: OpensslTsa, tsa_url: str, pki: Pki
) -> None:
    # Our TSA with the CA chain given separately: certs_pem still ends at the root.
    stamper = HttpTimestamper(tsa_url, extra_certs_pem=pki.trust_bundle_pem())
    token = stamper.stamp(b"x")
    assert token.certificates[0] == pki.tsa_credential().cert
    assert token.certificates[-1] == pki.root


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tsa_down_is_unavailable_and_retryable() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/tsa"
    with pytest.raises(TsaUnavailableError) as info:
        HttpTimestamper(url, timeout=3).stamp(b"x")
    assert info.value.retryable
    assert url in str(info.value) and "retried" in str(info.value)


def test_tsa_timeout_is_unavailable() -> None:
    with serve_canned(b"", delay_s=3) as url, pytest.raises(TsaUnavailableError) as info:
        HttpTimestamper(url, timeout=0.5).stamp(b"x")
    assert "did not answer within 0.5 s" in str(info.value)


def test_server_errors_are_unavailable_client_errors_are_bad_responses() -> None:
    busy = serve_canned(b"busy", status=503, content_type="text/plain")
    with busy as url, pytest.raises(TsaUnavailableError, match="HTTP 503"):
        HttpTimestamper(url).stamp(b"x")
    with serve_canned(b"nope", status=404, content_type="text/plain") as url:
        with pytest.raises(TsaBadResponseError, match="HTTP 404") as info:
            HttpTimestamper(url).stamp(b"x")
        assert not info.value.retryable


def test_html_page_instead_of_a_tsa_is_a_bad_response() -> None:
    html = serve_canned(b"<html>login</html>", content_type="text/html; charset=utf-8")
    with html as url, pytest.raises(TsaBadResponseError, match="text/html") as info:
        HttpTimestamper(url).stamp(b"x")
    assert url in str(info.value)


def test_garbage_with_the_right_content_type_is_a_bad_response() -> None:
    garbage = serve_canned(b"\x30\x03\x02\x01\x00garbage")
    with garbage as url, pytest.raises(TsaBadResponseError, match="not an RFC 3161 response"):
        HttpTimestamper(url).stamp(b"x")


def test_replayed_answer_for_other_data_is_detected(tsa_url: str) -> None:
    old = HttpTimestamper(tsa_url).stamp(b"yesterday's data").response_der
    with serve_canned(old) as url, pytest.raises(TsaBadResponseError, match="imprint mismatch"):
        HttpTimestamper(url).stamp(b"today's data")


def test_nonce_mismatch_is_detected(openssl_tsa: OpensslTsa) -> None:
    import requests

    def forward_with_other_nonce(request: bytes) -> bytes:
        import rfc3161ng

        req = rfc3161ng.decode_timestamp_request(request)
        req.setComponentByPosition(3, int(req[3]) + 1)
        resp = requests.post(
            openssl_tsa.url,
            data=bytes(rfc3161ng.encode_timestamp_request(req)),
            headers={"Content-Type": "application/timestamp-query"},
            timeout=10,
        )
        return resp.content

    with (
        serve_canned(forward_with_other_nonce) as url,
        pytest.raises(TsaBadResponseError, match="nonce"),
    ):
        HttpTimestamper(url).stamp(b"x")


def test_bad_signature_is_detected(tsa_url: str) -> None:
    def corrupt(request: bytes) -> bytes:
        import requests

        good = requests.post(
            tsa_url,
            data=request,
            headers={"Content-Type": "application/timestamp-query"},
            timeout=10,
        ).content
        return good[:-1] + bytes([good[-1] ^ 0x01])  # the signature is the last field

    with (
        serve_canned(corrupt) as url,
        pytest.raises(TsaBadResponseError, match="signature is invalid"),
    ):
        HttpTimestamper(url).stamp(b"x")


def test_credentials_in_the_url_never_reach_messages() -> None:
    port = _closed_port()
    stamper = HttpTimestamper(f"http://user:hunter2@127.0.0.1:{port}/tsa", timeout=2)
    assert "hunter2" not in stamper.name
    with pytest.raises(TsaUnavailableError) as info:
        stamper.stamp(b"x")
    assert "hunter2" not in str(info.value)
    assert f"127.0.0.1:{port}" in str(info.value)


def test_verify_timestamp_checks_tsa_extended_key_usage(
    pki: Pki, pki_files: PkiFiles, tmp_path: Path
) -> None:
    # A token signed with a key whose certificate lacks timeStamping must not verify, even
    # when its signature is fine: the package-signing certificate poses as a TSA here.
    from signing.timestamp import LocalTimestamper
    from signing.tsa import TimeStampAuthority

    impostor = TimeStampAuthority(pki.package_signing_credential())
    token = LocalTimestamper(impostor).stamp(b"x")
    with pytest.raises(TimestampVerificationError, match="extendedKeyUsage"):
        verify_timestamp(token.token_der, b"x", pki.trust_bundle_pem())
    # openssl refuses it as well.
    data = tmp_path / "data"
    data.write_bytes(b"x")
    tsr = tmp_path / "r.tsr"
    tsr.write_bytes(token.response_der)
    refused = openssl(
        "ts",
        "-verify",
        "-data",
        str(data),
        "-in",
        str(tsr),
        "-CAfile",
        str(pki_files.root),
        check=False,
    )
    assert refused.returncode != 0 and "Verification: OK" not in refused.stdout
