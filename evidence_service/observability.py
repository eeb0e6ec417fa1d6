"""What an operator watches: structured logs with a request id, and the Prometheus metrics.

Logs. ``configure_logging`` sets the service commands' logging: plain lines, or one JSON object
per line (``EVIDENCE_LOG_JSON=true``) for a log shipper. Every record carries the request id of
the work it belongs to: the web app takes it from the ``X-Request-ID`` header (or makes one),
``create_capture`` stores it in the capture's job, and the worker sets it again while it works
on that job, so one id follows a capture from the API call to its seal. Messages are scrubbed of
credentials (``Authorization``/``Cookie`` values, ``password=``-style pairs, passwords in URLs):
nothing here logs them on purpose, and a library's message must not leak one by accident.

Metrics. All metric objects are defined here, once (``metrics()``). The web server and the
workers are separate processes, so a counter kept in one process's memory would show only that
process's share. Two mechanisms, each where it is right:

* figures that *happen* in a process (capture and seal durations, seal failures, TSA and store
  latency, worker restarts) use prometheus-client's multiprocess mode: every process on the host
  writes its samples to memory-mapped files in one folder (``share_metrics``; ``evidence run``
  gives its workers the folder, and ``serve``/``worker`` started by hand on the same host use
  the same one), and ``/metrics`` adds them up. A worker on another host exposes nothing here;
  its figures are in that host's folder (and the queue depth below covers what matters most);
* figures that are *state* (jobs queued, running, failed) are read from the database at scrape
  time (``QueueCollector``), so they are right whichever process or host changed them, and a
  dead worker cannot leave a stale gauge behind.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# -- request ids -------------------------------------------------------------------------------

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "evidence_request_id", default=None
)


def new_request_id() -> str:
    return secrets.token_hex(16)


def accept_request_id(value: str | None) -> str:
    """The caller's ``X-Request-ID`` if it is a plain token (so it cannot forge log lines or
    carry a secret of any length), else a new one."""
    if value and _REQUEST_ID_RE.match(value):
        return value
    return new_request_id()


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Log records inside carry ``request_id`` (also in threads started by ``to_thread``)."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


# -- logs --------------------------------------------------------------------------------------

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(authorization|cookie|set-cookie)(\s*[:=]\s*)[^\r\n]*"), r"\1\2[redacted]"),
    (
        re.compile(
            r"(?i)\b(password|passphrase|secret|token|session)([\"']?\s*[:=]\s*[\"']?)[^\s&\"',;]+"
        ),
        r"\1\2[redacted]",
    ),
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*):[^/\s@]+@"), r"\1:[redacted]@"),
)


def redact(text: str) -> str:
    """``text`` with credential values replaced by ``[redacted]``."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _ContextFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request or job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id() or "-"
        return True


def _request_id_of(record: logging.LogRecord) -> str | None:
    value = getattr(record, "request_id", None)
    if value in (None, "-"):
        return current_request_id()
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id, and
    the ``job_id``/``capture_id``/``worker`` a record was given in ``extra``."""

    EXTRA_FIELDS = ("job_id", "capture_id", "worker", "stage", "duration_s")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": _request_id_of(record),
            "pid": record.process,
        }
        for name in self.EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(*, as_json: bool, level: str = "INFO") -> None:
    """Logging of the long-running commands (run, serve, worker): to stderr, plain or JSON,
    with the request id, credentials scrubbed. Replaces whatever was configured before."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            _TextFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's own loggers print through their handlers; route them through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True


# -- metrics -----------------------------------------------------------------------------------

#: Seconds: a capture takes from a second to the capture timeout; TSA and store calls from
#: milliseconds to their own timeouts.
_STAGE_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)
_CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass(frozen=True)
class Metrics:
    """Every metric of the service (names as Prometheus shows them)."""

    capture_stage_seconds: Histogram  # stage: load | seal | total
    seal_stage_seconds: Histogram  # stage: the seal's own steps (manifest, timestamps, store...)
    captures: Counter  # outcome: done | retry | failed | handed_back
    seal_failures: Counter  # reason: timestamp | storage | internal
    tsa_seconds: Histogram  # tsa: the TSA's name; every request, answered or not
    tsa_failures: Counter  # tsa
    store_seconds: Histogram  # operation: put (a sealed capture's objects) | check
    worker_restarts: Counter  # workers the supervisor started again after they exited


