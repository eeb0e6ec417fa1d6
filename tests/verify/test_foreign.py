"""WACZ files signed by others, the way Webrecorder's authsign (Scoop, Browsertrix) signs them:
identity mode under another CA, and anonymous mode with a bare ``publicKey``."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from capture.types import CaptureResult
from capture.wacz import build_wacz
from signing.verify import Indication, Status, Sub
from tests.verify.conftest import Verify, digest_json, rewrite
from tests.verify.sealing import Authorities
from tests.wacz.conftest import run_wacz_validate


@pytest.fixture
def foreign_package(capture: CaptureResult, foreign: Authorities, tmp_path: Path) -> Path:
    out = tmp_path / "foreign.wacz"
    build_wacz(capture, out, sign=foreign.signer.sign, title="captured elsewhere")
    return out


def test_foreign_ca_is_indeterminate_without_its_roots(
    foreign_package: Path, verify: Verify
) -> None:
    report = verify(foreign_package)
    assert report.indication_line() == "INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND"
    sig = report.check("package.signature")
    assert "archive.example.net" in sig.reason.en  # names the root it leads to
    assert "trusted root" in sig.reason.en
    # everything that does not need trust still verifies
    for check_id in ("zip.container", "package.digest", "package.resources", "warc.records"):
        assert report.check(check_id).status is Status.PASSED


def test_foreign_ca_passes_with_its_roots(
    foreign_package: Path, foreign: Authorities, verify: Verify
) -> None:
    report = verify(foreign_package, trust=foreign.bundle(foreign.crls_pem()))
    assert report.indication is Indication.TOTAL_PASSED, report.summary.en
    assert report.check("package.signature.revocation").status is Status.PASSED
    assert report.facts["signer"]["domain"] == "archive.example.net"
    assert run_wacz_validate(foreign_package).returncode == 0


def test_both_roots_in_one_bundle(
    foreign_package: Path, foreign: Authorities, auth: Authorities, verify: Verify
) -> None:
    report = verify(foreign_package, trust=auth.bundle() + foreign.bundle())
    assert report.indication is Indication.TOTAL_PASSED


def _anonymous_signer(key: ec.EllipticCurvePrivateKey, *, der: bool = False) -> Any:
    """ArchiveWeb.page's anonymous mode: ECDSA P-384 via WebCrypto (raw r||s), SPKI key."""

    def sign(hash_str: str, *, created: str) -> dict[str, Any]:
        sig = key.sign(hash_str.encode(), ec.ECDSA(hashes.SHA256()))
        if not der:
            r, s = decode_dss_signature(sig)
            sig = r.to_bytes(48, "big") + s.to_bytes(48, "big")
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {
            "hash": hash_str,
            "created": created,
            "software": "ArchiveWeb.page 0.11",
            "version": "0.1.0",
            "signature": base64.b64encode(sig).decode(),
            "publicKey": base64.b64encode(spki).decode(),
        }

    return sign


@pytest.mark.parametrize("der", [False, True])
def test_anonymous_mode(
    der: bool, capture: CaptureResult, tmp_path: Path, verify: Verify, auth: Authorities
) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    out = tmp_path / "anon.wacz"
    build_wacz(capture, out, sign=_anonymous_signer(key, der=der))
    report = verify(out)
    assert report.indication_line() == "INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND"
    assert "anonymous" in report.check("package.signature").reason.en
    assert report.check("package.timestamp").status is Status.NOT_APPLICABLE
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    report = verify(out, trust=auth.bundle() + public_pem)
    assert report.indication is Indication.TOTAL_PASSED, report.summary.en


def test_anonymous_mode_with_a_bad_signature(
    capture: CaptureResult, tmp_path: Path, verify: Verify
) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    out = tmp_path / "anon.wacz"
    build_wacz(capture, out, sign=_anonymous_signer(key))
    digest = digest_json(out)
    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    digest["signedData"]["publicKey"] = base64.b64encode(
        other.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    bad = rewrite(
        out, tmp_path / "bad.wacz", {"datapackage-digest.json": json.dumps(digest).encode()}
    )
    report = verify(bad)
    assert report.indication_line() == "TOTAL-FAILED SIG_CRYPTO_FAILURE"


def test_wrong_domain_breaks_the_wacz_signing_rules(
    foreign_package: Path, foreign: Authorities, verify: Verify, tmp_path: Path
) -> None:
    """``domain`` is not covered by the signature: a claim the certificate does not back is a
    signature-constraint failure, not a passed signature."""
    digest = digest_json(foreign_package)
    digest["signedData"]["domain"] = "evidence.example.org"
    bad = rewrite(
        foreign_package,
        tmp_path / "bad.wacz",
        {"datapackage-digest.json": json.dumps(digest).encode()},
    )
    report = verify(bad, trust=foreign.bundle())
    assert report.indication_line() == "INDETERMINATE SIG_CONSTRAINTS_FAILURE"


def test_created_far_from_the_time_stamp(
    foreign_package: Path, foreign: Authorities, verify: Verify, tmp_path: Path
) -> None:
    digest = digest_json(foreign_package)
    digest["signedData"]["created"] = "2020-01-01T00:00:00Z"
    bad = rewrite(
        foreign_package,
        tmp_path / "bad.wacz",
        {"datapackage-digest.json": json.dumps(digest).encode()},
    )
    report = verify(bad, trust=foreign.bundle())
    assert report.indication is Indication.INDETERMINATE
    check = report.check("package.timestamp")
    assert (check.status, check.sub_indication) == (
        Status.INDETERMINATE,
        Sub.TIMESTAMP_ORDER_FAILURE,
    )
    assert datetime.now(UTC).year > 2020
