"""The capture worker: claims durable jobs from the database and runs them.

Each worker keeps one Chromium warm for its whole life (a fresh context per capture keeps every
profile clean) because launching a browser costs more than loading a small page. A worker holds
a lease on its job and renews it while it works; if it dies, the lease expires and another
worker takes the job over (see ``pipeline`` for why that never leaves half-sealed evidence).

Pipelined: the browser never waits for a seal. Once a page is loaded its seal runs in the
background (in a thread: it needs no browser) while the worker claims and loads the next page;
at most one seal is outstanding, so before a second one starts the first is finished and its job
completed. Each job keeps its own lease and heartbeat throughout, so the lease rules are the
same as without pipelining, and a seal still stores nothing without valid tokens.

Stopping (SIGTERM, SIGINT, ``stop()``): the worker claims nothing more; a page still loading is
abandoned and its job handed back at once (``JobQueue.release``: queued, the attempt not
counted), because a load cannot be resumed and another worker can start it now rather than
after the lease expires; a seal already running is finished and its job completed, because a
seal is short and resumable either way. Then the browser is closed and ``run`` returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError

from capture import BrowserError, CaptureEngine
from evidence_service.observability import metrics, request_context
from evidence_service.sealing import housekeeping
from evidence_service.sealing.pipeline import (
    Outcome,
    load_capture,
    note_handed_back,
    reap_abandoned,
    seal_loaded,
)
from evidence_service.services import Services
from storage.models import Job

log = logging.getLogger(__name__)
REAP_EVERY_S = 30.0
#: How long a worker waits before asking a database that did not answer again.
DB_RETRY_S = 2.0


@dataclass
class _Seal:
    """A loaded capture being sealed in the background, with its job's heartbeat."""

    job_id: int
    capture_id: str
    request_id: str | None
    task: asyncio.Task[Outcome]
    beat: asyncio.Task[None]
    started: float = field(default_factory=time.monotonic)


