"""Fixtures for WACZ packaging: a small capture (a WARC written here with warcio, as the
capture package writes them: gzip per record, request/response pairs, urn: resource records)
and a real signer (our PKI and TSA)."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from capture.types import CaptureResult
from certs.pki import Pki
from signing.timestamp import LocalTimestamper
from signing.tsa import TimeStampAuthority
from signing.wacz_sign import PackageSigner
from tests.fixtures.venv import venv_command

HOST = "evidence.example.org"
PAGE_URL = "https://shop.example.com/item/42?ref=ad"
PAGE_HTML = (
    "<!doctype html><html><head><meta charset='utf-8'><title>特价商品 Item 42</title></head>"
    "<body><h1>Item 42</h1><p>原价 ¥199 现价 ¥99</p><img src='/img/42.png'></body></html>"
).encode()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n% fake pdf for packaging tests\n%%EOF\n"
REPO = Path(__file__).resolve().parents[2]


def _warc_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_capture(
    directory: Path, *, extra_payload: bytes | None = None, title: str = "特价商品 Item 42"
) -> CaptureResult:
    """A finished capture in ``directory``: WARC + screenshot + PDF + provenance files."""
    directory.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC) - timedelta(seconds=20)
    screenshot = directory / "screenshot.png"
    screenshot.write_bytes(PNG)
    pdf = directory / "page.pdf"
    pdf.write_bytes(PDF)
    provenance = {"requested_url": PAGE_URL, "officer": "测试 officer", "started": str(started)}
    prov_json = directory / "provenance.json"
    prov_json.write_text(json.dumps(provenance, ensure_ascii=False), encoding="utf-8")
    prov_html = directory / "provenance.html"
    prov_html.write_text("<html><body>provenance 证据</body></html>", encoding="utf-8")
    warc = directory / "capture.warc.gz"
    with warc.open("wb") as fh:
        w = WARCWriter(fh, gzip=True, warc_version="1.1")
        w.write_record(w.create_warcinfo_record("capture.warc.gz", {"software": "test"}))

        def exchange(url: str, ctype: str, body: bytes, when: datetime) -> None:
            head = StatusAndHeaders(
                "200 OK",
                [("Content-Type", ctype), ("Content-Length", str(len(body)))],
                protocol="HTTP/1.1",
            )
            resp = w.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=head,
                warc_headers_dict={"WARC-Date": _warc_date(when)},
            )
            w.write_record(resp)
            req_head = StatusAndHeaders(
                "GET " + url.split("shop.example.com", 1)[1] + " HTTP/1.1",
                [("Host", "shop.example.com"), ("User-Agent", "HeadlessChrome")],
                is_http_request=True,
            )
            req = w.create_warc_record(
                url,
                "request",
                payload=io.BytesIO(b""),
                length=0,
                http_headers=req_head,
                warc_headers_dict={
                    "WARC-Date": _warc_date(when),
                    "WARC-Concurrent-To": resp.rec_headers.get_header("WARC-Record-ID"),
                },
            )
            w.write_record(req)

        exchange(PAGE_URL, "text/html; charset=utf-8", PAGE_HTML, started + timedelta(seconds=1))
        exchange(
            "https://shop.example.com/img/42.png",
            "image/png",
            extra_payload if extra_payload is not None else PNG,
            started + timedelta(seconds=2),
        )
        for uri, ctype, path in (
            ("urn:evidence:screenshot", "image/png", screenshot),
            ("urn:evidence:pdf", "application/pdf", pdf),
            ("urn:evidence:provenance", "application/json", prov_json),
        ):
            with path.open("rb") as src:
                w.write_record(
                    w.create_warc_record(
                        uri,
                        "resource",
                        payload=src,
                        length=path.stat().st_size,
                        warc_content_type=ctype,
                        warc_headers_dict={"WARC-Date": _warc_date(started + timedelta(seconds=5))},
                    )
                )
    return CaptureResult(
        outcome="complete",
        requested_url=PAGE_URL,
        final_url=PAGE_URL,
        http_status=200,
        title=title,
        started_at=started,
        ended_at=started + timedelta(seconds=10),
        warc_path=warc,
        screenshot_path=screenshot,
        pdf_path=pdf,
        provenance_json_path=prov_json,
        provenance_html_path=prov_html,
        limits_hit=(),
        not_loaded=(),
        resource_count=2,
        total_bytes=len(PAGE_HTML) + len(PNG),
        browser_version="Chromium 156",
        user_agent="Mozilla/5.0 HeadlessChrome/156",
        provenance=provenance,
        resource_uris={
            "screenshot": "urn:evidence:screenshot",
            "pdf": "urn:evidence:pdf",
            "provenance": "urn:evidence:provenance",
        },
    )


@pytest.fixture
def capture(tmp_path: Path) -> CaptureResult:
    return write_capture(tmp_path / "capture")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.open(
        tmp_path_factory.mktemp("wacz-pki") / "pki",
        b"wacz test passphrase",
        hostname=HOST,
        public_url=f"https://{HOST}",
    )


@pytest.fixture(scope="session")
def signer(pki: Pki) -> PackageSigner:
    return PackageSigner(
        pki.package_signing_credential,
        [LocalTimestamper(TimeStampAuthority(pki.tsa_credential()))],
        domain=HOST,
    )


@pytest.fixture(scope="session")
def root_pem(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("roots") / "root.pem"
    path.write_bytes(pki.root.public_bytes(Encoding.PEM))
    return path


def run_wacz_validate(path: Path) -> subprocess.CompletedProcess[str]:
    """py-wacz's validator (the ``wacz`` command of this venv)."""
    cmd = [str(venv_command("wacz"))]
    return subprocess.run(
        [*cmd, "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


Builder = Callable[..., Path]
