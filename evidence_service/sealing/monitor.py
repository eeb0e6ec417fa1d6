"""Watching a URL until it is corrected: a watch captures the page again every N hours, until
a date or until a condition holds on a sealed run ("the text X is gone", "the page answers
404", "it redirects elsewhere"); each run is an ordinary sealed capture
(:func:`pipeline.create_capture`) linked to the watch and to its first capture.

Why the condition is judged on the sealed package and nothing else: the result is a proof, so
it names the capture whose WARC shows it -- the main page's HTTP status and the address its
redirects led to, read from the WARC's own records, and the page's visible text
(:func:`page_text.main_page`). No separate, unsealed fetch is ever made.

The schedule lives in the database (``capture_watches.next_run_at``) and is driven by idle
workers (:mod:`housekeeping` calls :func:`tick` every few seconds). Every step is taken by a
guarded UPDATE whose row count decides, as the job queue does: moving a watch's schedule on
(``runs_started`` must still be what the worker read), starting a pending run's capture, and
attaching a run to its case; so two workers running :func:`tick` at once never start the same
run twice, and a worker killed between steps leaves rows the next tick finishes.

A watch of a case records ``watch_started``, ``watch_condition_met`` and ``watch_ended``
events, attaches every run's sealed capture to the case as evidence, and tells the case's
officers when the condition is met: on the case page (its ``watch`` panel) and by mail to
those with an address (``EVIDENCE_SMTP_*``). A met condition is the proof the order-to-correct
step asks for (``confirm_correction`` names the capture).

Only "did the page text change" is judged here (the SHA-256 of the normalised text); the
full comparison of two captures is another module's.
"""

from __future__ import annotations

import hashlib
import logging
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from capture import CaptureError, check_url
from evidence_service.config import Settings
from evidence_service.sealing.case_file import case_context
from evidence_service.sealing.page_text import MainPage, PageUnreadable, main_page
from evidence_service.sealing.pipeline import CaptureRequestError, create_capture
from evidence_service.services import Services
from storage.models import Capture, CaptureWatch, Case, CaseStaff, User, WatchRun
from workflow.cases import service
from workflow.cases.service import Actor, CaseError
from workflow.mail import MailError, Notice, SmtpSettings, SmtpUnavailableError, send_notices

__all__ = [
    "CONDITIONS",
    "EVENTS",
    "RunView",
    "WatchError",
    "WatchIn",
    "WatchView",
    "create_watch",
    "judge",
    "list_watches",
    "normalised_text_sha256",
    "parse_interval",
    "settle",
    "stop_watch",
    "tick",
    "watch_view",
]

log = logging.getLogger(__name__)

CONDITIONS = ("text_gone", "text_present", "status", "redirected", "none")
STARTED = "watch_started"
MET = "watch_condition_met"
ENDED = "watch_ended"
#: Every event this module appends to a case (each has its ``cases.event.<name>`` message).
EVENTS = (STARTED, MET, ENDED)
#: A claim (attaching a run to its case) older than this was left by a dead worker.
STALE_CLAIM = timedelta(minutes=5)
#: A mail server that was down is tried again after this long.
MAIL_RETRY_S = 300.0
_MAIL_TRIED: dict[str, float] = {}
_SYSTEM = Actor("system", "系统", "system")


