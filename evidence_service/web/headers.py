"""Security headers on every HTML page, in one place.

Pure ASGI (not ``BaseHTTPMiddleware``) so that streamed downloads pass through untouched and
unbuffered. A header a route sets itself wins (a stored file's own ``frame-ancestors 'self'``,
a replayed page's sandbox policy): this only fills in what is missing.

The policy: scripts only from our own ``/static`` plus the verification report's one inline
script, allowed by its hash (so an injected ``<script>`` does not run); styles may be inline
because the verification report is one self-contained file a court can keep; images from us
and ``data:`` (report figures); no framing by anyone (a signature page must not be
clickjacked); forms post only to us.
FastAPI's ``/docs`` page loads Swagger UI from its CDN with an inline bootstrap script, so it
gets a policy naming exactly that CDN.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signing.verify.render import REPORT_SCRIPT_CSP

__all__ = ["SecurityHeaders", "policy_for"]

_STRICT = (
    f"default-src 'self'; script-src 'self' {REPORT_SCRIPT_CSP}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_SWAGGER_CDN = "https://cdn.jsdelivr.net"
_API_DOCS = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_SWAGGER_CDN}; "
    f"style-src 'self' 'unsafe-inline' {_SWAGGER_CDN}; img-src 'self' data: "
    "https://fastapi.tiangolo.com; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
_API_DOC_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")

_COMMON = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def policy_for(path: str) -> str:
    """The Content-Security-Policy of the HTML page at ``path``."""
    return _API_DOCS if path in _API_DOC_PATHS else _STRICT


class SecurityHeaders:
    """Add CSP, X-Frame-Options, X-Content-Type-Options and Referrer-Policy to HTML
    responses (and ``nosniff`` to every response) unless the route set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if headers.get("content-type", "").startswith("text/html"):
                    if "content-security-policy" not in headers:
                        headers["Content-Security-Policy"] = policy_for(path)
                    for name, value in _COMMON.items():
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
