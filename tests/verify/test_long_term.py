"""Long-term validity: a time-stamp proves its time only while its TSA's certificate is valid,
unless a later archive time-stamp (the proofs sidecar) proves it existed before that."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from capture.types import CaptureResult
from capture.wacz import build_wacz
from certs.pki import Credential
from signing.timestamp import LocalTimestamper
from signing.tsa import TimeStampAuthority
from signing.verify import Indication, Status, Sub
from signing.wacz_sign import PackageSigner
from tests.verify.conftest import Verify
from tests.verify.sealing import Authorities, canonical


def _short_lived_tsa(auth: Authorities, seconds: int) -> TimeStampAuthority:
    issuing = auth.issuing
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "short-lived TSA")]))
        .issuer_name(issuing.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(seconds=seconds))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(issuing.key, hashes.SHA384())  # type: ignore[arg-type]
    )
    return TimeStampAuthority(Credential(key, cert, (issuing.cert, *issuing.chain)))


def test_expired_tsa_needs_an_archive_time_stamp(
    capture: CaptureResult, auth: Authorities, verify: Verify, tmp_path: Path
) -> None:
    short = _short_lived_tsa(auth, 3)
    signer = PackageSigner(
        auth.pki.package_signing_credential, [LocalTimestamper(short)], domain=auth.host
    )
    package = tmp_path / "p.wacz"
    build_wacz(capture, package, sign=signer.sign)
    # the renewal job's archive time-stamp, made while the short-lived TSA is still valid
    sha = hashlib.sha256(package.read_bytes()).hexdigest()
    data = bytes.fromhex(sha) + canonical([])
    stamp = auth.timestamper().stamp(data)
    proofs = tmp_path / "p.wacz.proofs.json"
    proofs.write_text(
        json.dumps(
            {
                "type": "evidence-proofs",
                "version": 1,
                "package_sha256": sha,
                "inclusion": None,
                "archive_timestamps": [
                    {
                        "time_stamp": base64.b64encode(stamp.response_der).decode(),
                        "covers": "sha256:" + hashlib.sha256(data).hexdigest(),
                        "revocation": {"crls": [], "ocsps": []},
                        "certificates": [stamp.certs_pem.decode()],
                    }
                ],
            }
        )
    )
    assert verify(package, proofs=None).indication is Indication.TOTAL_PASSED
    expiry = short.credential.cert.not_valid_after_utc
    while datetime.now(UTC) <= expiry + timedelta(seconds=1):
        time.sleep(0.2)

    alone = verify(package, proofs=None)
    check = alone.check("package.timestamp")
    assert (check.status, check.sub_indication) == (Status.INDETERMINATE, Sub.OUT_OF_BOUNDS_NO_POE)
    assert alone.indication_line() == "INDETERMINATE OUT_OF_BOUNDS_NO_POE"

    renewed = verify(package, proofs=proofs)
    assert renewed.indication is Indication.TOTAL_PASSED, renewed.summary.en
    assert renewed.check("package.timestamp").facts["validated_by_archive_time_stamp"]
    assert renewed.check("proofs.archive_timestamps").status is Status.PASSED
