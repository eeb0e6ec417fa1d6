"""``evidence run`` owns its capture workers: stopping it stops them and their Chromium, and a
worker that dies is started again.

Real processes, as an operator runs them: the command in a subprocess on a temporary data
folder, its process tree read from ``/proc`` (workers, Playwright's driver, every Chromium).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.http_tsa import free_port
from tests.fixtures.venv import venv_command

pytestmark = [pytest.mark.chromium, pytest.mark.slow]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> dict[int, str]:
    """Every live process below ``pid``, with its command line."""
    tree, found, todo = _children(), {}, [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            try:
                cmd = (Path("/proc") / str(child) / "cmdline").read_bytes()
            except OSError:
                continue
            found[child] = cmd.replace(b"\0", b" ").decode(errors="replace")
            todo.append(child)
    return found


def alive(pid: int, cmdline: str) -> bool:
    """Still running (not a zombie) and still the same program (PIDs are reused)."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
        cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state != "Z" and cmd.replace(b"\0", b" ").decode(errors="replace") == cmdline


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def workers_of(tree: dict[int, str]) -> list[int]:
    return [pid for pid, cmd in tree.items() if "evidence_service worker" in cmd]


def browsers_of(tree: dict[int, str]) -> list[int]:
    """The browsers Playwright started (their main process: the one it talks to over a pipe;
    not helpers such as the crash handler, which also run from Chromium's folder)."""
    return [pid for pid, cmd in tree.items() if "--remote-debugging-pipe" in cmd]


