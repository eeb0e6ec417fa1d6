"""The real thing: ``evidence capture`` seals a page of the fixture site with the production
pipeline, and ``evidence verify`` -- given only the exported trust bundle -- accepts the
package, its evidence certificate and its manifest time-stamp; one changed byte is caught."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fixtures.site import FixtureSite
from tests.verify.conftest import flip, member, rewrite

pytestmark = pytest.mark.chromium


def test_capture_then_verify(
    service_env: Callable[..., dict[str, str]], fixture_site: FixtureSite, tmp_path: Path
) -> None:
    env = service_env()
    package = tmp_path / "out" / "package.wacz"
    certificate = tmp_path / "out" / "certificate.pdf"
    proc = run_cli(
        [
            "capture",
            fixture_site.url("/listing"),
            "-o",
            str(package),
            "--certificate",
            str(certificate),
            "--json",
        ],
        env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    bundle = tmp_path / "bundle.pem"
    assert run_cli(["trust", "export", "-o", str(bundle)], env).returncode == 0

    report_path = tmp_path / "report.json"
    proc = run_cli(
        [
            "verify",
            str(package),
            "--trust",
            str(bundle),
            "--report",
            str(report_path),
            "--lang",
            "en",
        ],
        env,
    )
    report = json.loads(report_path.read_text())
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.rstrip().split("\n")[-1] == "TOTAL-PASSED"
    with zipfile.ZipFile(package) as zf:
        names = set(zf.namelist())
    assert {
        "files/manifest.json",
        "files/manifest.tsr",
        "files/log-entry.json",
        "files/certificate.pdf",
    } <= names
    for check in (
        "package.signature",
        "package.timestamp",
        "package.resources",
        "warc.records",
        "warc.resources",
        "manifest.content",
        "manifest.timestamp",
        "certificate.signature",
        "certificate.content",
    ):
        assert statuses[check] == "PASSED", (check, report)
    assert report["facts"]["capture"]["final_url"] == fixture_site.url("/listing")
    assert report["facts"]["trusted_capture_time"] <= report["facts"]["package_time_stamped"]

    proc = run_cli(["verify", str(certificate), "--trust", str(bundle), "--lang", "en"], env)
    assert proc.returncode == 0, proc.stdout
    assert "PAdES level B-LT" in proc.stdout  # B-LT or B-LTA

    bad = rewrite(
        package,
        tmp_path / "bad.wacz",
        {"files/screenshot.png": flip(member(package, "files/screenshot.png"), 1000)},
    )
    proc = run_cli(["verify", str(bad), "--trust", str(bundle)], env)
    assert proc.returncode == 1
    assert proc.stdout.rstrip().split("\n")[-1] == "TOTAL-FAILED HASH_FAILURE"