@cache
def metrics() -> Metrics:
    """The metric objects, made on first use (after ``share_metrics`` chose where they live)."""
    return Metrics(
        capture_stage_seconds=Histogram(
            "evidence_capture_stage_seconds",
            "Time a capture spent in each stage (load: the browser; seal: to the stored package)",
            ["stage"],
            buckets=_STAGE_BUCKETS,
        ),
        seal_stage_seconds=Histogram(
            "evidence_seal_stage_seconds",
            "Time of each step of a seal (as recorded in the capture's seal timing)",
            ["stage"],
            buckets=(*_CALL_BUCKETS, 60),
        ),
        captures=Counter(
            "evidence_captures", "Capture attempts by what became of them", ["outcome"]
        ),
        seal_failures=Counter(
            "evidence_seal_failures",
            "Seals that did not finish (the capture waits and is retried)",
            ["reason"],
        ),
        tsa_seconds=Histogram(
            "evidence_tsa_request_seconds",
            "Latency of RFC 3161 time-stamp requests",
            ["tsa"],
            buckets=_CALL_BUCKETS,
        ),
        tsa_failures=Counter("evidence_tsa_failures", "Time-stamp requests that failed", ["tsa"]),
        store_seconds=Histogram(
            "evidence_store_seconds",
            "Latency of the object store",
            ["operation"],
            buckets=_CALL_BUCKETS,
        ),
        worker_restarts=Counter(
            "evidence_worker_restarts", "Capture workers started again after they exited"
        ),
    )


def share_metrics(directory: Path, *, fresh: bool = False) -> None:
    """Put this process's metrics in ``directory``, shared with the other processes on this
    host (prometheus-client's multiprocess mode), and have its children do the same.

    Must run before the first metric is made. prometheus-client picks its value class when it
    is imported, from ``PROMETHEUS_MULTIPROC_DIR``; the setting is known only later (after the
    command line and settings are read), so it is picked again here with the library's own
    function. ``fresh`` (``evidence run``, which owns its workers) removes the files of earlier
    runs, so counters start again at zero as Prometheus expects after a restart."""
    if metrics.cache_info().currsize:
        raise RuntimeError("share_metrics must be called before any metric is used")
    if fresh and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    prometheus_values.ValueClass = prometheus_values.get_value_class()


def metrics_shared() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def process_exited(pid: int) -> None:
    """Tell the shared metrics a process is gone (its live gauges no longer count)."""
    if metrics_shared():
        multiprocess.mark_process_dead(pid)


class QueueCollector(Collector):
    """Jobs per kind and state, read from the database when Prometheus scrapes."""

    def __init__(self, counts: Callable[[], Iterable[tuple[str, str, int]]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "evidence_queue_jobs",
            "Jobs in the durable queue by kind and state",
            labels=["kind", "state"],
        )
        try:
            rows = list(self._counts())
        except Exception:  # the database is down: /readyz says so; the rest still scrapes
            logging.getLogger(__name__).warning("queue depth unavailable", exc_info=True)
            rows = []
        for kind, state, n in rows:
            family.add_metric([kind, state], n)
        yield family


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text ``/metrics`` serves: every process's figures on this host (or this process's
    alone when metrics are not shared), then the ``extra`` collectors, read at scrape time."""
    metrics()  # the families exist (at zero) even before the first capture
    if metrics_shared():
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    scraped = CollectorRegistry()
    for collector in extra:
        scraped.register(collector)
    return generate_latest(processes) + generate_latest(scraped)


@contextmanager
def timed(histogram: Histogram, **labels: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        histogram.labels(**labels).observe(time.perf_counter() - t0)


def observe_seal_timing(timing: Mapping[str, float]) -> None:
    """Record a finished seal's timing (the dict it keeps in the capture's summary)."""
    m = metrics()
    for key, seconds in timing.items():
        if key == "seal_total_s":
            m.capture_stage_seconds.labels(stage="seal").observe(seconds)
            continue
        if key == "store_s":
            m.store_seconds.labels(operation="put").observe(seconds)
        m.seal_stage_seconds.labels(stage=key.removesuffix("_s")).observe(seconds)


@contextmanager
def observe_tsa(name: str) -> Iterator[None]:
    """Time one time-stamp request to the TSA ``name``; count it as failed if it raises."""
    m = metrics()
    t0 = time.perf_counter()
    try:
        yield
    except BaseException:
        m.tsa_failures.labels(tsa=name).inc()
        raise
    finally:
        m.tsa_seconds.labels(tsa=name).observe(time.perf_counter() - t0)
