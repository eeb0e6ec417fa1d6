"""Mobile pages and the session video, in Debian's Chromium against the fixture shop.

The shop (``tests/fixtures/site.py``) serves ``/listing`` differently to a mobile user agent:
another title, an "app only" price and a claim the desktop page does not make. A capture
emulating a phone must get (and record) the phone's page; the session video must be a real
WebM that ffprobe reads, with the capture's clock drawn on it, identical to its WARC record.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from capture import UnknownDeviceError, VideoError, VideoOptions
from capture.devices import device, known_devices
from capture.video import clock_text
from tests.capture.conftest import EngineRunner, capture_and_read
from tests.fixtures.site import MOBILE_PRICE_TEXT, PRICE_TEXT, FixtureSite

pytestmark = pytest.mark.chromium


def _probe(path: Path) -> dict[str, object]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "format=format_name,duration:stream=codec_name,width,height,nb_read_frames",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    data = json.loads(out)
    stream = data["streams"][0]
    return {**data["format"], **stream}


def _frame(video: Path, at_s: float, out: Path) -> Image.Image:
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-ss",
            f"{at_s:.2f}",
            "-i",
            str(video),
            "-frames:v",
            "1",
            "-y",
            str(out),
        ],
        check=True,
        timeout=60,
    )
    return Image.open(out).convert("RGB")


def _pixels(img: Image.Image) -> list[tuple[int, int, int]]:
    raw = img.tobytes()
    return [(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw), 3)]


def test_a_phone_is_served_the_mobile_page_and_the_provenance_says_which_phone(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    url = fixture_site.url("/listing")
    desktop = capture_and_read(engine, url, tmp_path / "desktop")
    phone = capture_and_read(engine, url, tmp_path / "phone", device="iPhone 13")

    # Two different pages at one URL: what each browser was served is what each WARC holds.
    assert desktop.result.title.startswith("商品详情")
    assert phone.result.title.startswith("手机版商品详情")
    desk_body = desktop.response("/listing").payload
    phone_body = phone.response("/listing").payload
    assert PRICE_TEXT not in phone_body.decode() and MOBILE_PRICE_TEXT in phone_body.decode()
    assert "手机下单专享" in phone_body.decode() and "手机下单专享" not in desk_body.decode()
    assert phone.response("/listing").header("Vary") == "User-Agent"

    # The phone's user agent was sent (the request record says so) and recorded.
    iphone = device("iPhone 13")
    assert phone.result.user_agent == iphone.user_agent and "iPhone" in iphone.user_agent
    request = next(r for r in phone.records if r.type == "request" and r.uri == url)
    assert request.header("User-Agent") == iphone.user_agent
    browser = phone.result.provenance["browser"]
    assert browser["emulated_device"]["name"] == "iPhone 13"
    assert browser["emulated_device"]["user_agent"] == iphone.user_agent
    assert browser["emulated_device"]["default_browser_type"] == "webkit"
    assert browser["viewport"] == {"width": 390, "height": 664}
    assert browser["device_scale_factor"] == 3 and browser["is_mobile"] and browser["has_touch"]
    assert "iPhone 13" in phone.result.provenance_html_path.read_text()
    # ... and the page itself saw a phone: a 3x screenshot of a 390-pixel-wide page.
    assert Image.open(phone.result.screenshot_path).width == 390 * 3
    assert desktop.result.provenance["browser"]["emulated_device"] is None
    assert desktop.result.provenance["browser"]["is_mobile"] is False
    assert Image.open(desktop.result.screenshot_path).width == 1280
    assert "iPhone" not in desktop.result.user_agent


def test_an_unknown_device_is_refused_with_names_that_exist(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    with pytest.raises(UnknownDeviceError) as info:
        engine.capture(fixture_site.url("/listing"), tmp_path / "x", device="iPhone 99")
    message = str(info.value)
    assert "'iPhone 99'" in message and "iPhone" in message.split("example", 1)[1]
    assert info.value.code == "unknown_device"
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())
    # The request-time check (no browser of ours) knows the same devices as the engine.
    assert device("iphone 13").name == "iPhone 13"
    assert len(known_devices()) > 100


def test_the_session_video_is_a_webm_with_the_capture_clock_and_its_own_warc_record(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    before = datetime.now(UTC)
    captured = capture_and_read(
        engine, fixture_site.url("/listing"), tmp_path / "v", video=VideoOptions(fps=10)
    )
    result = captured.result
    assert result.video_path is not None and result.video_path.name == "video.webm"
    assert not list(result.video_path.parent.glob("*.part"))
    probe = _probe(result.video_path)
    assert probe["codec_name"] == "vp8" and "webm" in str(probe["format_name"])
    assert (probe["width"], probe["height"]) == (1280, 800)
    facts = result.provenance["artifacts"]["video"]
    assert int(str(probe["nb_read_frames"])) == facts["frames_encoded"] >= 2
    assert facts["frames_received"] >= 1 and facts["truncated"] == []
    assert facts["sha256"] == hashlib.sha256(result.video_path.read_bytes()).hexdigest()
    assert facts["bytes"] == result.video_path.stat().st_size
    first = datetime.fromisoformat(facts["first_frame_at"])
    assert before <= first <= result.ended_at

    # Its resource record holds exactly the file's bytes, under a urn: (not the page's URL).
    record = next(r for r in captured.records if r.type == "resource" and "video" in r.uri)
    assert record.uri == result.resource_uris["video"] == f"urn:video:{result.final_url}"
    assert record.headers["Content-Type"] == "video/webm"
    assert record.payload == result.video_path.read_bytes()

    # The clock: a black box with yellow text at the bottom right of every frame, showing a
    # later time on the last frame than on the first; the page there is white.
    start = _frame(result.video_path, 0, tmp_path / "first.png")
    end = _frame(result.video_path, facts["duration_s"] - 0.1, tmp_path / "last.png")
    for img in (start, end):
        box = img.crop((img.width - 300, img.height - 30, img.width - 10, img.height - 8))
        pixels = _pixels(box)
        dark = sum(1 for r, g, b in pixels if r + g + b < 120)
        yellow = sum(1 for r, g, b in pixels if r > 150 and g > 150 and b < 110)
        assert dark > len(pixels) * 0.4 and yellow > 30, (dark, yellow, len(pixels))
        page = img.crop((img.width - 300, 400, img.width - 10, 420))
        assert sum(page.tobytes()) / (3 * 290 * 20) > 230  # white page
    corner = (start.width - 300, start.height - 30, start.width - 10, start.height - 8)
    assert start.crop(corner).tobytes() != end.crop(corner).tobytes()


def test_clock_text_shows_beijing_time_and_utc() -> None:
    moment = datetime(2026, 12, 7, 16, 30, 5, 250_000, tzinfo=UTC).timestamp()
    assert clock_text(moment) == "2026-12-08 00:30:05.2 UTC+8 (Beijing)   16:30:05.2 UTC"


def test_a_phone_video_and_its_bounds(
    engine: EngineRunner, fixture_site: FixtureSite, tmp_path: Path
) -> None:
    """A phone's frames at its shape (scaled to at most 1280 pixels); a page slower than
    ``max_seconds`` gives a video that stops there, marked truncated."""
    result = engine.capture(
        fixture_site.url("/slow-page?ms=2500"),
        tmp_path / "slow",
        device="Pixel 7",
        video=VideoOptions(fps=5, max_seconds=0.8),
    )
    facts = result.provenance["artifacts"]["video"]
    assert "max_seconds" in facts["truncated"]
    assert facts["duration_s"] <= 0.8 + 1 / 5 + 1e-9
    probe = _probe(result.video_path)  # type: ignore[arg-type]
    pixel = device("Pixel 7")
    assert probe["height"] == 1280 or probe["height"] == pixel.viewport[1] * 2
    ratio = int(str(probe["width"])) / int(str(probe["height"]))
    assert abs(ratio - pixel.viewport[0] / pixel.viewport[1]) < 0.01


def test_a_video_without_the_encoder_fails_before_loading(
    engine: EngineRunner,
    fixture_site: FixtureSite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A PyAV built against an FFmpeg without libvpx cannot make the video: the capture is
    refused before the page is loaded, with what to install."""
    import av

    monkeypatch.setattr(av, "codecs_available", set(av.codecs_available) - {"libvpx"})
    with pytest.raises(VideoError) as info:
        engine.capture(fixture_site.url("/listing"), tmp_path / "w", video=VideoOptions())
    assert "libvpx" in str(info.value) and "requirements/run.lock" in str(info.value)
    assert not (tmp_path / "w").exists()
