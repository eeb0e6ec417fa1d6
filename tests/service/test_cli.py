"""`evidence capture`, `evidence trust export`: the command line without a server."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fixtures.openssl import ts_verify
from tests.fixtures.site import FixtureSite
from tests.fixtures.venv import VENV_BIN

pytestmark = pytest.mark.chromium


def test_cli_capture_writes_sealed_package_and_json(
    service_env: Callable[..., dict[str, str]], fixture_site: FixtureSite, tmp_path: Path
) -> None:
    env = service_env()
    out = tmp_path / "out" / "package.wacz"
    proc = run_cli(["capture", fixture_site.url("/listing"), "-o", str(out), "--json"], env)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["status"] == "stored" and record["outcome"] == "complete"
    assert hashlib.sha256(out.read_bytes()).hexdigest() == record["package"]["sha256"]
    with zipfile.ZipFile(out) as zf:
        digest = json.loads(zf.read("datapackage-digest.json"))
        assert digest["signedData"]["timeSignature"]
    assert not list(out.parent.glob("*.part"))

    # The same data folder is what the server sees: `status` finds the capture.
    status = run_cli(["status", record["id"], "--json"], env)
    assert status.returncode == 0 and json.loads(status.stdout)["id"] == record["id"]

    bundle = tmp_path / "bundle.pem"
    exported = run_cli(["trust", "export", "-o", str(bundle)], env)
    assert exported.returncode == 0, exported.stderr
    assert bundle.read_bytes().count(b"BEGIN CERTIFICATE") >= 4

    # openssl verifies the package's time-stamp with nothing but the trust bundle.
    import base64

    signed = digest["signedData"]
    (tmp_path / "sig.txt").write_bytes(signed["signature"].encode())
    (tmp_path / "resp.tsr").write_bytes(base64.b64decode(signed["timeSignature"]))
    check = ts_verify(tmp_path / "sig.txt", tmp_path / "resp.tsr", bundle, bundle)
    assert check.returncode == 0 and "Verification: OK" in check.stdout, check.stdout + check.stderr

    # Tools we did not write accept the real capture: py-wacz, warcio, Harvard LIL's verifier.
    venv_bin = VENV_BIN
    validate = subprocess.run(
        [str(venv_bin / "wacz"), "validate", "-f", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    with zipfile.ZipFile(out) as zf:
        (tmp_path / "data.warc.gz").write_bytes(zf.read("archive/data.warc.gz"))
    warc_check = subprocess.run(
        [str(venv_bin / "warcio"), "check", "-v", str(tmp_path / "data.warc.gz")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert warc_check.returncode == 0, warc_check.stdout + warc_check.stderr
    from certs.pki import fingerprint_sha256, load_pem_certificates
    from tests.fixtures.tools import wacz_signing_verify

    roots = [
        fingerprint_sha256(c)
        for c in load_pem_certificates(bundle.read_bytes())
        if c.issuer == c.subject
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    lil = wacz_signing_verify(out, cert_roots=roots, ts_roots=roots, cwd=empty)
    assert lil.ok, lil.error


def test_cli_reports_failures_with_exit_codes(
    service_env: Callable[..., dict[str, str]], fixture_site: FixtureSite, tmp_path: Path
) -> None:
    env = service_env()
    out = tmp_path / "never.wacz"
    refused = run_cli(["capture", fixture_site.closed_url, "-o", str(out)], env)
    assert refused.returncode == 1
    assert "connection_refused" in refused.stdout
    assert not out.exists()

    bad = run_cli(["capture", "gopher://example.com/", "-o", str(out)], env)
    assert bad.returncode == 2 and "unsupported_scheme" in bad.stderr
    assert not out.exists()


def test_cli_capture_404_is_sealed_with_its_status(
    service_env: Callable[..., dict[str, str]], fixture_site: FixtureSite, tmp_path: Path
) -> None:
    env = service_env()
    out = tmp_path / "404.wacz"
    proc = run_cli(["capture", fixture_site.url("/no-such-product"), "-o", str(out), "--json"], env)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["status"] == "stored" and record["http_status"] == 404
    assert out.exists()
