"""Each failure is a specific CaptureError; an HTTP error page is evidence, not a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from capture import (
    BlockedAddressError,
    CaptureError,
    ConnectionRefusedCaptureError,
    DnsError,
    InvalidUrlError,
    NetworkError,
    TlsError,
    UnsupportedSchemeError,
)
from tests.capture.conftest import EngineRunner, capture_and_read
from tests.fixtures.site import METADATA_URL, FixtureSite

pytestmark = pytest.mark.chromium


@pytest.mark.parametrize(
    ("url", "error", "code"),
    [
        ("http://exa mple.com/", InvalidUrlError, "invalid_url"),
        ("ftp://shop.example.com/item", UnsupportedSchemeError, "unsupported_scheme"),
        ("http://no-such-shop.invalid/item/1", DnsError, "dns_failure"),
    ],
)
def test_refused_before_loading(
    engine: EngineRunner, tmp_path: Path, url: str, error: type[CaptureError], code: str
) -> None:
    with pytest.raises(error) as info:
        engine.capture(url, tmp_path / "out")
    assert info.value.code == code
    assert not (tmp_path / "out").exists()


def test_connection_refused(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    with pytest.raises(ConnectionRefusedCaptureError) as info:
        engine.capture(fixture_site.closed_url, tmp_path)
    assert "ERR_CONNECTION_REFUSED" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_untrusted_certificate(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    with pytest.raises(TlsError) as info:
        engine.capture(fixture_site.untrusted_https_url + "/listing", tmp_path)
    assert "ERR_CERT_AUTHORITY_INVALID" in str(info.value)
    assert info.value.code == "tls_error"
    assert list(tmp_path.iterdir()) == []


def test_other_chromium_errors_are_named(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    """Port 6000 (X11) is on Chromium's list of unsafe ports."""
    with pytest.raises(NetworkError) as info:
        engine.capture("http://127.0.0.1:6000/", tmp_path)
    assert "ERR_UNSAFE_PORT" in str(info.value)


def test_download_is_not_a_page(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    with pytest.raises(NetworkError) as info:
        engine.capture(fixture_site.url("/download"), tmp_path)
    assert "download" in str(info.value)


def test_404_page_is_captured(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    cap = capture_and_read(engine, fixture_site.url("/no-such-item"), tmp_path)
    assert cap.result.http_status == 404
    assert cap.result.outcome == "complete"
    assert cap.response("/no-such-item").first_line == "HTTP/1.1 404 Not Found"
    assert "页面不存在" in cap.result.title


def test_metadata_subresource_is_blocked_even_with_allow_private(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    cap = capture_and_read(engine, fixture_site.url("/metadata-image"), tmp_path)
    blocked = cap.result.provenance["blocked_requests"]
    assert blocked == [
        {"url": METADATA_URL, "address": "169.254.169.254", "reason": "cloud metadata"}
    ]
    assert not [r for r in cap.records if "169.254.169.254" in r.uri]
    assert cap.response("/static/product.png")
    assert cap.result.outcome == "complete"


def test_redirect_to_internal_address_is_refused(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    with pytest.raises(BlockedAddressError) as info:
        engine.capture(fixture_site.url("/redirect-metadata"), tmp_path)
    assert "169.254.169.254" in str(info.value)
    assert list(tmp_path.iterdir()) == []
