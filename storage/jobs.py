"""A durable job queue in the database itself (no broker to run, back up or lose).

A job is a row. ``enqueue`` adds it in the caller's transaction, so a request that returns "202
accepted" has its job committed together with its record, or neither. Workers ``claim`` a job,
which gives them a *lease* they keep renewing with ``heartbeat``; a worker that dies stops
renewing, and once the lease has expired another worker claims the job again (``attempts``
counts every claim, so a job that kills its workers eventually fails instead of looping).

Every state change after a claim is conditional on the caller still holding the lease: a
worker whose job was taken over learns it (``heartbeat`` returns False) and its late
``complete``/``retry_later``/``fail`` change nothing.

Claiming is atomic on both databases: PostgreSQL locks the chosen row with ``FOR UPDATE SKIP
LOCKED`` (concurrent claimers pick different rows without waiting); SQLite runs the claim in a
``BEGIN IMMEDIATE`` transaction (see ``storage.db``) and the UPDATE is conditional on the row
being unchanged, checked by its row count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, case, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from .models import Job
from .types import utcnow

log = logging.getLogger(__name__)

_MAX_ERROR_CHARS = 4000


class JobQueue:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        lease_s: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self._sessions = session_factory
        self.lease = timedelta(seconds=lease_s)
        self._clock = clock

    # -- producer side -----------------------------------------------------------------------

    def enqueue(
        self,
        session: Session,
        kind: str,
        *,
        capture_id: str | None = None,
        payload: dict[str, Any] | None = None,
        not_before: datetime | None = None,
        max_attempts: int | None = None,
    ) -> Job:
        """Add a job in the caller's transaction (committed with it, or not at all)."""
        now = self._clock()
        job = Job(
            kind=kind,
            capture_id=capture_id,
            payload=dict(payload or {}),
            state="queued",
            attempts=0,
            not_before=not_before or now,
            created_at=now,
            updated_at=now,
        )
        if max_attempts is not None:
            job.max_attempts = max_attempts
        session.add(job)
        session.flush()  # assigns the id; still inside the caller's transaction
        return job

    # -- worker side -------------------------------------------------------------------------

    def claim(self, worker_id: str, kinds: Sequence[str] | None = None) -> Job | None:
        """Take the oldest due job (queued, or running on an expired lease); None if none."""
        now = self._clock()
        with self._sessions() as session, session.begin():
            pg = session.get_bind().dialect.name == "postgresql"
            self._fail_exhausted(session, now, kinds)
            for _ in range(5):  # a lost race moves on to the next candidate
                query = select(Job).where(self._due(now, kinds)).order_by(Job.id).limit(1)
                if pg:
                    query = query.with_for_update(skip_locked=True)
                job = session.scalars(query).first()
                if job is None:
                    return None
                lease_cond: ColumnElement[bool] = (
                    Job.lease_expires_at.is_(None)
                    if job.lease_expires_at is None
                    else Job.lease_expires_at == job.lease_expires_at
                )
                result = session.execute(
                    update(Job)
                    .where(
                        Job.id == job.id,
                        Job.state == job.state,
                        Job.attempts == job.attempts,
                        lease_cond,
                    )
                    .values(
                        state="running",
                        lease_owner=worker_id,
                        lease_expires_at=now + self.lease,
                        attempts=Job.attempts + 1,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                if cast(CursorResult[Any], result).rowcount == 1:
                    if job.state == "running":
                        log.warning(
                            "job %s: lease of %s expired; taken over by %s (attempt %d)",
                            job.id,
                            job.lease_owner,
                            worker_id,
                            job.attempts + 1,
                        )
                    return self._snapshot(session, job.id)
        return None

    def heartbeat(self, job_id: int, worker_id: str) -> bool:
        """Extend the lease. False: the job is no longer this worker's -- stop working on it."""
        now = self._clock()
        ok = self._update_owned(
            job_id, worker_id, lease_expires_at=now + self.lease, updated_at=now
        )
        if not ok:
            log.warning("job %s: heartbeat of %s refused (lease lost)", job_id, worker_id)
        return ok

    def complete(self, job_id: int, worker_id: str) -> bool:
        """Mark done. Returns False (and changes nothing) if the lease was lost."""
        now = self._clock()
        return self._finish(
            job_id, worker_id, "complete", state="done", lease_expires_at=None, updated_at=now
        )

    def retry_later(self, job_id: int, worker_id: str, delay_s: float, reason: str) -> bool:
        """Back to the queue, due after ``delay_s``; failed instead if out of attempts."""
        now = self._clock()
        return self._finish(
            job_id,
            worker_id,
            "retry",
            state=case((Job.attempts >= Job.max_attempts, "failed"), else_="queued"),
            not_before=now + timedelta(seconds=max(delay_s, 0.0)),
            lease_owner=None,
            lease_expires_at=None,
            last_error=reason[:_MAX_ERROR_CHARS],
            updated_at=now,
        )

    def release(self, job_id: int, worker_id: str, reason: str) -> bool:
        """Hand the job back at once: queued, due now, lease cleared, and this claim not counted
        (a worker that is being stopped gave up the attempt; the job did nothing wrong, so a
        service restarted often does not use up its attempts). False if the lease was lost."""
        now = self._clock()
        return self._finish(
            job_id,
            worker_id,
            "release",
            state="queued",
            not_before=now,
            lease_owner=None,
            lease_expires_at=None,
            attempts=case((Job.attempts > 0, Job.attempts - 1), else_=0),
            last_error=reason[:_MAX_ERROR_CHARS],
            updated_at=now,
        )

    def fail(self, job_id: int, worker_id: str, reason: str) -> bool:
        """Give up on the job for good."""
        now = self._clock()
        return self._finish(
            job_id,
            worker_id,
            "fail",
            state="failed",
            lease_expires_at=None,
            last_error=reason[:_MAX_ERROR_CHARS],
            updated_at=now,
        )

    # -- inspection --------------------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        """A detached snapshot of the job, or None."""
        with self._sessions() as session:
            job = session.get(Job, job_id)
            if job is not None:
                session.expunge(job)
            return job

    def counts(self) -> dict[str, int]:
        """Number of jobs per state (for health and status pages)."""
        with self._sessions() as session:
            rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
            return {state: int(n) for state, n in rows}

    def counts_by_kind(self) -> list[tuple[str, str, int]]:
        """(kind, state, number of jobs), for the metrics' queue depth."""
        with self._sessions() as session:
            rows = session.execute(
                select(Job.kind, Job.state, func.count()).group_by(Job.kind, Job.state)
            ).all()
            return [(str(kind), str(state), int(n)) for kind, state, n in rows]

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _due(now: datetime, kinds: Sequence[str] | None) -> ColumnElement[bool]:
        cond = and_(
            Job.not_before <= now,
            or_(
                Job.state == "queued",
                and_(
                    Job.state == "running",
                    Job.lease_expires_at < now,
                    Job.attempts < Job.max_attempts,
                ),
            ),
        )
        if kinds is not None:
            cond = and_(cond, Job.kind.in_(list(kinds)))
        return cond

    @staticmethod
    def _fail_exhausted(session: Session, now: datetime, kinds: Sequence[str] | None) -> None:
        """Expired leases on jobs with no attempts left: their workers died every time."""
        cond = and_(
            Job.state == "running",
            Job.lease_expires_at < now,
            Job.attempts >= Job.max_attempts,
        )
        if kinds is not None:
            cond = and_(cond, Job.kind.in_(list(kinds)))
        result = session.execute(
            update(Job)
            .where(cond)
            .values(
                state="failed",
                last_error=func.coalesce(Job.last_error + "; ", "")
                + "the worker stopped renewing its lease on the last allowed attempt",
                lease_expires_at=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        n = cast(CursorResult[Any], result).rowcount
        if n:
            log.warning("%d job(s) failed: workers died on their last allowed attempt", n)

    def _update_owned(self, job_id: int, worker_id: str, **values: Any) -> bool:
        with self._sessions() as session, session.begin():
            result = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == "running", Job.lease_owner == worker_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return cast(CursorResult[Any], result).rowcount == 1

    def _finish(self, job_id: int, worker_id: str, action: str, **values: Any) -> bool:
        ok = self._update_owned(job_id, worker_id, **values)
        if not ok:
            log.warning("job %s: %s by %s ignored: lease lost", job_id, action, worker_id)
        return ok

    @staticmethod
    def _snapshot(session: Session, job_id: int) -> Job:
        job = session.get(Job, job_id, populate_existing=True)
        assert job is not None
        session.expunge(job)
        return job
