"""The ``evidence`` command.

It works on the same data directory, database, store and keys as the server and needs no
server running: ``evidence capture`` runs the capture and the seal in-process (with the built-in
TSA in-process too when no ``EVIDENCE_TSA_URL`` is set), records it in the database like any
other capture, and writes the sealed package where asked.

Exit status of ``evidence capture``: 0 complete, 4 partial (sealed, but a limit was hit),
1 failed (nothing sealed), 3 sealing deferred (TSA or store down; a worker will finish it),
2 bad usage or bad input.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from . import __version__
from .cli_certs import certs_group
from .cli_documents import document_group, sign_command
from .cli_verify import verify as verify_command
from .config import Settings
from .services import Services

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DEFERRED, EXIT_PARTIAL = 0, 1, 2, 3, 4


def _services() -> Services:
    return Services(Settings())


@click.group()
@click.version_option(__version__, prog_name="evidence")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """Evidence service: sealed web captures, verification and signing."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# -- service ------------------------------------------------------------------------------


@main.command()
def init() -> None:
    """Create the data folder, database, built-in CA/TSA and admin account if missing."""
    from .bootstrap import initialize

    services = _services()
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


@main.command()
@click.option("--workers", type=int, default=None, help="Capture workers (default from settings).")
def run(workers: int | None) -> None:
    """Initialise if needed, then serve the web UI/API and run the capture workers."""
    import uvicorn

    from .app import create_app
    from .bootstrap import initialize

    services = _services()
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


@main.command()
def serve() -> None:
    """Serve the web UI and API only (workers run separately)."""
    import uvicorn

    from .app import create_app

    services = _services()
    services.migrate()
    s = services.settings
    uvicorn.run(create_app(services=services), host=s.host, port=s.port, log_level="info")


@main.command()
@click.option(
    "--parent-pid",
    type=int,
    default=None,
    hidden=True,
    help="Set by `evidence run`: stop when that process dies.",
)
def worker(parent_pid: int | None) -> None:
    """Run a capture worker until stopped (start as many as you like)."""
    from .worker import run_worker

    if parent_pid is not None:
        _die_with_parent(parent_pid)
    services = _services()
    services.migrate()
    run_worker(services)


# -- capture --------------------------------------------------------------------------------


