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
import errno
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from capture import CaptureEngine, CaptureError, check_url, parse_cookies_file
from capture.devices import device as find_device
from capture.types import CaptureLimits, CaptureOptions, CaptureResult, Cookie, VideoOptions
from capture.wacz import WaczInfo, build_wacz
from certs.pki import load_pem_certificates
from evidence_service.observability import current_request_id, metrics, observe_seal_timing
from evidence_service.sealing.certificate import (
    CertificateImages,
    CertificateInputs,
    ManifestStamp,
    certificate_images,
    make_certificate,
    qr_modules,
    service_seal_credential,
    warm_up,
)
from evidence_service.sealing.renewal import seal_facts, write_sidecar_for
from evidence_service.sealing.transparency import TransparencyLog
from evidence_service.services import Services
from signing.errors import TimestampError
from signing.timestamp import TimestampToken, read_timestamp, require_complete_chain
from storage.errors import StorageError
from storage.models import Capture, Job, User
from storage.objects import StoredObject
from workflow.idempotency import IdempotencyKeyError, check_key, once

log = logging.getLogger(__name__)

STAGES = ("queued", "loading", "sealing", "stored")
MAX_LOAD_ATTEMPTS = 5


@dataclass(frozen=True)
class Outcome:
    """What the worker should do with the job after one attempt."""

    kind: Literal["done", "retry", "failed"]
    reason: str = ""
    delay_s: float = 0.0


@dataclass(frozen=True)
class Loaded:
    """The browser's half is done: ``result.json`` is in the work folder and the seal may
    start. ``recorded`` says whether the load (outcome, title, status) is in the database
    already; a worker killed between writing ``result.json`` and recording it left it out,
    and the seal records it first."""

    recorded: bool


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
    options: Mapping[str, Any] | None = None,
    video: bool | None = None,
    device: str | None = None,
    also: Callable[[Session, str], object] | None = None,
) -> str:
    """Validate the URL, record the capture and (by default) its job in one transaction.

    The row and the job are committed before this returns, so a capture the API has accepted
    survives a crash of the server or of any worker. ``options``: the capture settings
    (limits, viewport, user agent, languages, video, device) to use instead of the current
    ones (a re-capture repeats those of the capture it repeats). ``video``: record the session
    (None: the ``capture_video`` setting); ``device``: a Playwright device name to emulate.
    ``also(session, capture_id)``: what the caller records about the capture, in the same
    transaction (a watch's run naming it): committed with the capture, or, when it raises,
    neither -- so a crash in between cannot leave a capture its caller does not know of.
    """
    wanted = _prepare(services, url, cookies, options, video, device)
    with services.session() as session:
        capture_id = _insert(services, session, wanted, user_id, enqueue=enqueue)
        if also is not None:
            also(session, capture_id)
        return capture_id


@dataclass(frozen=True)
class Accepted:
    """A capture request the service has taken: ``replayed`` when an earlier request with the
    same idempotency key had already made it (nothing new was queued)."""

    capture_id: str
    replayed: bool


def accept_capture(
    services: Services,
    url: str,
    *,
    user_id: int,
    idempotency_key: str | None,
    cookies: Sequence[Cookie] = (),
    video: bool | None = None,
    device: str | None = None,
) -> Accepted:
    """:func:`create_capture` for a client that may send the same request twice.

    A client whose request timed out, or whose reply was lost (the database restarted after
    the commit), cannot know whether the capture was made; retrying it blindly makes a second
    capture of the same page. With an ``Idempotency-Key`` (one per intended capture) the retry
    gets the capture the first request made. The key is the user's own: another user's key
    never matches. The same key with another request (URL, video, device, cookie names) is
    refused, since the client has mixed up two requests.
    """
    wanted = _prepare(services, url, cookies, None, video, device)
    key = None if idempotency_key is None else check_idempotency_key(idempotency_key)

    def make() -> str:
        with services.session() as session:
            return _insert(services, session, wanted, user_id, enqueue=True, key=key)

    if key is None:
        return Accepted(make(), False)

    def earlier() -> str | None:
        with services.session() as session:
            return replayed_capture(session, user_id, key, wanted)

    return Accepted(*once(earlier, make))


@dataclass(frozen=True)
class _Wanted:
    """A validated capture request, before it is recorded."""

    url: str
    cookie_names: list[str]
    cookie_blob: bytes | None
    options: dict[str, Any]


