"""The capture's typed boundary: what goes in, what comes out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class CaptureLimits:
    """Hard limits; each one that is hit is reported and makes the capture ``partial``."""

    timeout_s: float = 60.0
    max_bytes: int = 200_000_000
    max_resources: int = 2000


@dataclass(frozen=True)
class Cookie:
    """A cookie to send with one capture only (the officer's or complainant's session)."""

    name: str
    value: str
    domain: str
    path: str = "/"
    secure: bool = False
    http_only: bool = False
    expires: float | None = None
    same_site: Literal["Strict", "Lax", "None"] | None = None


@dataclass(frozen=True)
class VideoOptions:
    """Record the session as a video (``CaptureOptions.video``); bounds of one recording."""

    #: 5 frames a second shows how the page built up and moves the clock every 0.2 s, at half
    #: the CPU of 10 (measured in benchmarks/capture.py: the encoding competes with the load).
    fps: int = 5
    max_seconds: float = 120.0
    max_bytes: int = 50_000_000
    #: JPEG quality Chromium encodes its frames with (they are re-encoded to VP8 anyway).
    jpeg_quality: int = 70


@dataclass(frozen=True)
class CaptureOptions:
    limits: CaptureLimits = CaptureLimits()
    viewport: tuple[int, int] = (1280, 800)
    #: None keeps the browser's own user agent; the one actually sent is recorded either way.
    user_agent: str | None = None
    accept_language: str = "zh-CN,zh;q=0.9,en;q=0.8"
    #: Allow hosts that resolve to loopback/private/link-local addresses (tests, intranets).
    allow_private: bool = False
    cookies: Sequence[Cookie] = ()
    #: Returns the trusted time (e.g. a TSA's genTime) to record the local clock's offset.
    clock_reference: Callable[[], datetime] | None = None
    #: Extra facts the caller wants in the provenance document (e.g. the officer, the case).
    extra_provenance: dict[str, Any] = field(default_factory=dict)
    #: Called with a short state name ("loading", "scrolling", "snapshot", "writing").
    on_progress: Callable[[str], None] | None = None
    #: Emulate this device (a name of Playwright's device descriptors, e.g. "iPhone 13"): its
    #: viewport, screen, scale factor, touch, mobile flag and user agent replace ``viewport``
    #: (and ``user_agent`` unless that is given too). Recorded in the provenance.
    device: str | None = None
    #: Record what the browser showed while loading as a WebM video (None: no video).
    video: VideoOptions | None = None


@dataclass(frozen=True)
class CaptureResult:
    """A finished capture, unsealed, in ``workdir``. All times are timezone-aware UTC."""

    outcome: Literal["complete", "partial"]
    requested_url: str
    final_url: str
    #: HTTP status of the main document (a 404 page is still evidence, marked with its status).
    http_status: int
    title: str
    started_at: datetime
    ended_at: datetime
    #: WARC 1.1, gzip per record: warcinfo, request/response pairs, and resource records
    #: (urn:...) for the screenshot, the PDF and the provenance JSON.
    warc_path: Path
    screenshot_path: Path
    pdf_path: Path
    provenance_json_path: Path
    provenance_html_path: Path
    #: Names of limits hit ("timeout", "max_bytes", "max_resources"); empty when complete.
    limits_hit: tuple[str, ...]
    #: URLs that were not loaded because of a limit.
    not_loaded: tuple[str, ...]
    resource_count: int
    total_bytes: int
    browser_version: str
    user_agent: str
    #: The provenance document as written to provenance_json_path.
    provenance: dict[str, Any]
    #: The urn: target URIs of the resource records, by role ("screenshot", "pdf", "provenance",
    #: and "video" when one was recorded).
    resource_uris: dict[str, str]
    #: The session video (WebM, also a resource record in the WARC); None without video.
    video_path: Path | None = None
