"""Revocation status at signing time, from offline data only (CRLs in the trust bundle, OCSP
responses and CRLs in the proofs sidecar)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from capture.types import CaptureResult
from capture.wacz import build_wacz
from certs.pki import Credential
from signing.verify import Indication, Report, Status, Sub
from tests.verify.conftest import Verify
from tests.verify.sealing import Authorities, issue_leaf, make_crl

PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER


def _package(capture: CaptureResult, auth: Authorities, out: Path) -> tuple[Path, x509.Certificate]:
    build_wacz(capture, out, sign=auth.signer.sign)
    return out, auth.pki.package_signing_credential().cert


def _signed_at(report_facts: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(report_facts["package_time_stamped"].replace("Z", "+00:00"))


def test_revoked_before_signing_is_total_failed(
    capture: CaptureResult, auth: Authorities, verify: Verify, tmp_path: Path
) -> None:
    out, cert = _package(capture, auth, tmp_path / "p.wacz")
    crl = make_crl(auth.issuing, revoked=[(cert.serial_number, cert.not_valid_before_utc)])
    report = verify(
        out, trust=auth.bundle(crl.public_bytes(PEM), make_crl(auth.root).public_bytes(PEM))
    )
    assert report.indication_line() == "TOTAL-FAILED REVOKED"
    check = report.check("package.signature.revocation")
    assert check.counts and check.status is Status.FAILED
    assert check.facts["certificates"][0]["status"] == "revoked"


def test_revoked_after_signing_stays_valid(
    capture: CaptureResult, auth: Authorities, verify: Verify, tmp_path: Path
) -> None:
    out, cert = _package(capture, auth, tmp_path / "p.wacz")
    report = verify(out, trust=auth.bundle())
    later = _signed_at(report.facts) + timedelta(seconds=30)
    crl = make_crl(
        auth.issuing,
        revoked=[(cert.serial_number, later)],
        last_update=later + timedelta(seconds=1),
    )
    report = verify(
        out, trust=auth.bundle(crl.public_bytes(PEM), make_crl(auth.root).public_bytes(PEM))
    )
    assert report.indication is Indication.TOTAL_PASSED, report.summary.en
    check = report.check("package.signature.revocation")
    assert check.status is Status.PASSED and "revoked later" in check.reason.en


def test_crl_of_a_stranger_is_ignored(
    capture: CaptureResult, auth: Authorities, foreign: Authorities, verify: Verify, tmp_path: Path
) -> None:
    """A CRL counts only when its issuer signed it: a CRL by another CA with our issuer's
    name cannot revoke (or clear) our certificates."""
    out, cert = _package(capture, auth, tmp_path / "p.wacz")
    fake_issuer = Credential(foreign.issuing.key, auth.issuing.cert, ())
    forged = make_crl(fake_issuer, revoked=[(cert.serial_number, cert.not_valid_before_utc)])
    report = verify(out, trust=auth.bundle(forged.public_bytes(PEM)))
    check = report.check("package.signature.revocation")
    assert check.sub_indication is Sub.TRY_LATER and not check.counts
    assert report.indication is Indication.TOTAL_PASSED


def test_stale_crl_does_not_prove_status_at_signing(
    capture: CaptureResult, auth: Authorities, verify: Verify, tmp_path: Path
) -> None:
    out, _cert = _package(capture, auth, tmp_path / "p.wacz")
    old = datetime.now(UTC) - timedelta(days=1)
    stale = make_crl(auth.issuing, last_update=old)
    report = verify(out, trust=auth.bundle(stale.public_bytes(PEM)), require_revocation=True)
    assert report.indication_line() == "INDETERMINATE TRY_LATER"


def _ocsp(
    cert: x509.Certificate, issuer: Credential, responder: Credential, status: str, when: datetime
) -> bytes:
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=cert,
        issuer=issuer.cert,
        algorithm=hashes.SHA1(),
        cert_status=ocsp.OCSPCertStatus.REVOKED
        if status == "revoked"
        else ocsp.OCSPCertStatus.GOOD,
        this_update=datetime.now(UTC) + timedelta(seconds=1),
        next_update=datetime.now(UTC) + timedelta(days=1),
        revocation_time=when if status == "revoked" else None,
        revocation_reason=x509.ReasonFlags.key_compromise if status == "revoked" else None,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, responder.cert)
    if responder.cert != issuer.cert:
        builder = builder.certificates([responder.cert])
    resp = builder.sign(responder.key, hashes.SHA256())  # type: ignore[arg-type]
    return resp.public_bytes(serialization.Encoding.DER)


def _with_ocsp(
    verify: Verify, out: Path, auth: Authorities, responses: list[bytes], tmp: Path
) -> Report:
    """Carry the OCSP responses (and the root's ARL) in the proofs sidecar, in an archive
    time-stamp entry, as the renewal job does."""
    import hashlib

    from tests.verify.sealing import canonical

    package_sha = hashlib.sha256(out.read_bytes()).hexdigest()
    data = bytes.fromhex(package_sha) + canonical([])
    stamp = auth.timestamper().stamp(data)
    proofs = {
        "type": "evidence-proofs",
        "version": 1,
        "package_sha256": package_sha,
        "archive_timestamps": [
            {
                "time_stamp": base64.b64encode(stamp.response_der).decode(),
                "covers": "sha256:" + hashlib.sha256(data).hexdigest(),
                "revocation": {
                    "crls": [base64.b64encode(make_crl(auth.root).public_bytes(DER)).decode()],
                    "ocsps": [base64.b64encode(r).decode() for r in responses],
                },
                "certificates": [stamp.certs_pem.decode()],
            }
        ],
    }
    proofs_path = tmp / "p.proofs.json"
    proofs_path.write_text(json.dumps(proofs))
    report = verify(out, trust=auth.bundle(), proofs=proofs_path)
    assert report.check("proofs.archive_timestamps").status is Status.PASSED
    return report


def test_ocsp_good_from_a_delegated_responder(
    capture: CaptureResult, auth: Authorities, verify: Verify, tmp_path: Path
) -> None:
    out, cert = _package(capture, auth, tmp_path / "p.wacz")
    responder = issue_leaf(auth.issuing, "OCSP responder", non_repudiation=False, ocsp_signing=True)
    good = _ocsp(cert, auth.issuing, responder, "good", datetime.now(UTC))
    report = _with_ocsp(verify, out, auth, [good], tmp_path)
    check = report.check("package.signature.revocation")
    assert check.status is Status.PASSED, check.reason.en
    assert "OCSP" in check.facts["certificates"][0]["source"]


def test_ocsp_revoked_and_unauthorised_responders(
    capture: CaptureResult, auth: Authorities, verify: Verify, tmp_path: Path
) -> None:
    out, cert = _package(capture, auth, tmp_path / "p.wacz")
    revoked = _ocsp(cert, auth.issuing, auth.issuing, "revoked", cert.not_valid_before_utc)
    report = _with_ocsp(verify, out, auth, [revoked], tmp_path)
    assert report.indication_line() == "TOTAL-FAILED REVOKED"
    # a responder without id-kp-OCSPSigning may not speak for the CA
    impostor = issue_leaf(auth.issuing, "not a responder", non_repudiation=False)
    fake = _ocsp(cert, auth.issuing, impostor, "revoked", cert.not_valid_before_utc)
    report = _with_ocsp(verify, out, auth, [fake], tmp_path)
    check = report.check("package.signature.revocation")
    assert check.sub_indication is Sub.TRY_LATER