class WatchError(ValueError):
    """A watch cannot be made or changed as asked: ``code`` is stable, ``field`` names the
    input at fault (or None), the message says what to do."""

    def __init__(self, code: str, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field_name


@dataclass(frozen=True)
class WatchIn:
    """What an officer asks: the page (a URL, or a capture to start from), how often, until
    when, and the condition that ends the watch early."""

    until: datetime
    url: str | None = None
    first_capture_id: str | None = None
    interval_hours: float = 24.0
    condition: str = "none"
    text: str | None = None
    status: int | None = None
    case_id: str | None = None


def parse_interval(value: str) -> float:
    """``6h``, ``2d``, ``90m`` or a bare number of hours -> hours."""
    raw = value.strip().lower()
    units = {"m": 1 / 60, "h": 1.0, "d": 24.0}
    scale = units.get(raw[-1:])
    number = raw[:-1] if scale is not None else raw
    try:
        hours = float(number) * (scale or 1.0)
    except ValueError:
        raise WatchError(
            "bad_interval", f"not an interval: {value!r} (write 6h, 2d or 90m)", "interval"
        ) from None
    return hours


def normalised_text_sha256(text: str) -> str:
    """SHA-256 of the page text as compared between runs: NFKC, whitespace collapsed (so a
    re-flowed page with the same words is "unchanged")."""
    norm = " ".join(unicodedata.normalize("NFKC", text).split())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def _same_page(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.netloc, pa.path.rstrip("/"), pa.query) == (pb.netloc, pb.path.rstrip("/"), pb.query)


def judge(condition: str, text: str | None, status: int | None, page: MainPage, url: str) -> bool:
    """Whether the sealed page meets the condition. ``redirected``: the address led to
    another page (the shop front, say), or answers 404/410."""
    if condition == "text_gone":
        return bool(text) and _fold(text or "") not in _fold(page.text)
    if condition == "text_present":
        return bool(text) and _fold(text or "") in _fold(page.text)
    if condition == "status":
        return page.http_status is not None and page.http_status == status
    if condition == "redirected":
        return (page.redirected and not _same_page(page.final_url, url)) or (
            page.http_status in (404, 410)
        )
    return False


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


# -- making and stopping watches -------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _validate(settings: Settings, spec: WatchIn, now: datetime) -> None:
    if spec.condition not in CONDITIONS:
        raise WatchError(
            "bad_condition", f"condition must be one of {', '.join(CONDITIONS)}", "condition"
        )
    if not spec.interval_hours or spec.interval_hours < settings.watch_min_interval_hours:
        raise WatchError(
            "interval_too_short",
            f"capture at most every {settings.watch_min_interval_hours:g} hours "
            "(EVIDENCE_WATCH_MIN_INTERVAL_HOURS)",
            "interval",
        )
    until = _aware(spec.until)
    if until <= now:
        raise WatchError("until_past", "the end of the watch must be in the future", "until")
    if until > now + timedelta(days=settings.watch_max_days):
        raise WatchError(
            "until_too_far",
            f"a watch runs at most {settings.watch_max_days} days (EVIDENCE_WATCH_MAX_DAYS)",
            "until",
        )
    if spec.condition in ("text_gone", "text_present") and not (spec.text or "").strip():
        raise WatchError("text_required", "give the text the page must lose or show", "text")
    if spec.condition == "status" and not (spec.status and 100 <= spec.status <= 599):
        raise WatchError("status_required", "give an HTTP status such as 404", "status")


def create_watch(
    services: Services, spec: WatchIn, user: User, *, now: datetime | None = None
) -> str:
    """Record the watch and (unless it starts from a sealed capture) queue its first run now;
    the watch of a case also records ``watch_started`` there. Returns the watch's id."""
    moment = _now(now)
    _validate(services.settings, spec, moment)
    url = (spec.url or "").strip()
    first: str | None = None
    with services.session() as session:
        if spec.first_capture_id:
            cap = session.get(Capture, spec.first_capture_id)
            owner = session.get(User, cap.created_by_id) if cap and cap.created_by_id else None
            if cap is None or (owner is not None and owner.unit_id != user.unit_id):
                raise WatchError(
                    "no_capture", f"no capture {spec.first_capture_id}", "first_capture_id"
                )
            if cap.status != "stored":
                raise WatchError(
                    "capture_not_sealed",
                    f"capture {cap.id} is {cap.status}: start from a sealed capture",
                    "first_capture_id",
                )
            url, first = cap.requested_url, cap.id
        if spec.case_id:
            case = session.get(Case, spec.case_id)
            if case is None or case.unit_id != user.unit_id:
                raise WatchError("no_case", f"no case {spec.case_id}", "case_id")
    if not url:
        raise WatchError("url_required", "give the URL to watch or a capture to start from", "url")
    if first is None:  # scheme, DNS, SSRF guard: refused before anything is kept
        try:
            url = check_url(url, allow_private=services.settings.capture_allow_private)
        except CaptureError as exc:
            raise WatchError(exc.code, str(exc), "url") from exc
    with services.session() as session:
        watch = CaptureWatch(
            created_by_id=user.id,
            unit_id=user.unit_id,
            url=url,
            case_id=spec.case_id or None,
            first_capture_id=first,
            interval_hours=float(spec.interval_hours),
            until=_aware(spec.until),
            condition=spec.condition,
            condition_text=(spec.text or "").strip() or None,
            condition_status=spec.status if spec.condition == "status" else None,
            state="active",
            next_run_at=moment + timedelta(hours=spec.interval_hours),
            runs_started=0 if first else 1,
            created_at=moment,
        )
        session.add(watch)
        session.flush()
        watch_id = watch.id
        if first is None:  # the first run: now (committed with the watch)
            session.add(WatchRun(watch_id=watch_id, seq=1, scheduled_at=moment, state="pending"))
    _start_pending(services, moment, watch_id)
    capture_id = first
    with services.session() as session:
        if capture_id is None:
            capture_id = session.scalar(
                select(WatchRun.capture_id).where(WatchRun.watch_id == watch_id, WatchRun.seq == 1)
            )
    if spec.case_id:
        who = Actor(f"user:{user.id}", user.display_name, "officer", user.unit_id)
        service.record_event(
            case_context(services),
            who,
            spec.case_id,
            STARTED,
            {
                "watch_id": watch_id,
                "url": url,
                "interval_hours": float(spec.interval_hours),
                "until": _aware(spec.until).isoformat(),
                "condition": spec.condition,
                "text": (spec.text or "").strip() or None,
                "status": spec.status if spec.condition == "status" else None,
                "first_capture_id": capture_id,
            },
        )
    return watch_id


def stop_watch(
    services: Services, watch_id: str, user: User, *, now: datetime | None = None
) -> None:
    """Stop an active watch (no more runs; those under way still finish and are judged)."""
    with services.session() as session:
        watch = session.get(CaptureWatch, watch_id)
        if watch is None or watch.unit_id != user.unit_id:
            raise WatchError("no_watch", f"no watch {watch_id}")
        if watch.state != "active":
            raise WatchError("not_active", f"the watch is {watch.state} already")
        watch.state, watch.ended_at, watch.next_run_at = "stopped", _now(now), None
        case_id = watch.case_id
    if case_id:
        who = Actor(f"user:{user.id}", user.display_name, "officer", user.unit_id)
        service.record_event(
            case_context(services), who, case_id, ENDED, {"watch_id": watch_id, "why": "stopped"}
        )


# -- the schedule (idle workers) --------------------------------------------------------------


@dataclass
class TickResult:
    started: int = 0
    judged: int = 0
    met: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    mailed: int = 0


def tick(services: Services, *, now: datetime | None = None) -> TickResult:
    """One pass over the watches: start the runs that are due, judge the runs whose capture
    finished, attach them to their cases, record met conditions, end watches whose date has
    passed, and send the notices owed. Safe to run in several workers at once."""
    moment = _now(now)
    out = TickResult()
    _schedule_due(services, moment)
    out.started = _start_pending(services, moment)
    out.judged = _judge_finished(services, moment)
    _attach_runs(services, moment)
    out.met = _record_met(services, moment)
    out.ended = _end_expired(services, moment)
    out.mailed = _notify(services, moment)
    return out


def settle(services: Services, *, now: datetime | None = None) -> list[str]:
    """Only judge the finished runs, attach them and record met conditions (what a page that
    shows a watch does before drawing it: no capture is started, no mail sent). Returns the
    watches met."""
    moment = _now(now)
    _judge_finished(services, moment)
    _attach_runs(services, moment)
    return _record_met(services, moment)


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _schedule_due(services: Services, now: datetime) -> None:
    with services.session() as session:
        due = session.execute(
            select(
                CaptureWatch.id,
                CaptureWatch.runs_started,
                CaptureWatch.next_run_at,
                CaptureWatch.interval_hours,
                CaptureWatch.until,
            ).where(CaptureWatch.state == "active", CaptureWatch.next_run_at <= now)
        ).all()
    for watch_id, started, next_at, hours, until in due:
        if next_at is None:
            continue
        if _aware(next_at) >= _aware(until):
            continue  # past its date: _end_expired ends it
        step = timedelta(hours=hours)
        following = _aware(next_at) + step
        if following <= now:  # the workers were down for a while: no backlog of runs
            following = now + step
        with services.session() as session:
            won = _rowcount(
                session.execute(
                    update(CaptureWatch)
                    .where(
                        CaptureWatch.id == watch_id,
                        CaptureWatch.state == "active",
                        CaptureWatch.runs_started == started,
                    )
                    .values(runs_started=started + 1, next_run_at=following)
                )
            )
            if won:
                session.add(
                    WatchRun(watch_id=watch_id, seq=started + 1, scheduled_at=now, state="pending")
                )


class _RunTaken(Exception):
    """Another worker started the run first (its capture is the run's; this one is not)."""


def _start_pending(services: Services, now: datetime, watch_id: str | None = None) -> int:
    """Start each pending run: its capture and the run naming it are one transaction.

    Why one: a worker that made the capture and then died before naming it in the run (or a
    database that went away in between) left a run still pending, whose next start made a
    second capture of the same moment. Now the capture, its job and the run's move to
    ``capturing`` commit together, or not at all; the run's guarded UPDATE inside that
    transaction is also what lets one of several racing workers start it (the others'
    captures are rolled back with their UPDATE that found the run taken)."""
    with services.session() as session:
        query = (
            select(WatchRun.id, CaptureWatch.url, CaptureWatch.created_by_id)
            .join(CaptureWatch, CaptureWatch.id == WatchRun.watch_id)
            .where(WatchRun.state == "pending")
        )
        if watch_id is not None:
            query = query.where(WatchRun.watch_id == watch_id)
        pending = session.execute(query).all()
    started = 0
    for run_id, url, user_id in pending:

        def name_it(session: Session, capture_id: str, run_id: int = run_id) -> None:
            took = _take_pending(session, run_id, state="capturing", capture_id=capture_id)
            if not took:
                raise _RunTaken(run_id)

        try:
            create_capture(services, url, user_id=user_id, also=name_it)
        except _RunTaken:
            continue
        except CaptureRequestError as exc:  # e.g. the address no longer resolves
            with services.session() as session:
                detail = f"{exc.code}: {exc}"
                if not _take_pending(
                    session, run_id, state="failed", detail=detail, evaluated_at=now
                ):
                    continue
        started += 1
    return started


def _take_pending(session: Session, run_id: int, **values: Any) -> bool:
    """Move the run on from ``pending`` (True), unless another worker already did."""
    return bool(
        _rowcount(
            session.execute(
                update(WatchRun)
                .where(WatchRun.id == run_id, WatchRun.state == "pending")
                .values(claimed_at=None, **values)
            )
        )
    )


def _judge_finished(services: Services, now: datetime) -> int:
    with services.session() as session:
        rows = session.execute(
            select(WatchRun, CaptureWatch, Capture)
            .join(CaptureWatch, CaptureWatch.id == WatchRun.watch_id)
            .join(Capture, Capture.id == WatchRun.capture_id)
            .where(WatchRun.state == "capturing", Capture.status.in_(("stored", "failed")))
        ).all()
        session.expunge_all()
    judged = 0
    for run, watch, cap in rows:
        values: dict[str, Any]
        if cap.status == "failed":
            values = {
                "state": "failed",
                "condition_met": False,
                "detail": f"{cap.error_code}: {cap.error_message}",
            }
        else:
            assert cap.package_key and cap.package_sha256
            try:
                page = main_page(services, cap.package_key, cap.package_sha256, cap.requested_url)
            except PageUnreadable as exc:
                log.warning("watch %s, run %s: %s; judged later", watch.id, run.seq, exc)
                continue
            digest = normalised_text_sha256(page.text)
            previous = _previous_digest(services, watch.id, run.seq)
            met = judge(
                watch.condition, watch.condition_text, watch.condition_status, page, watch.url
            )
            values = {
                "state": "done",
                "http_status": page.http_status,
                "final_url": page.final_url,
                "redirected": page.redirected and not _same_page(page.final_url, watch.url),
                "text_sha256": digest,
                "text_changed": None if previous is None else previous != digest,
                "condition_met": met,
                "detail": _why(watch, page, met),
            }
        with services.session() as session:
            won = _rowcount(
                session.execute(
                    update(WatchRun)
                    .where(WatchRun.id == run.id, WatchRun.state == "capturing")
                    .values(evaluated_at=now, claimed_at=None, **values)
                )
            )
            if won and watch.first_capture_id is None and cap.status == "stored":
                session.execute(
                    update(CaptureWatch)
                    .where(CaptureWatch.id == watch.id, CaptureWatch.first_capture_id.is_(None))
                    .values(first_capture_id=cap.id)
                )
        judged += won
    return judged


def _previous_digest(services: Services, watch_id: str, seq: int) -> str | None:
    with services.session() as session:
        return session.scalar(
            select(WatchRun.text_sha256)
            .where(
                WatchRun.watch_id == watch_id,
                WatchRun.seq < seq,
                WatchRun.state == "done",
                WatchRun.text_sha256.is_not(None),
            )
            .order_by(WatchRun.seq.desc())
            .limit(1)
        )


def _why(watch: CaptureWatch, page: MainPage, met: bool) -> str:
    """One sentence (English; the pages say it in the reader's language from the run's
    fields) of what the sealed page showed."""
    seen = f"HTTP {page.http_status or '?'} at {page.final_url}"
    if watch.condition == "text_gone":
        return f"{seen}; the text {watch.condition_text!r} is {'gone' if met else 'still there'}"
    if watch.condition == "text_present":
        return f"{seen}; the text {watch.condition_text!r} is {'shown' if met else 'not shown'}"
    if watch.condition == "status":
        return f"{seen}; expected HTTP {watch.condition_status}: {'met' if met else 'not yet'}"
    if watch.condition == "redirected":
        return f"{seen}; {'sent away from the page' if met else 'the page is still there'}"
    return seen


def _attach_runs(services: Services, now: datetime) -> None:
    """Each finished run of a case's watch becomes the case's evidence (by the package's
    hash); claimed first so two workers never attach it twice."""
    with services.session() as session:
        rows = session.execute(
            select(WatchRun.id, CaptureWatch.case_id, Capture)
            .join(CaptureWatch, CaptureWatch.id == WatchRun.watch_id)
            .join(Capture, Capture.id == WatchRun.capture_id)
            .where(
                WatchRun.state == "done",
                WatchRun.evidence_id.is_(None),
                CaptureWatch.case_id.is_not(None),
            )
        ).all()
        session.expunge_all()
    ctx = case_context(services)
    for run_id, case_id, cap in rows:
        if case_id is None:
            continue
        with services.session() as session:
            won = _rowcount(
                session.execute(
                    update(WatchRun)
                    .where(
                        WatchRun.id == run_id,
                        WatchRun.evidence_id.is_(None),
                        (WatchRun.claimed_at.is_(None)) | (WatchRun.claimed_at < now - STALE_CLAIM),
                    )
                    .values(claimed_at=now)
                )
            )
        if not won:
            continue
        try:
            evidence_id: int | None = service.add_evidence(
                ctx,
                _SYSTEM,
                case_id,
                kind="capture",
                file_name=f"capture-{cap.id}.wacz",
                sha256=cap.package_sha256 or "",
                capture_id=cap.id,
                media_type="application/wacz",
                size=cap.package_size,
                description=f"{cap.requested_url} (watch)",
            )
        except CaseError:
            log.exception(
                "attaching watch run %s to case %s failed; retrying later", run_id, case_id
            )
            evidence_id = None
        with services.session() as session:
            session.execute(
                update(WatchRun)
                .where(WatchRun.id == run_id)
                .values(evidence_id=evidence_id, claimed_at=None)
            )


def _record_met(services: Services, now: datetime) -> list[str]:
    """The first run that met its watch's condition ends the watch (``met``); for a case, in
    the same unit of work as the ``watch_condition_met`` event, once the run is evidence."""
    with services.session() as session:
        rows = session.execute(
            select(WatchRun, CaptureWatch, Capture)
            .join(CaptureWatch, CaptureWatch.id == WatchRun.watch_id)
            .join(Capture, Capture.id == WatchRun.capture_id)
            .where(
                CaptureWatch.state == "active",
                WatchRun.state == "done",
                WatchRun.condition_met.is_(True),
            )
            .order_by(WatchRun.seq)
        ).all()
        session.expunge_all()
    met: list[str] = []
    for run, watch, cap in rows:
        if watch.id in met or (watch.case_id and run.evidence_id is None):
            continue

        def mark(session: Session, watch_id: str = watch.id, capture_id: str = cap.id) -> int:
            return _rowcount(
                session.execute(
                    update(CaptureWatch)
                    .where(CaptureWatch.id == watch_id, CaptureWatch.state == "active")
                    .values(state="met", met_at=now, met_capture_id=capture_id, next_run_at=None)
                )
            )

        if watch.case_id is None:
            with services.session() as session:
                if mark(session):
                    met.append(watch.id)
            continue
        details = {
            "watch_id": watch.id,
            "condition": watch.condition,
            "text": watch.condition_text,
            "status": watch.condition_status,
            "capture_id": cap.id,
            "package_sha256": cap.package_sha256,
            "trusted_time": cap.trusted_time.isoformat() if cap.trusted_time else None,
            "http_status": run.http_status,
            "final_url": run.final_url,
            "run": run.seq,
            "result": run.detail,
        }

        def recorded(session: Session, case: Case, details: dict[str, Any] = details) -> Any:
            return details if mark(session, details["watch_id"], details["capture_id"]) else None

        if service.record_event(case_context(services), _SYSTEM, watch.case_id, MET, recorded):
            met.append(watch.id)
    return met


def _end_expired(services: Services, now: datetime) -> list[str]:
    with services.session() as session:
        busy = select(WatchRun.watch_id).where(WatchRun.state.in_(("pending", "capturing")))
        rows = session.execute(
            select(CaptureWatch.id, CaptureWatch.case_id).where(
                CaptureWatch.state == "active",
                CaptureWatch.until <= now,
                CaptureWatch.id.not_in(busy),
            )
        ).all()
    ended = []
    for watch_id, case_id in rows:

        def end(session: Session, *_: Any, watch_id: str = watch_id) -> Any:
            won = _rowcount(
                session.execute(
                    update(CaptureWatch)
                    .where(CaptureWatch.id == watch_id, CaptureWatch.state == "active")
                    .values(state="ended", ended_at=now, next_run_at=None)
                )
            )
            return {"watch_id": watch_id, "why": "until"} if won else None

        if case_id is None:
            with services.session() as session:
                if end(session):
                    ended.append(watch_id)
        elif service.record_event(case_context(services), _SYSTEM, case_id, ENDED, end):
            ended.append(watch_id)
    return ended


# -- notices ----------------------------------------------------------------------------------


def smtp_settings(settings: Settings) -> SmtpSettings | None:
    """The mail server of ``EVIDENCE_SMTP_*``, or None when none is configured."""
    if not settings.smtp_host:
        return None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        starttls=settings.smtp_starttls,
        user=settings.smtp_user,
        password=password,
        from_addr=settings.smtp_from,
        ca_file=settings.smtp_ca_file,
        timeout_s=settings.smtp_timeout_s,
    )


