"""Capture errors: one class per cause, each with a stable ``code`` and a message an officer
can act on. The API, the CLI and the UI show ``code`` and ``str(error)`` as they are."""

from __future__ import annotations


class CaptureError(Exception):
    """A capture failed and nothing was sealed."""

    code = "capture_failed"
    retryable = False

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class InvalidUrlError(CaptureError):
    """The URL is malformed (no host, bad characters, bad port...)."""

    code = "invalid_url"


class UnsupportedSchemeError(CaptureError):
    """Only http and https pages can be captured."""

    code = "unsupported_scheme"


class BlockedAddressError(CaptureError):
    """The host resolves to a loopback, private, link-local or metadata address (SSRF guard)."""

    code = "blocked_address"


class DnsError(CaptureError):
    """The host name does not resolve."""

    code = "dns_failure"


class ConnectionRefusedCaptureError(CaptureError):
    """The server refused or reset the connection."""

    code = "connection_refused"


class TlsError(CaptureError):
    """The server's TLS certificate or handshake was rejected by the browser."""

    code = "tls_error"


class CaptureTimeoutError(CaptureError):
    """The page did not load at all within the overall time limit."""

    code = "timeout"


class NetworkError(CaptureError):
    """Any other network failure reported by the browser (the Chromium net error is named)."""

    code = "network_error"


class BrowserError(CaptureError):
    """Chromium could not be started or crashed; retrying may help."""

    code = "browser_error"
    retryable = True


class CookieFileError(CaptureError):
    """The cookies file is neither Netscape cookies.txt nor Playwright JSON."""

    code = "invalid_cookies"


class LimitExceededError(CaptureError):
    """The main document itself exceeds a capture limit (e.g. max_bytes), so there is no page."""

    code = "limit_exceeded"


class UnknownDeviceError(CaptureError):
    """The device to emulate is not one Playwright describes (the message names known ones)."""

    code = "unknown_device"


class VideoError(CaptureError):
    """The session video could not be made (ffmpeg missing or failing); nothing is sealed."""

    code = "video_failed"
