"""pyHanko's certificate validator on our certificates with revocation checking required:
online (fetching CRLs and OCSP from the served /pki endpoints) and offline (CRLs and OCSP
made by the local PKI, with the public URL pointing at a dead port)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathValidationError, RevokedError

from certs import SubjectInfo
from certs.pki import Pki
from signing.signers import validation_context
from tests.pki.conftest import UNIT, Served

USAGE = {"digital_signature", "non_repudiation"}


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


async def _validate(cert: x509.Certificate, vc: ValidationContext) -> list[str]:
    """The validated path (subjects, root first); closes the context (aiohttp session)."""
    try:
        path = await CertificateValidator(_asn1(cert), validation_context=vc).async_validate_usage(
            USAGE
        )
        return [c.subject.human_friendly for c in path.iter_certs(include_root=True)]
    finally:
        await vc.aclose()


def _officer(pki: Pki, officer_id: str) -> x509.Certificate:
    return pki.issue(
        "officer", SubjectInfo("周九", organization=UNIT, officer_id=officer_id)
    ).certificate


def test_online_validation_fetches_from_the_service(served: Served) -> None:
    pki = served.pki
    cert = _officer(pki, "GZ-ON-1")
    path = asyncio.run(_validate(cert, validation_context(pki, online=True)))
    assert len(path) == 3 and "周九" in path[-1]

    pki.revoke(format(cert.serial_number, "x"), "keyCompromise")
    with pytest.raises(RevokedError, match="revoked"):
        asyncio.run(_validate(cert, validation_context(pki, online=True)))


def test_offline_validation_uses_local_revocation_data(offline_pki: Pki) -> None:
    pki = offline_pki
    cert = _officer(pki, "OFF-1")
    # With the signer's OCSP response and the CRLs, and with the CRLs alone.
    for for_certs in ([cert], []):
        vc = validation_context(pki, online=False, for_certs=for_certs)
        assert len(asyncio.run(_validate(cert, vc))) == 3

    # Control: online, the same certificate cannot be checked (nothing listens there), so
    # the offline success above did not come from the network.
    with pytest.raises(PathValidationError):
        asyncio.run(_validate(cert, validation_context(pki, online=True)))

    pki.revoke(cert.serial_number, "affiliationChanged")
    for for_certs in ([cert], []):
        vc = validation_context(pki, online=False, for_certs=for_certs)
        with pytest.raises(RevokedError, match="revoked"):
            asyncio.run(_validate(cert, vc))


def test_revoked_issuing_ca_fails_offline_validation(tmp_path: Path) -> None:
    pki = Pki.open(tmp_path / "pki", b"pw", hostname="h.example", public_url="http://127.0.0.1:9")
    cert = _officer(pki, "CA-1")
    assert len(asyncio.run(_validate(cert, validation_context(pki, online=False)))) == 3
    pki.revoke(pki.issuing.serial_number, "cACompromise")
    with pytest.raises(RevokedError):
        asyncio.run(_validate(cert, validation_context(pki, online=False, for_certs=[cert])))