def _prepare(
    services: Services,
    url: str,
    cookies: Sequence[Cookie],
    options: Mapping[str, Any] | None,
    video: bool | None,
    device: str | None,
) -> _Wanted:
    try:
        normalised = check_url(url, allow_private=services.settings.capture_allow_private)
        device_name = find_device(device).name if device and device.strip() else None
    except CaptureError as exc:
        raise CaptureRequestError(exc.code, str(exc)) from exc
    cookie_blob = None
    if cookies:
        cookie_blob = services.secret_box.seal(
            json.dumps([dataclasses.asdict(c) for c in cookies]).encode()
        )
    s = services.settings
    settings_now: dict[str, Any] = {
        "timeout_s": s.capture_timeout_s,
        "max_bytes": s.capture_max_bytes,
        "max_resources": s.capture_max_resources,
        "viewport": [s.capture_viewport_width, s.capture_viewport_height],
        "user_agent": s.capture_user_agent,
        "accept_language": s.capture_accept_language,
        "video": s.capture_video if video is None else bool(video),
        "device": device_name,
    }
    names = sorted({c.name for c in cookies})
    return _Wanted(normalised, names, cookie_blob, {**settings_now, **(options or {})})


def _insert(
    services: Services,
    session: Session,
    wanted: _Wanted,
    user_id: int | None,
    *,
    enqueue: bool,
    key: str | None = None,
) -> str:
    capture = Capture(
        requested_url=wanted.url,
        status="queued",
        created_by_id=user_id,
        idempotency_key=key,
        authenticated=bool(wanted.cookie_names),
        cookie_names=wanted.cookie_names,
        cookies_encrypted=wanted.cookie_blob,
        options=wanted.options,
        limits_hit=[],
        summary={},
    )
    session.add(capture)
    session.flush()
    if enqueue:
        job = services.jobs.enqueue(
            session,
            "capture",
            capture_id=capture.id,
            payload={"request_id": current_request_id()} if current_request_id() else None,
        )
        job.max_attempts = 1000  # a TSA may be down for a long time; keep retrying sealing
    return str(capture.id)


def check_idempotency_key(key: str) -> str:
    """The key as given, or :class:`CaptureRequestError` saying what is wrong with it (the
    form every request's key shares: :func:`workflow.idempotency.check_key`)."""
    try:
        return check_key(key)
    except IdempotencyKeyError as exc:
        raise CaptureRequestError(exc.code, str(exc)) from exc


def replayed_capture(session: Session, user_id: int, key: str, wanted: _Wanted) -> str | None:
    """The capture this user's earlier request with ``key`` made, if it asked for the same."""
    earlier = session.scalars(
        select(Capture).where(Capture.created_by_id == user_id, Capture.idempotency_key == key)
    ).first()
    if earlier is None:
        return None
    same = (
        earlier.requested_url == wanted.url
        and (earlier.options or {}).get("video") == wanted.options["video"]
        and (earlier.options or {}).get("device") == wanted.options["device"]
        and list(earlier.cookie_names or []) == wanted.cookie_names
    )
    if not same:
        raise CaptureRequestError(
            "idempotency_key_reused",
            f"this Idempotency-Key was already used for another request (capture {earlier.id} "
            f"of {earlier.requested_url}); use a new key for each capture",
        )
    return str(earlier.id)


#: The settings of a capture that a re-capture repeats (see :func:`recapture`).
RECAPTURE_SETTINGS = ("timeout_s", "max_bytes", "max_resources", "viewport", "user_agent",
                      "accept_language", "video", "device")  # fmt: skip


def recapture(
    services: Services, capture_id: str, *, user_id: int | None, cookies: Sequence[Cookie] = ()
) -> str:
    """Capture the URL of ``capture_id`` again with its settings ("Capture again"): the same
    requested URL, limits, viewport, user agent and languages; returns the new capture's id.

    Session cookies are used once and never kept, so a capture made logged in can only be
    repeated with the cookies given again (``cookies_needed`` otherwise)."""
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        if cap is None:
            raise CaptureRequestError("not_found", f"no capture {capture_id}")
        url, authenticated = cap.requested_url, cap.authenticated
        stored = dict(cap.options or {})
    if authenticated and not cookies:
        raise CaptureRequestError(
            "cookies_needed",
            f"capture {capture_id} was made logged in, and session cookies are never kept: "
            "give the cookies again to capture it the same way",
        )
    options = {k: stored[k] for k in RECAPTURE_SETTINGS if k in stored}
    options["recapture_of"] = capture_id
    return create_capture(services, url, user_id=user_id, cookies=cookies, options=options)


