"""The worker pipelines: the next page loads while the last one seals (at most one seal
outstanding), and with EVIDENCE_WORKER_PIPELINE=false it works one capture at a time. Real
Chromium, the fixture site, the built-in TSA and the file store, in-process."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest

from evidence_service.bootstrap import initialize
from evidence_service.sealing.pipeline import create_capture
from evidence_service.services import Services
from storage.models import Capture, Job
from tests.fixtures.site import FixtureSite
from tests.service.conftest import run_worker

pytestmark = [pytest.mark.chromium]


def _slow_seals(services: Services, seconds: float) -> None:
    """Each time-stamp takes ``seconds`` more (a distant TSA), so that a seal lasts longer than
    the worker takes to start the next page: whether the two overlap is then the pipeline's
    doing, not the machine's load."""
    for tsa in services.timestampers:
        stamp = tsa.stamp

        def slow(data: bytes, _stamp: Callable[[bytes], Any] = stamp) -> Any:
            time.sleep(seconds)
            return _stamp(data)

        tsa.stamp = slow  # type: ignore[method-assign]


def _drain(services: Services, site: FixtureSite, n: int) -> list[Capture]:
    initialize(services)
    _slow_seals(services, 2.0)
    ids = [create_capture(services, site.url("/listing"), user_id=None) for _ in range(n)]
    assert run_worker(services, jobs=n, timeout=240) == n
    with services.sessions() as session:
        caps = [session.get(Capture, i) for i in ids]
        jobs = session.query(Job).all()
        for cap in caps:
            assert cap is not None
            session.expunge(cap)
    assert all(j.state == "done" and j.lease_expires_at is None for j in jobs)  # none leased
    stored = [c for c in caps if c is not None and c.status == "stored"]
    assert len(stored) == n, [c.error_message for c in caps if c is not None]
    return stored


@pytest.mark.parametrize("pipeline", [True, False])
def test_the_next_page_loads_while_the_last_one_seals(
    services_factory: Callable[..., Services], fixture_site: FixtureSite, pipeline: bool
) -> None:
    caps = _drain(services_factory(worker_pipeline=pipeline), fixture_site, 3)
    for before, after in itertools.pairwise(caps):
        assert before.sealed_at is not None and after.started_at is not None
        assert before.ended_at is not None
        assert after.started_at >= before.ended_at  # one browser: loads never overlap
        if pipeline:  # the browser did not wait for the seal
            assert after.started_at < before.sealed_at, (after.started_at, before.sealed_at)
        else:
            assert after.started_at > before.sealed_at, (after.started_at, before.sealed_at)
    for cap in caps:  # each one sealed whole, with its time-stamp
        assert cap.package_key and cap.trusted_time is not None and cap.manifest_sha256
