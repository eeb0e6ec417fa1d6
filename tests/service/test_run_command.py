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