# -- running one attempt ----------------------------------------------------------------------


async def process_capture(
    services: Services, engine: CaptureEngine, capture_id: str, *, attempt: int = 1
) -> Outcome:
    """Advance one capture as far as possible. Never raises for expected failures."""
    loaded = await load_capture(services, engine, capture_id, attempt=attempt)
    if isinstance(loaded, Outcome):
        return loaded
    return await seal_loaded(services, capture_id, loaded, attempt=attempt)


async def load_capture(
    services: Services, engine: CaptureEngine, capture_id: str, *, attempt: int = 1
) -> Outcome | Loaded:
    """The browser's half of ``process_capture``: :class:`Loaded` when the capture is loaded
    (now or by an earlier attempt) and waits for ``seal_loaded``. Apart, so that a worker can
    load the next page while this one seals (the browser is then free; the seal does not
    need it)."""
    with services.session() as session:
        cap = session.get(Capture, capture_id)
        if cap is None:
            return Outcome("failed", f"capture {capture_id} does not exist")
        if cap.status in ("stored", "failed"):
            return Outcome("done")
        recorded = cap.outcome is not None
    workdir = services.settings.work_dir / capture_id
    if (workdir / "result.json").exists():
        return Loaded(recorded=recorded)
    t0 = time.perf_counter()
    outcome = await _load(services, engine, capture_id, workdir, attempt)
    if outcome is not None:
        return outcome
    metrics().capture_stage_seconds.labels(stage="load").observe(time.perf_counter() - t0)
    return Loaded(recorded=True)  # ``_load`` recorded it


