"""``evidence init|run|serve|worker``: start the service, its web server and capture workers."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from datetime import time as dtime

import click

from evidence_service.cli.common import open_services
from evidence_service.observability import (
    configure_logging,
    metrics,
    process_exited,
    share_metrics,
)
from evidence_service.services import Services
from workflow import stats
from workflow.deadlines import CHINA, beijing_today

log = logging.getLogger(__name__)


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


def keep_stats_warm(services: Services) -> threading.Thread:
    """Count the unit's figures into the web process's cache now and just after each Beijing
    midnight (when every count goes stale), in a background thread, so the first officer to
    open ``/stats`` does not wait for every case's deadlines to be counted."""

    def loop() -> None:
        while True:
            today = beijing_today()
            try:
                started = time.monotonic()
                counted = stats.warm(services.sessions, today)
                log.info("unit figures warmed: %d case(s) counted in %.1f s", counted,
                         time.monotonic() - started)  # fmt: skip
            except Exception:
                log.exception("warming the unit figures failed; the page counts them itself")
            now = datetime.now(CHINA)
            midnight = datetime.combine(now.date() + timedelta(days=1), dtime(0, 1), CHINA)
            time.sleep(max(60.0, (midnight - now).total_seconds()))

    thread = threading.Thread(target=loop, name="stats-warm", daemon=True)
    thread.start()
    return thread


@click.command()
@click.option("--workers", type=int, default=None, help="Capture workers (default from settings).")
def run(workers: int | None) -> None:
    """Initialise if needed, then serve the web UI/API and run the capture workers.

    SIGTERM or SIGINT (Ctrl-C) stops it: the web server stops accepting requests, each worker
    stops claiming jobs, hands back a page it is loading (the job is queued again at once) and
    finishes a seal it is running, then exits; a worker still running after the grace period
    (EVIDENCE_WORKER_STOP_GRACE_S) is killed. It exits 0 once every worker has exited. A worker
    that dies is started again after a back-off (1 s, doubling to a minute)."""
    import uvicorn

    from evidence_service.bootstrap import initialize
    from evidence_service.web.app import create_app

    services = open_services()
    s = services.settings
    share_metrics(s.effective_metrics_dir, fresh=True)  # before anything records a figure
    configure_logging(as_json=s.log_json, level=s.log_level)
    result = initialize(services)
    _print_init(services, result.admin_password)
    count = s.workers if workers is None else workers
    # uvicorn shuts down on SIGTERM/SIGINT, then restores the handler it found and raises the
    # signal again; with the default handlers that would kill this process (SIGTERM) or raise
    # KeyboardInterrupt (SIGINT) before or while ``finally`` stops the workers. Our handler turns
    # that second delivery into a normal exit, so ``finally`` runs, whole, and the status is 0.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    supervisor = WorkerSupervisor(count, grace_s=s.worker_stop_grace_s)
    try:
        supervisor.start()
        click.echo(
            f"serving on {s.effective_public_url} with {count} capture worker(s); Ctrl-C stops"
        )
        keep_stats_warm(services)
        uvicorn.run(create_app(services=services), host=s.host, port=s.port, log_config=None)
    finally:
        # A second signal while the workers stop must not cut the stopping short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        supervisor.stop()


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to send this worker SIGTERM when the ``evidence run`` that started it dies, even
    by ``kill -9``, so that no worker (nor its Chromium) outlives it; the worker handles SIGTERM
    by finishing or handing back its job. Done in the worker rather than between fork and exec
    (``preexec_fn`` is unsafe in a process with threads); the parent check afterwards closes the
    window in which the parent could have died before the request was made. (The worker also
    watches its parent itself, see ``run_worker``: Linux sends the signal when the *thread*
    that started the worker ends, and not at all on other systems.)"""
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

    A worker that exits is started again after a back-off that doubles from ``backoff_s`` up to
    ``max_backoff_s`` (a worker that crashes at start must not spin), and starts again from
    ``backoff_s`` once a worker has lived ``healthy_s``. Workers get their own session so that a
    Ctrl-C in the terminal reaches only this process, which then stops them in order: SIGTERM to
    all (each hands back a page it is loading and finishes a seal), then SIGKILL after
    ``grace_s`` to any still running (its lease expires and another worker retries the job).

    Every worker is started from the one supervisor thread, which lives until ``stop``: Linux
    ties a child's parent-death signal to the thread that forked it.
    """

    def __init__(
        self,
        count: int,
        *,
        grace_s: float = 20.0,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        healthy_s: float = 60.0,
    ) -> None:
        self.count = count
        self.grace_s = grace_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.healthy_s = healthy_s
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self.restarts = 0
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._start_error: BaseException | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "evidence_service", "worker", "--parent-pid", str(os.getpid())],
            start_new_session=True,
        )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            raise self._start_error

    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self.procs if p is not None and p.poll() is None]

    def _watch(self) -> None:
        log = logging.getLogger(__name__)
        try:
            with self._lock:
                self.procs = [self._spawn() for _ in range(self.count)]
        except BaseException as exc:  # e.g. out of processes: let ``start`` raise it
            self._start_error = exc
            self._started.set()
            return
        self._started.set()
        born = [time.monotonic()] * self.count
        backoff = [self.backoff_s] * self.count
        due: list[float | None] = [None] * self.count  # when an exited worker starts again
        while not self._stopping.wait(0.2):
            now = time.monotonic()
            for i, proc in enumerate(self.procs):
                when = due[i]
                if when is None:
                    if proc is None or proc.poll() is None:
                        continue
                    lived = now - born[i]
                    if lived >= self.healthy_s:
                        backoff[i] = self.backoff_s
                    delay = backoff[i]
                    backoff[i] = min(delay * 2, self.max_backoff_s)
                    due[i] = now + delay
                    process_exited(proc.pid)
                    log.warning(
                        "worker %s exited with %s after %.1f s; restarting in %.0f s",
                        proc.pid,
                        proc.returncode,
                        lived,
                        delay,
                    )
                elif now >= when:
                    with self._lock:
                        if self._stopping.is_set():
                            return
                        self.procs[i] = self._spawn()
                    due[i] = None
                    born[i] = time.monotonic()
                    self.restarts += 1
                    metrics().worker_restarts.inc()

    def stop(self) -> None:
        """SIGTERM every worker, wait up to ``grace_s`` for all, SIGKILL the rest; returns when
        no worker is left."""
        with self._lock:
            self._stopping.set()
            procs = [p for p in self.procs if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for proc in procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                logging.getLogger(__name__).warning(
                    "worker %s still running %.0f s after SIGTERM; killed", proc.pid, self.grace_s
                )
                proc.kill()
                proc.wait()
        if self._thread is not None:
            self._thread.join(timeout=5)


@click.command()
def serve() -> None:
    """Serve the web UI and API only (workers run separately)."""
    import uvicorn

    from evidence_service.web.app import create_app

    services = open_services()
    s = services.settings
    share_metrics(s.effective_metrics_dir)
    configure_logging(as_json=s.log_json, level=s.log_level)
    services.migrate()
    keep_stats_warm(services)
    uvicorn.run(create_app(services=services), host=s.host, port=s.port, log_config=None)


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
    s = services.settings
    share_metrics(s.effective_metrics_dir)
    configure_logging(as_json=s.log_json, level=s.log_level)
    services.migrate()
    run_worker(services, parent_pid=parent_pid)
