"""JobQueue on both SQLite and PostgreSQL: durable, exclusive claims, leases, retries."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, make_session_factory, session_scope
from storage.jobs import JobQueue
from storage.models import Capture, Job


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(sessions: sessionmaker[Session], clock: FakeClock) -> JobQueue:
    return JobQueue(sessions, lease_s=30, clock=clock)


def enqueue(
    queue: JobQueue, sessions: sessionmaker[Session], n: int = 1, kind: str = "capture", **kw
) -> list[int]:
    with session_scope(sessions) as s:
        return [queue.enqueue(s, kind, **kw).id for _ in range(n)]


def test_enqueue_claim_complete(queue: JobQueue, sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as s:
        cap = Capture(requested_url="https://shop.example/")
        s.add(cap)
        s.flush()
        job = queue.enqueue(s, "capture", capture_id=cap.id, payload={"why": "test"})
        job.max_attempts = 1000  # the caller may adjust it in the same transaction
        cap_id, job_id = cap.id, job.id
    claimed = queue.claim("w1")
    assert claimed is not None
    assert (claimed.id, claimed.kind, claimed.capture_id, claimed.payload) == (
        job_id,
        "capture",
        cap_id,
        {"why": "test"},
    )
    assert (claimed.state, claimed.lease_owner, claimed.attempts, claimed.max_attempts) == (
        "running",
        "w1",
        1,
        1000,
    )
    assert claimed.lease_expires_at is not None and claimed.lease_expires_at.tzinfo == UTC
    assert queue.claim("w2") is None  # leased
    assert queue.complete(job_id, "w1")
    done = queue.get(job_id)
    assert done is not None and done.state == "done"
    assert queue.claim("w2") is None
    assert queue.counts() == {"done": 1}


def test_enqueue_is_part_of_the_callers_transaction(
    queue: JobQueue, sessions: sessionmaker[Session]
) -> None:
    with pytest.raises(RuntimeError), session_scope(sessions) as s:
        queue.enqueue(s, "capture")
        raise RuntimeError("request failed after enqueueing")
    assert queue.claim("w1") is None
    with session_scope(sessions) as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def test_oldest_first_and_kind_filter(queue: JobQueue, sessions: sessionmaker[Session]) -> None:
    a = enqueue(queue, sessions, kind="seal")[0]
    b = enqueue(queue, sessions, kind="capture")[0]
    c = enqueue(queue, sessions, kind="capture")[0]
    assert queue.claim("w", ["capture"]).id == b
    assert queue.claim("w", ["capture"]).id == c
    assert queue.claim("w", ["capture"]) is None
    assert queue.claim("w").id == a


def test_expired_lease_is_reclaimed_and_old_worker_is_told(
    queue: JobQueue, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    [job_id] = enqueue(queue, sessions)
    assert queue.claim("old").id == job_id
    clock.advance(20)
    assert queue.heartbeat(job_id, "old")  # lease now runs to +50 s
    clock.advance(29)
    assert queue.claim("new") is None  # still leased thanks to the heartbeat
    clock.advance(2)  # the old worker died: no more heartbeats
    taken = queue.claim("new")
    assert taken is not None and taken.id == job_id
    assert (taken.lease_owner, taken.attempts) == ("new", 2)
    # The old worker wakes up: its heartbeat is refused and its late results change nothing.
    assert queue.heartbeat(job_id, "old") is False
    assert queue.complete(job_id, "old") is False
    assert queue.retry_later(job_id, "old", 5, "late") is False
    assert queue.fail(job_id, "old", "late") is False
    assert queue.get(job_id).state == "running"
    assert queue.complete(job_id, "new")
    assert queue.get(job_id).state == "done"


def test_retry_later_respects_not_before(
    queue: JobQueue, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    [job_id] = enqueue(queue, sessions)
    queue.claim("w")
    assert queue.retry_later(job_id, "w", 60, "TSA unreachable")
    job = queue.get(job_id)
    assert job is not None
    assert (job.state, job.last_error, job.lease_owner) == ("queued", "TSA unreachable", None)
    assert job.not_before == clock.now + timedelta(seconds=60)
    clock.advance(59)
    assert queue.claim("w") is None
    clock.advance(2)
    again = queue.claim("w")
    assert again is not None and again.id == job_id and again.attempts == 2


def test_max_attempts_then_failed(
    queue: JobQueue, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    [job_id] = enqueue(queue, sessions, max_attempts=2)
    for attempt in (1, 2):
        job = queue.claim("w")
        assert job is not None and job.attempts == attempt
        queue.retry_later(job_id, "w", 1, f"failure {attempt}")
        clock.advance(2)
    job = queue.get(job_id)
    assert job is not None and (job.state, job.last_error) == ("failed", "failure 2")
    assert queue.claim("w") is None


def test_worker_dying_on_every_attempt_ends_failed(
    queue: JobQueue, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    """A job that kills its workers must not be reclaimed forever."""
    [job_id] = enqueue(queue, sessions, max_attempts=2)
    for _ in range(2):
        assert queue.claim("doomed") is not None
        clock.advance(31)  # died without a word
    assert queue.claim("next") is None
    job = queue.get(job_id)
    assert job is not None and job.state == "failed" and "lease" in (job.last_error or "")


def test_fail(queue: JobQueue, sessions: sessionmaker[Session]) -> None:
    [job_id] = enqueue(queue, sessions)
    queue.claim("w")
    assert queue.fail(job_id, "w", "no such capture")
    job = queue.get(job_id)
    assert job is not None and (job.state, job.last_error) == ("failed", "no such capture")
    assert queue.claim("w") is None


def test_release_hands_the_job_back_at_once_without_using_an_attempt(
    queue: JobQueue, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    """A worker being stopped hands its job back: due now, unleased, the claim not counted;
    a worker that lost the lease cannot release it (nor undo the new owner's claim)."""
    [job_id] = enqueue(queue, sessions, max_attempts=2)
    assert queue.claim("stopping").attempts == 1
    assert queue.release(job_id, "stopping", "worker stopped (SIGTERM) while loading")
    job = queue.get(job_id)
    assert job is not None
    assert (job.state, job.lease_owner, job.lease_expires_at, job.attempts) == (
        "queued",
        None,
        None,
        0,
    )
    assert job.last_error == "worker stopped (SIGTERM) while loading"
    assert job.not_before == clock.now
    again = queue.claim("next")  # at once: no waiting for a lease to expire
    assert again is not None and again.id == job_id and again.attempts == 1
    assert queue.release(job_id, "stopping", "late") is False
    assert queue.get(job_id).lease_owner == "next"
    clock.advance(31)  # next died: the lease expires and the job is taken over
    taken = queue.claim("third")
    assert taken is not None and taken.attempts == 2
    assert queue.release(job_id, "next", "late") is False
    assert queue.complete(job_id, "third")


def _drain(url: str, worker: str, start: threading.Barrier | None = None) -> list[int]:
    """Claim and complete until nothing is left (runs in threads and in child processes)."""
    engine = make_engine(url)
    try:
        q = JobQueue(make_session_factory(engine), lease_s=300)
        got: list[int] = []
        if start is not None:
            start.wait(60)  # everyone is connected and ready: now hammer together
        idle = 0
        while idle < 3:
            job = q.claim(worker)
            if job is None:
                idle += 1  # PostgreSQL may skip rows a peer has locked right now: look again
                time.sleep(0.01)
                continue
            idle = 0
            got.append(job.id)
            assert q.complete(job.id, worker)
        return got
    finally:
        engine.dispose()


def _drain_in_child(url: str, worker: str, start, out) -> None:
    out.put((worker, _drain(url, worker, start)))


def _assert_each_claimed_once(
    sessions: sessionmaker[Session], ids: list[int], claims: list[list[int]]
) -> None:
    flat = [i for c in claims for i in c]
    dupes = [i for i, n in Counter(flat).items() if n > 1]
    assert dupes == [], f"jobs claimed more than once: {dupes}"
    assert sorted(flat) == sorted(ids)
    with session_scope(sessions) as s:
        rows = s.execute(select(Job.state, Job.attempts)).all()
    assert {(state, attempts) for state, attempts in rows} == {("done", 1)}
    assert sum(1 for c in claims if c) >= 2, "the test needs real contention"


def test_threads_never_claim_the_same_job(db_url: str, sessions: sessionmaker[Session]) -> None:
    queue = JobQueue(sessions)
    ids = enqueue(queue, sessions, 200)
    n = 6
    start = threading.Barrier(n)
    results: list[list[int]] = [[] for _ in range(n)]

    def run(i: int) -> None:
        results[i] = _drain(db_url, f"thread-{i}", start)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    _assert_each_claimed_once(sessions, ids, results)


def test_processes_never_claim_the_same_job(db_url: str, sessions: sessionmaker[Session]) -> None:
    queue = JobQueue(sessions)
    ids = enqueue(queue, sessions, 300)
    ctx = multiprocessing.get_context("spawn")
    n = 3
    start, out = ctx.Barrier(n), ctx.Queue()
    procs = [
        ctx.Process(target=_drain_in_child, args=(db_url, f"proc-{i}", start, out))
        for i in range(n)
    ]
    for p in procs:
        p.start()
    claims = [out.get(timeout=120)[1] for _ in procs]
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0] * n
    _assert_each_claimed_once(sessions, ids, claims)
