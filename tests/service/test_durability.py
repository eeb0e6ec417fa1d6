"""Durable jobs: a worker killed mid-capture, a TSA that is down while sealing."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence_service.bootstrap import initialize
from evidence_service.sealing.pipeline import create_capture
from evidence_service.services import Services
from storage.models import Capture, Job
from tests.fixtures.site import FixtureSite
from tests.fixtures.venv import venv_command
from tests.service.conftest import make_settings, run_worker

pytestmark = pytest.mark.chromium
EVIDENCE = venv_command("evidence")


def _status(services: Services, capture_id: str) -> Capture:
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None
        session.expunge(cap)
        return cap


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_killed_mid_capture_is_taken_over(
    service_env: Callable[..., dict[str, str]], fixture_site: FixtureSite, tmp_path: Path
) -> None:
    env = service_env(EVIDENCE_JOB_LEASE_S="2")
    services = Services(make_settings(tmp_path / "data", job_lease_s=2))
    initialize(services)
    capture_id = create_capture(services, fixture_site.url("/slow?ms=5000"), user_id=None)

    first = subprocess.Popen([str(EVIDENCE), "worker"], env=env, start_new_session=True)
    try:
        _wait(lambda: _status(services, capture_id).status == "loading", 30, "loading")
        time.sleep(0.5)
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its Chromium die mid-capture
        first.wait(10)
        assert _status(services, capture_id).status == "loading"

        second = subprocess.Popen([str(EVIDENCE), "worker"], env=env, start_new_session=True)
        try:
            _wait(
                lambda: _status(services, capture_id).status in ("stored", "failed"),
                90,
                "the second worker to finish the capture",
            )
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(20)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)

    cap = _status(services, capture_id)
    assert cap.status == "stored" and cap.outcome == "complete", cap.error_message
    with services.sessions() as session:
        job = session.query(Job).filter_by(capture_id=capture_id).one()
        assert job.state == "done" and job.attempts == 2
    # One sealed package, and no unsealed leftovers.
    assert services.store.exists(cap.package_key or "")
    assert not (services.settings.work_dir / capture_id).exists()
    services.close()


def test_tsa_down_keeps_capture_sealing_until_it_returns(
    services_factory: Callable[..., Services], fixture_site: FixtureSite
) -> None:
    from tests.fixtures.http_tsa import free_port, serve_tsa

    port = free_port()
    services = services_factory(tsa_url=f"http://127.0.0.1:{port}/tsa")
    initialize(services)
    capture_id = create_capture(services, fixture_site.url("/listing"), user_id=None)

    run_worker(services)  # loads the page, then cannot seal: TSA unreachable
    cap = _status(services, capture_id)
    assert cap.status == "sealing"
    assert cap.package_key is None and cap.trusted_time is None
    assert cap.progress_detail and "TsaUnavailableError" in cap.progress_detail
    assert f"127.0.0.1:{port}" in cap.progress_detail
    assert (services.settings.work_dir / capture_id / "result.json").exists()

    # The TSA comes back (the built-in authority, served on the configured port).
    with serve_tsa(services.tsa, port):
        deadline = time.monotonic() + 30
        while _status(services, capture_id).status != "stored" and time.monotonic() < deadline:
            time.sleep(0.3)
            run_worker(services, until_idle=True)
    cap = _status(services, capture_id)
    assert cap.status == "stored", cap.progress_detail
    assert cap.trusted_time is not None and cap.progress_detail is None


class _Killed(BaseException):
    """Stands for the worker's death at one point of the pipeline (nothing after it runs)."""


def test_worker_dying_between_load_and_its_record_keeps_the_outcome(
    services_factory: Callable[..., Services],
    fixture_site: FixtureSite,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker killed after ``result.json`` was written but before the load's facts were
    committed: the next attempt only seals, and must still record outcome, title and status
    (found by the soak test: a sealed capture with no outcome)."""
    from evidence_service.sealing import pipeline

    services = services_factory(job_lease_s=1)
    initialize(services)
    capture_id = create_capture(services, fixture_site.url("/listing"), user_id=None)

    real = pipeline._record_load

    def die(*args: object) -> None:
        raise _Killed

    monkeypatch.setattr(pipeline, "_record_load", die)
    with pytest.raises(_Killed):
        run_worker(services)
    cap = _status(services, capture_id)
    assert (services.settings.work_dir / capture_id / "result.json").exists()
    assert cap.status == "loading" and cap.outcome is None

    monkeypatch.setattr(pipeline, "_record_load", real)
    time.sleep(1.2)  # the dead worker's lease runs out
    run_worker(services)
    cap = _status(services, capture_id)
    assert cap.status == "stored", cap.progress_detail
    assert cap.outcome == "complete"
    assert cap.http_status == 200 and cap.title and cap.final_url
    assert cap.started_at is not None and cap.ended_at is not None


def test_work_folder_full_defers_the_load_and_keeps_the_worker(
    services_factory: Callable[..., Services], fixture_site: FixtureSite
) -> None:
    """A full disk under the work folder (a real tmpfs, filled up) is not the page's fault: the
    worker lives on, the capture waits ``queued`` with the reason, and is captured once there is
    space (found by the soak test: every worker exited on ENOSPC)."""
    from tests.soak.faults import SmallDisk

    services = services_factory()
    initialize(services)
    disk = SmallDisk(services.settings.work_dir, size_mb=4)
    disk.mount()
    try:
        disk.fill()
        capture_id = create_capture(services, fixture_site.url("/listing"), user_id=None)
        assert run_worker(services) == 1  # the job was worked, and the worker did not die
        cap = _status(services, capture_id)
        assert cap.status == "queued", (cap.status, cap.error_message)
        assert cap.progress_detail and "No space left on device" in cap.progress_detail
        assert str(services.settings.work_dir) in cap.progress_detail
        assert [p.name for p in services.settings.work_dir.iterdir()] == [disk.filler.name]

        disk.free()
        _wait(
            lambda: (
                run_worker(services, until_idle=True) >= 0
                and _status(services, capture_id).status == "stored"
            ),
            60,
            "the capture once the disk has space",
        )
    finally:
        disk.unmount()
    cap = _status(services, capture_id)
    assert cap.outcome == "complete" and cap.progress_detail is None
