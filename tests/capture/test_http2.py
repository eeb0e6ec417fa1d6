"""HTTP/2: what most shops serve. The capture must record what Chromium received over h2 --
the real protocol named, bodies exact, compressed responses stored decoded with their
original coding kept -- in a WARC that ``warcio check`` accepts.

The server is Hypercorn (an independent HTTP/2 implementation) with ALPN ``h2`` on
``localhost``, using the fixture CA's leaf certificate that the engine's browser trusts.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.capture.conftest import Captured, EngineRunner, capture_and_read
from tests.fixtures.http_tsa import free_port
from tests.fixtures.site import FixtureSite

pytestmark = pytest.mark.chromium

PRICE = {"sku": "H2-001", "price": "¥1,299.00", "title": "二代无线耳机"}
PAGE = (
    "<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>HTTP/2 商品</title>"
    "</head><body><h1>二代无线耳机</h1><p id='price'>…</p><script>"
    "fetch('/price.json').then(r=>r.json()).then(d=>{"
    "document.getElementById('price').textContent=d.price;document.title+=' '+d.sku;});"
    "</script></body></html>"
).encode()
PRICE_JSON = json.dumps(PRICE, ensure_ascii=False).encode()

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    assert scope["http_version"] == "2", f"served over HTTP/{scope['http_version']}"
    if scope["path"] == "/price.json":
        body = gzip.compress(PRICE_JSON)
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-encoding", b"gzip"),
        ]
    elif scope["path"] == "/":
        body, headers = PAGE, [(b"content-type", b"text/html; charset=utf-8")]
    else:
        body, headers = b"not found", [(b"content-type", b"text/plain")]
    status = 404 if body == b"not found" else 200
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def h2_url(fixture_site: FixtureSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    tmp = tmp_path_factory.mktemp("h2")
    (tmp / "cert.pem").write_bytes(fixture_site.https_cert_pem + fixture_site.ca_pem)
    (tmp / "key.pem").write_bytes(fixture_site.https_key_pem)
    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.certfile, config.keyfile = str(tmp / "cert.pem"), str(tmp / "key.pem")
    config.alpn_protocols = ["h2"]  # HTTP/2 only: a fallback to HTTP/1.1 would fail the app
    config.accesslog = config.errorlog = None

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve(_app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or not thread.is_alive():
                pytest.fail("the HTTP/2 test server (hypercorn) did not start", pytrace=False)
            time.sleep(0.05)
    try:
        yield f"https://localhost:{port}/"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


@pytest.fixture(scope="module")
def h2_capture(
    engine: EngineRunner, h2_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Captured:
    return capture_and_read(engine, h2_url, tmp_path_factory.mktemp("h2cap"))


def test_the_page_and_its_fetch_are_recorded_as_http2(h2_capture: Captured, h2_url: str) -> None:
    result = h2_capture.result
    assert result.outcome == "complete", result.limits_hit
    assert result.http_status == 200
    assert result.title == "HTTP/2 商品 H2-001"  # the script ran on the fetched price

    page = h2_capture.response(h2_url)
    assert page.headers.get("WARC-Protocol") == "h2"
    assert page.payload == PAGE
    price = h2_capture.response("/price.json")
    assert price.headers.get("WARC-Protocol") == "h2"
    # h2 has no status line: Chromium's headers go under an HTTP/1.1 one (warcinfo says so).
    assert price.first_line == "HTTP/1.1 200 OK"


def test_compressed_h2_body_is_stored_decoded_with_its_coding_kept(h2_capture: Captured) -> None:
    price = h2_capture.response("/price.json")
    assert price.payload == PRICE_JSON  # decoded, byte for byte
    assert price.header("Content-Encoding") is None  # nothing claims a coding it does not have
    assert price.header("X-Orig-Content-Encoding") == "gzip"
    assert price.header("Content-Length") == str(len(PRICE_JSON))
    requests = [r for r in h2_capture.records if r.type == "request"]
    assert any(r.uri.endswith("/price.json") for r in requests)


def test_provenance_names_the_protocol_and_warcio_accepts_the_warc(
    h2_capture: Captured, h2_url: str, fixture_site: FixtureSite
) -> None:
    prov = h2_capture.result.provenance
    assert prov["main_document"]["protocol"] == "h2"
    netloc = h2_url.removeprefix("https://").rstrip("/")
    chain = prov["hosts"][netloc]["tls"]["certificate_chain"]  # of the h2 connection
    assert chain[0]["pem"].encode().strip() == fixture_site.https_cert_pem.strip()
    warcio = Path(sys.executable).with_name("warcio")
    check = subprocess.run(
        [str(warcio), "check", "-v", str(h2_capture.result.warc_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "digest pass" in check.stdout
