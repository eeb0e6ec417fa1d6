"""The built-in TSA behind real HTTP, judged by tools we did not write: openssl ts, pyHanko,
rfc3161ng."""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import rfc3161ng
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certs.pki import Pki
from signing.errors import TsaRefusedError
from signing.timestamp import HttpTimestamper, LocalTimestamper, verify_timestamp
from signing.tokens import Refusal, parse_response
from signing.tsa import EVIDENCE_TSA_POLICY_OID, TimeStampAuthority
from tests.fixtures.http_tsa import free_port, serve_tsa
from tests.fixtures.openssl import ts_verify
from tests.signing.conftest import PkiFiles, openssl


def _post(url: str, query: bytes) -> requests.Response:
    return requests.post(
        url, data=query, headers={"Content-Type": "application/timestamp-query"}, timeout=10
    )


def _query(tmp_path: Path, data: Path, *args: str) -> bytes:
    out = tmp_path / "q.tsq"
    openssl("ts", "-query", "-data", str(data), *args, "-out", str(out))
    return out.read_bytes()


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "evidence.bin"
    path.write_bytes(b"the evidence \x00\xff" * 1000)
    return path


def _reply_text(path: Path) -> str:
    return openssl("ts", "-reply", "-in", str(path), "-text").stdout


@pytest.mark.parametrize("digest", ["-sha256", "-sha384", "-sha512"])
def test_openssl_queries_get_replies_openssl_verifies(
    tsa_url: str, pki_files: PkiFiles, data_file: Path, tmp_path: Path, digest: str
) -> None:
    resp = _post(tsa_url, _query(tmp_path, data_file, digest, "-cert"))
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/timestamp-reply"
    tsr = tmp_path / "r.tsr"
    tsr.write_bytes(resp.content)

    text = _reply_text(tsr)
    assert "Status: Granted." in text
    assert f"Policy OID: {EVIDENCE_TSA_POLICY_OID}" in text
    assert f"Hash Algorithm: {digest[1:]}" in text
    assert "Accuracy: 0x01 seconds" in text
    assert "Nonce: 0x" in text
    assert "TSA: DirName:" in text and "Time-Stamp Authority" in text

    # certReq was set: the token carries the chain, so the root alone is enough to verify.
    ok = openssl(
        "ts", "-verify", "-data", str(data_file), "-in", str(tsr), "-CAfile", str(pki_files.root)
    )
    assert "Verification: OK" in ok.stdout
    # ... and it is bound to the data: other data fails.
    other = tmp_path / "other.bin"
    other.write_bytes(b"something else")
    bad = openssl(
        "ts",
        "-verify",
        "-data",
        str(other),
        "-in",
        str(tsr),
        "-CAfile",
        str(pki_files.root),
        check=False,
    )
    assert bad.returncode != 0
    # Verified against the request too (imprint, nonce, policy, TSA name).
    q = tmp_path / "q.tsq"
    ok = openssl(
        "ts", "-verify", "-queryfile", str(q), "-in", str(tsr), "-CAfile", str(pki_files.root)
    )
    assert "Verification: OK" in ok.stdout


def test_without_cert_request_the_token_carries_no_certificates(
    tsa_url: str, pki_files: PkiFiles, data_file: Path, tmp_path: Path
) -> None:
    resp = _post(tsa_url, _query(tmp_path, data_file, "-sha256", "-no_nonce"))
    tsr = tmp_path / "r.tsr"
    tsr.write_bytes(resp.content)
    assert "Nonce: unspecified" in _reply_text(tsr)
    signed = tsp.TimeStampResp.load(resp.content)["time_stamp_token"]["content"]
    assert not signed["certificates"]
    # openssl needs the TSA chain from elsewhere then (RFC 3161 §2.4.1).
    fails = openssl(
        "ts",
        "-verify",
        "-data",
        str(data_file),
        "-in",
        str(tsr),
        "-CAfile",
        str(pki_files.root),
        check=False,
    )
    assert fails.returncode != 0
    ok = ts_verify(data_file, tsr, pki_files.root, pki_files.tsa_chain)
    assert "Verification: OK" in ok.stdout