@main.command()
@click.argument("url")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the sealed package (WACZ) here.",
)
@click.option(
    "--cookies",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Session cookies for this capture (Netscape cookies.txt or Playwright JSON).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result record as JSON.")
@click.option(
    "--wait-seal",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to keep retrying the seal if the TSA or store is down.",
)
@click.option(
    "--certificate",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the signed evidence certificate (取证证书, PDF) here.",
)
def capture(
    url: str,
    output: Path | None,
    cookies: Path | None,
    as_json: bool,
    wait_seal: float,
    certificate: Path | None,
) -> None:
    """Capture URL now and seal it (no server needed)."""
    from .bootstrap import initialize
    from .pipeline import CaptureRequestError, create_capture, load_cookies
    from .records import capture_record

    services = _services()
    initialize(services)
    try:
        cookie_list = load_cookies(cookies.read_bytes(), url) if cookies else []
        capture_id = create_capture(services, url, user_id=None, cookies=cookie_list, enqueue=False)
    except CaptureRequestError as exc:
        _fail(f"{exc.code}: {exc}", EXIT_USAGE, as_json, {"code": exc.code, "message": str(exc)})
        return
    deferred = asyncio.run(_capture_now(services, capture_id, wait_seal, as_json))
    from storage.models import Capture

    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        assert cap is not None
        record = capture_record(cap, services.settings.effective_public_url)
        certificate_key = cap.certificate_key
    if record.status == "stored" and output is not None:
        assert record.package is not None
        _export(services, record.package.sha256, output)
    if record.status == "stored" and certificate is not None and certificate_key:
        _export(services, certificate_key, certificate)
    if as_json:
        click.echo(record.model_dump_json(indent=2))
    else:
        _print_record(record, output)
        if record.status == "stored" and certificate is not None and certificate_key:
            click.echo(f"  certificate: {certificate}")
        if record.verify_url:
            click.echo(f"  verify at:   {record.verify_url}")
    if deferred:
        sys.exit(EXIT_DEFERRED)
    if record.status == "failed":
        sys.exit(EXIT_FAILED)
    if record.outcome == "partial":
        sys.exit(EXIT_PARTIAL)


async def _capture_now(services: Services, capture_id: str, wait_seal: float, quiet: bool) -> bool:
    """Run the capture in-process; returns True if sealing had to be left to a worker."""
    from capture import CaptureEngine

    from .pipeline import process_capture

    s = services.settings
    extra_ca = s.capture_extra_ca_file.read_bytes() if s.capture_extra_ca_file else None
    deadline = time.monotonic() + wait_seal
    async with CaptureEngine(s.chromium_path, extra_ca_pem=extra_ca) as engine:
        attempt = 1
        while True:
            outcome = await process_capture(services, engine, capture_id, attempt=attempt)
            if outcome.kind != "retry":
                return False
            if time.monotonic() + outcome.delay_s > deadline:
                with services.session() as session:
                    job = services.jobs.enqueue(session, "capture", capture_id=capture_id)
                    job.max_attempts = 1000
                click.echo(
                    f"sealing deferred: {outcome.reason}\n"
                    f"the capture {capture_id} is kept and a worker will seal it "
                    "(`evidence worker`, or `evidence run`)",
                    err=True,
                )
                return True
            if not quiet:
                click.echo(
                    f"waiting to seal ({outcome.reason}); retrying in {outcome.delay_s:.0f} s",
                    err=True,
                )
            await asyncio.sleep(outcome.delay_s)
            attempt += 1


def _export(services: Services, key: str, output: Path) -> None:
    """Copy a stored object to a file atomically, verifying its hash on the way."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".part")
    try:
        with open(tmp, "wb") as fh:
            services.store.copy_to(key, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)


def _print_record(record: Any, output: Path | None) -> None:
    status = record.status.upper()
    if record.status == "stored":
        status = "SEALED" + (
            " (PARTIAL: " + ", ".join(record.limits_hit) + ")"
            if record.outcome == "partial"
            else " (complete)"
        )
    click.echo(f"capture {record.id}: {status}")
    click.echo(f"  requested: {record.requested_url}")
    if record.final_url:
        click.echo(f"  final:     {record.final_url} (HTTP {record.http_status})")
    if record.error:
        click.echo(f"  error:     {record.error.code}: {record.error.message}")
    if record.timestamp:
        click.echo(
            f"  trusted time: {record.timestamp.trusted_time} ({record.timestamp.tsa}, "
            f"serial {record.timestamp.serial})"
        )
    if record.package:
        click.echo(f"  package sha256: {record.package.sha256}")
    if output is not None and record.status == "stored":
        click.echo(f"  written to: {output}")


def _fail(message: str, code: int, as_json: bool, detail: dict[str, Any]) -> None:
    if as_json:
        click.echo(json.dumps({"status": "rejected", "error": detail}, ensure_ascii=False))
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@main.command("status")
@click.argument("capture_id")
@click.option("--json", "as_json", is_flag=True)
def status_cmd(capture_id: str, as_json: bool) -> None:
    """Show a capture's state."""
    from storage.models import Capture

    from .records import capture_record

    services = _services()
    with services.sessions() as session:
        cap = session.get(Capture, capture_id)
        if cap is None:
            _fail(
                f"no capture {capture_id}",
                EXIT_USAGE,
                as_json,
                {"code": "not_found", "message": capture_id},
            )
            return
        record = capture_record(cap, services.settings.effective_public_url)
    if as_json:
        click.echo(record.model_dump_json(indent=2))
    else:
        _print_record(record, None)


# -- trust ----------------------------------------------------------------------------------


@main.group()
def trust() -> None:
    """The public trust bundle verifiers need."""


@trust.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def trust_export(output: Path) -> None:
    """Write root CA, TSA chain and signing certificates (PEM) to OUTPUT."""
    services = _services()
    pem = services.trust_bundle_pem()
    output.write_bytes(pem)
    click.echo(f"trust bundle written to {output} ({pem.count(b'BEGIN CERTIFICATE')} certificates)")


# -- users and tokens -------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Manage accounts."""


def _badge(number: str) -> str:
    """A badge number (执法证号) as it goes into the officer certificate's serialNumber
    (checked now, not at the officer's first signature)."""
    from certs.errors import SubjectError
    from certs.subjects import SubjectInfo, subject_name

    value = number.strip()
    try:
        subject_name("officer", SubjectInfo("-", organization="-", officer_id=value))
    except SubjectError as exc:
        _fail(str(exc).replace("officer id", "badge number"), EXIT_USAGE, False, {})
    return value


_BADGE_HELP = (
    "The officer's badge number (执法证号): named in the certificate the officer signs "
    "documents with (ASCII letters, digits, spaces and ' ( ) + , - . / : = ?)."
)


@user.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["officer", "admin"]), default="officer")
@click.option("--display-name", default=None)
@click.option(
    "--unit",
    default=None,
    help="The officer's enforcement unit (created if new; default: the default unit).",
)
@click.option("--badge", default=None, help=_BADGE_HELP)
def user_create(
    username: str, role: str, display_name: str | None, unit: str | None, badge: str | None
) -> None:
    """Create an account; prints its one-time password."""
    from sqlalchemy.exc import IntegrityError

    from storage.models import User
    from workflow.merchants import ensure_unit

    from .bootstrap import default_unit_name
    from .security import hash_password, new_password

    badge_number = _badge(badge) if badge is not None else None
    services = _services()
    services.migrate()
    password = new_password()
    unit_name = " ".join((unit or default_unit_name(services)).split())
    if not unit_name:
        _fail("--unit must name a unit", EXIT_USAGE, False, {})
    if badge_number is not None:
        with services.session() as session:
            holder = session.scalar(select(User).where(User.badge_number == badge_number))
            if holder is not None:
                _fail(
                    f"badge number {badge_number!r} is already on the account {holder.username!r}",
                    EXIT_USAGE,
                    False,
                    {},
                )
    try:
        with services.session() as session:
            row = ensure_unit(session, unit_name)
            session.flush()
            session.add(
                User(
                    username=username,
                    display_name=display_name or username,
                    password_hash=hash_password(password),
                    role=role,
                    must_change_password=True,
                    disabled=False,
                    unit_id=row.id,
                    badge_number=badge_number,
                )
            )
    except IntegrityError:
        _fail(f"user {username!r} already exists", EXIT_USAGE, False, {})
    badge_text = f", badge {badge_number}" if badge_number else ""
    click.echo(
        f"user {username} ({role}, unit {unit_name}{badge_text}) created; "
        f"one-time password: {password}"
    )


