"""The built-in TSA assembles tokens from DER made once (a seal asks for three tokens, and
asn1crypto re-encoding the chain for each cost ~10 ms): the result must be byte for byte what
building the whole structure with asn1crypto gives, for RSA and EC keys, with and without
nonce and certificates, at times with and without milliseconds."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.pki import Credential, Pki
from signing.tsa import TimeStampAuthority
from tests.fixtures.http_tsa import free_port
from tests.seal.conftest import run

SERIAL = 0x1234_5678_9ABC_DEF0_1122_3344_5566_7788


def _reference(authority: TimeStampAuthority, request_der: bytes, gen_time: datetime) -> bytes:
    """The token as the TSA built it with asn1crypto objects (its first version)."""
    req = tsp.TimeStampReq.load(request_der)
    cert = authority._cert
    cert_der = authority.credential.cert.public_bytes(Encoding.DER)
    signing_certificate_v2 = tsp.SigningCertificateV2(
        {
            "certs": [
                {
                    "cert_hash": hashlib.sha256(cert_der).digest(),
                    "issuer_serial": {
                        "issuer": [asn1_x509.GeneralName(name="directory_name", value=cert.issuer)],
                        "serial_number": cert.serial_number,
                    },
                }
            ]
        }
    )
    tst_info = tsp.TSTInfo(
        {
            "version": "v1",
            "policy": authority.policy_oid,
            "message_imprint": req["message_imprint"],
            "serial_number": SERIAL,
            "gen_time": gen_time,
            "accuracy": {"seconds": authority.accuracy_s},
            "nonce": req["nonce"].native,
            "tsa": asn1_x509.GeneralName(name="directory_name", value=cert.subject),
        }
    )
    tst_der = tst_info.dump()
    attrs = [
        cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]}),
        cms.CMSAttribute({"type": "signing_certificate_v2", "values": [signing_certificate_v2]}),
    ]
    signed_attrs = cms.CMSAttributes(sorted(attrs, key=lambda a: a.dump()))
    signature, sig_alg = authority._sign(signed_attrs.dump())
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": cert.issuer, "serial_number": cert.serial_number},
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": sig_alg}),
            "signature": signature,
        }
    )
    signed_data: dict[str, object] = {
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {
            "content_type": "tst_info",
            "content": core.ParsableOctetString(tst_der),
        },
        "signer_infos": [signer_info],
    }
    if req["cert_req"].native:
        signed_data["certificates"] = [
            cms.CertificateChoices(name="certificate", value=c) for c in authority._chain
        ]
    return tsp.TimeStampResp(
        {
            "status": {"status": "granted"},
            "time_stamp_token": {
                "content_type": "signed_data",
                "content": cms.SignedData(signed_data),
            },
        }
    ).dump()


def _request(*, nonce: int | None, cert_req: bool, algorithm: str = "sha256") -> bytes:
    digest = hashlib.new(algorithm, b"evidence").digest()
    fields: dict[str, object] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest},
        "cert_req": cert_req,
    }
    if nonce is not None:
        fields["nonce"] = nonce
    return tsp.TimeStampReq(fields).dump()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pki]:
    yield Pki.open(
        tmp_path_factory.mktemp("tsa-der") / "pki",
        b"tsa der",
        hostname="tsa-der.example",
        public_url=f"http://127.0.0.1:{free_port()}",
    )


def _ec_credential(pki: Pki) -> Credential:
    """An EC P-256 TSA certificate issued by the RSA TSA key: only the encoding is compared."""
    tsa = pki.tsa_credential()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EC test TSA")]))
        .issuer_name(tsa.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(tsa.cert.not_valid_before_utc)
        .not_valid_after(tsa.cert.not_valid_after_utc)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(tsa.key, hashes.SHA256())
    )
    return Credential(key, cert, (tsa.cert, *tsa.chain))


@pytest.mark.parametrize("kind", ["rsa", "ec"])
@pytest.mark.parametrize("microsecond", [123000, 0, 500000])
@pytest.mark.parametrize(("nonce", "cert_req"), [(2**62 + 12345, True), (None, False), (1, True)])
def test_tokens_are_byte_identical_to_the_asn1crypto_build(
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    microsecond: int,
    nonce: int | None,
    cert_req: bool,
) -> None:
    gen_time = (datetime.now(UTC) + timedelta(minutes=1)).replace(microsecond=microsecond)
    credential = pki.tsa_credential() if kind == "rsa" else _ec_credential(pki)
    authority = TimeStampAuthority(credential, clock=lambda: gen_time)
    monkeypatch.setattr(authority, "_serial", lambda: SERIAL)
    if kind == "ec":  # ECDSA signatures are randomised: make both builds sign alike
        monkeypatch.setattr(
            authority, "_sign", lambda data: (hashlib.sha256(data).digest(), "sha256_ecdsa")
        )
    request = _request(nonce=nonce, cert_req=cert_req)
    assert authority.respond(request) == _reference(authority, request, gen_time)


def test_openssl_reads_the_assembled_token(pki: Pki, tmp_path: Path) -> None:
    """Text of an assembled reply as OpenSSL prints it (its own DER parser)."""
    authority = TimeStampAuthority(pki.tsa_credential())
    reply = tmp_path / "r.tsr"
    reply.write_bytes(authority.respond(_request(nonce=99, cert_req=True, algorithm="sha384")))
    text = run("openssl", "ts", "-reply", "-in", str(reply), "-text").stdout
    assert "Status: Granted." in text and "Hash Algorithm: sha384" in text, text
    assert "Nonce: 0x63" in text and "Accuracy: 0x01 seconds" in text, text
