"""The session video and device emulation end to end: over the REST API (worker, store,
download) and from the command line (`evidence capture --video --device`), then checked by
`evidence verify` and by tools we did not write (`wacz validate`, `warcio check`); a video
changed inside the package fails verification, naming the file."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence_service.services import Services
from tests.conftest import run_cli
from tests.fixtures.site import FixtureSite
from tests.fixtures.venv import VENV_BIN
from tests.service.conftest import client_for, run_worker
from tests.verify.conftest import flip, rewrite

pytestmark = pytest.mark.chromium


def test_api_capture_with_video_and_a_phone(
    services_factory: Callable[..., Services],
    admin_token: Callable[[Services], str],
    fixture_site: FixtureSite,
) -> None:
    services = services_factory()
    client = client_for(services)
    headers = {"Authorization": f"Bearer {admin_token(services)}"}

    bad = client.post(
        "/api/captures",
        json={"url": fixture_site.url("/listing"), "device": "Nokia 3310"},
        headers=headers,
    )
    assert bad.status_code == 422, bad.text
    detail = bad.json()["detail"]
    assert detail["code"] == "unknown_device"
    assert "'Nokia 3310'" in detail["message"] and "iPhone 13" in detail["message"]

    reply = client.post(
        "/api/captures",
        json={"url": fixture_site.url("/listing"), "video": True, "device": "pixel 7"},
        headers=headers,
    )
    assert reply.status_code == 202, reply.text
    assert reply.json()["device"] == "Pixel 7" and reply.json()["video"] is True
    assert run_worker(services) == 1
    record = client.get(f"/api/captures/{reply.json()['id']}", headers=headers).json()
    assert record["status"] == "stored", record
    assert record["title"].startswith("手机版")
    assert "Android" in record["summary"]["user_agent"]

    video = client.get(record["files"]["video"]["url"], headers=headers)
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/webm"
    assert video.headers["content-disposition"].startswith("inline")
    assert hashlib.sha256(video.content).hexdigest() == record["files"]["video"]["sha256"]
    assert video.content[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a Matroska/WebM file
    assert record["hashes"]["files/video.webm"] == "sha256:" + record["files"]["video"]["sha256"]

    package = client.get(record["package"]["url"], headers=headers).content
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        assert zf.read("files/video.webm") == video.content
        manifest = json.loads(zf.read("files/manifest.json"))
        provenance = json.loads(zf.read("files/provenance.json"))
    assert manifest["files"]["files/video.webm"] == record["hashes"]["files/video.webm"]
    assert manifest["warc_resources"]["video"].startswith("urn:video:")
    assert provenance["browser"]["emulated_device"]["name"] == "Pixel 7"

    # Without the options: no video, desktop browser (the setting's default).
    plain = client.post(
        "/api/captures", json={"url": fixture_site.url("/listing")}, headers=headers
    )
    assert run_worker(services) == 1
    plain_record = client.get(f"/api/captures/{plain.json()['id']}", headers=headers).json()
    assert plain_record["status"] == "stored"
    assert "video" not in plain_record["files"] and plain_record["device"] is None
    missing = client.get(f"/api/captures/{plain_record['id']}/files/video", headers=headers)
    assert missing.status_code == 409 and missing.json()["detail"]["code"] == "not_sealed"


def _tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / name), *args], capture_output=True, text=True, check=False, timeout=300
    )


def test_cli_video_of_a_phone_capture_verifies_and_tampering_is_named(
    service_env: Callable[..., dict[str, str]], fixture_site: FixtureSite, tmp_path: Path
) -> None:
    env = service_env()
    out = tmp_path / "phone.wacz"
    proc = run_cli(
        [
            "capture",
            fixture_site.url("/listing"),
            "--video",
            "--device",
            "iPhone 13",
            "-o",
            str(out),
            "--certificate",
            str(tmp_path / "certificate.pdf"),
            "--json",
        ],
        env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads(proc.stdout)
    assert record["device"] == "iPhone 13" and "video" in record["files"]
    assert record["title"].startswith("手机版")  # the shop's phone page
    # The evidence certificate states the device and lists the video's hash.
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "certificate.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "emulating iPhone 13" in text and "files/video.webm" in text

    with zipfile.ZipFile(out) as zf:
        video = zf.read("files/video.webm")
        warc = zf.read("archive/data.warc.gz")
    assert hashlib.sha256(video).hexdigest() == record["files"]["video"]["sha256"]

    bundle = tmp_path / "bundle.pem"
    assert run_cli(["trust", "export", "-o", str(bundle)], env).returncode == 0
    verified = run_cli(["verify", str(out), "--trust", str(bundle), "--json", "--lang", "en"], env)
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr
    report = json.loads(verified.stdout)
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["manifest.content"]["status"] == "PASSED"
    pairs = {p["kind"]: p for p in checks["warc.resources"]["facts"]["pairs"]}
    assert pairs["video"]["file"] == "files/video.webm"
    assert pairs["video"]["record_sha256"] == pairs["video"]["file_sha256"]

    # Tools we did not write accept the package and its WARC with the video record.
    validate = _tool("wacz", "validate", "-f", str(out))
    assert validate.returncode == 0, validate.stdout + validate.stderr
    (tmp_path / "data.warc.gz").write_bytes(warc)
    warc_check = _tool("warcio", "check", "-v", str(tmp_path / "data.warc.gz"))
    assert warc_check.returncode == 0, warc_check.stdout + warc_check.stderr
    assert "urn:video:" in _tool("warcio", "index", str(tmp_path / "data.warc.gz")).stdout

    # One bit of the video changed (the ZIP itself well-formed): TOTAL-FAILED, and the
    # checks say which file.
    tampered = rewrite(out, tmp_path / "tampered.wacz", {"files/video.webm": flip(video, 4000)})
    failed = run_cli(
        ["verify", str(tampered), "--trust", str(bundle), "--json", "--lang", "en"], env
    )
    assert failed.returncode == 1, failed.stdout[-3000:]
    report = json.loads(failed.stdout)
    assert report["indication"] == "TOTAL-FAILED" and report["sub_indication"] == "HASH_FAILURE"
    checks = {c["id"]: c for c in report["checks"]}
    for check_id in ("package.resources", "manifest.content", "warc.resources"):
        assert checks[check_id]["status"] == "FAILED", check_id
        assert "files/video.webm" in json.dumps(checks[check_id], ensure_ascii=False), check_id


def test_cli_unknown_device_and_device_list(
    service_env: Callable[..., dict[str, str]], fixture_site: FixtureSite, tmp_path: Path
) -> None:
    env = service_env()
    out = tmp_path / "never.wacz"
    bad = run_cli(
        ["capture", fixture_site.url("/listing"), "--device", "iPhone 1", "-o", str(out)], env
    )
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "unknown_device" in bad.stderr and "'iPhone 1'" in bad.stderr
    assert "evidence devices" in bad.stderr and not out.exists()
    listed = run_cli(["devices"], env)
    assert listed.returncode == 0
    line = next(x for x in listed.stdout.splitlines() if x.startswith("iPhone 13 "))
    assert "390x664 @3x" in line and "mobile" in line
