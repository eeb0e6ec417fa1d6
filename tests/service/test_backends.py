"""A capture sealed with a TSA that is not ours, and one stored in a real S3 server."""

from __future__ import annotations

import base64
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence_service.bootstrap import initialize
from evidence_service.cli.captures import export_object
from evidence_service.sealing.pipeline import create_capture
from evidence_service.services import Services
from storage.errors import ImmutableObjectError
from storage.models import Capture
from tests.fixtures.openssl import ts_verify
from tests.fixtures.openssl_tsa import serve_openssl_tsa
from tests.fixtures.site import FixtureSite
from tests.service.conftest import run_worker
from tests.storage.conftest import S3Settings, s3_settings  # noqa: F401  (fixture)

pytestmark = pytest.mark.chromium


def _capture(services: Services, url: str) -> Capture:
    initialize(services)
    capture_id = create_capture(services, url, user_id=None)
    run_worker(services)
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None
        session.expunge(cap)
    return cap


def test_capture_time_stamped_by_openssl_tsa(
    services_factory: Callable[..., Services], fixture_site: FixtureSite, tmp_path: Path
) -> None:
    with serve_openssl_tsa(tmp_path / "openssl-tsa") as tsa:
        chain = tmp_path / "tsa-chain.pem"
        chain.write_bytes(tsa.tsa_chain_pem + tsa.ca_pem)
        services = services_factory(tsa_url=tsa.url, tsa_ca_file=chain)
        cap = _capture(services, fixture_site.url("/listing"))
    assert cap.status == "stored", (cap.error_message, cap.progress_detail)
    assert cap.tsa_name and "OpenSSL" in cap.tsa_name, cap.tsa_name
    package = tmp_path / "p.wacz"
    with open(package, "wb") as fh:
        services.store.copy_to(cap.package_key or "", fh)
    with zipfile.ZipFile(package) as zf:
        import json

        signed = json.loads(zf.read("datapackage-digest.json"))["signedData"]
    (tmp_path / "sig").write_bytes(signed["signature"].encode())
    (tmp_path / "resp.tsr").write_bytes(base64.b64decode(signed["timeSignature"]))
    ca = tmp_path / "tsa-ca.pem"
    ca.write_bytes(tsa.ca_pem)
    check = ts_verify(tmp_path / "sig", tmp_path / "resp.tsr", ca, chain)
    assert "Verification: OK" in check.stdout, check.stdout + check.stderr
    # The token is the foreign TSA's, not ours: our root does not verify it.
    ours = tmp_path / "ours.pem"
    ours.write_bytes(services.pki.trust_bundle_pem())
    wrong = ts_verify(tmp_path / "sig", tmp_path / "resp.tsr", ours)
    assert "Verification: OK" not in wrong.stdout


@pytest.mark.s3
def test_capture_stored_in_s3_under_object_lock(
    services_factory: Callable[..., Services],
    fixture_site: FixtureSite,
    s3_settings: S3Settings,  # noqa: F811
    tmp_path: Path,
) -> None:
    services = services_factory(
        store="s3",
        s3_endpoint=s3_settings.endpoint,
        s3_access_key=s3_settings.access_key,
        s3_secret_key=s3_settings.secret_key,
        s3_secure=s3_settings.secure,
        s3_bucket=f"evidence-svc-{uuid.uuid4().hex[:10]}",
        s3_retention_days=1,
    )
    cap = _capture(services, fixture_site.url("/listing"))
    assert cap.status == "stored", (cap.error_message, cap.progress_detail)
    key = cap.package_key or ""
    stat = services.store.stat(key)
    assert stat.retain_until is not None
    with pytest.raises(ImmutableObjectError):
        services.store.delete(key)
    out = tmp_path / "from-s3.wacz"
    export_object(services, key, out)
    import hashlib

    assert hashlib.sha256(out.read_bytes()).hexdigest() == cap.package_sha256