def _recipients(session: Session, watch: CaptureWatch) -> list[str]:
    """The case's officers (and the watch's creator) who have an e-mail address."""
    ids = {watch.created_by_id} if watch.created_by_id else set()
    if watch.case_id:
        ids |= set(
            session.scalars(
                select(CaseStaff.user_id).where(
                    CaseStaff.case_id == watch.case_id, CaseStaff.role == "officer"
                )
            )
        )
    emails = session.scalars(
        select(User.email).where(
            User.id.in_(ids), User.email.is_not(None), User.disabled.is_(False)
        )
    )
    return sorted({e for e in emails if e})


#: How a notice names each condition, in Chinese and English.
_CONDITION_WORDS = {
    "text_gone": ("文字已删除", "the text is gone"),
    "text_present": ("出现文字", "the text is shown"),
    "status": ("页面返回状态码", "the page answers HTTP status"),
    "redirected": ("页面跳转到其他页面或已删除", "the page redirects elsewhere or is removed"),
    "none": ("无", "none"),
}


def _notice(recipient: str, watch: CaptureWatch, number: str | None, base_url: str) -> Notice:
    zh_cond, en_cond = _CONDITION_WORDS.get(watch.condition, (watch.condition, watch.condition))
    what = watch.condition_text or (str(watch.condition_status) if watch.condition_status else "")
    where = f"案件 {number} " if number else ""
    where_en = f"case {number}: " if number else ""
    link = f"{base_url.rstrip('/')}/watches/{watch.id}"
    return Notice(
        recipient,
        f"页面监测条件已满足：{where}{watch.url} / Watch condition met: {where_en}{watch.url}",
        f"您好：\n\n{where}监测的页面 {watch.url} 已满足监测条件（{zh_cond}"
        f"{'：' + what if what else ''}）。"
        f"证明该结果的封存取证包：{watch.met_capture_id}\n查看：{link}\n\n"
        "本邮件由证据服务系统自动发送，请勿直接回复。\n\n----\n\n"
        f"Hello,\n\nThe watched page {watch.url} ({where_en.rstrip(': ') or 'no case'}) meets "
        f"its condition ({en_cond}{': ' + what if what else ''}). The sealed capture "
        f"that shows it: {watch.met_capture_id}\nOpen: {link}\n\n"
        "This mail was sent automatically by the evidence service; do not reply.\n",
    )


