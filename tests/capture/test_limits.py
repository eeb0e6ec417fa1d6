"""Limits: a capture that hits one is sealed as partial, with what was not loaded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from capture import CaptureLimits, CaptureTimeoutError, LimitExceededError
from tests.capture.conftest import EngineRunner, capture_and_read
from tests.fixtures.site import FixtureSite

pytestmark = pytest.mark.chromium

OUTPUTS = {
    "capture.warc.gz",
    "screenshot.png",
    "snapshot.pdf",
    "provenance.json",
    "provenance.html",
}


@pytest.mark.parametrize("chunked", ["0", "1"], ids=["content-length", "chunked"])
def test_byte_limit(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path, chunked: str
) -> None:
    """Refused on the announced length, or (chunked: none announced) once the body is in."""
    cap = capture_and_read(
        engine,
        fixture_site.url(f"/big-page?mb=2&chunked={chunked}"),
        tmp_path,
        limits=CaptureLimits(max_bytes=1_000_000),
    )
    result = cap.result
    big = f"/big?mb=2&chunked={chunked}"
    assert result.outcome == "partial"
    assert result.limits_hit == ("max_bytes",)
    assert fixture_site.url(big) in result.not_loaded
    assert not cap.responses(big)
    assert cap.response("/static/product.png")  # what fitted is there
    assert result.total_bytes <= 1_000_000
    assert result.provenance["outcome"] == "partial"
    assert result.provenance["limits_hit"] == ["max_bytes"]
    assert {p.name for p in tmp_path.iterdir()} == OUTPUTS  # sealed all the same


def test_resource_limit(engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path) -> None:
    cap = capture_and_read(
        engine, fixture_site.url("/many?n=30"), tmp_path, limits=CaptureLimits(max_resources=10)
    )
    result = cap.result
    assert result.outcome == "partial"
    assert result.limits_hit == ("max_resources",)
    assert result.resource_count == 10
    assert len([r for r in cap.records if r.type == "response"]) == 10
    dots = [u for u in result.not_loaded if "/static/dot.png?i=" in u]
    assert len(dots) >= 21  # 30 images + the page, 10 allowed
    assert "max_resources" in result.provenance_html_path.read_text(encoding="utf-8")


def test_time_limit_after_the_page_arrived(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    cap = capture_and_read(
        engine,
        fixture_site.url("/slow-page?ms=20000"),
        tmp_path,
        limits=CaptureLimits(timeout_s=1.5),
    )
    elapsed = time.monotonic() - t0
    result = cap.result
    assert result.outcome == "partial"
    assert result.limits_hit == ("timeout",)
    assert fixture_site.url("/slow?ms=20000") in result.not_loaded
    assert cap.response("/slow-page?ms=20000").first_line == "HTTP/1.1 200 OK"
    assert result.screenshot_path.stat().st_size > 0
    assert elapsed < 8, f"the time limit did not stop the capture ({elapsed:.1f} s)"


def test_main_document_never_loads(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    workdir = tmp_path / "out"
    t0 = time.monotonic()
    with pytest.raises(CaptureTimeoutError) as info:
        engine.capture(
            fixture_site.url("/slow?ms=20000"), workdir, limits=CaptureLimits(timeout_s=1.0)
        )
    assert time.monotonic() - t0 < 6
    assert "time limit" in str(info.value)
    assert info.value.code == "timeout"
    assert not workdir.exists()  # created by the capture, removed again: nothing left


def test_main_document_larger_than_the_byte_limit(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    workdir = tmp_path / "out"
    with pytest.raises(LimitExceededError) as info:
        engine.capture(fixture_site.url("/listing"), workdir, limits=CaptureLimits(max_bytes=100))
    assert "max_bytes" in str(info.value)
    assert not workdir.exists()
