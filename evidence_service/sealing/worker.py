"""The capture worker: claims durable jobs from the database and runs them.

Each worker keeps one Chromium warm for its whole life (a fresh context per capture keeps every
profile clean) because launching a browser costs more than loading a small page. A worker holds
a lease on its job and renews it while it works; if it dies, the lease expires and another
worker takes the job over (see ``pipeline`` for why that never leaves half-sealed evidence).
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

from capture import BrowserError, CaptureEngine
from evidence_service.sealing import housekeeping
from evidence_service.sealing.pipeline import Outcome, process_capture, reap_abandoned
from evidence_service.services import Services

log = logging.getLogger(__name__)
REAP_EVERY_S = 30.0


class Worker:
    def __init__(self, services: Services, *, worker_id: str | None = None, poll_s: float = 0.2):
        self.services = services
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.poll_s = poll_s
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self, *, max_jobs: int | None = None, until_idle: bool = False) -> int:
        """Work until stopped, until ``max_jobs`` jobs are done, or (``until_idle``) until no
        job is due; returns the number of jobs worked."""
        done = 0
        last_reap = last_frequent = 0.0
        engine = await self._start_engine()
        try:
            while not self._stop.is_set() and (max_jobs is None or done < max_jobs):
                job = await asyncio.to_thread(self.services.jobs.claim, self.worker_id, ["capture"])
                if job is None:
                    if until_idle:
                        break
                    if time.monotonic() - last_frequent > housekeeping.FREQUENT_EVERY_S:
                        await asyncio.to_thread(housekeeping.frequent, self.services)
                        last_frequent = time.monotonic()
                    if time.monotonic() - last_reap > REAP_EVERY_S:
                        await asyncio.to_thread(reap_abandoned, self.services)
                        # Tree heads every 10 minutes when the log grew; renewals daily.
                        await asyncio.to_thread(housekeeping.periodic, self.services)
                        last_reap = time.monotonic()
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), self.poll_s)
                    continue
                try:
                    await self._run_job(engine, job.id, job.capture_id, job.attempts)
                except BrowserError:
                    log.warning("Chromium failed; restarting it", exc_info=True)
                    await engine.close()
                    engine = await self._start_engine()
                done += 1
        finally:
            await engine.close()
        return done

    async def _start_engine(self) -> CaptureEngine:
        s = self.services.settings
        extra_ca = s.capture_extra_ca_file.read_bytes() if s.capture_extra_ca_file else None
        engine = CaptureEngine(s.chromium_path, extra_ca_pem=extra_ca)
        await engine.start()
        return engine

    async def _run_job(
        self, engine: CaptureEngine, job_id: int, capture_id: str | None, attempt: int
    ) -> None:
        jobs = self.services.jobs
        if capture_id is None:
            await asyncio.to_thread(jobs.fail, job_id, self.worker_id, "job has no capture")
            return
        work = asyncio.create_task(
            process_capture(self.services, engine, capture_id, attempt=attempt)
        )
        beat = asyncio.create_task(self._heartbeat(job_id, work))
        try:
            outcome: Outcome = await work
        except asyncio.CancelledError:
            log.warning("job %s was taken over by another worker; dropped here", job_id)
            return
        finally:
            beat.cancel()
        if outcome.kind == "done":
            await asyncio.to_thread(jobs.complete, job_id, self.worker_id)
        elif outcome.kind == "retry":
            await asyncio.to_thread(
                jobs.retry_later, job_id, self.worker_id, outcome.delay_s, outcome.reason
            )
        else:
            # The capture itself is recorded as failed; the job is finished either way.
            await asyncio.to_thread(jobs.complete, job_id, self.worker_id)

    async def _heartbeat(self, job_id: int, work: asyncio.Task[Outcome]) -> None:
        interval = max(self.services.settings.job_lease_s / 3, 0.5)
        while not work.done():
            await asyncio.sleep(interval)
            ok = await asyncio.to_thread(self.services.jobs.heartbeat, job_id, self.worker_id)
            if not ok:
                work.cancel()
                return


def run_worker(services: Services) -> None:
    """Entry point of ``evidence worker``: run until SIGTERM/SIGINT."""
    worker = Worker(services)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        log.info("worker %s started", worker.worker_id)
        await worker.run()

    asyncio.run(main())
