"""``evidence init|run|serve|worker``: start the service, its web server and capture workers."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

import click

from evidence_service.cli.common import open_services
from evidence_service.services import Services


@click.command()
def init() -> None:
    """Create the data folder, database, built-in CA/TSA and admin account if missing."""
    from evidence_service.bootstrap import initialize

    services = open_services()
    result = initialize(services)
    _print_init(services, result.admin_password)


def _print_init(services: Services, password: str | None) -> None:
    s = services.settings
    click.echo(f"data folder: {s.data_dir}")
    click.echo(f"database:    {_redact_url(s.effective_database_url)}")
    click.echo(f"store:       {s.store}")
    click.echo(
        f"TSA:         {', '.join(s.tsa_urls) or 'built-in (' + s.effective_public_url + '/tsa)'}"
    )
    if password:
        click.echo("")
        click.echo("  An admin account was created.")
        click.echo("  user name:          admin")
        click.echo(f"  one-time password:  {password}")
        click.echo("  (you will be asked to choose a new password at first login)")
        click.echo("")


def _redact_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable>"


@click.command()
@click.option("--workers", type=int, default=None, help="Capture workers (default from settings).")
def run(workers: int | None) -> None:
    """Initialise if needed, then serve the web UI/API and run the capture workers."""
    import uvicorn

    from evidence_service.bootstrap import initialize
    from evidence_service.web.app import create_app

    services = open_services()
    result = initialize(services)
    _print_init(services, result.admin_password)
    s = services.settings
    count = s.workers if workers is None else workers
    # uvicorn shuts down on SIGTERM, then restores the handler it found and raises the signal
    # again; with the default handler that kills this process before ``finally`` could stop the
    # workers. Our handler turns that second delivery into a normal exit, so ``finally`` runs.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    supervisor = WorkerSupervisor(count)
    supervisor.start()
    click.echo(f"serving on {s.effective_public_url} with {count} capture worker(s); Ctrl-C stops")
    try:
        uvicorn.run(create_app(services=services), host=s.host, port=s.port, log_level="info")
    finally:
        supervisor.stop()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to send this worker SIGTERM when the ``evidence run`` that started it dies, even
    by ``kill -9``, so that no worker (nor its Chromium) outlives it; the worker handles SIGTERM
    by finishing or handing back its job. Done in the worker rather than between fork and exec
    (``preexec_fn`` is unsafe in a process with threads); the parent check afterwards closes the
    window in which the parent could have died before the request was made."""
    import ctypes

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent still forwards SIGTERM itself
        return
    if os.getppid() != parent_pid:
        raise SystemExit(0)


class WorkerSupervisor:
    """Keeps N ``evidence worker`` processes alive beside the web server, and stops them with it.

    A worker that exits is started again after a back-off that doubles up to a minute (a worker
    that crashes at start must not spin), and resets once a worker has lived a minute. Workers
    get their own session so that a Ctrl-C in the terminal reaches only this process, which then
    stops them in order: SIGTERM (a worker finishes its capture or hands the job back), then
    SIGKILL after ``grace_s`` (its lease expires and another worker retries the job).
    """

    def __init__(self, count: int, *, grace_s: float = 20.0) -> None:
        self.count = count
        self.grace_s = grace_s
        self.procs: list[subprocess.Popen[bytes]] = []
        self._started: list[float] = []
        self._backoff: list[float] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "evidence_service", "worker", "--parent-pid", str(os.getpid())],
            start_new_session=True,
        )

    def start(self) -> None:
        # Linux's parent-death signal follows the *thread* that forked: restarts come from the
        # watcher thread, which lives until ``stop`` (and stop then ends those workers anyway).
        self.procs = [self._spawn() for _ in range(self.count)]
        now = time.monotonic()
        self._started = [now] * self.count
        self._backoff = [1.0] * self.count
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        log = logging.getLogger(__name__)
        while not self._stopping.wait(0.5):
            for i, proc in enumerate(self.procs):
                if proc.poll() is None:
                    continue
                lived = time.monotonic() - self._started[i]
                delay = 1.0 if lived > 60 else self._backoff[i]
                log.warning(
                    "worker %s exited with %s after %.0f s; restarting in %.0f s",
                    proc.pid,
                    proc.returncode,
                    lived,
                    delay,
                )
                if self._stopping.wait(delay):
                    return
                with self._lock:
                    if self._stopping.is_set():
                        return
                    self.procs[i] = self._spawn()
                self._started[i] = time.monotonic()
                self._backoff[i] = min(delay * 2, 60.0)

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for proc in self.procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@click.command()
def serve() -> None:
    """Serve the web UI and API only (workers run separately)."""
    import uvicorn

    from evidence_service.web.app import create_app

    services = open_services()
    services.migrate()
    s = services.settings
    uvicorn.run(create_app(services=services), host=s.host, port=s.port, log_level="info")


@click.command()
@click.option(
    "--parent-pid",
    type=int,
    default=None,
    hidden=True,
    help="Set by `evidence run`: stop when that process dies.",
)
def worker(parent_pid: int | None) -> None:
    """Run a capture worker until stopped (start as many as you like)."""
    from evidence_service.sealing.worker import run_worker

    if parent_pid is not None:
        _die_with_parent(parent_pid)
    services = open_services()
    services.migrate()
    run_worker(services)