@user.command("set-badge")
@click.argument("username")
@click.argument("number")
def user_set_badge(username: str, number: str) -> None:
    """Set the badge number (执法证号) of USERNAME to NUMBER.

    The officer's next signature uses a certificate naming it (issued then if the PKI has
    none for this badge and unit); certificates issued for an earlier number stay in the
    register and keep their past signatures valid."""
    from storage.models import User

    badge_number = _badge(number)
    services = _services()
    services.migrate()
    with services.session() as session:
        row = session.scalar(select(User).where(User.username == username))
        if row is None:
            _fail(f"no user named {username!r}", EXIT_USAGE, False, {})
            return
        holder = session.scalar(select(User).where(User.badge_number == badge_number))
        if holder is not None and holder.id != row.id:
            _fail(
                f"badge number {badge_number!r} is already on the account {holder.username!r}",
                EXIT_USAGE,
                False,
                {},
            )
        if row.badge_number != badge_number:
            row.badge_number = badge_number
            row.signing_cert_serial = None
    click.echo(f"badge number of {username}: {badge_number}")


@user.command("reset-password")
@click.argument("username")
def user_reset(username: str) -> None:
    """Give USERNAME a new one-time password."""
    from .bootstrap import reset_password

    try:
        password = reset_password(_services(), username)
    except LookupError as exc:
        _fail(str(exc), EXIT_USAGE, False, {})
        return
    click.echo(f"one-time password for {username}: {password}")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--user", "username", default="admin", show_default=True)
@click.option("--name", default="cli", show_default=True)
def token_create(username: str, name: str) -> None:
    """Create an API token for USER (printed once; only its hash is stored)."""
    from storage.models import ApiToken, User

    from .security import hash_token, new_api_token

    services = _services()
    services.migrate()
    secret = new_api_token()
    with services.session() as session:
        row = session.scalar(select(User).where(User.username == username))
        if row is None:
            _fail(f"no user named {username!r}", EXIT_USAGE, False, {})
            return
        session.add(
            ApiToken(user_id=row.id, name=name, token_hash=hash_token(secret), revoked=False)
        )
    click.echo(secret)


main.add_command(certs_group)
main.add_command(verify_command)
main.add_command(sign_command)
main.add_command(document_group)

# -- transparency log and long-term proofs ---------------------------------------------------


