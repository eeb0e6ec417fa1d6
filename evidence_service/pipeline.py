"""One capture from request to sealed package: the only place that composes capture, signing
and storage.

A capture goes through explicit states, each committed to the database before the work of the
next begins::

    queued → loading → sealing → stored        (outcome complete or partial)
                   ↘ failed                     (nothing sealed; reason recorded)

Why the stages are separate: a browser load cannot be resumed, but sealing can. So the raw
capture is first written to a private work folder and marked finished with ``result.json``
(renamed into place, so it exists only when whole). Sealing then builds the WACZ into the same
folder (also renamed into place), signs and time-stamps it, and writes it to the immutable store.
A worker killed while loading leaves no ``result.json``: the next attempt starts the capture
again. A worker killed while sealing, or a TSA or store that is down, leaves the finished capture
in place: the next attempt only seals. Nothing is ever marked ``stored`` without a package whose
signature carries a valid time-stamp token.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select

from capture import CaptureEngine, CaptureError, check_url, parse_cookies_file
from capture.types import CaptureLimits, CaptureOptions, CaptureResult, Cookie
from capture.wacz import WaczInfo, build_wacz
from signing.errors import TimestampError
from signing.timestamp import read_timestamp
from storage.errors import StorageError
from storage.models import Capture, Job, User

from .services import Services

log = logging.getLogger(__name__)

STAGES = ("queued", "loading", "sealing", "stored")
MAX_LOAD_ATTEMPTS = 5


@dataclass(frozen=True)
class Outcome:
    """What the worker should do with the job after one attempt."""

    kind: Literal["done", "retry", "failed"]
    reason: str = ""
    delay_s: float = 0.0


class CaptureRequestError(ValueError):
    """The capture request itself is wrong (URL, cookies): reported at once, nothing queued."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# -- accepting a request ----------------------------------------------------------------------


def load_cookies(data: bytes | str, url: str) -> list[Cookie]:
    """Parse an uploaded cookie file (Netscape cookies.txt or Playwright JSON)."""
    from urllib.parse import urlsplit

    raw = data.encode() if isinstance(data, str) else data
    try:
        return parse_cookies_file(raw, default_domain=urlsplit(url).hostname)
    except CaptureError as exc:
        raise CaptureRequestError(exc.code, str(exc)) from exc


def create_capture(
    services: Services,
    url: str,
    *,
    user_id: int | None,
    cookies: Sequence[Cookie] = (),
    enqueue: bool = True,
) -> str:
    """Validate the URL, record the capture and (by default) its job in one transaction.

    The row and the job are committed before this returns, so a capture the API has accepted
    survives a crash of the server or of any worker.
    """
    try:
        normalised = check_url(url, allow_private=services.settings.capture_allow_private)
    except CaptureError as exc:
        raise CaptureRequestError(exc.code, str(exc)) from exc
    cookie_blob = None
    if cookies:
        cookie_blob = services.secret_box.seal(
            json.dumps([dataclasses.asdict(c) for c in cookies]).encode()
        )
    s = services.settings
    options = {
        "timeout_s": s.capture_timeout_s,
        "max_bytes": s.capture_max_bytes,
        "max_resources": s.capture_max_resources,
        "viewport": [s.capture_viewport_width, s.capture_viewport_height],
        "user_agent": s.capture_user_agent,
        "accept_language": s.capture_accept_language,
    }
    with services.session() as session:
        capture = Capture(
            requested_url=normalised,
            status="queued",
            created_by_id=user_id,
            authenticated=bool(cookies),
            cookie_names=sorted({c.name for c in cookies}),
            cookies_encrypted=cookie_blob,
            options=options,
            limits_hit=[],
            summary={},
        )
        session.add(capture)
        session.flush()
        if enqueue:
            job = services.jobs.enqueue(session, "capture", capture_id=capture.id)
            job.max_attempts = 1000  # a TSA may be down for a long time; keep retrying sealing
        return str(capture.id)


# -- running one attempt ----------------------------------------------------------------------