def _notify(services: Services, now: datetime) -> int:
    settings = smtp_settings(services.settings)
    with services.session() as session:
        waiting = list(
            session.scalars(
                select(CaptureWatch).where(
                    CaptureWatch.state == "met",
                    CaptureWatch.notified_at.is_(None),
                    CaptureWatch.notify_error.is_(None),
                )
            )
        )
        session.expunge_all()
    sent = 0
    for watch in waiting:
        if time.monotonic() - _MAIL_TRIED.get(watch.id, -MAIL_RETRY_S) < MAIL_RETRY_S:
            continue
        with services.session() as session:
            won = _rowcount(
                session.execute(
                    update(CaptureWatch)
                    .where(CaptureWatch.id == watch.id, CaptureWatch.notified_at.is_(None))
                    .values(notified_at=now)
                )
            )
            recipients = _recipients(session, watch) if won else []
            case = session.get(Case, watch.case_id) if watch.case_id else None
            number = case.number if case else None
        if not won:
            continue
        error: str | None = None
        if not recipients:
            error = "no officer of the watch has an e-mail address (in-app notice only)"
        elif settings is None:
            error = "no SMTP server configured (EVIDENCE_SMTP_HOST): in-app notice only"
        else:
            base = services.settings.effective_public_url
            try:
                sent += len(
                    send_notices([_notice(r, watch, number, base) for r in recipients], settings)
                )
            except SmtpUnavailableError as exc:  # try again later
                _MAIL_TRIED[watch.id] = time.monotonic()
                log.warning("watch %s: %s", watch.id, exc)
                with services.session() as session:
                    session.execute(
                        update(CaptureWatch)
                        .where(CaptureWatch.id == watch.id)
                        .values(notified_at=None)
                    )
                continue
            except MailError as exc:
                error = str(exc)[:1000]
        if error is not None:
            with services.session() as session:
                session.execute(
                    update(CaptureWatch)
                    .where(CaptureWatch.id == watch.id)
                    .values(notify_error=error, notified_at=None)
                )
    return sent


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunView:
    seq: int
    scheduled_at: datetime
    state: str
    capture_id: str | None
    capture_status: str | None
    trusted_time: datetime | None
    package_sha256: str | None
    verify_code: str | None
    http_status: int | None
    final_url: str | None
    redirected: bool | None
    text_changed: bool | None
    condition_met: bool | None
    detail: str | None


