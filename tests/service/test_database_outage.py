"""The database restarting under the web service: requests get 503 with ``Retry-After`` and a
code to branch on (not a 500 with a traceback), and work again once it is back.

A PostgreSQL cluster of this test's own is really stopped and started (the shared one serves
other tests and is never touched); found by the soak test, whose clients saw 500s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.sealing.pipeline import create_capture
from evidence_service.services import Services
from storage.models import Capture, Job
from tests.fixtures.site import FixtureSite
from tests.service.conftest import client_for, run_worker
from tests.soak.faults import PrivatePostgres

pytestmark = pytest.mark.postgres


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()


def test_api_answers_503_while_the_database_restarts(
    private_pg: PrivatePostgres,
    services_factory: Callable[..., Services],
    admin_token: Callable[[Services], str],
) -> None:
    services = services_factory(database_url=private_pg.url)
    client = client_for(services)
    auth = {"Authorization": f"Bearer {admin_token(services)}"}
    assert client.get("/api/captures", headers=auth).status_code == 200

    private_pg.stop_server()
    try:
        r = client.get("/api/captures", headers=auth)
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "5"
        assert r.json()["detail"]["code"] == "database_unavailable"
        assert "Try again" in r.json()["detail"]["message"]
        r = client.post("/api/captures", headers=auth, json={"url": "http://127.0.0.1:1/x"})
        assert r.status_code == 503 and r.json()["detail"]["code"] == "database_unavailable"
        page = client.get("/v/abcdefghjk?lang=zh", headers={"Accept": "text/html"})
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        assert "数据库暂时无法连接" in page.text
    finally:
        private_pg.start_server()
    assert client.get("/api/captures", headers=auth).status_code == 200


@pytest.mark.chromium
def test_the_lease_outlives_a_database_restart_during_a_capture(
    private_pg: PrivatePostgres,
    services_factory: Callable[..., Services],
    fixture_site: FixtureSite,
) -> None:
    services = services_factory(database_url=private_pg.url, job_lease_s=2)
    initialize(services)
    capture_id = create_capture(services, fixture_site.url("/slow-page?ms=9000"), user_id=None)
    worked: list[int] = []
    thread = threading.Thread(target=lambda: worked.append(run_worker(services, timeout=120)))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while _capture(services, capture_id).status != "loading":
            assert time.monotonic() < deadline, "the capture never started loading"
            time.sleep(0.1)
        private_pg.restart(down_s=1.5)
        time.sleep(3.0)  # longer than the lease: only heartbeats keep it
        with services.sessions() as session:
            job = session.scalars(select(Job).where(Job.capture_id == capture_id)).one()
            still_loading = _capture(services, capture_id).status == "loading"
        assert still_loading, "the page loaded too fast for this test"
        assert job.lease_expires_at is not None
        assert job.lease_expires_at > datetime.now(UTC), "the lease ran out mid-capture"
    finally:
        thread.join(timeout=120)
    assert worked == [1]


def _capture(services: Services, capture_id: str) -> Capture:
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None
        session.expunge(cap)
        return cap


@pytest.mark.chromium
def test_an_idle_worker_survives_a_database_restart(
    private_pg: PrivatePostgres,
    services_factory: Callable[..., Services],
    fixture_site: FixtureSite,
) -> None:
    services = services_factory(database_url=private_pg.url)
    initialize(services)
    errors: list[BaseException] = []
    worked: list[int] = []

    def work() -> None:
        try:
            worked.append(run_worker(services, timeout=120))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    try:
        time.sleep(3.0)  # the worker is up and polling for jobs
        private_pg.restart(down_s=1.5)
        capture_id = create_capture(services, fixture_site.url("/listing"), user_id=None)
    finally:
        thread.join(timeout=120)
    assert not errors, f"the worker stopped: {errors[0]!r}"
    assert worked == [1] and _capture(services, capture_id).status == "stored"
