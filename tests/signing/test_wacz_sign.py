"""WACZ signedData: what PackageSigner produces, checked by openssl and by our verifier."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certs.pki import Credential, Pki, load_pem_certificates
from signing.errors import ClockSkewError, SignatureError, TsaChainError, TsaUnavailableError
from signing.timestamp import HttpTimestamper, LocalTimestamper, require_complete_chain
from signing.tsa import TimeStampAuthority
from signing.wacz_sign import PackageSigner, verify_signed_data
from tests.fixtures.openssl import ts_verify
from tests.fixtures.openssl_tsa import OpensslTsa
from tests.signing.conftest import HOST, PkiFiles, openssl

HASH = "sha256:" + hashlib.sha256(b"datapackage.json bytes").hexdigest()


@pytest.fixture
def signer(pki: Pki, authority: TimeStampAuthority) -> PackageSigner:
    return PackageSigner(pki.package_signing_credential, [LocalTimestamper(authority)], domain=HOST)


def test_signed_data_fields_and_self_verification(signer: PackageSigner, pki: Pki) -> None:
    signed = signer.sign(HASH)
    assert signed["hash"] == HASH
    assert signed["version"] == "0.1.0"
    assert signed["domain"] == HOST
    assert signed["software"].startswith("evidence-service ")
    created = datetime.strptime(signed["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(created - datetime.now(UTC)) < timedelta(seconds=30)
    domain_chain = load_pem_certificates(signed["domainCert"].encode())
    assert domain_chain == [pki.package_signing_credential().cert, pki.issuing, pki.root]
    ts_chain = load_pem_certificates(signed["timestampCert"].encode())
    assert ts_chain == [pki.tsa_credential().cert, pki.issuing, pki.root]
    assert "additionalTimeSignatures" not in signed

    root_only = pki.root.public_bytes(Encoding.PEM)
    check = verify_signed_data(signed, root_only)
    assert check.valid, check.problems
    assert check.domain == HOST and check.created == created
    assert check.trusted_time is not None
    assert created - timedelta(seconds=1) <= check.trusted_time < created + timedelta(minutes=10)


def test_openssl_verifies_signature_and_time_stamp(
    signer: PackageSigner, pki: Pki, pki_files: PkiFiles, tmp_path: Path
) -> None:
    signed = signer.sign(HASH)
    # The ECDSA signature over the ASCII hash string.
    (tmp_path / "hash.txt").write_bytes(HASH.encode("ascii"))
    (tmp_path / "sig.der").write_bytes(base64.b64decode(signed["signature"]))
    leaf = load_pem_certificates(signed["domainCert"].encode())[0]
    (tmp_path / "pub.pem").write_bytes(
        leaf.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    ok = openssl(
        "dgst",
        "-sha256",
        "-verify",
        str(tmp_path / "pub.pem"),
        "-signature",
        str(tmp_path / "sig.der"),
        str(tmp_path / "hash.txt"),
    )
    assert "Verified OK" in ok.stdout
    # The time-stamp over the ASCII of the base64 signature.
    (tmp_path / "signature.txt").write_bytes(signed["signature"].encode("ascii"))
    (tmp_path / "ts.tsr").write_bytes(base64.b64decode(signed["timeSignature"]))
    (tmp_path / "ts-chain.pem").write_bytes(signed["timestampCert"].encode())
    ok = ts_verify(
        tmp_path / "signature.txt",
        tmp_path / "ts.tsr",
        pki_files.root,
        tmp_path / "ts-chain.pem",
    )
    assert "Verification: OK" in ok.stdout


def test_several_tsas_fill_additional_time_signatures(
    pki: Pki, authority: TimeStampAuthority, openssl_tsa: OpensslTsa
) -> None:
    signer = PackageSigner(
        pki.package_signing_credential,
        [LocalTimestamper(authority), HttpTimestamper(openssl_tsa.url)],
        domain=HOST,
    )
    signed = signer.sign(HASH)
    extra = signed["additionalTimeSignatures"]
    assert len(extra) == 1 and extra[0]["tsa"] == openssl_tsa.url
    assert extra[0]["timestampCert"].encode() == openssl_tsa.tsa_chain_pem

    both = pki.root.public_bytes(Encoding.PEM) + openssl_tsa.ca_pem
    check = verify_signed_data(signed, both)
    assert check.valid, check.problems
    assert len(check.timestamps) == 2
    # Without the other TSA's root, that second witness is not trusted.
    partial = verify_signed_data(signed, pki.root.public_bytes(Encoding.PEM))
    assert not partial.valid
    assert any("additionalTimeSignatures[0]" in p for p in partial.problems)


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda s, o: s | {"hash": "sha256:" + "0" * 64}, "signature over the hash is invalid"),
        (lambda s, o: s | {"signature": o["signature"]}, "signature over the hash is invalid"),
        (lambda s, o: s | {"timeSignature": o["timeSignature"]}, "does not cover this data"),
        (lambda s, o: s | {"domain": "other.example"}, "is not named in the certificate"),
        (lambda s, o: s | {"created": "2020-01-01T00:00:00Z"}, "not valid at"),
        (lambda s, o: s | {"timestampCert": o["domainCert"]}, "timestampCert"),
        (lambda s, o: {k: v for k, v in s.items() if k != "timeSignature"}, "lacks"),
    ],
    ids=[
        "hash",
        "swapped-signature",
        "swapped-timestamp",
        "domain",
        "created",
        "ts-chain",
        "missing",
    ],
)
def test_verifier_rejects_tampering(
    signer: PackageSigner, pki: Pki, mutate: object, problem: str
) -> None:
    signed = signer.sign(HASH)
    other = signer.sign("sha256:" + hashlib.sha256(b"another package").hexdigest())
    tampered = mutate(signed, other)  # type: ignore[operator]
    check = verify_signed_data(tampered, pki.root.public_bytes(Encoding.PEM))
    assert not check.valid
    assert any(problem in p for p in check.problems), check.problems


def test_untrusted_root_is_rejected(signer: PackageSigner, openssl_tsa: OpensslTsa) -> None:
    check = verify_signed_data(signer.sign(HASH), openssl_tsa.ca_pem)
    assert not check.valid
    assert any("trusted root" in p or "untrusted root" in p for p in check.problems)


def test_tsa_errors_propagate(pki: Pki) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    signer = PackageSigner(
        pki.package_signing_credential,
        [HttpTimestamper(f"http://127.0.0.1:{port}/tsa", timeout=2)],
        domain=HOST,
    )
    with pytest.raises(TsaUnavailableError) as info:
        signer.sign(HASH)
    assert info.value.retryable


def test_tsa_chain_without_root_is_refused(pki: Pki) -> None:
    tsa = pki.tsa_credential()
    no_root = Credential(tsa.key, tsa.cert, (pki.issuing,))
    signer = PackageSigner(
        pki.package_signing_credential,
        [LocalTimestamper(TimeStampAuthority(no_root))],
        domain=HOST,
    )
    with pytest.raises(TsaChainError, match="does not reach a root"):
        signer.sign(HASH)


def test_one_chain_check_serves_every_stamp_we_keep(pki: Pki) -> None:
    """The manifest's, the package signature's and the archive stamps share one check: a
    token whose TSA chain stops short is refused with what its chain was for; a whole one is
    returned as it came."""
    tsa = pki.tsa_credential()
    short = LocalTimestamper(TimeStampAuthority(Credential(tsa.key, tsa.cert, (pki.issuing,))))
    token = short.stamp(b"manifest")
    assert not token.chain_complete
    with pytest.raises(TsaChainError, match=r"archive time-stamps$") as info:
        require_complete_chain(token, "verifiers can check archive time-stamps")
    assert "tsa_ca_file" in str(info.value)
    whole = LocalTimestamper(TimeStampAuthority(tsa)).stamp(b"manifest")
    assert whole.chain_complete
    assert require_complete_chain(whole, "anything") is whole


def test_tsa_clock_far_from_ours_is_clock_skew(pki: Pki) -> None:
    ahead = TimeStampAuthority(
        pki.tsa_credential(), clock=lambda: datetime.now(UTC) + timedelta(minutes=20)
    )
    signer = PackageSigner(pki.package_signing_credential, [LocalTimestamper(ahead)], domain=HOST)
    with pytest.raises(ClockSkewError, match="check NTP"):
        signer.sign(HASH)


def test_created_from_the_package_is_used_and_checked(signer: PackageSigner) -> None:
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert signer.sign(HASH, created=created)["created"] == created
    stale = (datetime.now(UTC) - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(SignatureError, match="too far from now"):
        signer.sign(HASH, created=stale)
    with pytest.raises(SignatureError, match="64 lowercase hex"):
        signer.sign("sha256:ABC")


def test_wrong_domain_for_the_certificate_is_refused(
    pki: Pki, authority: TimeStampAuthority
) -> None:
    signer = PackageSigner(
        pki.package_signing_credential, [LocalTimestamper(authority)], domain="other.example"
    )
    with pytest.raises(SignatureError, match="not for the configured domain"):
        signer.sign(HASH)


def test_old_signing_certificate_is_refused(pki: Pki, authority: TimeStampAuthority) -> None:
    current = pki.package_signing_credential()
    # A credential callable that never rotates, asked to sign 8 days later.
    signer = PackageSigner(
        lambda: current,
        [LocalTimestamper(authority)],
        domain=HOST,
        clock=lambda: datetime.now(UTC) + timedelta(days=8),
    )
    later = (datetime.now(UTC) + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(SignatureError, match="within 7 days"):
        signer.sign(HASH, created=later)