@dataclass(frozen=True)
class WatchView:
    id: str
    url: str
    case_id: str | None
    case_number: str | None
    interval_hours: float
    until: datetime
    condition: str
    condition_text: str | None
    condition_status: int | None
    state: str
    created_at: datetime
    next_run_at: datetime | None
    first_capture_id: str | None
    met_at: datetime | None
    met_capture_id: str | None
    notified_at: datetime | None
    notify_error: str | None
    runs: tuple[RunView, ...]


def _view(session: Session, watch: CaptureWatch) -> WatchView:
    rows = session.execute(
        select(WatchRun, Capture)
        .outerjoin(Capture, Capture.id == WatchRun.capture_id)
        .where(WatchRun.watch_id == watch.id)
        .order_by(WatchRun.seq)
    ).all()
    case = session.get(Case, watch.case_id) if watch.case_id else None
    runs = tuple(
        RunView(
            seq=r.seq,
            scheduled_at=_aware(r.scheduled_at),
            state=r.state,
            capture_id=r.capture_id,
            capture_status=c.status if c else None,
            trusted_time=c.trusted_time if c else None,
            package_sha256=c.package_sha256 if c else None,
            verify_code=c.verify_code if c else None,
            http_status=r.http_status,
            final_url=r.final_url,
            redirected=r.redirected,
            text_changed=r.text_changed,
            condition_met=r.condition_met,
            detail=r.detail,
        )
        for r, c in rows
    )
    return WatchView(
        id=watch.id,
        url=watch.url,
        case_id=watch.case_id,
        case_number=case.number if case else None,
        interval_hours=watch.interval_hours,
        until=_aware(watch.until),
        condition=watch.condition,
        condition_text=watch.condition_text,
        condition_status=watch.condition_status,
        state=watch.state,
        created_at=_aware(watch.created_at),
        next_run_at=_aware(watch.next_run_at) if watch.next_run_at else None,
        first_capture_id=watch.first_capture_id,
        met_at=watch.met_at,
        met_capture_id=watch.met_capture_id,
        notified_at=watch.notified_at,
        notify_error=watch.notify_error,
        runs=runs,
    )


def watch_view(services: Services, watch_id: str, unit_id: int | None) -> WatchView | None:
    """The watch with its timeline of runs, if it belongs to the unit."""
    with services.session() as session:
        watch = session.get(CaptureWatch, watch_id)
        if watch is None or watch.unit_id != unit_id:
            return None
        return _view(session, watch)


def list_watches(
    services: Services, unit_id: int | None, *, case_id: str | None = None
) -> Sequence[WatchView]:
    """The unit's watches (of one case when ``case_id``), newest first."""
    with services.session() as session:
        query = select(CaptureWatch).where(CaptureWatch.unit_id == unit_id)
        if case_id is not None:
            query = query.where(CaptureWatch.case_id == case_id)
        watches = session.scalars(query.order_by(CaptureWatch.created_at.desc()).limit(200))
        return [_view(session, w) for w in watches]
