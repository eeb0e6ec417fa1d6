"""The engine itself: sync convenience, trust store, concurrency, the in-capture SSRF check."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from capture import (
    BrowserError,
    CaptureEngine,
    CaptureLimits,
    CaptureOptions,
    CaptureResult,
    TlsError,
    capture_url,
)
from capture.recorder import NetworkRecorder
from tests.capture.conftest import EngineRunner, read_warc
from tests.fixtures.site import FixtureSite


@pytest.mark.chromium
def test_capture_url_trusts_only_the_cas_it_is_given(
    fixture_site: FixtureSite, tmp_path: Path
) -> None:
    """Without extra_ca_pem the fixture's HTTPS host is untrusted: the CA is not trusted by
    accident (e.g. from the service account's own NSS database); with it, it loads."""
    options = CaptureOptions(allow_private=True)
    with pytest.raises(TlsError):
        capture_url(fixture_site.https("/latin1"), options, tmp_path / "a")
    result = capture_url(
        fixture_site.https("/latin1"), options, tmp_path / "b", extra_ca_pem=fixture_site.ca_pem
    )
    assert result.http_status == 200
    assert result.title == "Café"
    assert result.provenance["environment"]["extra_trusted_cas"]


def test_invalid_extra_ca_is_refused_at_start() -> None:
    engine = CaptureEngine(extra_ca_pem=b"-----BEGIN CERTIFICATE-----\nnot base64\n")
    with pytest.raises(BrowserError) as info:
        asyncio.run(engine.start())
    assert "PEM" in str(info.value)
    assert engine.browser_version == ""


@pytest.mark.chromium
def test_concurrent_captures_on_one_engine_stay_apart(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    async def both() -> tuple[Any, ...]:
        opts = CaptureOptions(allow_private=True)
        return tuple(
            await asyncio.gather(
                engine.engine.capture(fixture_site.url("/listing"), opts, tmp_path / "a"),
                engine.engine.capture(fixture_site.url("/form"), opts, tmp_path / "b"),
            )
        )

    listing, form = engine.call(both())
    assert isinstance(listing, CaptureResult) and isinstance(form, CaptureResult)
    uris_a = {r.uri for r in read_warc(listing.warc_path) if r.type == "response"}
    uris_b = {r.uri for r in read_warc(form.warc_path) if r.type == "response"}
    assert fixture_site.url("/api/price.json") in uris_a
    assert fixture_site.url("/api/submit") in uris_b
    assert not any("/api/submit" in u for u in uris_a)
    assert not any("/api/price.json" in u for u in uris_b)


def test_subresource_ssrf_check_resolves_host_names() -> None:
    """The per-request guard resolves names (not only IP literals) when private is refused."""

    async def check() -> list[tuple[str | None, str | None]]:
        async def send(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
            raise AssertionError("no browser call expected")

        guard = NetworkRecorder(
            send, allow_private=False, limits=CaptureLimits(), main_frame_id="main"
        )
        open_guard = NetworkRecorder(
            send, allow_private=True, limits=CaptureLimits(), main_frame_id="main"
        )
        return [
            await guard._ssrf_check("localhost", 80, "http"),
            await guard._ssrf_check("10.1.2.3", None, "https"),
            await open_guard._ssrf_check("localhost", 80, "http"),
            await open_guard._ssrf_check("169.254.169.254", 80, "http"),
        ]

    named, *rest = asyncio.run(check())
    assert named[0] == "loopback" and named[1] in ("127.0.0.1", "::1")
    assert rest == [
        ("private", "10.1.2.3"),
        (None, None),
        ("cloud metadata", "169.254.169.254"),
    ]
