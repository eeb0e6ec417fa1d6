"""What the WARC of a real Chromium capture contains, checked record by record."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.capture.conftest import Captured, EngineRunner, capture_and_read
from tests.fixtures.site import LATIN1_BODY, LAZY_PNG, PRICE_TEXT, FixtureSite
from tests.fixtures.venv import VENV_BIN

pytestmark = pytest.mark.chromium

MICROS_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture(scope="module")
def listing(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path_factory: pytest.TempPathFactory
) -> Captured:
    return capture_and_read(engine, fixture_site.url("/listing"), tmp_path_factory.mktemp("l"))


def _tool(name: str) -> str:
    path = VENV_BIN / name
    assert path.exists(), f"{path} is missing: install the test extra"
    return str(path)


def test_warcio_check_and_index_accept_the_warc(listing: Captured) -> None:
    warc = listing.result.warc_path
    check = subprocess.run(
        [_tool("warcio"), "check", "-v", str(warc)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "digest pass" in check.stdout
    assert "failed" not in check.stdout
    index = subprocess.run(
        [_tool("warcio"), "index", str(warc)], capture_output=True, text=True, check=False
    )
    assert index.returncode == 0, index.stderr
    lines = [json.loads(line) for line in index.stdout.splitlines()]
    assert lines[0]["warc-type"] == "warcinfo"
    types = {(d["warc-type"], d.get("warc-target-uri")) for d in lines}
    assert ("response", listing.result.final_url) in types
    assert ("request", listing.result.final_url) in types


def test_cdxj_indexer_indexes_pages_for_replay(listing: Captured) -> None:
    """pywb and the WACZ packager index with cdxj-indexer: the page must come out as 200."""
    out = subprocess.run(
        [_tool("cdxj-indexer"), str(listing.result.warc_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    entries = [json.loads(line.split(" ", 2)[2]) for line in out.stdout.splitlines()]
    page = [e for e in entries if e["url"] == listing.result.final_url]
    assert page and page[0]["status"] == "200"
    assert page[0]["digest"].startswith("sha256:")


def test_warcinfo_explains_decoded_bodies(listing: Captured) -> None:
    info = listing.records[0]
    assert info.type == "warcinfo"
    assert info.headers["WARC-Date"] and MICROS_DATE.match(info.headers["WARC-Date"])
    text = info.payload.decode()
    assert "X-Orig-Content-Encoding" in text
    assert "HeadlessChrome" in text
    assert "software: evidence-service capture" in text


def test_every_response_has_its_request(listing: Captured) -> None:
    responses = [r for r in listing.records if r.type == "response"]
    requests = [r for r in listing.records if r.type == "request"]
    assert len(responses) == len(requests) == listing.result.resource_count >= 5
    by_id = {r.headers["WARC-Record-ID"]: r for r in responses}
    for req in requests:
        resp = by_id[req.headers["WARC-Concurrent-To"]]
        assert resp.uri == req.uri
    for rec in responses + requests:
        assert MICROS_DATE.match(rec.headers["WARC-Date"]), rec.headers["WARC-Date"]
        assert rec.headers["WARC-IP-Address"] == "127.0.0.1"
        assert rec.headers["WARC-Block-Digest"].startswith("sha256:")
        assert rec.headers["WARC-Payload-Digest"].startswith("sha256:")


def test_gzip_response_is_stored_decoded_and_says_so(listing: Captured) -> None:
    page = listing.response("/listing")
    assert page.first_line == "HTTP/1.1 200 OK"
    assert page.header("Content-Encoding") is None
    assert page.header("X-Orig-Content-Encoding") == "gzip"
    assert page.header("Content-Length") == str(len(page.payload))
    assert page.header("X-Orig-Content-Length") != str(len(page.payload))
    assert "无线蓝牙耳机" in page.payload.decode("utf-8")
    css = listing.response("/static/style.css")
    assert css.header("X-Orig-Content-Encoding") == "gzip"
    assert css.payload.startswith(b"\nbody {")


def test_chunked_gzip_json_price_is_in_the_warc(listing: Captured) -> None:
    price = listing.response("/api/price.json")
    assert price.header("X-Orig-Transfer-Encoding") == "chunked"
    assert price.header("Transfer-Encoding") is None
    assert price.header("Content-Encoding") is None
    assert json.loads(price.payload)["price"] == PRICE_TEXT


def test_wire_headers_kept_in_order_with_set_cookie(listing: Captured) -> None:
    """Set-Cookie and odd whitespace come from Chromium's raw header text, in wire order."""
    page = listing.response("/listing")
    assert page.headers_named("Set-Cookie") == [
        "visitor=v123; Path=/",
        "ab_test=B; Path=/; HttpOnly",
    ]
    assert b"\r\nX-Fixture-Spacing: two  spaces  inside\r\n" in page.http_head_raw
    names = [k for k, _ in page.http_headers]
    assert names[:4] == ["Server", "Content-Type", "Set-Cookie", "Set-Cookie"]