def test_token_structure_ess_cert_id_v2_and_chain(
    authority: TimeStampAuthority, pki: Pki, data_file: Path, tmp_path: Path
) -> None:
    resp = tsp.TimeStampResp.load(authority.respond(_query(tmp_path, data_file, "-cert")))
    signed: cms.SignedData = resp["time_stamp_token"]["content"]
    certs = [c.chosen for c in signed["certificates"]]
    tsa_der = pki.tsa_credential().cert.public_bytes(Encoding.DER)
    # A SET in DER: sorted by encoding, so the TSA certificate need not come first.
    assert sorted(c.dump() for c in certs) == sorted(
        [tsa_der, pki.issuing.public_bytes(Encoding.DER), pki.root.public_bytes(Encoding.DER)]
    )
    signer = signed["signer_infos"][0]
    assert signer["digest_algorithm"]["algorithm"].native == "sha256"
    assert signer["signature_algorithm"].signature_algo == "rsassa_pkcs1v15"
    attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    assert "signing_certificate" not in attrs  # no SHA-1 ESSCertID (DummyTimeStamper's habit)
    ess = attrs["signing_certificate_v2"]["certs"][0]
    assert ess["hash_algorithm"]["algorithm"].native == "sha256"
    assert ess["cert_hash"].native == hashlib.sha256(tsa_der).digest()
    assert ess["issuer_serial"]["serial_number"].native == pki.tsa_credential().cert.serial_number
    # DER: the default hash algorithm is omitted from the encoding.
    assert b"\x60\x86\x48\x01\x65\x03\x04\x02\x01" not in ess.dump()
    tst = signed["encap_content_info"]["content"].parsed
    assert tst["policy"].dotted == EVIDENCE_TSA_POLICY_OID
    assert tst["accuracy"]["seconds"].native == 1
    gen = tst["gen_time"].native
    assert abs(gen - datetime.now(UTC)) < timedelta(seconds=30)


def test_serial_numbers_are_unique_under_concurrent_requests(tsa_url: str) -> None:
    stamper = HttpTimestamper(tsa_url)
    with ThreadPoolExecutor(max_workers=16) as pool:
        tokens = list(pool.map(lambda i: stamper.stamp(f"data {i}".encode()), range(200)))
    serials = {t.serial for t in tokens}
    assert len(serials) == 200
    assert all(0 < s < 2**159 for s in serials)


@pytest.mark.parametrize(
    ("args", "status_string", "failure_text"),
    [
        (["-sha1"], "SHA-1 imprints are refused", "unrecognized or unsupported algorithm"),
        (["-md5"], "MD5 imprints are refused", "unrecognized or unsupported algorithm"),
        (
            ["-sha256", "-tspolicy", "1.2.3.4"],
            "Policy 1.2.3.4 is not supported",
            "the requested TSA policy is not supported",
        ),
    ],
)
def test_refusals_are_rfc3161_rejections_openssl_can_read(
    tsa_url: str,
    data_file: Path,
    tmp_path: Path,
    args: list[str],
    status_string: str,
    failure_text: str,
) -> None:
    resp = _post(tsa_url, _query(tmp_path, data_file, *args))
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/timestamp-reply"
    tsr = tmp_path / "r.tsr"
    tsr.write_bytes(resp.content)
    text = _reply_text(tsr)
    assert "Status: Rejected." in text
    assert status_string in text
    assert failure_text in text
    assert "TST info:\nNot included." in text


def test_garbage_and_malformed_requests_are_refused(
    tsa_url: str, authority: TimeStampAuthority, tmp_path: Path
) -> None:
    tsr = tmp_path / "r.tsr"
    tsr.write_bytes(_post(tsa_url, b"<html>not a request</html>").content)
    text = _reply_text(tsr)
    assert "Status: Rejected." in text and "not a DER TimeStampReq" in text
    assert "the data submitted has the wrong format" in text

    # A SHA-256 imprint of the wrong length.
    short = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": b"x" * 20,
            },
        }
    ).dump()
    tsr.write_bytes(authority.respond(short))
    assert "must be 32 bytes long" in _reply_text(tsr)

    # Our own policy is accepted when asked for explicitly; unknown extensions are not.
    imprint = {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"x" * 32}
    ours = tsp.TimeStampReq(
        {"version": "v1", "message_imprint": imprint, "req_policy": EVIDENCE_TSA_POLICY_OID}
    ).dump()
    tsr.write_bytes(authority.respond(ours))
    assert "Status: Granted." in _reply_text(tsr)
    with_ext = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": imprint,
            "extensions": [
                {
                    "extn_id": "1.2.3.4.5",
                    "critical": False,
                    "extn_value": core.OctetString(b"x").dump(),
                }
            ],
        }
    ).dump()
    tsr.write_bytes(authority.respond(with_ext))
    text = _reply_text(tsr)
    assert "Status: Rejected." in text and "extensions are not supported" in text


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=600))
def test_respond_never_raises_and_always_answers_der(
    authority: TimeStampAuthority, blob: bytes
) -> None:
    reply = parse_response(authority.respond(blob))
    if isinstance(reply, Refusal):
        assert reply.status == 2 and len(reply.failure_info) == 1 and reply.status_string
    else:  # random bytes can hardly be a valid request, but a granted token is fine too
        assert reply.imprint_algorithm in ("sha256", "sha384", "sha512")


