"""``POST /api/verify`` and the public page ``/verify``: no login, the same engine, the
service's own trust bundle by default (and the report says so)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import expect, sync_playwright

from evidence_service.services import Services
from evidence_service.web.app import create_app
from tests.fixtures.http_tsa import free_port
from tests.service.conftest import make_settings
from tests.verify.conftest import flip, member, rewrite
from tests.verify.sealing import Sealed
from tests.verify.test_report import CHROMIUM_ARGS


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = Services(make_settings(tmp_path_factory.mktemp("verify-http") / "data"))
    services.migrate()
    yield services
    services.close()


@pytest.fixture(scope="module")
def client(services: Services) -> TestClient:
    return TestClient(create_app(services=services))


def _files(
    sealed: Sealed, bundle: Path | None = None, **extra: bytes
) -> dict[str, tuple[str, bytes]]:
    files = {"file": ("package.wacz", sealed.path.read_bytes())}
    if bundle is not None:
        files["trust"] = ("bundle.pem", bundle.read_bytes())
    for name, data in extra.items():
        files[name] = (name, data)
    return files


def test_api_verify_json(client: TestClient, sealed: Sealed, bundle: Path) -> None:
    resp = client.post(
        "/api/verify", files=_files(sealed, bundle, proofs=sealed.proofs_path.read_bytes())
    )
    assert resp.status_code == 200
    data = resp.json()
    assert data["indication"] == "TOTAL-PASSED"
    assert data["trust"]["source"] == "given"
    assert {c["id"]: c["status"] for c in data["checks"]}["log.inclusion"] == "PASSED"
    schema = client.get("/api/verify/schema").json()
    assert schema["properties"]["schema"]["const"] == "evidence-verification-report"


def test_api_verify_defaults_to_the_service_trust_bundle(
    client: TestClient, sealed: Sealed, services: Services
) -> None:
    data = client.post("/api/verify", files=_files(sealed)).json()
    # the package was sealed by another PKI than this service's
    assert (data["indication"], data["sub_indication"]) == (
        "INDETERMINATE",
        "NO_CERTIFICATE_CHAIN_FOUND",
    )
    assert data["trust"]["source"] == "service"
    assert services.pki.root.subject.rfc4514_string() in [
        a["subject"] for a in data["trust"]["anchors"]
    ]


def test_api_verify_tampered_and_other_formats(
    client: TestClient, sealed: Sealed, bundle: Path, tmp_path: Path
) -> None:
    bad = rewrite(
        sealed.path,
        tmp_path / "bad.wacz",
        {"files/screenshot.png": flip(member(sealed.path, "files/screenshot.png"), 3)},
    )
    files = {"file": ("bad.wacz", bad.read_bytes()), "trust": ("b.pem", bundle.read_bytes())}
    data = client.post("/api/verify", files=files).json()
    assert (data["indication"], data["sub_indication"]) == ("TOTAL-FAILED", "HASH_FAILURE")
    html = client.post("/api/verify?format=html&lang=en", files=files)
    assert html.headers["content-type"].startswith("text/html")
    assert 'data-indication="TOTAL-FAILED"' in html.text
    pdf = client.post("/api/verify?format=pdf", files=files)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert "attachment" in pdf.headers["content-disposition"]


def test_api_verify_bad_requests(client: TestClient) -> None:
    assert client.post("/api/verify", data={"x": "y"}).status_code in (415, 422)
    resp = client.post("/api/verify", files={"trust": ("b.pem", b"x")})
    assert resp.status_code == 422 and resp.json()["detail"]["code"] == "file_required"
    junk = client.post("/api/verify", files={"file": ("junk.bin", b"\x00junk" * 100)}).json()
    assert (junk["indication"], junk["sub_indication"]) == ("TOTAL-FAILED", "FORMAT_FAILURE")


def test_public_page_without_login(client: TestClient, sealed: Sealed, bundle: Path) -> None:
    page = client.get("/verify", headers={"accept-language": "en"})
    assert page.status_code == 200 and "Verify evidence" in page.text
    assert 'name="file"' in page.text and 'name="trust"' in page.text
    assert client.get("/verify?lang=zh").text.count("核验证据文件") >= 1
    resp = client.post("/verify", files=_files(sealed, bundle))
    assert resp.status_code == 200
    assert 'data-indication="TOTAL-PASSED"' in resp.text
    assert "data:application/json;base64," in resp.text  # the JSON report, downloadable


@pytest.fixture
def live(services: Services) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services=services), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.mark.chromium
def test_upload_page_in_chromium(live: str, sealed: Sealed, bundle: Path, tmp_path: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_context(locale="zh-CN").new_page()
        page.goto(live + "/verify")
        expect(page.locator("h1")).to_have_text("核验证据文件")
        # remember whether the progress box was shown (the page is replaced by the report)
        page.evaluate(
            """() => new MutationObserver(() => {
                 if (!document.getElementById('verify-progress')?.hidden)
                   sessionStorage.setItem('progressShown', '1');
               }).observe(document.getElementById('verify-progress'), {attributes: true})"""
        )
        page.get_by_label("要核验的文件").set_input_files(str(sealed.path))
        page.get_by_label("信任证书包（可选）").set_input_files(str(bundle))
        page.get_by_role("button", name="开始核验").click()
        banner = page.locator("#vr-indication")
        expect(banner).to_contain_text("TOTAL-PASSED", timeout=30_000)
        expect(banner).to_contain_text("验证通过")
        assert page.evaluate("sessionStorage.getItem('progressShown')") == "1"
        expect(page.locator('tr[data-check="package.signature"]')).to_have_attribute(
            "data-status", "PASSED"
        )
        page.get_by_role("button", name="English", exact=True).click()
        expect(page.locator('tr[data-check="package.signature"] td div[lang="en"]')).to_be_visible()
        with page.expect_download() as download:
            page.locator("#verify-json").click()
        saved = tmp_path / "report.json"
        download.value.save_as(saved)
        assert '"indication": "TOTAL-PASSED"' in saved.read_text()
        browser.close()
