"""Evidence that outlives its certificates: archive time-stamps in the proofs sidecar.

A TSA whose certificate lives two days stamps first; the clock is then moved (``now`` given to
the renewal and to the chain check) past that certificate's expiry. Only a renewal made in
time -- a newer stamp, by a long-lived TSA, over the package hash and the earlier stamp --
keeps the chain valid; openssl confirms the newer stamp covers the earlier one."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.pki import Credential, load_pem_certificates
from evidence_service.bootstrap import initialize
from evidence_service.sealing import housekeeping, transparency
from evidence_service.sealing.pipeline import create_capture
from evidence_service.sealing.renewal import (
    publish_tree_head,
    read_sidecar,
    renew_capture,
    renew_due,
)
from evidence_service.services import Services
from signing.timestamp import LocalTimestamper
from signing.translog import archive_input, canonical_json, verify_archive_chain
from signing.tsa import TimeStampAuthority
from storage.models import Capture
from tests.conftest import run_cli
from tests.fixtures.http_tsa import free_port
from tests.fixtures.site import FixtureSite
from tests.seal.conftest import run, service_environment, services_for
from tests.service.conftest import run_worker

pytestmark = pytest.mark.chromium


@pytest.fixture(scope="module")
def stored(
    tmp_path_factory: pytest.TempPathFactory, fixture_site: FixtureSite
) -> Iterator[tuple[Services, str, int]]:
    base = tmp_path_factory.mktemp("renewal")
    port = free_port()
    services = services_for(base / "data", port)
    initialize(services)
    capture_id = create_capture(services, fixture_site.url("/listing"), user_id=None)
    assert run_worker(services) == 1
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None and cap.status == "stored", cap.progress_detail
    yield services, capture_id, port
    services.close()


def short_lived_tsa(services: Services, days: float) -> LocalTimestamper:
    """A TSA certificate of our issuing CA that expires in ``days`` (RFC 3161 profile)."""
    pki = services.pki
    issuer = pki.issuing_credential()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC) - timedelta(minutes=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "evidence-service"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "Short-lived Test TSA"),
                ]
            )
        )
        .issuer_name(pki.issuing.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(issuer.key, hashes.SHA384())  # type: ignore[arg-type]
    )
    return LocalTimestamper(TimeStampAuthority(Credential(key, cert, (pki.issuing, pki.root))))


def _sidecar(services: Services, capture_id: str) -> tuple[dict, str]:  # type: ignore[type-arg]
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None and cap.proofs_key and cap.package_sha256
        return read_sidecar(services, cap.proofs_key), cap.package_sha256


def test_worker_idle_path_publishes_proves_renews_and_audits(
    stored: tuple[Services, str, int],
) -> None:
    services, capture_id, _port = stored
    tlog = transparency.TransparencyLog(services)
    before = tlog.latest_sth()
    housekeeping.periodic(services)
    sth = tlog.latest_sth()
    assert sth is not None and sth != before and sth["tree_size"] >= 1
    sidecar, package_sha256 = _sidecar(services, capture_id)
    assert sidecar["inclusion"]["sth"]["tree_size"] >= 1
    # The package-signing certificate lives a week: the first daily renewal is due at once.
    assert len(sidecar["archive_timestamps"]) >= 1
    bundle = services.pki.trust_bundle_pem()
    check = verify_archive_chain(sidecar, package_sha256, bundle, now=datetime.now(UTC))
    assert check.valid, check.problems
    assert tlog.audit() == []


def test_renewed_chain_stays_valid_after_the_first_tsa_expires(
    stored: tuple[Services, str, int], tmp_path: Path
) -> None:
    services, capture_id, _port = stored
    bundle = services.pki.trust_bundle_pem()
    now = datetime.now(UTC)
    with services.sessions() as session:
        existing = 0
        cap = session.get(Capture, capture_id)
        assert cap is not None
        if cap.proofs_key:
            existing = len(read_sidecar(services, cap.proofs_key)["archive_timestamps"])

    short = short_lived_tsa(services, days=2)
    first = renew_capture(services, capture_id, timestamper=short, now=now)
    assert first.renewed and first.expires is not None
    assert first.expires - now < timedelta(days=2, minutes=1)
    sidecar, package_sha256 = _sidecar(services, capture_id)
    assert len(sidecar["archive_timestamps"]) == existing + 1
    assert verify_archive_chain(sidecar, package_sha256, bundle, now=now).valid
    late = now + timedelta(days=3)
    overdue = verify_archive_chain(sidecar, package_sha256, bundle, now=late)
    assert not overdue.valid and any("renewal is overdue" in p for p in overdue.problems)

    # Not due yet one day ahead with a one-day margin; due with a 30-day margin.
    assert renew_due(services, before=timedelta(days=0.5), now=now) == []
    outcomes = renew_due(services, before=timedelta(days=30), now=now + timedelta(days=1))
    assert [o.capture_id for o in outcomes if o.renewed] == [capture_id]
    sidecar, _ = _sidecar(services, capture_id)
    stamps = sidecar["archive_timestamps"]
    assert len(stamps) == existing + 2

    # The newest stamp covers the package hash and every earlier stamp ...
    data = archive_input(package_sha256, stamps[:-1])
    assert data == bytes.fromhex(package_sha256) + canonical_json(stamps[:-1])
    assert stamps[-1]["covers"] == "sha256:" + hashlib.sha256(data).hexdigest()
    # ... as openssl confirms on its own,
    (tmp_path / "covered.bin").write_bytes(data)
    (tmp_path / "newest.tsr").write_bytes(base64.b64decode(stamps[-1]["time_stamp"]))
    (tmp_path / "bundle.pem").write_bytes(bundle)
    proc = run(
        "openssl",
        "ts",
        "-verify",
        "-data",
        str(tmp_path / "covered.bin"),
        "-in",
        str(tmp_path / "newest.tsr"),
        "-CAfile",
        str(tmp_path / "bundle.pem"),
        "-untrusted",
        str(tmp_path / "bundle.pem"),
    )
    assert "Verification: OK" in proc.stdout, proc.stdout + proc.stderr
    # ... so the chain is valid long after the short-lived TSA certificate expired.
    for moment in (late, now + timedelta(days=3 * 365)):
        check = verify_archive_chain(sidecar, package_sha256, bundle, now=moment)
        assert check.valid, check.problems
        assert check.reference_time is not None and check.reference_time <= now + timedelta(1)

    # The renewal carries the certificates and the current revocation data of what it covers.
    newest = stamps[-1]
    carried = {
        c.subject.rfc4514_string()
        for pem in newest["certificates"]
        for c in load_pem_certificates(pem.encode())
    }
    assert any("Short-lived Test TSA" in s for s in carried)
    assert any("Package Signing" in s for s in carried)
    assert any("电子证据固定服务" in s for s in carried)
    crl_issuers = {
        x509.load_der_x509_crl(base64.b64decode(c)).issuer for c in newest["revocation"]["crls"]
    }
    assert crl_issuers == {services.pki.issuing.subject, services.pki.root.subject}
    statuses = []
    for b64 in newest["revocation"]["ocsps"]:
        response = asn1_ocsp.OCSPResponse.load(base64.b64decode(b64))
        assert response["response_status"].native == "successful"
        for single in response.basic_ocsp_response["tbs_response_data"]["responses"]:
            statuses.append(single["cert_status"].name)
    assert statuses and "revoked" not in statuses

    # Tampering with an earlier stamp, or dropping the newest one, breaks the chain.
    forged = json.loads(json.dumps(sidecar))
    forged["archive_timestamps"][-2]["revocation"]["crls"] = []
    broken = verify_archive_chain(forged, package_sha256, bundle, now=late)
    assert not broken.valid and any("covers" in p for p in broken.problems)
    truncated = json.loads(json.dumps(sidecar))
    truncated["archive_timestamps"].pop()
    assert not verify_archive_chain(truncated, package_sha256, bundle, now=late).valid
    wrong_package = verify_archive_chain(sidecar, "00" * 32, bundle, now=late)
    assert not wrong_package.valid


def test_evidence_renew_command(stored: tuple[Services, str, int]) -> None:
    services, capture_id, port = stored
    publish_tree_head(services, force=True)  # the sidecar exists once published,
    sidecar, _ = _sidecar(services, capture_id)  # whichever of this module's tests ran first
    env = service_environment(services.settings.data_dir, port)
    proc = run_cli(["renew", "--all", "--json"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [outcome] = json.loads(proc.stdout)
    assert outcome["capture_id"] == capture_id and outcome["renewed"] is True
    after, _ = _sidecar(services, capture_id)
    assert len(after["archive_timestamps"]) == len(sidecar["archive_timestamps"]) + 1
    proc = run_cli(["renew", "--before", "1"], env)  # the 10-year TSA: nothing due
    assert proc.returncode == 0 and "0 of 0 package(s) renewed" in proc.stdout, proc.stdout


def test_the_court_verifier_accepts_the_renewed_package(
    stored: tuple[Services, str, int], tmp_path: Path
) -> None:
    """Cross-check with the court verifier (signing.verify, written against the same contract):
    package, certificate, manifest, log inclusion and archive chain all pass."""
    from signing.verify import load_trust_bundle, verify_file
    from signing.verify.model import Text

    services, capture_id, _port = stored
    transparency.TransparencyLog(services).publish()
    renew_capture(services, capture_id)
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None and cap.package_key and cap.proofs_key
        package = tmp_path / "p.wacz"
        package.write_bytes(services.store.read_bytes(cap.package_key))
        proofs = services.store.read_bytes(cap.proofs_key)
    trust = load_trust_bundle(
        services.pki.trust_bundle_pem(), source="test", description=Text("测试", "test")
    )
    report = verify_file(package, trust=trust, proofs=proofs)
    results = {c.id: c.status.name for c in report.checks}
    for check in (
        "manifest.content",
        "manifest.timestamp",
        "certificate.signature",
        "certificate.content",
        "proofs.file",
        "log.inclusion",
        "proofs.archive_timestamps",
    ):
        assert results.get(check) == "PASSED", (check, results)
    assert report.indication.name == "TOTAL_PASSED", results