@pytest.fixture
def running(
    service_env: Callable[..., dict[str, str]], tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], dict[int, str]]]:
    """``evidence run --workers 2`` serving, with both workers' browsers up."""
    port = free_port()
    env = service_env(EVIDENCE_PORT=str(port), EVIDENCE_HOST="127.0.0.1")
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [str(venv_command("evidence")), "run", "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    seen: dict[int, str] = {}

    def up() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                healthy = r.status == 200
        except OSError:
            return False
        tree = descendants(proc.pid)
        seen.clear()
        seen.update(tree)
        return healthy and len(workers_of(tree)) == 2 and len(browsers_of(tree)) >= 2

    try:
        wait_for(up, 90, "the server and two workers with their browsers")
        yield proc, dict(seen)  # the very process tree that was found complete
    finally:
        left = descendants(proc.pid)
        if proc.poll() is None:
            proc.kill()
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        log.close()


def test_sigterm_stops_the_workers_and_their_browsers(
    running: tuple[subprocess.Popen[bytes], dict[int, str]],
) -> None:
    proc, tree = running
    assert len(browsers_of(tree)) >= 2
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    wait_for(
        lambda: not any(alive(p, c) for p, c in tree.items()),
        30,
        "every worker and browser of the stopped run to exit",
    )


def test_sigint_stops_them_too(running: tuple[subprocess.Popen[bytes], dict[int, str]]) -> None:
    proc, tree = running
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    wait_for(
        lambda: not any(alive(p, c) for p, c in tree.items()),
        30,
        "every worker and browser of the interrupted run to exit",
    )


def test_no_worker_outlives_a_killed_run(
    running: tuple[subprocess.Popen[bytes], dict[int, str]],
) -> None:
    """``kill -9`` leaves no chance to clean up: the workers learn of it from the kernel."""
    proc, tree = running
    proc.kill()
    proc.wait(timeout=10)
    wait_for(
        lambda: not any(alive(p, c) for p, c in tree.items()),
        45,
        "the workers of a killed run (and their browsers) to exit",
    )


def test_a_dead_worker_is_started_again(
    running: tuple[subprocess.Popen[bytes], dict[int, str]],
) -> None:
    proc, tree = running
    first, second = workers_of(tree)
    os.kill(first, signal.SIGKILL)

    def replaced() -> bool:
        now = workers_of(descendants(proc.pid))
        return len(now) == 2 and second in now and first not in now

    wait_for(replaced, 30, "a new worker in place of the killed one")


def test_a_worker_that_keeps_dying_is_restarted_with_back_off(
    running: tuple[subprocess.Popen[bytes], dict[int, str]],
) -> None:
    """Killed again as soon as it is back, a worker's restarts wait 1, 2, then 4 s: a worker
    that cannot stay up does not spin. The other worker is left alone throughout."""
    proc, tree = running
    victim, other = workers_of(tree)
    gaps = []
    for _ in range(3):
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        new: list[int] = []

        def back(victim: int = victim, new: list[int] = new) -> bool:
            now = [p for p in workers_of(descendants(proc.pid)) if p not in (victim, other)]
            new[:] = now
            return bool(now)

        wait_for(back, 30, "the killed worker to be started again")
        gaps.append(time.monotonic() - killed)
        victim = new[0]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9 and gaps[2] >= 3.9, gaps
    assert gaps[1] > gaps[0] and gaps[2] > gaps[1], gaps
    assert alive(other, tree[other])


def _loading(services: Any, capture_id: str) -> bool:
    from storage.models import Capture

    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        return cap is not None and cap.status == "loading"


def _start_run(env: dict[str, str], log: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [str(venv_command("evidence")), "run", "--workers", "1"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )

    def up() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                ready = r.status == 200
        except OSError:
            return False
        tree = descendants(proc.pid)
        return ready and len(workers_of(tree)) == 1 and len(browsers_of(tree)) >= 1

    wait_for(up, 90, "the server ready and its worker's browser up")
    return proc


def test_sigterm_mid_capture_hands_the_job_back_and_the_next_run_seals_it(
    service_env: Callable[..., dict[str, str]],
    fixture_site: Any,
    admin_token: Callable[[Any], str],
    tmp_path: Path,
) -> None:
    """Stopped while a page loads, ``evidence run`` exits within seconds (not after the page):
    its worker hands the job back (queued, unleased, the attempt not counted) and no process of
    it is left. The request id given to the API is in the worker's JSON log lines. The next run
    seals the capture, and its /metrics adds up what its worker (another process) measured."""
    import json

    from prometheus_client.parser import text_string_to_metric_families

    from evidence_service.services import Services
    from storage.models import Capture, Job
    from tests.service.conftest import make_settings

    port = free_port()
    env = service_env(EVIDENCE_PORT=str(port), EVIDENCE_HOST="127.0.0.1", EVIDENCE_LOG_JSON="true")
    log = tmp_path / "run.log"
    proc = _start_run(env, log, port)
    services = Services(make_settings(tmp_path / "data"))
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/captures",
            data=json.dumps({"url": fixture_site.url("/slow-page?ms=15000")}).encode(),
            headers={
                "Authorization": f"Bearer {admin_token(services)}",
                "Content-Type": "application/json",
                "X-Request-ID": "officer-wang-0042",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            capture_id = json.loads(r.read())["id"]
        wait_for(lambda: _loading(services, capture_id), 30, "the worker to load the page")
        time.sleep(1.0)
        tree = descendants(proc.pid)
        assert workers_of(tree)
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        took = time.monotonic() - stopped
        assert took < 12, f"took {took:.1f} s: the page was waited for, not handed back"
        wait_for(
            lambda: not any(alive(p, c) for p, c in tree.items()),
            15,
            "every worker and browser of the stopped run to exit",
        )
        with services.sessions() as session:
            job = session.query(Job).filter_by(capture_id=capture_id).one()
            cap = session.get(Capture, capture_id)
            assert cap is not None
            assert (job.state, job.lease_owner, job.lease_expires_at, job.attempts) == (
                "queued",
                None,
                None,
                0,
            )
            assert cap.status == "queued"
        lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
        worker_lines = [x for x in lines if x["logger"] == "evidence_service.sealing.worker"]
        handed = [x for x in worker_lines if "handed back" in x["message"]]
        assert handed and handed[0]["request_id"] == "officer-wang-0042", worker_lines
        assert handed[0]["capture_id"] == capture_id

        proc = _start_run(env, log, port)  # the next run finishes what the first handed back

        def sealed() -> bool:  # the capture settled, and its job (completed just after)
            with services.sessions() as session:
                cap = session.get(Capture, capture_id)
                job = session.query(Job).filter_by(capture_id=capture_id).one()
                return (
                    cap is not None
                    and cap.status in ("stored", "failed")
                    and (job.state != "running")
                )

        wait_for(sealed, 120, "the next run to seal the capture")
        with services.sessions() as session:
            cap = session.get(Capture, capture_id)
            job = session.query(Job).filter_by(capture_id=capture_id).one()
            assert cap is not None and cap.status == "stored", cap.error_message
            assert (job.state, job.attempts) == ("done", 1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            text = r.read().decode()
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }
        for stage in ("load", "seal", "total"):
            assert samples[("evidence_capture_stage_seconds_count", (("stage", stage),))] == 1
        assert samples[("evidence_captures_total", (("outcome", "done"),))] == 1
        assert samples[("evidence_store_seconds_count", (("operation", "put"),))] == 1
        assert samples[("evidence_tsa_request_seconds_count", (("tsa", "builtin"),))] >= 2
        assert samples[("evidence_queue_jobs", (("kind", "capture"), ("state", "done")))] == 1
        lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
        done = [
            x
            for x in lines
            if x["logger"] == "evidence_service.sealing.worker" and ": done after" in x["message"]
        ]
        assert done and done[0]["request_id"] == "officer-wang-0042"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        services.close()
        left = descendants(proc.pid)
        if proc.poll() is None:
            proc.kill()
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