async def seal_loaded(
    services: Services, capture_id: str, loaded: Loaded, *, attempt: int = 1
) -> Outcome:
    """The seal's half of ``process_capture`` (in a thread: the event loop stays free). A
    load that was not recorded (see :class:`Loaded`) is recorded from ``result.json`` first."""
    workdir = services.settings.work_dir / capture_id
    try:
        result = _read_manifest(workdir / "result.json")
        if not loaded.recorded:
            await asyncio.to_thread(_record_load, services, capture_id, result)
        await asyncio.to_thread(seal_capture, services, capture_id, result, workdir)
    except (TimestampError, StorageError) as exc:
        reason = "timestamp" if isinstance(exc, TimestampError) else "storage"
        metrics().seal_failures.labels(reason=reason).inc()
        return _defer(services, capture_id, attempt, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a bug or an unforeseen failure: keep the capture, retry later
        if isinstance(exc, OSError) and _disk_error(exc):  # full or read-only: resumes later
            reason = f"the work folder {services.settings.work_dir} cannot be written ({exc})"
            return _defer(services, capture_id, attempt, reason)
        log.exception("sealing capture %s failed", capture_id)
        metrics().seal_failures.labels(reason="internal").inc()
        return _defer(services, capture_id, attempt, f"internal error while sealing: {exc}")
    return Outcome("done")


def note_handed_back(services: Services, capture_id: str) -> None:
    """A stopping worker gave the capture's job back while the page loaded: it waits again."""
    with services.session() as session:
        cap = session.get(Capture, capture_id)
        if cap is not None and cap.status == "loading":
            cap.status = "queued"
            cap.progress_detail = "a stopping worker handed the capture back; it will be retried"
    shutil.rmtree(services.settings.work_dir / capture_id, ignore_errors=True)


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
    if attempt - _work_folder_deferrals(services, capture_id) > MAX_LOAD_ATTEMPTS:
        # Workers kept dying on this page (a page that crashes Chromium, say): stop trying.
        _mark_failed(
            services,
            capture_id,
            "browser_error",
            f"the page could not be loaded in {MAX_LOAD_ATTEMPTS} attempts: each time the worker "
            "or its browser stopped before the capture finished",
        )
        return Outcome("failed", "too many attempts")
    try:
        workdir.mkdir(parents=True)
    except OSError as exc:
        if not _disk_error(exc):
            raise
        return _defer_load(services, capture_id, workdir, attempt, exc)
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
    _IMAGES.submit(warm_up, services)  # once per process, while the browser works
    _IMAGES.submit(_prepare_seal, services, capture_id)  # the seal's first DB write, meanwhile
    try:
        result = await engine.capture(url, options, workdir / "capture")
    except CaptureError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        if exc.retryable and attempt < 3:
            return Outcome("retry", str(exc), 2.0)
        _mark_failed(services, capture_id, exc.code, str(exc))
        return Outcome("failed", str(exc))
    except OSError as exc:  # the work folder, not the page: full or read-only
        if not _disk_error(exc):
            raise
        return _defer_load(services, capture_id, workdir, attempt, exc)
    try:
        _write_manifest(workdir / "result.json", result)
    except OSError as exc:
        if not _disk_error(exc):
            raise
        return _defer_load(services, capture_id, workdir, attempt, exc)
    _record_load(services, capture_id, result)
    return None


#: A file system that cannot take the work folder's writes (not a network error, which are
#: OSErrors too): full, over quota, read-only.
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def _disk_error(exc: OSError) -> bool:
    return exc.errno in _DISK_ERRNOS


def _work_folder_deferrals(services: Services, capture_id: str) -> int:
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        return int(((cap.summary or {}) if cap else {}).get("work_folder_deferrals", 0))


def _defer_load(
    services: Services, capture_id: str, workdir: Path, attempt: int, exc: OSError
) -> Outcome:
    """The work folder could not be written (a full disk, say): the page is loaded again later,
    from the start (what was written is no evidence), with back-off. Such attempts do not count
    towards ``MAX_LOAD_ATTEMPTS`` (which stops a page that keeps killing the browser): a disk
    full for a while must not fail every capture queued meanwhile."""
    shutil.rmtree(workdir, ignore_errors=True)
    s = services.settings
    delay = min(s.seal_retry_initial_s * 2 ** max(attempt - 1, 0), s.seal_retry_max_s)
    when = datetime.fromtimestamp(datetime.now(UTC).timestamp() + delay, UTC)
    reason = (
        f"the work folder {s.work_dir} cannot be written ({exc.strerror or exc}); free space "
        "there (or fix its permissions)"
    )
    log.warning("capture %s: %s; loading it again at %s", capture_id, reason, f"{when:%H:%M:%S}")
    with services.session() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None
        cap.status = "queued"
        cap.progress_detail = (
            f"Waiting to load: {reason}. The page will be loaded again at {when:%H:%M:%S} UTC "
            f"(attempt {attempt})."
        )
        summary = dict(cap.summary or {})
        summary["work_folder_deferrals"] = int(summary.get("work_folder_deferrals", 0)) + 1
        cap.summary = summary
    return Outcome("retry", reason, delay)


def _record_load(services: Services, capture_id: str, result: CaptureResult) -> None:
    """What the finished load found (outcome, final URL, status, title, times, limits hit) goes
    on the capture's row. Also called before a resumed seal whose row lacks it: a worker killed
    (or a database that went away) between ``result.json`` and this commit must not leave a
    sealed capture without its outcome."""
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
        device=stored.get("device") or None,
        video=VideoOptions(
            fps=s.capture_video_fps,
            max_seconds=s.capture_video_max_seconds,
            max_bytes=s.capture_video_max_bytes,
        )
        if stored.get("video")
        else None,
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
#
# Order (docs/evidence-package.md): manifest.json -> manifest.tsr (one per TSA) -> log entry ->
# certificate.pdf -> WACZ with all of them in files/ -> package signature. Each product is
# written into ``<workdir>/seal/`` as soon as it exists (atomically), and a retry reuses it: a
# crash or a TSA outage half-way never logs a manifest twice, and the certificate keeps the
# time-stamp it states.

SEAL_DIR = "seal"
#: One helper thread per process for work that overlaps the capture or a seal's sequential
#: stages (warming up the certificate renderer and signer, the verification code, the
#: certificate's images).
_IMAGES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seal-images")
#: Writes to the object store: each is mostly waiting (fsync, or an S3 round trip), so they
#: run side by side, and those of the capture's own files start while the seal still works.
_STORE = ThreadPoolExecutor(max_workers=4, thread_name_prefix="seal-store")
#: Appends to the transparency log, side by side with the manifest's time-stamps.
_LOG = ThreadPoolExecutor(max_workers=2, thread_name_prefix="seal-log")
VERIFY_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
VERIFY_CODE_LENGTH = 10


class SealError(RuntimeError):
    """The sealed package would not be what the manifest says (a bug: the seal is retried)."""


@dataclass
class _SealParts:
    manifest: dict[str, Any]
    manifest_sha256: str
    files: list[tuple[str, Path]]
    tokens: list[TimestampToken]
    log_entry: dict[str, Any]
    verify_code: str
    certificate_path: Path
    certificates_pem: list[str]
    timing: dict[str, float]


def _sha256_file(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def manifest_file_list(
    result: CaptureResult, index_path: Path, pages_path: Path | None = None
) -> list[tuple[str, Path]]:
    """The package paths of the files the manifest lists, and where they are now.

    The same names as ``build_wacz`` gives them. ``pages/pages.jsonl`` is listed when given:
    the seal makes it ahead with ``capture.wacz.pages_jsonl`` (page id = capture id), and the
    packager writes the same bytes (checked after packaging, like the index).
    """
    suffix = Path(result.screenshot_path).suffix or ".png"
    files = [
        ("archive/data.warc.gz", Path(result.warc_path)),
        ("indexes/index.cdx", index_path),
        *([("pages/pages.jsonl", pages_path)] if pages_path is not None else []),
        (f"files/screenshot{suffix}", Path(result.screenshot_path)),
        ("files/page.pdf", Path(result.pdf_path)),
        ("files/provenance.json", Path(result.provenance_json_path)),
        ("files/provenance.html", Path(result.provenance_html_path)),
        *([("files/video.webm", Path(result.video_path))] if result.video_path else []),
    ]
    return [(arc, src) for arc, src in files if src.is_file()]


def build_manifest(
    services: Services, capture_id: str, result: CaptureResult, files: list[tuple[str, Path]]
) -> bytes:
    """``files/manifest.json``: canonical JSON (sorted keys, no spaces, UTF-8)."""
    from signing.translog import canonical_json

    manifest = {
        "type": "evidence-capture-manifest",
        "version": 1,
        "capture_id": capture_id,
        "service": services.settings.effective_hostname,
        "requested_url": result.requested_url,
        "final_url": result.final_url,
        "http_status": result.http_status,
        "outcome": result.outcome,
        "limits_hit": list(result.limits_hit),
        "capture_started": _iso_z(result.started_at),
        "capture_ended": _iso_z(result.ended_at),
        "files": {arc: f"sha256:{_sha256_file(src)}" for arc, src in files},
        "warc_resources": dict(result.resource_uris),
    }
    return canonical_json(manifest)


def _token_name(i: int) -> str:
    return "manifest.tsr" if i == 0 else f"manifest.{i + 1}.tsr"


def _verify_code(services: Services, capture_id: str) -> str | None:
    with services.sessions() as session:
        code: str | None = session.scalar(
            select(Capture.verify_code).where(Capture.id == capture_id)
        )
        return code


def _ensure_verify_code(services: Services, capture_id: str) -> str:
    """The capture's public verification code, drawn once: a conditional update, so two
    callers (the helper thread during the load, the seal) always end with the same code."""
    import secrets

    from sqlalchemy import update

    for _ in range(5):
        existing = _verify_code(services, capture_id)
        if existing:
            return existing
        code = "".join(secrets.choice(VERIFY_CODE_ALPHABET) for _ in range(VERIFY_CODE_LENGTH))
        try:
            with services.session() as session:
                session.execute(
                    update(Capture)
                    .where(Capture.id == capture_id, Capture.verify_code.is_(None))
                    .values(verify_code=code)
                )
        except IntegrityError:  # the same code drawn twice: draw again
            continue
    existing = _verify_code(services, capture_id)
    if existing:
        return existing
    raise SealError("could not draw a unique verification code")


#: QR codes made ahead by :func:`_prepare_seal`: capture id -> (verify URL, modules).
_PREPARED: dict[str, tuple[str, Any]] = {}
_PREPARED_MAX = 64


def _prepare_seal(services: Services, capture_id: str) -> None:
    """Done while the browser loads the page (nothing here depends on it): draw the
    verification code and make the certificate's QR code, so the seal finds both ready."""
    try:
        url = _verify_url(services, _ensure_verify_code(services, capture_id))
        modules = qr_modules(url)
    except Exception:  # the seal does it itself (and reports a failure properly)
        log.debug("could not prepare the seal of %s ahead", capture_id, exc_info=True)
        return
    while len(_PREPARED) >= _PREPARED_MAX:  # loads that never reached their seal
        _PREPARED.pop(next(iter(_PREPARED)))
    _PREPARED[capture_id] = (url, modules)


def _verify_url(services: Services, code: str) -> str:
    return f"{services.settings.effective_public_url}/v/{code}"


def _package_title(result: CaptureResult) -> str:
    return result.title or result.final_url


def _seal_parts(
    services: Services,
    capture_id: str,
    result: CaptureResult,
    workdir: Path,
    early: dict[str, Future[StoredObject]],
) -> _SealParts:
    """Manifest, its time-stamps, the log entry and the certificate (reused when present).

    Once the manifest exists the capture's own files are final: their writes to the object
    store start then (into ``early``) and go on while the rest is made."""
    import hashlib
    import time

    from capture.wacz import index_warc, pages_jsonl

    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    seal = workdir / SEAL_DIR
    seal.mkdir(exist_ok=True)
    certificate_path = seal / "certificate.pdf"
    verify_code = _ensure_verify_code(services, capture_id)
    verify_url = _verify_url(services, verify_code)
    # The certificate's thumbnail and QR code need neither the tokens nor the log entry:
    # they are made meanwhile (Pillow and zlib release the GIL); the QR code usually is
    # ready (made during the load).
    prepared_url, qr = _PREPARED.pop(capture_id, ("", None))
    images = None
    if not certificate_path.exists():
        images = _IMAGES.submit(
            certificate_images,
            Path(result.screenshot_path),
            verify_url,
            qr=qr if prepared_url == verify_url else None,
        )
    index = seal / "index.cdx"
    if not index.exists():
        index_warc(Path(result.warc_path), seal / "index.cdx.tmp")
        os.replace(seal / "index.cdx.tmp", index)
    manifest_path = seal / "manifest.json"
    if manifest_path.exists():  # a retry: keep what was time-stamped (maybe without pages)
        manifest_bytes = manifest_path.read_bytes()
    else:
        # Written only to be hashed: the packager makes the same bytes itself (checked).
        pages = seal / "pages.jsonl"
        pages.write_bytes(
            pages_jsonl(result, index, page_id=capture_id, title=_package_title(result))
        )
        files = manifest_file_list(result, index, pages)
        manifest_bytes = build_manifest(services, capture_id, result, files)
        _atomic_write(manifest_path, manifest_bytes)
    manifest_digest = hashlib.sha256(manifest_bytes).digest()
    for name, (path, ctype) in _capture_objects(result, manifest_path).items():
        early[name] = _STORE.submit(services.store.put_file, path, content_type=ctype)
    timing["manifest_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    # The log entry needs only the manifest's digest: it is appended (a database write, mostly
    # waiting) while the manifest is time-stamped. The append is idempotent, so a seal whose
    # stamps fail finds the same entry on its retry, as it would after a crash.
    tlog = TransparencyLog(services)
    logged = _LOG.submit(tlog.append, manifest_digest, capture_id=capture_id)
    tokens = []
    extra: list[tuple[str, Path]] = [("files/manifest.json", manifest_path)]
    try:
        for i, timestamper in enumerate(services.timestampers):
            path = seal / _token_name(i)
            if path.exists():
                token = read_timestamp(path.read_bytes())
            else:
                token = require_complete_chain(
                    timestamper.stamp(manifest_bytes), "verifiers can check the manifest's stamp"
                )
                _atomic_write(path, token.response_der)
            tokens.append(token)
            extra.append((f"files/{_token_name(i)}", path))
    except BaseException:  # a failed stamp leaves no append running behind it
        wait([logged])
        raise
    timing["manifest_timestamps_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()  # what the log adds after the stamps (its append overlaps them)
    entry = logged.result()
    log_entry = entry.entry_json(tlog.log_id, tlog.log_url)
    entry_path = seal / "log-entry.json"
    _atomic_write(entry_path, json.dumps(log_entry, indent=2).encode())
    extra.append(("files/log-entry.json", entry_path))
    timing["log_s"] = time.perf_counter() - t0

    timing["certificate_render_s"] = timing["certificate_sign_s"] = 0.0
    if images is not None:
        t0 = time.perf_counter()
        with services.sessions() as session:
            cap = session.get(Capture, capture_id)
            assert cap is not None
            authenticated, cookie_names = bool(cap.authenticated), list(cap.cookie_names or [])
        issued = make_certificate(
            services,
            CertificateInputs(
                capture_id=capture_id,
                service=services.settings.effective_hostname,
                verify_url=verify_url,
                manifest=json.loads(manifest_bytes),
                manifest_sha256=manifest_digest.hex(),
                stamps=[ManifestStamp(f"files/{_token_name(i)}", t) for i, t in enumerate(tokens)],
                log_entry=log_entry,
                provenance=result.provenance,
                screenshot=Path(result.screenshot_path),
                title=result.title,
                authenticated=authenticated,
                cookie_names=cookie_names,
            ),
            certificate_path,
            images=_waited(images, timing, t0),
        )
        timing["certificate_render_s"] = issued.render_s
        timing["certificate_sign_s"] = issued.sign_s
        seal_chain = issued.seal_chain_pem
    else:
        seal_chain = service_seal_credential(services).chain_pem()
    extra.append(("files/certificate.pdf", certificate_path))

    pems = [t.certs_pem.decode("ascii") for t in tokens]
    pems.append(seal_chain.decode("ascii"))
    return _SealParts(
        manifest=json.loads(manifest_bytes),
        manifest_sha256=manifest_digest.hex(),
        files=extra,
        tokens=tokens,
        log_entry=log_entry,
        verify_code=verify_code,
        certificate_path=certificate_path,
        certificates_pem=pems,
        timing=timing,
    )


def _waited(
    images: Future[CertificateImages], timing: dict[str, float], t0: float
) -> CertificateImages:
    """The certificate's images, timing the wait for them with the capture's flags read
    before (``certificate_inputs_s``: neither is a stage of its own, both are seal time)."""
    found = images.result()
    timing["certificate_inputs_s"] = time.perf_counter() - t0
    return found


def _capture_objects(result: CaptureResult, manifest_path: Path) -> dict[str, tuple[Path, str]]:
    """The capture's own files as separate objects (besides their copies in the package)."""
    objects = {
        "screenshot": (Path(result.screenshot_path), "image/png"),
        "pdf": (Path(result.pdf_path), "application/pdf"),
        "provenance": (Path(result.provenance_json_path), "application/json"),
        "provenance_html": (Path(result.provenance_html_path), "text/html; charset=utf-8"),
        "manifest": (manifest_path, "application/json"),
    }
    if result.video_path:
        objects["video"] = (Path(result.video_path), "video/webm")
    return objects


def seal_capture(services: Services, capture_id: str, result: CaptureResult, workdir: Path) -> None:
    """Manifest, time-stamps, log entry, certificate, package, signature; store; mark stored."""
    import time

    started = time.perf_counter()
    package = workdir / "package.wacz"
    info_file = workdir / "package.json"
    seal_dir = workdir / SEAL_DIR
    info = json.loads(info_file.read_text()) if package.exists() and info_file.exists() else {}
    early: dict[str, Future[StoredObject]] = {}
    pending: dict[str, Future[StoredObject]] = {}
    try:
        if "manifest_sha256" not in info:  # not packaged yet (or by a version without manifests)
            parts = _seal_parts(services, capture_id, result, workdir, early)
            t0 = time.perf_counter()
            wacz = build_wacz(
                result,
                package,
                sign=services.package_signer.sign,
                extra_files=[("files/provenance.html", result.provenance_html_path), *parts.files],
                title=_package_title(result),
                description=f"Evidence capture {capture_id} of {result.requested_url}",
                page_id=capture_id,
                index=seal_dir / "index.cdx",
            )
            parts.timing["package_s"] = time.perf_counter() - t0
            _check_manifest(parts.manifest, wacz)
            info = _package_record(wacz, parts)
            _atomic_write(info_file, json.dumps(info).encode())
        t0 = time.perf_counter()
        store = services.store
        jobs = {
            name: (path, ctype)
            for name, (path, ctype) in _capture_objects(result, seal_dir / "manifest.json").items()
            if name not in early
        }
        jobs["package"] = (package, "application/wacz+zip")
        jobs["certificate"] = (seal_dir / "certificate.pdf", "application/pdf")
        pending.update(early)
        for name, (path, ctype) in jobs.items():
            pending[name] = _STORE.submit(store.put_file, path, content_type=ctype)
        stored = {name: future.result() for name, future in pending.items()}
    finally:  # a failed seal leaves no write running behind it
        for future in [*early.values(), *pending.values()]:
            future.cancel()
        wait([*early.values(), *pending.values()])
    token = info.get("manifest_timestamp") or info.get("timestamp") or {}
    timing = dict(info.get("timing") or {})
    timing["store_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    facts = seal_facts(
        c for pem in info["certificates_pem"] for c in load_pem_certificates(pem.encode())
    )
    with services.session() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None
        cap.seal_expires_at = (
            datetime.fromisoformat(facts["expires"]) if facts.get("expires") else None
        )
        cap.package_key = stored["package"].key
        cap.package_sha256 = stored["package"].sha256
        cap.package_size = stored["package"].size
        cap.screenshot_key = stored["screenshot"].key
        cap.pdf_key = stored["pdf"].key
        cap.provenance_key = stored["provenance"].key
        cap.provenance_html_key = stored["provenance_html"].key
        cap.certificate_key = stored["certificate"].key
        cap.manifest_key = stored["manifest"].key
        cap.video_key = stored["video"].key if "video" in stored else None
        cap.manifest_sha256 = info["manifest_sha256"]
        cap.log_leaf_index = info["log_entry"]["leaf_index"]
        cap.trusted_time = (
            datetime.fromisoformat(token["gen_time"]) if token.get("gen_time") else None
        )
        cap.tsa_name = token.get("tsa_name")
        cap.tsa_serial = token.get("serial")
        # This attempt only: a seal resumed after a crash reuses the earlier products.
        timing["record_s"] = time.perf_counter() - t0  # the capture's row, before its commit
        timing["seal_total_s"] = time.perf_counter() - started
        cap.summary = {
            "resources": info["resources"],
            "datapackage_sha256": info["datapackage_sha256"],
            "signature": info.get("signature", {}),
            "package_timestamp": info.get("timestamp"),
            "manifest_timestamps": info.get("manifest_timestamps", []),
            "manifest_sha256": info["manifest_sha256"],
            "log_entry": info["log_entry"],
            "resource_count": result.resource_count,
            "total_bytes": result.total_bytes,
            "not_loaded": list(result.not_loaded)[:200],
            "browser_version": result.browser_version,
            "user_agent": result.user_agent,
            "seal": facts,
            "seal_timing": timing,
        }
        cap.status = "stored"
        cap.progress_detail = None
        cap.sealed_at = datetime.now(UTC)
    observe_seal_timing(timing)
    shutil.rmtree(workdir, ignore_errors=True)
    try:  # a tree head published meanwhile already covers the entry: give it its proof now
        write_sidecar_for(services, capture_id)
    except Exception:
        log.warning("could not write the proofs sidecar of %s yet", capture_id, exc_info=True)


def _check_manifest(manifest: dict[str, Any], wacz: WaczInfo) -> None:
    """Every file the time-stamped manifest lists must be in the package with that hash."""
    packaged = {r["path"]: r["hash"] for r in wacz.resources}
    wrong = [p for p, h in manifest["files"].items() if packaged.get(p) != h]
    if wrong:
        raise SealError(
            f"the package's {', '.join(wrong)} differ from the time-stamped manifest; the seal "
            "is retried (report this: packaging is not reproducible)"
        )


def _package_record(info: WaczInfo, parts: _SealParts | None = None) -> dict[str, Any]:
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
    if parts is not None:
        pems = list(parts.certificates_pem)
        for key in ("domainCert", "timestampCert"):
            if signed.get(key):
                pems.append(signed[key])
        pems += [a["timestampCert"] for a in signed.get("additionalTimeSignatures") or []]
        record.update(
            manifest_sha256=parts.manifest_sha256,
            manifest_timestamps=[_token_summary(t) for t in parts.tokens],
            manifest_timestamp=_token_summary(parts.tokens[0]),
            log_entry=parts.log_entry,
            verify_code=parts.verify_code,
            certificates_pem=pems,
            timing=parts.timing,
        )
    return record


def _token_summary(tok: TimestampToken) -> dict[str, Any]:
    return {
        "gen_time": tok.gen_time.astimezone(UTC).isoformat(),
        "serial": str(tok.serial),
        "tsa_name": tok.tsa_name,
    }


def token_facts(time_signature_b64: str | bytes) -> dict[str, Any]:
    """genTime, serial and TSA name from a base64 TimeStampResp, for display and search.

    Only read: the package signer verified the token when it was made (and a verifier checks
    it again), so its signature and chain are not checked a third time here."""
    from asn1crypto import x509 as asn1_x509

    from signing import tokens

    der = base64.b64decode(time_signature_b64)
    try:
        parsed = tokens.parse_response(der)
        if isinstance(parsed, tokens.Refusal):
            raise ValueError("a refusal, not a token")
        signer = tokens.find_signer(parsed)
    except ValueError:  # e.g. a token without its certificate: let the full reader explain
        tok = read_timestamp(der)
        return _token_summary(tok)
    return {
        "gen_time": parsed.gen_time.astimezone(UTC).isoformat(),
        "serial": str(parsed.serial),
        "tsa_name": str(asn1_x509.Name.load(signer.subject.public_bytes()).human_friendly),
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
    if data.get("video_path"):
        data["video_path"] = Path(data["video_path"])
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
