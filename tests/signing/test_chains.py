"""signing.chains remembers which issuer signed which certificate (a seal checks the same
few chains many times): the memory must never let a look-alike certificate through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signing.chains import ChainError, _issued_by, build_chain, validate_chain

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    issuer: str,
    key: ec.EllipticCurvePrivateKey,
    signer: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    serial: int = 7,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )


def test_a_look_alike_signed_by_another_key_is_never_taken_for_the_remembered_one() -> None:
    root_key, rogue_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert("Root", "Root", root_key, root_key, ca=True, serial=1)
    rogue_root = _cert("Root", "Root", rogue_key, rogue_key, ca=True, serial=1)  # same name
    leaf = _cert("Seal", "Root", leaf_key, root_key, ca=False)
    forged = _cert("Seal", "Root", leaf_key, rogue_key, ca=False)  # same fields, other signer
    for _ in range(3):  # asked again and again: the same answers, from memory or not
        assert _issued_by(leaf, root)
        assert not _issued_by(forged, root)
        assert not _issued_by(leaf, rogue_root)
        assert _issued_by(forged, rogue_root)
    assert _issued_by.cache_info().hits > 0
    assert validate_chain(leaf, [], [root], at=NOW) == [leaf, root]
    with pytest.raises(ChainError):
        validate_chain(forged, [], [root], at=NOW)
    assert build_chain(forged, [root, rogue_root]) == [forged, rogue_root]