def _json_out(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@main.group("log")
def log_group() -> None:
    """The transparency log: tree heads, proofs, audit."""


@log_group.command("info")
def log_info() -> None:
    """The log's id, key and size (JSON)."""
    from .transparency import TransparencyLog

    services = _services()
    services.migrate()
    _json_out(TransparencyLog(services).info())


@log_group.command("sth")
@click.option("--publish", is_flag=True, help="Sign and publish a tree head for the current size.")
@click.option("--tree-size", type=int, default=None, help="An earlier published tree head.")
def log_sth(publish: bool, tree_size: int | None) -> None:
    """Print the newest signed tree head (JSON), or publish one now."""
    from .transparency import TransparencyError, TransparencyLog

    services = _services()
    services.migrate()
    tlog = TransparencyLog(services)
    try:
        if publish:
            sth = tlog.publish()
        elif tree_size is not None:
            sth = tlog.sth(tree_size)
        else:
            found = tlog.latest_sth()
            if found is None:
                _fail("no tree head has been published yet (use --publish)", EXIT_FAILED, False, {})
                return
            sth = found
    except TransparencyError as exc:
        _fail(str(exc), EXIT_FAILED, False, {})
        return
    _json_out(sth)


@log_group.command("proof")
@click.option("--leaf-hash", default=None, help="Inclusion proof of this leaf hash (hex).")
@click.option("--capture", "capture_id", default=None, help="Inclusion proof of a capture.")
@click.option(
    "--tree-size", type=int, default=None, help="Against this tree head (default: newest)."
)
@click.option("--first", type=int, default=None, help="Consistency proof from this tree size ...")
@click.option("--second", type=int, default=None, help="... to this one.")
def log_proof(
    leaf_hash: str | None,
    capture_id: str | None,
    tree_size: int | None,
    first: int | None,
    second: int | None,
) -> None:
    """Print an inclusion proof (--leaf-hash or --capture) or a consistency proof
    (--first, --second) as JSON, each with its signed tree head(s)."""
    from .transparency import TransparencyError, TransparencyLog

    services = _services()
    services.migrate()
    tlog = TransparencyLog(services)
    try:
        if first is not None or second is not None:
            if first is None or second is None:
                _fail("give both --first and --second", EXIT_USAGE, False, {})
                return
            _json_out(tlog.consistency_proof(first, second))
            return
        if capture_id is not None:
            entry = tlog.entry_for_capture(capture_id)
            if entry is None:
                _fail(f"capture {capture_id} has no log entry", EXIT_FAILED, False, {})
                return
            leaf_hash = entry.leaf_hash
        if leaf_hash is None:
            _fail("give --leaf-hash, --capture, or --first and --second", EXIT_USAGE, False, {})
            return
        _json_out(tlog.inclusion_proof(leaf_hash.lower(), tree_size))
    except TransparencyError as exc:
        _fail(str(exc), EXIT_FAILED, False, {})


@log_group.command("audit")
def log_audit() -> None:
    """Recompute every published root and cached subtree from the stored entries."""
    from .transparency import TransparencyLog

    services = _services()
    services.migrate()
    problems = TransparencyLog(services).audit()
    for problem in problems:
        click.echo(f"PROBLEM: {problem}")
    if problems:
        sys.exit(EXIT_FAILED)
    click.echo("the stored log matches every published tree head")


@main.command("renew")
@click.option("--all", "renew_all", is_flag=True, help="Renew every stored package now.")
@click.option(
    "--before",
    type=float,
    default=30.0,
    show_default=True,
    help="Renew packages whose certificates expire within this many days.",
)
@click.option("--json", "as_json", is_flag=True)
def renew(renew_all: bool, before: float, as_json: bool) -> None:
    """Add archive time-stamps to the proofs of packages whose certificates near expiry."""
    from datetime import timedelta

    from .renewal import renew_due

    services = _services()
    services.migrate()
    outcomes = renew_due(services, before=timedelta(days=before), all_=renew_all)
    if as_json:
        _json_out(
            [
                {
                    "capture_id": o.capture_id,
                    "renewed": o.renewed,
                    "reason": o.reason,
                    "proofs_key": o.proofs_key,
                    "expires": o.expires.isoformat() if o.expires else None,
                }
                for o in outcomes
            ]
        )
    else:
        for o in outcomes:
            click.echo(f"{o.capture_id}: {'renewed' if o.renewed else 'skipped'} ({o.reason})")
        click.echo(f"{sum(o.renewed for o in outcomes)} of {len(outcomes)} package(s) renewed")
    if any(o.reason.startswith("failed") for o in outcomes):
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
