"""Captures with an officer's session cookie: the page unlocks, the value is never kept."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from capture import Cookie
from tests.capture.conftest import EngineRunner, capture_and_read, warc_plaintext
from tests.fixtures.site import FixtureSite

pytestmark = pytest.mark.chromium


def test_order_page_with_cookie_and_value_kept_nowhere(
    engine: EngineRunner,
    fixture_site: FixtureSite,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = fixture_site.session_cookie
    cookie = Cookie(name="session", value=secret, domain="127.0.0.1", http_only=True)
    caplog.set_level(logging.DEBUG)
    cap = capture_and_read(engine, fixture_site.url("/order/123"), tmp_path, cookies=[cookie])
    result = cap.result

    assert result.http_status == 200
    assert result.title == "订单详情 123"
    assert result.final_url == fixture_site.url("/order/123")
    auth = result.provenance["authentication"]
    assert auth["authenticated"] is True
    assert auth["cookie_names"] == ["session"]

    request = next(r for r in cap.records if r.type == "request" and r.uri.endswith("/order/123"))
    assert request.header("Cookie") == "session=REDACTED"
    info = cap.records[0].payload.decode()
    assert "cookie-redaction" in info and "session" in info

    secret_bytes = secret.encode()
    assert secret_bytes not in warc_plaintext(result.warc_path)
    for path in (result.provenance_json_path, result.provenance_html_path):
        assert secret_bytes not in path.read_bytes()
    assert secret not in caplog.text
    assert secret not in repr(result)


def test_order_page_without_cookie_redirects_to_login(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    cap = capture_and_read(engine, fixture_site.url("/order/123"), tmp_path)
    result = cap.result
    assert result.final_url == fixture_site.url("/login")
    assert result.title == "登录"
    assert result.provenance["authentication"]["authenticated"] is False
    assert [h["status"] for h in result.provenance["redirect_chain"]] == [302, 200]
    assert cap.response("/order/123").first_line == "HTTP/1.1 302 Found"


def test_cookies_are_per_capture_only(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    """A fresh context per capture: the previous capture's session is gone."""
    cookie = Cookie(name="session", value=fixture_site.session_cookie, domain="127.0.0.1")
    first = engine.capture(fixture_site.url("/order/123"), tmp_path / "a", cookies=[cookie])
    second = engine.capture(fixture_site.url("/order/123"), tmp_path / "b")
    assert first.title == "订单详情 123"
    assert second.final_url.endswith("/login")
