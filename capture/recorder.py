"""Record every HTTP exchange the page makes, as Chromium itself made it, over CDP.

Why CDP (``Network`` + ``Fetch`` on a page-level session from ``context.new_cdp_session``)
and not the alternatives:

* A recording proxy (warcprox and the like) sees a *second* TLS connection: the proxy's own,
  made with its own TLS stack and trust store, while Chromium talks to the proxy. What the
  browser verified (certificate chain, protocol, server address) is then not what is recorded;
  warcprox does not even verify upstream certificates, downgrades HTTP/2, writes WARC/1.0 and
  records Chromium's background traffic (update and account services) as if it were the page.
* Playwright routes (``page.route`` + ``route.fetch()``) re-issue each request from
  Playwright's Node.js client: different protocol, headers and TLS stack, no server address,
  no certificate. That records what Node fetched, not what the browser showed; it also
  merges duplicate headers. Not evidence.
* CDP reports the browser's own traffic. ``Fetch`` at the Response stage hands over the exact
  body bytes (``Fetch.getResponseBody``; ``Network.getResponseBody`` and Playwright's
  ``response.body()`` re-encode non-UTF-8 text) and lets us refuse a request *before* it
  leaves (SSRF guard, limits). ``Network`` gives what Fetch leaves out: the wire headers
  (``requestWillBeSentExtraInfo`` / ``responseReceivedExtraInfo``, including ``Set-Cookie``
  and, for HTTP/1.x, the raw header text), the server address, the protocol and TLS details;
  ``Network.getCertificate`` gives the DER chain of the connection used.

Correlation: one ``Exchange`` per HTTP request/response *hop* (a redirect is a hop of its
own). Every source of events for a request id (``requestWillBeSent``, each ExtraInfo kind,
the Fetch request stage) is counted separately; the k-th event of each kind belongs to hop k.
The browser cache is disabled for the capture (``Network.setCacheDisabled``, like a hard
reload: requests carry ``Cache-Control: no-cache``) so that every hop really goes to the
network and the counts stay aligned, and so that nothing is silently served from memory or
from a stale intermediate cache.

Browser bodies are decoded (gzip, chunked); the WARC writer deals with that honestly.

Not recorded (by design or by the protocol): WebSocket frames, ``data:`` URLs (they are part
of the page that contains them), popups and new tabs, service workers (blocked for captures),
and redirect response bodies (Chromium does not expose them). Each body crosses CDP in one
message, so a single huge response costs memory for a moment (bounded by ``max_bytes``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

from .types import CaptureLimits
from .urls import blocked_reason

log = logging.getLogger(__name__)

#: Bodies larger than this are spooled to a temporary file instead of kept in memory.
_SPOOL_MAX = 256 * 1024

Send = Callable[[str, dict[str, Any] | None], Awaitable[dict[str, Any]]]


@dataclass
class Exchange:
    """One HTTP request and its response (one hop of a redirect chain)."""

    request_id: str
    hop: int
    url: str = ""
    method: str = "GET"
    resource_type: str = ""
    frame_id: str = ""
    is_navigation: bool = False
    #: Seconds since the epoch when the request was sent (Chromium's wallTime).
    wall_time: float | None = None
    #: Chromium's monotonic timestamp of the request (to order and time responses).
    mono_time: float | None = None
    #: Request headers as Chromium put them on the wire (ExtraInfo), else as the page set them.
    wire_request_headers: dict[str, str] | None = None
    page_request_headers: dict[str, str] | None = None
    post_data: bytes | None = None
    # --- response
    status: int | None = None
    status_text: str = ""
    protocol: str = ""
    raw_headers_text: str | None = None
    wire_response_headers: dict[str, str] | None = None
    #: Headers from Fetch or responseReceived (no Set-Cookie, whitespace trimmed): fallback.
    fallback_response_headers: list[tuple[str, str]] | None = None
    mime_type: str = ""
    remote_ip: str | None = None
    remote_port: int | None = None
    security_details: dict[str, Any] | None = None
    response_wall_time: float | None = None
    # --- body (exact bytes as handed over by Fetch.getResponseBody, decoded)
    body: IO[bytes] | None = None
    body_length: int = 0
    #: Why no (complete) body is stored although a response was received.
    body_missing: str | None = None
    got_response_stage: bool = False
    fetch_seen: bool = False
    # --- outcome
    finished: bool = False
    error: str | None = None
    #: Set when the capture itself refused or aborted the request, with the reason.
    refused: str | None = None

    def close(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None


@dataclass
class Blocked:
    url: str
    reason: str
    address: str | None = None


@dataclass
class _Counts:
    sent: int = 0
    req_extra: int = 0
    resp_extra: int = 0
    fetch_request: int = 0


@dataclass
class RecorderState:
    limits_hit: list[str] = field(default_factory=list)
    not_loaded: list[str] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    total_bytes: int = 0
    requests_allowed: int = 0


class NetworkRecorder:
    """Listens to one page's CDP session; enforces the SSRF guard and the limits."""

    def __init__(
        self,
        send: Send,
        *,
        allow_private: bool,
        limits: CaptureLimits,
        main_frame_id: str,
    ) -> None:
        self._send = send
        self._allow_private = allow_private
        self._limits = limits
        self.main_frame_id = main_frame_id
        self._hops: dict[str, list[Exchange]] = {}
        self._counts: dict[str, _Counts] = {}
        self._inflight: set[str] = set()
        self._paused: dict[str, Exchange] = {}
        self._by_fetch_id: dict[str, Exchange] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._last_event = time.monotonic()
        self._dns: dict[str, asyncio.Future[list[str]]] = {}
        self.state = RecorderState()
        #: Set once loading is over ("timeout", "snapshot"): later requests are refused.
        self.closed: str | None = None
        self.exchanges: list[Exchange] = []

    # ------------------------------------------------------------------ wiring

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], None]]:
        return {
            "Network.requestWillBeSent": self._on_request_will_be_sent,
            "Network.requestWillBeSentExtraInfo": self._on_request_extra,
            "Network.responseReceivedExtraInfo": self._on_response_extra,
            "Network.responseReceived": self._on_response_received,
            "Network.loadingFinished": self._on_loading_finished,
            "Network.loadingFailed": self._on_loading_failed,
            "Fetch.requestPaused": self._on_paused,
        }

    async def enable(self) -> None:
        await asyncio.gather(
            self._send("Network.enable", {"maxPostDataSize": 1 << 20}),
            self._send("Network.setCacheDisabled", {"cacheDisabled": True}),
        )
        await self._send(
            "Fetch.enable",
            {
                "patterns": [
                    {"urlPattern": "*", "requestStage": "Request"},
                    {"urlPattern": "*", "requestStage": "Response"},
                ]
            },
        )

    # ------------------------------------------------------------------ bookkeeping

    def _hop(self, request_id: str, index: int) -> Exchange:
        hops = self._hops.setdefault(request_id, [])
        while len(hops) <= index:
            ex = Exchange(request_id=request_id, hop=len(hops))
            hops.append(ex)
            self.exchanges.append(ex)
        return hops[index]

    def _count(self, request_id: str) -> _Counts:
        return self._counts.setdefault(request_id, _Counts())

    def _touch(self) -> None:
        self._last_event = time.monotonic()
        self._changed.set()

    def _not_loaded(self, url: str, limit: str | None) -> None:
        if limit is not None and limit not in self.state.limits_hit:
            self.state.limits_hit.append(limit)
        if url not in self.state.not_loaded:
            self.state.not_loaded.append(url)

    # ------------------------------------------------------------------ Network events

    def _on_request_will_be_sent(self, ev: dict[str, Any]) -> None:
        rid = ev["requestId"]
        counts = self._count(rid)
        index = counts.sent
        counts.sent += 1
        redirect = ev.get("redirectResponse")
        if redirect is not None and index > 0:
            self._apply_response(self._hop(rid, index - 1), redirect)
            self._hop(rid, index - 1).finished = True
        ex = self._hop(rid, index)
        req = ev.get("request", {})
        ex.url = req.get("url", ex.url)
        ex.method = req.get("method", ex.method)
        ex.page_request_headers = dict(req.get("headers") or {})
        ex.resource_type = ev.get("type", "")
        ex.frame_id = ev.get("frameId", "")
        ex.is_navigation = ev.get("loaderId") == rid and ex.resource_type == "Document"
        ex.wall_time = ev.get("wallTime")
        ex.mono_time = ev.get("timestamp")
        if ex.post_data is None and req.get("postDataEntries"):
            ex.post_data = _post_bytes(req)
        if not ex.url.startswith("data:"):
            self._inflight.add(rid)
        self._touch()

    def _on_request_extra(self, ev: dict[str, Any]) -> None:
        counts = self._count(ev["requestId"])
        ex = self._hop(ev["requestId"], counts.req_extra)
        counts.req_extra += 1
        ex.wire_request_headers = dict(ev.get("headers") or {})

    def _on_response_extra(self, ev: dict[str, Any]) -> None:
        counts = self._count(ev["requestId"])
        ex = self._hop(ev["requestId"], counts.resp_extra)
        counts.resp_extra += 1
        ex.wire_response_headers = dict(ev.get("headers") or {})
        text = ev.get("headersText")
        if text:
            ex.raw_headers_text = text
        if ex.status is None and ev.get("statusCode"):
            ex.status = int(ev["statusCode"])

    def _on_response_received(self, ev: dict[str, Any]) -> None:
        rid = ev["requestId"]
        hops = self._hops.get(rid)
        ex = hops[-1] if hops else self._hop(rid, 0)
        self._apply_response(ex, ev.get("response", {}))
        self._touch()

    def _apply_response(self, ex: Exchange, resp: dict[str, Any]) -> None:
        if resp.get("status") is not None:
            ex.status = int(resp["status"])
        ex.status_text = resp.get("statusText") or ex.status_text
        ex.protocol = resp.get("protocol") or ex.protocol
        ex.mime_type = resp.get("mimeType") or ex.mime_type
        ex.remote_ip = resp.get("remoteIPAddress") or ex.remote_ip
        ex.remote_port = resp.get("remotePort") or ex.remote_port
        if resp.get("securityDetails"):
            ex.security_details = resp["securityDetails"]
        if ex.fallback_response_headers is None and resp.get("headers"):
            ex.fallback_response_headers = _split_multi(resp["headers"])
        if ex.raw_headers_text is None and resp.get("headersText"):
            ex.raw_headers_text = resp["headersText"]

    def _on_loading_finished(self, ev: dict[str, Any]) -> None:
        rid = ev["requestId"]
        self._inflight.discard(rid)
        hops = self._hops.get(rid)
        if hops:
            hops[-1].finished = True
        self._touch()

    def _on_loading_failed(self, ev: dict[str, Any]) -> None:
        rid = ev["requestId"]
        self._inflight.discard(rid)
        hops = self._hops.get(rid)
        if hops:
            hops[-1].error = ev.get("errorText") or "failed"
        self._touch()

    # ------------------------------------------------------------------ Fetch interception

    def _on_paused(self, ev: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._handle_paused(ev))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle_paused(self, ev: dict[str, Any]) -> None:
        fetch_id = ev["requestId"]
        key = ev.get("networkId") or f"fetch:{fetch_id}"
        counts = self._count(key)
        response_stage = "responseStatusCode" in ev or "responseErrorReason" in ev
        request = ev.get("request", {})
        if response_stage:
            # Both stages of one hop share the interception id.
            found = self._by_fetch_id.get(fetch_id)
            ex = found if found is not None else self._hop(key, max(counts.fetch_request - 1, 0))
        else:
            ex = self._hop(key, counts.fetch_request)
            counts.fetch_request += 1
            url = request.get("url", "")
            if ex.url and url and ex.url != url:
                # Defensive: a hop that never reached the network (served from a cache)
                # would shift the counts; re-align on the URL.
                for other in self._hops.get(key, []):
                    if other.url == url and not other.fetch_seen:
                        ex = other
                        break
            ex.fetch_seen = True
            self._by_fetch_id[fetch_id] = ex
        if not ex.url:
            ex.url = request.get("url", "")
            ex.method = request.get("method", "GET")
            ex.resource_type = ev.get("resourceType", "")
            ex.frame_id = ev.get("frameId", "")
        self._paused[fetch_id] = ex
        self._touch()
        try:
            if response_stage:
                await self._response_stage(fetch_id, ex, ev)
            else:
                await self._request_stage(fetch_id, ex, ev)
        except Exception as exc:  # the page may have gone away meanwhile
            log.debug("interception of a request ended early: %s", type(exc).__name__)
        finally:
            self._paused.pop(fetch_id, None)
            self._touch()

    async def _request_stage(self, fetch_id: str, ex: Exchange, ev: dict[str, Any]) -> None:
        request = ev.get("request", {})
        if ex.post_data is None and request.get("hasPostData"):
            ex.post_data = _post_bytes(request)
        url = request.get("url", ex.url)
        if self.closed is not None:
            await self._refuse(fetch_id, ex, self.closed)
            return
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname:
            reason, address = await self._ssrf_check(parts.hostname, parts.port, parts.scheme)
            if reason is not None:
                self.state.blocked.append(Blocked(url=url, reason=reason, address=address))
                ex.refused = f"blocked_address: {address} is a {reason} address"
                await self._fail(fetch_id)
                return
        if self.state.requests_allowed >= self._limits.max_resources:
            await self._refuse(fetch_id, ex, "max_resources")
            return
        self.state.requests_allowed += 1
        await self._continue(fetch_id)

    async def _response_stage(self, fetch_id: str, ex: Exchange, ev: dict[str, Any]) -> None:
        ex.got_response_stage = "responseStatusCode" in ev
        if not ex.got_response_stage:  # connection failed etc.: nothing to record
            await self._continue(fetch_id)
            return
        ex.response_wall_time = time.time()
        if ex.status is None:
            ex.status = int(ev["responseStatusCode"])
            ex.status_text = ev.get("responseStatusText", "")
        headers = [(h["name"], h["value"]) for h in ev.get("responseHeaders") or []]
        if ex.fallback_response_headers is None:
            ex.fallback_response_headers = headers
        if self.closed is not None:
            await self._refuse(fetch_id, ex, self.closed)
            return
        status = int(ev["responseStatusCode"])
        if 300 <= status < 400 and any(k.lower() == "location" for k, _ in headers):
            # Chromium refuses Fetch.getResponseBody on redirects ("Can only get response
            # body on requests captured after headers received"): the few bytes of a redirect
            # body are not available to any browser API.
            ex.body_missing = "redirect body not available from Chromium"
            await self._continue(fetch_id)
            return
        declared = _declared_length(headers)
        if declared is not None and self.state.total_bytes + declared > self._limits.max_bytes:
            await self._refuse(fetch_id, ex, "max_bytes")
            return
        try:
            reply = await self._send("Fetch.getResponseBody", {"requestId": fetch_id})
        except Exception as exc:
            if self.closed is not None:
                await self._refuse(fetch_id, ex, self.closed)
                return
            ex.body_missing = f"body not available: {_short(exc)}"
            await self._continue(fetch_id)
            return
        body = _decode_body(reply)
        if self.state.total_bytes + len(body) > self._limits.max_bytes:
            await self._refuse(fetch_id, ex, "max_bytes")
            return
        if self.closed is not None:
            await self._refuse(fetch_id, ex, self.closed)
            return
        self.state.total_bytes += len(body)
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MAX)  # noqa: SIM115
        spool.write(body)
        spool.seek(0)
        ex.body = spool
        ex.body_length = len(body)
        await self._continue(fetch_id)

    async def _refuse(self, fetch_id: str, ex: Exchange, limit: str) -> None:
        ex.refused = limit
        if limit in ("timeout", "max_bytes", "max_resources"):
            self._not_loaded(ex.url, limit)
        await self._fail(fetch_id)

    async def _fail(self, fetch_id: str) -> None:
        with contextlib.suppress(Exception):
            await self._send(
                "Fetch.failRequest", {"requestId": fetch_id, "errorReason": "BlockedByClient"}
            )

    async def _continue(self, fetch_id: str) -> None:
        with contextlib.suppress(Exception):
            await self._send("Fetch.continueRequest", {"requestId": fetch_id})

    async def _ssrf_check(
        self, host: str, port: int | None, scheme: str
    ) -> tuple[str | None, str | None]:
        literal = host.strip("[]")
        reason = blocked_reason(literal, allow_private=self._allow_private)
        if reason is not None:
            return reason, literal
        if self._allow_private or _is_ip(literal):
            return None, None
        fut = self._dns.get(host)
        if fut is None:
            loop = asyncio.get_running_loop()
            fut = loop.create_task(
                _resolve(host, port or (443 if scheme in ("https", "wss") else 80))
            )
            self._dns[host] = fut
        for addr in await fut:
            reason = blocked_reason(addr, allow_private=False)
            if reason is not None:
                return reason, addr
        return None, None

    # ------------------------------------------------------------------ lifecycle

    def main_hops(self) -> list[Exchange]:
        """The hops of main-frame document requests, in order (navigations and redirects)."""
        return [
            ex
            for ex in self.exchanges
            if ex.resource_type == "Document" and ex.frame_id == self.main_frame_id and ex.url
        ]

    def note_limit(self, limit: str) -> None:
        """Record that a limit cut the capture short (even if no request was cut)."""
        if limit not in self.state.limits_hit:
            self.state.limits_hit.append(limit)

    def main_document_refusal(self) -> str | None:
        """Why the capture itself refused the main document (or a redirect on its way)."""
        for ex in self.main_hops():
            if ex.refused:
                return ex.refused
        return None

    async def wait_idle(self, quiet_s: float, deadline: float) -> bool:
        """Wait until nothing has happened on the network for ``quiet_s`` seconds.

        Event-driven: the quiet window is measured from the last CDP network event (which may
        lie before this call, e.g. during scrolling); there is no fixed sleep. Returns False
        if ``deadline`` (monotonic) comes first.
        """
        while True:
            now = time.monotonic()
            if now >= deadline:
                return False
            self._changed.clear()
            if self._inflight or self._paused:
                wait = deadline - now
            else:
                quiet_left = quiet_s - (now - self._last_event)
                if quiet_left <= 0:
                    return True
                wait = min(quiet_left, deadline - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=wait)

    async def close_loading(self, reason: str) -> None:
        """Stop loading: refuse paused and future requests; list in-flight ones if a limit."""
        if self.closed is None:
            self.closed = reason
        limit = reason if reason == "timeout" else None
        for fetch_id, ex in list(self._paused.items()):
            if limit is not None:
                self._not_loaded(ex.url, limit)
            ex.refused = ex.refused or reason
            await self._fail(fetch_id)
        if limit is not None:
            for rid in list(self._inflight):
                hops = self._hops.get(rid)
                if hops and hops[-1].url:
                    self._not_loaded(hops[-1].url, limit)
            with contextlib.suppress(Exception):
                await self._send("Page.stopLoading", None)

    async def drain(self, timeout_s: float = 2.0) -> None:
        """Let pending interception handlers finish (they only talk to the browser)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)

    def dispose(self) -> None:
        for ex in self.exchanges:
            ex.close()
        for fut in self._dns.values():
            fut.cancel()


# ---------------------------------------------------------------------- helpers


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=1)  # SOCK_STREAM
    except OSError:
        return []  # Chromium will fail it with ERR_NAME_NOT_RESOLVED itself
    return list(dict.fromkeys(str(i[4][0]) for i in infos))


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _post_bytes(request: dict[str, Any]) -> bytes | None:
    entries = request.get("postDataEntries")
    if entries:
        out = bytearray()
        for e in entries:
            if "bytes" in e:
                out += base64.b64decode(e["bytes"])
        return bytes(out)
    text = request.get("postData")
    if isinstance(text, str):
        return text.encode("utf-8")
    return None


def _decode_body(reply: dict[str, Any]) -> bytes:
    body = reply.get("body", "")
    if reply.get("base64Encoded"):
        return base64.b64decode(body)
    return str(body).encode("utf-8")


def _declared_length(headers: list[tuple[str, str]]) -> int | None:
    """Content-Length when it equals the body size Chromium will hand over (not encoded)."""
    length = None
    for k, v in headers:
        kl = k.lower()
        if kl == "content-encoding" and v.strip().lower() not in ("", "identity"):
            return None
        if kl == "content-length":
            try:
                length = int(v.strip())
            except ValueError:
                return None
    return length


def _split_multi(headers: dict[str, str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k, v in headers.items():
        for part in str(v).split("\n"):
            out.append((k, part))
    return out


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
