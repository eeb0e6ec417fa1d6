"""Turn Chromium's ``net::ERR_*`` names into specific CaptureErrors an officer can act on."""

from __future__ import annotations

import re

from .errors import (
    CaptureError,
    CaptureTimeoutError,
    ConnectionRefusedCaptureError,
    DnsError,
    NetworkError,
    TlsError,
)

_NET_RE = re.compile(r"net::(ERR_[A-Z0-9_]+)")

_CONNECTION = {
    "ERR_CONNECTION_REFUSED",
    "ERR_CONNECTION_RESET",
    "ERR_CONNECTION_CLOSED",
    "ERR_CONNECTION_ABORTED",
    "ERR_EMPTY_RESPONSE",
    "ERR_ADDRESS_UNREACHABLE",
}
_TIMEOUT = {"ERR_TIMED_OUT", "ERR_CONNECTION_TIMED_OUT"}
_DNS = {"ERR_NAME_NOT_RESOLVED", "ERR_NAME_RESOLUTION_FAILED"}


def net_error_name(message: str) -> str | None:
    m = _NET_RE.search(message)
    return m.group(1) if m else None


def error_for(name: str | None, url: str, detail: str = "") -> CaptureError:
    """The CaptureError for a main-document failure reported as ``net::<name>``."""
    if name is None and "Download is starting" in detail:
        return NetworkError(
            f"{url} is a file download, not a web page, so there is nothing to display and "
            "photograph. Capture the page that links to the file instead.",
            url=url,
        )
    if name is None:
        return NetworkError(
            f"Chromium could not load {url}: {detail or 'unknown error'}. Try again; if it "
            "keeps failing, check that the page opens in an ordinary browser.",
            url=url,
        )
    if name in _DNS:
        return DnsError(
            f"The host of {url} could not be resolved by the browser ({name}). Check the "
            "address; the site may no longer exist.",
            url=url,
        )
    if name in _CONNECTION:
        return ConnectionRefusedCaptureError(
            f"The server of {url} refused or dropped the connection ({name}). The site may be "
            "down or blocking this network; try again later.",
            url=url,
        )
    if name.startswith(("ERR_CERT_", "ERR_SSL_")) or name in (
        "ERR_BAD_SSL_CLIENT_AUTH_CERT",
        "ERR_INSECURE_RESPONSE",
    ):
        return TlsError(
            f"The browser rejected the TLS connection to {url} ({name}): the site's "
            "certificate is not trusted or the handshake failed. Do not capture a page whose "
            "identity cannot be verified; if it is an intranet site, its CA must be added to "
            "the capture service's trusted CAs.",
            url=url,
        )
    if name in _TIMEOUT:
        return CaptureTimeoutError(
            f"The server of {url} did not answer in time ({name}). Try again later.", url=url
        )
    return NetworkError(
        f"Chromium could not load {url}: net::{name}. Check the address and try again.",
        url=url,
    )