def test_http_timestamper_turns_a_refusal_into_tsa_refused_error(pki: Pki) -> None:
    # A TSA whose certificate is not valid at its current time refuses to issue tokens.
    late = TimeStampAuthority(pki.tsa_credential(), clock=lambda: datetime(2099, 1, 1, tzinfo=UTC))
    with serve_tsa(late, free_port()) as url, pytest.raises(TsaRefusedError) as info:
        HttpTimestamper(url).stamp(b"data")
    err = info.value
    assert err.failure_info == ("systemFailure",)
    assert err.status == 2 and err.retryable
    assert "TSA certificate is not valid" in str(err) and url in str(err)


def test_pyhanko_http_timestamper_accepts_and_validates_our_reply(tsa_url: str, pki: Pki) -> None:
    import aiohttp
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko.sign.validation.status import TimestampSignatureStatus
    from pyhanko_certvalidator import ValidationContext

    digest = hashlib.sha256(b"pyhanko data").digest()
    root = asn1_x509.Certificate.load(pki.root.public_bytes(Encoding.DER))

    async def run() -> TimestampSignatureStatus:
        async with aiohttp.ClientSession() as session:
            stamper = HTTPTimeStamper(tsa_url, session=session)
            token = await stamper.async_timestamp(digest, "sha256")
        vc = ValidationContext(
            trust_roots=[root], allow_fetching=False, revocation_mode="soft-fail"
        )
        kwargs = await validate_tst_signed_data(token["content"], vc, lambda alg: digest)
        return TimestampSignatureStatus(**kwargs)

    status = asyncio.run(run())
    assert status.intact and status.valid and status.trusted, repr(status)
    assert status.timestamp is not None


def test_rfc3161ng_accepts_our_tokens(tsa_url: str, pki: Pki) -> None:
    tsa_pem = pki.tsa_credential().cert.public_bytes(Encoding.PEM)
    # rfc3161ng's own client, verifying with the TSA certificate (SHA-256 asked explicitly).
    stamper = rfc3161ng.RemoteTimestamper(tsa_url, certificate=tsa_pem, hashname="sha256")
    token = stamper.timestamp(data=b"rfc3161ng data")
    assert rfc3161ng.check_timestamp(
        token, certificate=tsa_pem, data=b"rfc3161ng data", hashname="sha256"
    )
    assert abs(rfc3161ng.get_timestamp(token) - datetime.now(UTC).replace(tzinfo=None)) < (
        timedelta(seconds=30)
    )
    ours = HttpTimestamper(tsa_url).stamp(b"more data")
    assert rfc3161ng.check_timestamp(
        ours.token_der, certificate=tsa_pem, data=b"more data", hashname="sha256"
    )


def test_local_and_http_timestampers_give_the_same_kind_of_token(
    tsa_url: str, authority: TimeStampAuthority, pki: Pki
) -> None:
    bundle = pki.trust_bundle_pem()
    for stamper, url in (
        (LocalTimestamper(authority), "builtin"),
        (HttpTimestamper(tsa_url), tsa_url),
    ):
        token = stamper.stamp(b"same data")
        assert token.tsa_url == url
        assert token.policy_oid == EVIDENCE_TSA_POLICY_OID
        assert token.chain_complete
        assert token.certificates == [pki.tsa_credential().cert, pki.issuing, pki.root]
        assert "Time-Stamp Authority" in token.tsa_name
        verified = verify_timestamp(token.token_der, b"same data", bundle)
        assert verified.serial == token.serial and verified.gen_time == token.gen_time
        # The whole response is accepted too (what a WACZ timeSignature carries).
        assert verify_timestamp(token.response_der, b"same data", bundle).serial == token.serial