async def process_capture(
    services: Services, engine: CaptureEngine, capture_id: str, *, attempt: int = 1
) -> Outcome:
    """Advance one capture as far as possible. Never raises for expected failures."""
    with services.session() as session:
        cap = session.get(Capture, capture_id)
        if cap is None:
            return Outcome("failed", f"capture {capture_id} does not exist")
        if cap.status in ("stored", "failed"):
            return Outcome("done")
    workdir = services.settings.work_dir / capture_id
    manifest = workdir / "result.json"
    if not manifest.exists():
        outcome = await _load(services, engine, capture_id, workdir, attempt)
        if outcome is not None:
            return outcome
    try:
        result = _read_manifest(manifest)
        await asyncio.to_thread(seal_capture, services, capture_id, result, workdir)
    except (TimestampError, StorageError) as exc:
        return _defer(services, capture_id, attempt, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a bug or an unforeseen failure: keep the capture, retry later
        log.exception("sealing capture %s failed", capture_id)
        return _defer(services, capture_id, attempt, f"internal error while sealing: {exc}")
    return Outcome("done")


def _defer(services: Services, capture_id: str, attempt: int, reason: str) -> Outcome:
    s = services.settings
    delay = min(s.seal_retry_initial_s * 2 ** max(attempt - 1, 0), s.seal_retry_max_s)
    when = datetime.now(UTC).timestamp() + delay
    detail = (
        f"Waiting to seal: {reason}. The capture is kept unsealed and will be retried "
        f"at {datetime.fromtimestamp(when, UTC):%H:%M:%S} UTC (attempt {attempt})."
    )
    with services.session() as session:
        cap = session.get(Capture, capture_id)
        if cap is not None:
            cap.status = "sealing"
            cap.progress_detail = detail
    return Outcome("retry", reason, delay)


async def _load(
    services: Services, engine: CaptureEngine, capture_id: str, workdir: Path, attempt: int
) -> Outcome | None:
    """Run the browser capture; None means it finished and sealing can start."""
    shutil.rmtree(workdir, ignore_errors=True)  # leftovers of a killed attempt are not evidence
    if attempt > MAX_LOAD_ATTEMPTS:
        # Workers kept dying on this page (a page that crashes Chromium, say): stop trying.
        _mark_failed(
            services,
            capture_id,
            "browser_error",
            f"the page could not be loaded in {MAX_LOAD_ATTEMPTS} attempts: each time the worker "
            "or its browser stopped before the capture finished",
        )
        return Outcome("failed", "too many attempts")
    workdir.mkdir(parents=True)
    with services.session() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None
        cap.status = "loading"
        cap.progress_detail = None
        cap.started_at = datetime.now(UTC)
        url = cap.requested_url
        stored_options = dict(cap.options or {})
        cookies = _decrypt_cookies(services, cap.cookies_encrypted)
        requested_by = None
        if cap.created_by_id is not None:
            user = session.get(User, cap.created_by_id)
            requested_by = user.username if user else None
    options = _capture_options(services, stored_options, cookies, capture_id, requested_by)
    try:
        result = await engine.capture(url, options, workdir / "capture")
    except CaptureError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        if exc.retryable and attempt < 3:
            return Outcome("retry", str(exc), 2.0)
        _mark_failed(services, capture_id, exc.code, str(exc))
        return Outcome("failed", str(exc))
    _write_manifest(workdir / "result.json", result)
    with services.session() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None
        cap.status = "sealing"
        cap.progress_detail = None
        cap.outcome = result.outcome
        cap.final_url = result.final_url
        cap.http_status = result.http_status
        cap.title = result.title
        cap.started_at = result.started_at
        cap.ended_at = result.ended_at
        cap.limits_hit = list(result.limits_hit)
        cap.cookies_encrypted = None  # used once, never kept
    return None


def _mark_failed(services: Services, capture_id: str, code: str, message: str) -> None:
    with services.session() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None
        cap.status = "failed"
        cap.error_code = code
        cap.error_message = message
        cap.cookies_encrypted = None
        cap.progress_detail = None
        cap.ended_at = datetime.now(UTC)


def reap_abandoned(services: Services) -> int:
    """Mark failed the captures whose job the queue gave up on (attempts exhausted)."""
    with services.session() as session:
        rows = session.execute(
            select(Capture, Job)
            .join(Job, Job.capture_id == Capture.id)
            .where(Job.state == "failed", Capture.status.in_(("queued", "loading", "sealing")))
        ).all()
        for cap, job in rows:
            cap.status = "failed"
            cap.error_code = "abandoned"
            cap.error_message = (
                f"gave up after {job.attempts} attempts; last error: {job.last_error or 'none'}"
            )
            cap.cookies_encrypted = None
            cap.progress_detail = None
        return len(rows)


def _capture_options(
    services: Services,
    stored: dict[str, Any],
    cookies: list[Cookie],
    capture_id: str,
    requested_by: str | None,
) -> CaptureOptions:
    s = services.settings
    viewport = stored.get("viewport") or [s.capture_viewport_width, s.capture_viewport_height]
    return CaptureOptions(
        limits=CaptureLimits(
            timeout_s=float(stored.get("timeout_s", s.capture_timeout_s)),
            max_bytes=int(stored.get("max_bytes", s.capture_max_bytes)),
            max_resources=int(stored.get("max_resources", s.capture_max_resources)),
        ),
        viewport=(int(viewport[0]), int(viewport[1])),
        user_agent=stored.get("user_agent", s.capture_user_agent),
        accept_language=stored.get("accept_language", s.capture_accept_language),
        allow_private=s.capture_allow_private,
        cookies=tuple(cookies),
        clock_reference=_clock_reference(services),
        extra_provenance={
            "capture_id": capture_id,
            "requested_by": requested_by,
            "service": s.effective_hostname,
            "service_url": s.effective_public_url,
        },
        on_progress=lambda stage: _note_progress(services, capture_id, stage),
    )


def _clock_reference(services: Services) -> Callable[[], datetime]:
    """Trusted time for the clock-offset check: a time-stamp over a random nonce."""

    def reference() -> datetime:
        return services.timestampers[0].stamp(os.urandom(32)).gen_time

    return reference


def _note_progress(services: Services, capture_id: str, stage: str) -> None:
    try:
        with services.session() as session:
            cap = session.get(Capture, capture_id)
            if cap is not None and cap.status == "loading":
                cap.progress_detail = stage
    except Exception:  # progress is cosmetic; never let it break a capture
        log.debug("could not record progress for %s", capture_id, exc_info=True)


def _decrypt_cookies(services: Services, blob: bytes | None) -> list[Cookie]:
    if not blob:
        return []
    return [Cookie(**c) for c in json.loads(services.secret_box.open(blob))]


# -- sealing ----------------------------------------------------------------------------------


def seal_capture(services: Services, capture_id: str, result: CaptureResult, workdir: Path) -> None:
    """Package, sign, time-stamp and store a finished capture; then mark it stored."""
    package = workdir / "package.wacz"
    info_file = workdir / "package.json"
    if package.exists() and info_file.exists():
        info = json.loads(info_file.read_text())
    else:
        with services.session() as session:
            cap = session.get(Capture, capture_id)
            assert cap is not None
            cap.progress_detail = "signing and time-stamping the package"
        wacz = build_wacz(
            result,
            package,
            sign=services.package_signer.sign,
            extra_files=[("files/provenance.html", result.provenance_html_path)],
            title=result.title or result.final_url,
            description=f"Evidence capture {capture_id} of {result.requested_url}",
        )
        info = _package_record(wacz)
        _atomic_write(info_file, json.dumps(info).encode())
    store = services.store
    stored = {
        "package": store.put_file(package, content_type="application/wacz+zip"),
        "screenshot": store.put_file(result.screenshot_path, content_type="image/png"),
        "pdf": store.put_file(result.pdf_path, content_type="application/pdf"),
        "provenance": store.put_file(result.provenance_json_path, content_type="application/json"),
        "provenance_html": store.put_file(
            result.provenance_html_path, content_type="text/html; charset=utf-8"
        ),
    }
    token = info.get("timestamp") or {}
    with services.session() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None
        cap.package_key = stored["package"].key
        cap.package_sha256 = stored["package"].sha256
        cap.package_size = stored["package"].size
        cap.screenshot_key = stored["screenshot"].key
        cap.pdf_key = stored["pdf"].key
        cap.provenance_key = stored["provenance"].key
        cap.provenance_html_key = stored["provenance_html"].key
        cap.trusted_time = (
            datetime.fromisoformat(token["gen_time"]) if token.get("gen_time") else None
        )
        cap.tsa_name = token.get("tsa_name")
        cap.tsa_serial = token.get("serial")
        cap.summary = {
            "resources": info["resources"],
            "datapackage_sha256": info["datapackage_sha256"],
            "signature": info.get("signature", {}),
            "resource_count": result.resource_count,
            "total_bytes": result.total_bytes,
            "not_loaded": list(result.not_loaded)[:200],
            "browser_version": result.browser_version,
            "user_agent": result.user_agent,
        }
        cap.status = "stored"
        cap.progress_detail = None
        cap.sealed_at = datetime.now(UTC)
    shutil.rmtree(workdir, ignore_errors=True)


def _package_record(info: WaczInfo) -> dict[str, Any]:
    signed = info.signed_data or {}
    record: dict[str, Any] = {
        "sha256": info.sha256,
        "size": info.size,
        "datapackage_sha256": info.datapackage_sha256,
        "resources": [dict(r) for r in info.resources],
        "signature": {k: signed.get(k) for k in ("created", "domain", "software") if k in signed},
    }
    if signed.get("timeSignature"):
        record["timestamp"] = token_facts(signed["timeSignature"])
    return record


def token_facts(time_signature_b64: str | bytes) -> dict[str, Any]:
    """genTime, serial and TSA name from a base64 TimeStampResp, for display and search."""
    tok = read_timestamp(base64.b64decode(time_signature_b64))
    return {
        "gen_time": tok.gen_time.astimezone(UTC).isoformat(),
        "serial": str(tok.serial),
        "tsa_name": tok.tsa_name,
    }


# -- manifest ---------------------------------------------------------------------------------


def _write_manifest(path: Path, result: CaptureResult) -> None:
    def encode(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, tuple):
            return list(value)
        return value

    data = {f.name: encode(getattr(result, f.name)) for f in dataclasses.fields(result)}
    _atomic_write(path, json.dumps(data, default=str).encode())


def _read_manifest(path: Path) -> CaptureResult:
    data = json.loads(path.read_text())
    for name in (
        "warc_path",
        "screenshot_path",
        "pdf_path",
        "provenance_json_path",
        "provenance_html_path",
    ):
        data[name] = Path(data[name])
    for name in ("started_at", "ended_at"):
        data[name] = datetime.fromisoformat(data[name])
    for name in ("limits_hit", "not_loaded"):
        data[name] = tuple(data[name])
    known = {f.name for f in dataclasses.fields(CaptureResult)}
    return CaptureResult(**{k: v for k, v in data.items() if k in known})


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def find_capture(services: Services, capture_id: str) -> Capture | None:
    with services.sessions() as session:
        return session.scalar(select(Capture).where(Capture.id == capture_id))
