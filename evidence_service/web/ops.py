"""What operators and their tools ask the server: is it alive, is it ready, what are its figures;
and the request id every request carries into the logs (and, for a capture, into its job).

* ``/healthz``: liveness. The process answers; nothing else is checked (a load balancer must
  not restart a server because the database is slow).
* ``/readyz``: readiness. The database answers a query, the object store its check, every
  configured TSA a time-stamp (at most every ``ready_tsa_every_s``: an external TSA may count
  requests), each within ``CHECK_TIMEOUT_S``; 200 when all do, 503 with the one that did not
  and why. The queue depth is reported too, but a backlog does not make the server unready:
  it can still accept captures, and they are durable.
* ``/metrics``: Prometheus text (see ``evidence_service.observability``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import func, select, text
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evidence_service import __version__
from evidence_service.observability import (
    REQUEST_ID_HEADER,
    QueueCollector,
    accept_request_id,
    exposition,
    metrics,
    redact,
    request_context,
)
from evidence_service.services import Services
from storage.models import Job

router = APIRouter(include_in_schema=False)

CHECK_TIMEOUT_S = 5.0
_checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


class RequestId:
    """Pure ASGI middleware: the request's ``X-Request-ID`` (a plain token of at most 128
    characters, else a new one) is set for the logs while the request runs and sent back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = accept_request_id(given)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with request_context(request_id):
            await self.app(scope, receive, send_with_id)


@dataclass
class _TsaAnswer:
    at: float
    result: dict[str, Any]


_tsa_lock = threading.Lock()
_tsa_last: dict[int, _TsaAnswer] = {}  # per Services instance (one per app)


def _timed(check: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    t0 = time.perf_counter()
    future = _checks.submit(check)
    try:
        extra = future.result(timeout=CHECK_TIMEOUT_S) or {}
    except FutureTimeout:
        return {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_S:.0f} s"}
    except Exception as exc:
        return {"ok": False, "error": redact(f"{type(exc).__name__}: {exc}")[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - t0) * 1000, 1), **extra}


def _database(services: Services) -> dict[str, Any] | None:
    with services.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return None


def _store(services: Services) -> dict[str, Any] | None:
    t0 = time.perf_counter()
    services.store.check()
    metrics().store_seconds.labels(operation="check").observe(time.perf_counter() - t0)
    return None


def _tsa(services: Services) -> dict[str, Any]:
    every = services.settings.ready_tsa_every_s
    with _tsa_lock:
        last = _tsa_last.get(id(services))
        if last is not None and time.monotonic() - last.at < every:
            return {**last.result, "cached": True}
    tsas = []
    ok = True
    for stamper in services.timestampers:
        t0 = time.perf_counter()
        try:
            stamper.stamp(os.urandom(32))
            tsas.append({"name": stamper.name, "ok": True, "ms": _ms(t0)})
        except Exception as exc:
            ok = False
            tsas.append(
                {
                    "name": stamper.name,
                    "ok": False,
                    "error": redact(f"{type(exc).__name__}: {exc}")[:300],
                }
            )
    result = {
        "ok": ok,
        "tsas": tsas,
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with _tsa_lock:
        _tsa_last[id(services)] = _TsaAnswer(time.monotonic(), result)
    return result


def _queue(services: Services) -> dict[str, Any]:
    counts = services.jobs.counts()
    with services.session() as session:
        oldest = session.scalar(
            select(func.min(Job.not_before)).where(
                Job.state == "queued", Job.not_before <= datetime.now(UTC)
            )
        )
    waited = None
    if oldest is not None:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        waited = round((datetime.now(UTC) - oldest).total_seconds(), 1)
    return {
        "queued": counts.get("queued", 0),
        "running": counts.get("running", 0),
        "failed": counts.get("failed", 0),
        "oldest_due_waiting_s": waited,
    }


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)


@router.get("/healthz")
def healthz() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    checks = {
        "database": _timed(lambda: _database(services)),
        "store": _timed(lambda: _store(services)),
        "tsa": _timed(lambda: _tsa(services)),
    }
    checks["queue"] = (
        _timed(lambda: _queue(services))
        if checks["database"]["ok"]
        else {
            "ok": False,
            "error": "the database is not reachable",
        }
    )
    ready = all(checks[name]["ok"] for name in ("database", "store", "tsa"))
    body = {"status": "ready" if ready else "not ready", "version": __version__, "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
def metrics_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    body = exposition([QueueCollector(services.jobs.counts_by_kind)])
    return Response(body, media_type=CONTENT_TYPE_LATEST)