def test_lazy_image_was_loaded_by_scrolling(listing: Captured) -> None:
    lazy = listing.response("/static/lazy.png")
    assert lazy.payload == LAZY_PNG


def test_resource_records_use_urn_uris(listing: Captured) -> None:
    result = listing.result
    resources = {r.uri: r for r in listing.records if r.type == "resource"}
    assert set(resources) == set(result.resource_uris.values())
    assert result.resource_uris["screenshot"].startswith("urn:screenshot:")
    assert result.resource_uris["pdf"].startswith("urn:pdf:")
    assert result.resource_uris["provenance"].startswith("urn:provenance:")
    shot = resources[result.resource_uris["screenshot"]]
    assert shot.headers["Content-Type"] == "image/png"
    assert shot.payload == result.screenshot_path.read_bytes()
    pdf = resources[result.resource_uris["pdf"]]
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.payload == result.pdf_path.read_bytes()
    prov = resources[result.resource_uris["provenance"]]
    assert prov.payload == result.provenance_json_path.read_bytes()
    # no record other than the HTTP exchange itself claims the page's URL
    page_records = [r for r in listing.records if r.uri == result.final_url]
    assert {r.type for r in page_records} == {"request", "response"}


def test_redirect_is_its_own_exchange(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    cap = capture_and_read(engine, fixture_site.url("/old-listing"), tmp_path)
    moved = cap.response("/old-listing")
    assert moved.first_line == "HTTP/1.1 301 Moved Permanently"
    assert moved.header("Location") == "/listing"
    assert moved.header("Content-Length") == "0"
    assert moved.header("X-Orig-Content-Length") == "6"
    assert moved.headers.get("WARC-Truncated") == "unspecified"
    assert [r for r in cap.records if r.type == "request" and r.uri.endswith("/old-listing")]
    assert cap.response("/listing").first_line == "HTTP/1.1 200 OK"
    assert cap.result.final_url == fixture_site.url("/listing")
    chain = cap.result.provenance["redirect_chain"]
    assert [(h["status"], h["url"]) for h in chain] == [
        (301, fixture_site.url("/old-listing")),
        (200, fixture_site.url("/listing")),
    ]
    assert chain[0]["location"] == fixture_site.url("/listing")


def test_latin1_body_bytes_are_exact(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    cap = capture_and_read(engine, fixture_site.url("/latin1"), tmp_path)
    page = cap.response("/latin1")
    assert page.payload == LATIN1_BODY
    assert cap.result.title == "Café"


def test_post_body_is_in_the_request_record(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    cap = capture_and_read(engine, fixture_site.url("/form"), tmp_path)
    posts = [r for r in cap.records if r.type == "request" and r.uri.endswith("/api/submit")]
    assert len(posts) == 1
    post = posts[0]
    assert post.first_line == "POST /api/submit HTTP/1.1"
    body = '{"query":"蓝牙耳机","page":1}'.encode()
    assert post.payload == body
    assert post.header("Content-Length") == str(len(body))
    assert json.loads(cap.response("/api/submit").payload) == {
        "received_bytes": len(body),
        "ok": True,
    }
    out = subprocess.run(
        [_tool("cdxj-indexer"), "--post-append", str(cap.result.warc_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "__wb_method=post" in out.stdout


def test_cross_site_iframe_requests_are_recorded(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    """--disable-site-isolation-trials: the page-level CDP session sees the iframe's traffic."""
    cap = capture_and_read(engine, fixture_site.url("/framed"), tmp_path)
    inner = cap.response(f"{fixture_site.https_url}/api/price.json")
    assert json.loads(inner.payload)["price"] == PRICE_TEXT
    assert cap.response(f"{fixture_site.https_url}/listing").first_line == "HTTP/1.1 200 OK"
