"""Browser capture of web pages as court evidence: WARC 1.1, screenshot, PDF, provenance.

A leaf package: it imports nothing of the rest of the service. See :mod:`capture.engine`
for the engine, :mod:`capture.recorder` for why the network is recorded over CDP, and
:mod:`capture.warc` for what the WARC records claim.
"""

from .cookies import parse_cookies_file
from .engine import CaptureEngine, capture_url
from .errors import (
    BlockedAddressError,
    BrowserError,
    CaptureError,
    CaptureTimeoutError,
    ConnectionRefusedCaptureError,
    CookieFileError,
    DnsError,
    InvalidUrlError,
    LimitExceededError,
    NetworkError,
    TlsError,
    UnknownDeviceError,
    UnsupportedSchemeError,
    VideoError,
)
from .types import CaptureLimits, CaptureOptions, CaptureResult, Cookie, VideoOptions
from .urls import check_url

__all__ = [
    "BlockedAddressError",
    "BrowserError",
    "CaptureEngine",
    "CaptureError",
    "CaptureLimits",
    "CaptureOptions",
    "CaptureResult",
    "CaptureTimeoutError",
    "ConnectionRefusedCaptureError",
    "Cookie",
    "CookieFileError",
    "DnsError",
    "InvalidUrlError",
    "LimitExceededError",
    "NetworkError",
    "TlsError",
    "UnknownDeviceError",
    "UnsupportedSchemeError",
    "VideoError",
    "VideoOptions",
    "capture_url",
    "check_url",
    "parse_cookies_file",
]