class Worker:
    def __init__(self, services: Services, *, worker_id: str | None = None, poll_s: float = 0.2):
        self.services = services
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.poll_s = poll_s
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.handed_back = 0

    def stop(self) -> None:
        """Stop claiming; hand back a page still loading; finish a seal (any thread)."""
        loop = self._loop
        if loop is not None and loop.is_running():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                loop.call_soon_threadsafe(self._stop.set)
                return
        self._stop.set()

    async def run(self, *, max_jobs: int | None = None, until_idle: bool = False) -> int:
        """Work until stopped, until ``max_jobs`` jobs are done, or (``until_idle``) until no
        job is due; returns the number of jobs worked (handed back ones not counted)."""
        self._loop = asyncio.get_running_loop()
        self.handed_back = 0
        done = started = 0
        last_reap = last_frequent = 0.0
        sealing: _Seal | None = None
        engine = await self._start_engine()
        try:
            while not self._stop.is_set() and (max_jobs is None or started < max_jobs):
                try:
                    job = await asyncio.to_thread(
                        self.services.jobs.claim, self.worker_id, ["capture"]
                    )
                except DBAPIError as exc:  # the database restarts or is away: wait, look again
                    log.warning("worker %s: cannot claim a job (%s); retrying in %.0f s",
                                self.worker_id, type(exc).__name__, DB_RETRY_S)  # fmt: skip
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), DB_RETRY_S)
                    continue
                if job is None:
                    if sealing is not None:  # nothing to overlap with: finish it, look again
                        await self._finish_seal(sealing)
                        sealing = None
                        done += 1
                        continue
                    if until_idle:
                        break
                    if time.monotonic() - last_frequent > housekeeping.FREQUENT_EVERY_S:
                        await asyncio.to_thread(housekeeping.frequent, self.services)
                        last_frequent = time.monotonic()
                    if time.monotonic() - last_reap > REAP_EVERY_S:
                        with suppress(DBAPIError):  # the database away: next idle moment
                            await asyncio.to_thread(reap_abandoned, self.services)
                        # Tree heads every 10 minutes when the log grew; renewals daily.
                        await asyncio.to_thread(housekeeping.periodic, self.services)
                        last_reap = time.monotonic()
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), self.poll_s)
                    continue
                started += 1
                try:
                    loaded = await self._load_job(engine, job)
                except BrowserError:
                    log.warning("Chromium failed; restarting it", exc_info=True)
                    await engine.close()
                    engine = await self._start_engine()
                    loaded = None
                if loaded is None:
                    done += 1
                    continue
                if sealing is not None:  # at most one seal outstanding
                    await self._finish_seal(sealing)
                    done += 1
                sealing = loaded
                if not self.services.settings.worker_pipeline:
                    await self._finish_seal(sealing)
                    sealing = None
                    done += 1
        finally:
            if sealing is not None:
                await self._finish_seal(sealing)
                done += 1
            await engine.close()
        return done - self.handed_back

    async def _start_engine(self) -> CaptureEngine:
        s = self.services.settings
        extra_ca = s.capture_extra_ca_file.read_bytes() if s.capture_extra_ca_file else None
        engine = CaptureEngine(s.chromium_path, extra_ca_pem=extra_ca)
        await engine.start()
        return engine

    async def _load_job(self, engine: CaptureEngine, job: Job) -> _Seal | None:
        """Load the job's page; the seal that follows, started, or None when the job is
        settled already (finished, failed, deferred, handed back or taken over)."""
        jobs = self.services.jobs
        request_id = (job.payload or {}).get("request_id")
        with request_context(request_id):
            if job.capture_id is None:
                await asyncio.to_thread(jobs.fail, job.id, self.worker_id, "job has no capture")
                return None
            capture_id = job.capture_id
            log.info(
                "job %s: capture %s, attempt %d",
                job.id,
                capture_id,
                job.attempts,
                extra={"job_id": job.id, "capture_id": capture_id},
            )
            t0 = time.monotonic()
            work = asyncio.create_task(
                load_capture(self.services, engine, capture_id, attempt=job.attempts)
            )
            beat = asyncio.create_task(self._heartbeat(job.id, work))
            stopping = asyncio.create_task(self._stop.wait())
            handing_back = False
            try:
                await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not work.done():  # stopped while the page loads
                    handing_back = work.cancel()
                with suppress(asyncio.CancelledError):
                    await work  # a BrowserError goes up to ``run``: the lease runs out
            finally:
                stopping.cancel()
                beat.cancel()
            if work.cancelled() and handing_back:
                await asyncio.to_thread(
                    jobs.release,
                    job.id,
                    self.worker_id,
                    "the worker was stopped while the page loaded; handed back",
                )
                await asyncio.to_thread(note_handed_back, self.services, capture_id)
                metrics().captures.labels(outcome="handed_back").inc()
                self.handed_back += 1
                log.warning(
                    "job %s: stopped while loading; handed back",
                    job.id,
                    extra={"job_id": job.id, "capture_id": capture_id},
                )
                return None
            if work.cancelled():  # the heartbeat lost the lease
                log.warning("job %s was taken over by another worker; dropped here", job.id)
                return None
            loaded = work.result()
            if isinstance(loaded, Outcome):
                await self._settle(job.id, capture_id, loaded, time.monotonic() - t0)
                return None
            # Loaded: the seal starts now and runs while the next page loads.
            seal = asyncio.create_task(
                seal_loaded(self.services, capture_id, loaded, attempt=job.attempts)
            )
            seal_beat = asyncio.create_task(self._heartbeat(job.id, seal))
            return _Seal(job.id, capture_id, request_id, seal, seal_beat, started=t0)

    async def _finish_seal(self, sealing: _Seal) -> None:
        with request_context(sealing.request_id):
            try:
                outcome = await sealing.task
            except asyncio.CancelledError:
                log.warning(
                    "job %s was taken over by another worker while sealing; dropped here",
                    sealing.job_id,
                )
                return
            finally:
                sealing.beat.cancel()
            await self._settle(
                sealing.job_id, sealing.capture_id, outcome, time.monotonic() - sealing.started
            )

    async def _settle(self, job_id: int, capture_id: str, outcome: Outcome, took: float) -> None:
        jobs = self.services.jobs
        if outcome.kind == "done":
            await asyncio.to_thread(jobs.complete, job_id, self.worker_id)
            metrics().capture_stage_seconds.labels(stage="total").observe(took)
        elif outcome.kind == "retry":
            await asyncio.to_thread(
                jobs.retry_later, job_id, self.worker_id, outcome.delay_s, outcome.reason
            )
        else:
            # The capture itself is recorded as failed; the job is finished either way.
            await asyncio.to_thread(jobs.complete, job_id, self.worker_id)
        metrics().captures.labels(outcome=outcome.kind).inc()
        log.info(
            "job %s: %s after %.1f s%s",
            job_id,
            outcome.kind,
            took,
            f" ({outcome.reason})" if outcome.reason else "",
            extra={"job_id": job_id, "capture_id": capture_id, "duration_s": round(took, 3)},
        )

    async def _heartbeat(self, job_id: int, work: asyncio.Task[Any]) -> None:
        interval = max(self.services.settings.job_lease_s / 3, 0.5)
        while not work.done():
            await asyncio.sleep(interval)
            try:
                ok = await asyncio.to_thread(self.services.jobs.heartbeat, job_id, self.worker_id)
            except DBAPIError as exc:  # the database restarts: the lease still runs; beat again
                log.warning(
                    "job %s: heartbeat failed (%s); trying again", job_id, exc.__class__.__name__
                )
                continue
            if not ok:
                work.cancel()
                return


def run_worker(services: Services, *, parent_pid: int | None = None) -> None:
    """Entry point of ``evidence worker``: run until SIGTERM/SIGINT, or (``parent_pid``, given
    by ``evidence run``) until that process is gone: the kernel's parent-death signal covers
    most ways a parent dies, and this check every second covers the rest."""
    worker = Worker(services)

    async def watch_parent() -> None:
        assert parent_pid is not None
        while os.getppid() == parent_pid:
            await asyncio.sleep(1.0)
        log.warning(
            "worker %s: evidence run (pid %s) is gone; stopping", worker.worker_id, parent_pid
        )
        worker.stop()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        watcher = asyncio.create_task(watch_parent()) if parent_pid is not None else None
        log.info("worker %s started", worker.worker_id)
        try:
            await worker.run()
        finally:
            if watcher is not None:
                watcher.cancel()
        log.info("worker %s stopped", worker.worker_id)
        # Every job is settled (completed, deferred or handed back) and the browser is closed.
        # What may still run is a warm-up in a background thread (the certificate renderer,
        # the next seal's verification code: both in one transaction or none), and on a busy
        # machine it can take longer than ``evidence run`` waits before it kills the worker.
        # Nothing in it is worth waiting for, so the process ends here.
        logging.shutdown()
        os._exit(0)

    asyncio.run(main())
