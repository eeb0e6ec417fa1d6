"""The soak: a burst of captures and officers' document signing against ``evidence run`` with N
workers on PostgreSQL, the S3 server and the built-in TSA over HTTP, with faults injected at
random moments; then the checks of what a deployment relies on, and the figures.

Used by ``tests/soak/test_soak.py`` (short form, in CI) and ``benchmarks/soak.py`` (long form,
beside a no-fault baseline of the same size). ``run_soak`` returns the figures and the list of
problems found; it never leaves a process, a mount or a database cluster behind, even when it
fails half-way (everything it starts is undone by one ``ExitStack``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from evidence_service.bootstrap import default_unit_name, initialize
from evidence_service.config import Settings
from evidence_service.security import hash_password, hash_token, new_api_token
from evidence_service.services import Services
from storage.models import (
    ApiToken,
    Capture,
    CaseEvidence,
    Document,
    DocumentAttachment,
    DocumentVersion,
    Job,
    LogLeaf,
    PaymentReceipt,
    Unit,
    User,
)
from tests.fixtures.http_tsa import free_port
from tests.fixtures.site import FixtureSite
from tests.fixtures.venv import venv_command
from tests.soak.faults import (
    FaultyTsaProxy,
    PrivatePostgres,
    SmallDisk,
    TcpProxy,
    alive,
    descendants,
    kill_all,
    watched_tree,
)

PASSPHRASE = "soak test passphrase"
TERMINAL = ("stored", "failed")
#: Every column that names an object in the store.
OBJECT_COLUMNS = [
    *(
        getattr(Capture, c)
        for c in (
            "package_key",
            "screenshot_key",
            "pdf_key",
            "provenance_key",
            "provenance_html_key",
            "manifest_key",
            "certificate_key",
            "proofs_key",
        )
    ),
    DocumentVersion.object_key,
    DocumentAttachment.object_key,
    CaseEvidence.object_key,
    PaymentReceipt.object_key,
]
FAULTS = ("kill_mid_capture", "kill_mid_seal", "postgres_restart", "s3_down", "tsa_errors",
          "disk_full")  # fmt: skip


@dataclass(frozen=True)
class S3Target:
    host: str
    port: int
    access_key: str
    secret_key: str


@dataclass(frozen=True)
class SoakConfig:
    captures: int = 60
    clients: int = 6
    workers: int = 4
    documents: int = 4
    faults: bool = True
    #: How long the S3 server is away, the TSA errs and the disk is full.
    window_s: float = 8.0
    #: Captures of the fixture shop's page that never finishes loading.
    hang_pages: int = 2
    capture_timeout_s: float = 15.0
    lease_s: float = 6.0
    drain_timeout_s: float = 300.0
    seed: int = field(default_factory=lambda: random.SystemRandom().randrange(1 << 30))


@dataclass
class SoakResult:
    figures: dict[str, Any]
    problems: list[str]
    #: What each fault hit (capture ids, times), for the report.
    injected: dict[str, str]
    #: Defects in process supervision (``cli/service.py``, ``sealing/worker.py``), kept apart.
    supervision: list[str]
    #: Why captures failed: "error code: message" -> how many.
    failures: dict[str, int] = field(default_factory=dict)
    #: Wall time of set-up, of the run (load until drained and stopped), of the checks.
    phases: dict[str, float] = field(default_factory=dict)
    log_tail: str = ""


class _Run:
    """The state shared by the load, the documents, the faults and the checks."""

    def __init__(self, cfg: SoakConfig, base: Path) -> None:
        self.cfg = cfg
        self.base = base
        self.rng = random.Random(cfg.seed)
        self.lock = threading.Lock()
        self.accepted: dict[str, float] = {}  # capture id -> time the API accepted it
        self.client_retries = 0
        self.client_errors: list[str] = []
        self.documents: list[str] = []
        self.document_errors: list[str] = []
        self.injected: dict[str, str] = {}
        #: Captures whose worker was killed under them.
        self.killed: list[str] = []
        self.killed_pids: set[int] = set()
        #: Workers that exited without being killed (started again by ``evidence run``).
        self.workers_died = 0
        self.fault_errors: list[str] = []
        self.first_accepted = threading.Event()
        self.stop = threading.Event()


# -- HTTP clients --------------------------------------------------------------------------------


def _call(
    run: _Run,
    client: httpx.Client,
    method: str,
    path: str,
    *,
    ok: tuple[int, ...],
    settle: Callable[[httpx.Response], bool] = lambda r: False,
    deadline_s: float = 180.0,
    **kwargs: Any,
) -> httpx.Response | None:
    """One request, retried (with back-off) while the service is away or answers 5xx, as a
    client of a busy service does; ``settle`` accepts an answer that says a retried request had
    already taken effect (e.g. 409 already signed)."""
    end = time.monotonic() + deadline_s
    delay = 0.3
    last = ""
    while time.monotonic() < end:
        try:
            r = client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if r.status_code in ok or settle(r):
                return r
            if r.status_code < 500:
                with run.lock:
                    run.client_errors.append(f"{method} {path}: {r.status_code} {r.text[:300]}")
                return None
            last = f"{r.status_code} {r.text[:200]}"
        with run.lock:
            run.client_retries += 1
        time.sleep(delay)
        delay = min(delay * 2, 4.0)
    with run.lock:
        run.client_errors.append(f"{method} {path}: gave up after {deadline_s:.0f} s ({last})")
    return None


def _capture_client(run: _Run, url: str, token: str, urls: list[str]) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        for target in urls:
            # One key per intended capture, as a careful client sends: a retry after a lost
            # reply (the database restarted after the commit, a timeout) gets the same capture.
            key = {"Idempotency-Key": str(uuid.uuid4())}
            r = _call(run, c, "POST", "/api/captures", ok=(202,), json={"url": target}, headers=key)
            if r is not None:
                with run.lock:
                    run.accepted[r.json()["id"]] = time.time()
                run.first_accepted.set()


def _documents_client(
    run: _Run, url: str, token: str, merchant_id: str, data: dict[str, Any]
) -> None:
    """An officer making, sealing and signing documents while the captures run."""
    already = lambda r: r.status_code == 409 and "already_signed" in r.text  # noqa: E731
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        run.first_accepted.wait(60)
        for _ in range(run.cfg.documents):
            if run.stop.is_set():
                return
            time.sleep(run.rng.uniform(0.5, 3.0))
            body = {"merchant_id": merchant_id, "template": "order_to_correct", "data": data}
            # A retry after a lost reply gets the same draft, not a second one.
            key = {"Idempotency-Key": str(uuid.uuid4())}
            r = _call(run, c, "POST", "/api/documents", ok=(201,), json=body, headers=key)
            if r is None:
                continue
            doc = r.json()["id"]
            with run.lock:
                run.documents.append(doc)
            for step in ("sign", "officer-signature"):
                if (
                    _call(run, c, "POST", f"/api/documents/{doc}/{step}", ok=(200,), settle=already)
                    is None
                ):
                    break


# -- the faults ----------------------------------------------------------------------------------


class _Faults:
    def __init__(
        self,
        run: _Run,
        services: Services,
        app: subprocess.Popen[bytes],
        seen: dict[int, str],
        pg: PrivatePostgres,
        s3: TcpProxy,
        tsa: FaultyTsaProxy,
        disk: SmallDisk,
    ) -> None:
        self.run, self.services, self.app, self.seen = run, services, app, seen
        self.pg, self.s3, self.tsa, self.disk = pg, s3, tsa, disk

    def schedule(self) -> None:
        run = self.run
        order = list(FAULTS)
        run.rng.shuffle(order)
        if not run.first_accepted.wait(120):
            run.fault_errors.append("no capture was accepted: no fault injected")
            return
        for name in order:
            if run.stop.is_set():
                return
            time.sleep(run.rng.uniform(0.5, 3.0))
            began = time.time()
            try:
                what = getattr(self, name)()
            except Exception as exc:  # a fault that could not be injected is a failed soak
                run.fault_errors.append(f"{name}: {type(exc).__name__}: {exc}")
                continue
            run.injected[name] = f"at +{began - min(run.accepted.values()):.1f} s: {what}"

    def _job_in(self, status: str, timeout_s: float = 60.0) -> tuple[str, int]:
        """A capture in ``status`` whose job a live worker holds right now, and that worker."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            workers = {
                pid
                for pid, cmd in descendants(self.app.pid).items()
                if "evidence_service worker" in cmd
            }
            with contextlib.suppress(SQLAlchemyError), self.services.sessions() as session:
                rows = session.execute(
                    select(Capture.id, Job.lease_owner)
                    .join(Job, Job.capture_id == Capture.id)
                    .where(
                        Job.state == "running",
                        Capture.status == status,
                        Capture.progress_detail.is_(None) if status == "sealing" else True,
                    )
                ).all()
                for capture_id, owner in rows:
                    pid = int((owner or "::").split(":")[1] or 0)
                    if pid in workers:
                        return str(capture_id), pid
            time.sleep(0.05)
        raise TimeoutError(
            f"no worker was busy with a capture in state {status!r} for {timeout_s:.0f} s"
        )

    def _kill(self, status: str) -> str:
        capture_id, pid = self._job_in(status)
        self.seen.update(descendants(pid))  # its browser is reparented when it dies
        os.kill(pid, signal.SIGKILL)
        self.run.killed.append(capture_id)
        self.run.killed_pids.add(pid)
        return f"kill -9 of worker {pid} while capture {capture_id} was {status}"

    def kill_mid_capture(self) -> str:
        return self._kill("loading")

    def kill_mid_seal(self) -> str:
        return self._kill("sealing")

    def postgres_restart(self) -> str:
        self.pg.restart(down_s=2.0)
        return "PostgreSQL stopped (fast), down 2 s, started again"

    def _window(self, begin: Callable[[], object], end: Callable[[], object]) -> None:
        begin()
        try:
            self.run.stop.wait(self.run.cfg.window_s)
        finally:
            end()

    def s3_down(self) -> str:
        self._window(self.s3.outage, self.s3.restore)
        return f"S3 unreachable for {self.run.cfg.window_s:g} s"

    def tsa_errors(self) -> str:
        before = self.tsa.errors
        self._window(self.tsa.failing.set, self.tsa.failing.clear)
        answers = self.tsa.errors - before
        return f"TSA answered errors for {self.run.cfg.window_s:g} s ({answers} answers)"

    def disk_full(self) -> str:
        written: list[int] = []
        self._window(lambda: written.append(self.disk.fill()), self.disk.free)
        return f"work folder full for {self.run.cfg.window_s:g} s ({written[0] >> 20} MiB filler)"


# -- set-up --------------------------------------------------------------------------------------


def _env(values: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
    env.update(values)
    return env


def _officer(services: Services, username: str, badge: str) -> str:
    """An officer of the default unit with a badge number and an API token."""
    token = new_api_token()
    with services.session() as session:
        unit = session.scalar(select(Unit).where(Unit.name == default_unit_name(services)))
        assert unit is not None
        user = User(
            username=username,
            display_name=f"Officer {username}",
            password_hash=hash_password(secrets.token_urlsafe(16)),  # API token only
            role="officer",
            must_change_password=False,
            disabled=False,
            unit_id=unit.id,
            badge_number=badge,
        )
        session.add(user)
        session.flush()
        session.add(ApiToken(user_id=user.id, name="soak", token_hash=hash_token(token)))
    return token


def _wait(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.25)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _workers(pid: int) -> list[int]:
    return [p for p, cmd in descendants(pid).items() if "evidence_service worker" in cmd]


def _browsers(pid: int) -> list[int]:
    return [p for p, cmd in descendants(pid).items() if "--remote-debugging-pipe" in cmd]


def _urls(cfg: SoakConfig, site: FixtureSite) -> list[str]:
    rng = random.Random(cfg.seed + 1)
    pages = ["/listing", "/listing", "/cjk", "/slow-page?ms=800"]
    urls = []
    for i in range(cfg.captures):
        page = rng.choice(pages)
        urls.append(site.url(f"{page}{'&' if '?' in page else '?'}n={i}"))
    for i in rng.sample(range(cfg.captures), min(cfg.hang_pages, cfg.captures)):
        urls[i] = site.url(f"/hang?n={i}")
    return urls


# -- the run -------------------------------------------------------------------------------------


def run_soak(cfg: SoakConfig, site: FixtureSite, base: Path, s3: S3Target) -> SoakResult:
    run = _Run(cfg, base)
    t0 = time.time()
    phases: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        pg = PrivatePostgres()
        stack.callback(pg.stop)
        pg.start()
        s3_proxy = TcpProxy(s3.host, s3.port)
        s3_proxy.start()
        stack.callback(s3_proxy.stop)
        port = free_port()
        tsa = FaultyTsaProxy(f"http://127.0.0.1:{port}/tsa")
        tsa.start()
        stack.callback(tsa.stop)
        data_dir = base / "data"
        disk = SmallDisk(data_dir / "work")
        if cfg.faults:
            disk.mount()
            stack.callback(disk.unmount)
        ca_file = base / "tsa-chain.pem"
        values = {
            "EVIDENCE_DATA_DIR": str(data_dir),
            "EVIDENCE_DATABASE_URL": pg.url,
            "EVIDENCE_STORE": "s3",
            "EVIDENCE_S3_ENDPOINT": s3_proxy.endpoint,
            "EVIDENCE_S3_ACCESS_KEY": s3.access_key,
            "EVIDENCE_S3_SECRET_KEY": s3.secret_key,
            "EVIDENCE_S3_BUCKET": f"soak-{uuid.uuid4().hex[:12]}",
            "EVIDENCE_S3_RETENTION_DAYS": "1",
            "EVIDENCE_TSA_URL": tsa.url,
            "EVIDENCE_TSA_CA_FILE": str(ca_file),
            "EVIDENCE_TSA_TIMEOUT_S": "5",
            "EVIDENCE_HOST": "127.0.0.1",
            "EVIDENCE_PORT": str(port),
            "EVIDENCE_WORKERS": str(cfg.workers),
            "EVIDENCE_CAPTURE_ALLOW_PRIVATE": "true",
            "EVIDENCE_KEY_PASSPHRASE": PASSPHRASE,
            "EVIDENCE_CAPTURE_TIMEOUT_S": str(cfg.capture_timeout_s),
            "EVIDENCE_SEAL_RETRY_INITIAL_S": "1",
            "EVIDENCE_SEAL_RETRY_MAX_S": "4",
            "EVIDENCE_JOB_LEASE_S": str(cfg.lease_s),
        }
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            **{k.removeprefix("EVIDENCE_").lower(): v for k, v in values.items()},
        )
        services = Services(settings)
        stack.callback(services.close)
        initialize(services)
        ca_file.write_bytes(services.pki.trust_bundle_pem())
        capture_token = _officer(services, "soak-capture", "SK-0001-0001")
        signing_token = _officer(services, "soak-signer", "SK-0001-0002")

        log_path = base / "run.log"
        log = stack.enter_context(log_path.open("wb"))
        app = subprocess.Popen(
            [str(venv_command("evidence")), "run", "--workers", str(cfg.workers)],
            env=_env(values),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        tree: dict[int, str] = {}

        def reap() -> None:  # whatever happened: no process of the run is left
            tree.update(descendants(app.pid))
            if app.poll() is None:
                app.kill()
                app.wait(10)
            kill_all(tree)

        stack.callback(reap)
        url = f"http://127.0.0.1:{port}"
        _wait(
            lambda: (
                httpx.get(url + "/healthz", timeout=2).status_code == 200
                and len(_workers(app.pid)) == cfg.workers
                and len(_browsers(app.pid)) >= cfg.workers
            ),
            120,
            f"the service and its {cfg.workers} workers with their browsers",
        )
        merchant_id, doc_data = _merchant(services)

        supervision: list[str] = []
        with watched_tree(app.pid) as seen:
            urls = _urls(cfg, site)
            shares = [urls[i :: cfg.clients] for i in range(cfg.clients)]
            threads = [
                threading.Thread(target=_capture_client, args=(run, url, capture_token, share))
                for share in shares
            ]
            threads.append(
                threading.Thread(
                    target=_documents_client, args=(run, url, signing_token, merchant_id, doc_data)
                )
            )
            if cfg.faults:
                faults = _Faults(run, services, app, seen, pg, s3_proxy, tsa, disk)
                threads.append(threading.Thread(target=faults.schedule, name="faults"))
            started = time.time()
            phases["setup_s"] = round(started - t0, 1)
            for t in threads:
                t.start()
            try:
                for t in threads:
                    t.join(timeout=max(cfg.drain_timeout_s - (time.time() - started), 1))
                drained = _drain(services, cfg.drain_timeout_s - (time.time() - started))
            finally:
                run.stop.set()
                for t in threads:
                    t.join(timeout=60)
            run.workers_died = sum(
                1
                for pid, cmd in seen.items()
                if "evidence_service worker" in cmd
                and pid not in run.killed_pids
                and not alive(pid, cmd)
            )
            workers_now = len(_workers(app.pid))
            if workers_now != cfg.workers:
                supervision.append(
                    f"{workers_now} of {cfg.workers} workers were running after the faults "
                    "(a killed worker was not started again)"
                )
            _publish(services)
            tree.update(seen)
            tree.update(descendants(app.pid))
            app.send_signal(signal.SIGTERM)
            try:
                app.wait(90)
            except subprocess.TimeoutExpired:
                supervision.append("`evidence run` did not exit within 90 s of SIGTERM")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(p, c) for p, c in tree.items()):
            time.sleep(0.5)
        left = {p: c for p, c in tree.items() if alive(p, c)}
        problems: list[str] = []
        if left:
            problems.append(
                f"{len(left)} processes were left behind 30 s after the run stopped: "
                + "; ".join(f"{p}: {c[:120]}" for p, c in list(left.items())[:6])
            )
        kill_all(left)
        problems += run.fault_errors
        problems += [f"client: {e}" for e in run.client_errors]
        if not drained:
            problems.append(f"the queue did not drain within {cfg.drain_timeout_s:.0f} s")
        if cfg.faults:
            missing = [f for f in FAULTS if f not in run.injected]
            if missing:
                problems.append(f"faults not injected: {', '.join(missing)}")
        phases["run_s"] = round(time.time() - started, 1)
        problems += check_outcome(run, services)
        phases["checks_s"] = round(time.time() - started - phases["run_s"], 1)
        figures = _figures(run, services, started, tsa)
        tail = log_path.read_text(errors="replace")[-6000:]
        failures = _failures(services)
    return SoakResult(figures, problems, dict(run.injected), supervision, failures, phases, tail)


def _failures(services: Services) -> dict[str, int]:
    with services.sessions() as session:
        rows = session.execute(
            select(Capture.error_code, Capture.error_message).where(Capture.status == "failed")
        ).all()
    found: dict[str, int] = {}
    for code, message in rows:
        key = f"{code}: {(message or '')[:160]}"
        found[key] = found.get(key, 0) + 1
    return found


def _merchant(services: Services) -> tuple[str, dict[str, Any]]:
    from evidence_service.web.portal.deps import build_context, officer_ref
    from tests.portal.conftest import credit_code, order_data, setup_merchant
    from workflow.context import OfficerRef

    ctx = build_context(services)
    with services.sessions() as session:
        user = session.scalar(select(User).where(User.username == "soak-signer"))
        assert user is not None
        officer: OfficerRef = officer_ref(user)
    return setup_merchant(ctx, officer, "浸泡测试商贸有限公司", credit_code(4242)), order_data()


def _drain(services: Services, timeout_s: float) -> bool:
    def done() -> bool:
        with services.sessions() as session:
            open_ = session.scalar(
                select(func.count()).select_from(Capture).where(Capture.status.not_in(TERMINAL))
            )
        return open_ == 0

    try:
        _wait(done, max(timeout_s, 1), "every capture to end")
    except TimeoutError:
        return False
    return True


def _publish(services: Services) -> None:
    """A signed tree head now (not in ten minutes), and the proofs sidecars it makes due."""
    from evidence_service.sealing.renewal import write_pending_sidecars
    from evidence_service.sealing.transparency import TransparencyLog

    log_ = TransparencyLog(services)
    sth = log_.publish(force=True)
    write_pending_sidecars(services, log_, sth)


# -- the checks ----------------------------------------------------------------------------------


def check_outcome(run: _Run, services: Services) -> list[str]:
    """What the deployment relies on, after the run (the service stopped)."""
    from evidence_service.sealing.transparency import TransparencyLog

    problems: list[str] = []
    with services.sessions() as session:
        caps = {c.id: c for c in session.scalars(select(Capture))}
        for c in caps.values():
            session.expunge(c)
        jobs: dict[str, list[Job]] = {}
        for j in session.scalars(select(Job).where(Job.kind == "capture")):
            jobs.setdefault(str(j.capture_id), []).append(j)
        leaves: dict[str, list[int]] = {}
        for capture_id, index in session.execute(
            select(LogLeaf.capture_id, LogLeaf.leaf_index).where(LogLeaf.capture_id.is_not(None))
        ):
            leaves.setdefault(str(capture_id), []).append(index)
        refs = []
        for column in OBJECT_COLUMNS:
            refs += [(f"{column.class_.__tablename__}.{column.key}", k) for k in
                     session.scalars(select(column).where(column.is_not(None)))]  # fmt: skip

    lost = sorted(set(run.accepted) - set(caps))
    if lost:
        problems.append(f"{len(lost)} accepted captures have no row: {lost[:5]}")
    unasked = sorted(set(caps) - set(run.accepted))
    if unasked:
        problems.append(
            f"{len(unasked)} captures were made that no accepted request was answered with "
            f"(a retried request made a second capture?): {unasked[:5]}"
        )
    for cid, cap in caps.items():
        if cap.status not in TERMINAL:
            problems.append(f"capture {cid} ended the run {cap.status} ({cap.progress_detail})")
        elif cap.status == "stored" and cap.outcome not in ("complete", "partial"):
            problems.append(f"capture {cid} is stored with outcome {cap.outcome!r}")
        own = jobs.get(cid, [])
        if len(own) != 1 or own[0].state not in ("done", "failed"):
            problems.append(f"capture {cid}: jobs {[(j.id, j.state) for j in own]}, not one ended")
    for cid in run.killed:  # taken over by another worker, and finished
        own = jobs.get(cid, [])
        if not own or own[0].attempts < 2 or caps[cid].status not in TERMINAL:
            problems.append(f"capture {cid}, whose worker was killed, was not taken over")
    stored = [c for c in caps.values() if c.status == "stored"]
    packages = [c.package_key for c in stored]
    if len(set(packages)) != len(packages) or None in packages:
        problems.append("two stored captures share a package, or one has none")

    # The bucket's listing is the store's truth: every row's object is in it, and no package
    # is there that no stored capture names (a capture sealed twice would leave one).
    names = _bucket_listing(services)
    missing = [(where, k) for where, k in refs if k not in names]
    if missing:
        problems.append(f"{len(missing)} rows name a missing object: {missing[:5]}")
    unreferenced = names - {k for _, k in refs}
    extra = {k for k in unreferenced if _content_type(services, k).startswith("application/wacz")}
    if extra:
        problems.append(f"{len(extra)} packages in the store belong to no stored capture")

    work = services.settings.work_dir
    leftovers = [p.name for p in work.iterdir() if p.name in caps] if work.exists() else []
    if leftovers:
        problems.append(f"work folders left for ended captures: {leftovers[:5]}")

    tlog = TransparencyLog(services)
    problems += [f"log audit: {p}" for p in tlog.audit()]
    for cap in stored:
        entries = leaves.get(cap.id, [])
        if entries != [cap.log_leaf_index]:
            problems.append(
                f"capture {cap.id}: log entries {entries}, its record {cap.log_leaf_index}"
            )
    twice = [cid for cid, e in leaves.items() if len(e) > 1]
    if twice:
        problems.append(f"captures logged more than once: {twice[:5]}")

    # The court's verifier on every stored package (with its proofs sidecar), two at a time:
    # the service is stopped by now, so both cores are the checks'.
    folder = run.base / "verify"
    folder.mkdir(exist_ok=True)
    bundle = folder / "trust.pem"
    bundle.write_bytes(services.pki.trust_bundle_pem())
    jobs_ = []
    for cap in stored:
        path = folder / f"{cap.id}.wacz"
        path.write_bytes(services.store.read_bytes(cap.package_key or ""))
        proofs = folder / f"{cap.id}.wacz.proofs.json"
        if cap.proofs_key:
            proofs.write_bytes(services.store.read_bytes(cap.proofs_key))
        jobs_.append((cap.id, str(path), str(proofs) if cap.proofs_key else None))
    context = multiprocessing.get_context("spawn")  # this process has threads: never fork it
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        verdicts = [(j[0], pool.submit(verify_package, *j, str(bundle))) for j in jobs_]
        for capture_id, verdict in verdicts:
            if verdict.result():
                problems.append(f"capture {capture_id}: {verdict.result()}")
    shutil.rmtree(folder, ignore_errors=True)

    problems += _check_documents(run, services)
    return problems


def verify_package(capture_id: str, package: str, proofs: str | None, bundle: str) -> str:
    """``evidence verify``'s engine on one package: "" when TOTAL-PASSED, else what failed."""
    from signing.verify import load_trust_bundle, verify_file
    from signing.verify.model import Text

    trust = load_trust_bundle(
        Path(bundle).read_bytes(), source="soak", description=Text("浸泡测试", "soak test")
    )
    sidecar = Path(proofs).read_bytes() if proofs else None
    report = verify_file(package, trust=trust, proofs=sidecar)
    if report.indication.name == "TOTAL_PASSED":
        return ""
    bad = [f"{c.id}={c.status.name}" for c in report.checks if c.status.name != "PASSED"]
    return f"{report.indication.name} ({', '.join(bad)})"


def _minio(services: Services) -> Any:
    from minio import Minio

    s = services.settings
    return Minio(
        s.s3_endpoint, s.s3_access_key, s.s3_secret_key.get_secret_value(), secure=s.s3_secure
    )


def _bucket_listing(services: Services) -> set[str]:
    bucket = services.settings.s3_bucket
    return {o.object_name or "" for o in _minio(services).list_objects(bucket, recursive=True)}


def _content_type(services: Services, key: str) -> str:
    return str(_minio(services).stat_object(services.settings.s3_bucket, key).content_type or "")


def _check_documents(run: _Run, services: Services) -> list[str]:
    problems = []
    if len(run.documents) != run.cfg.documents:
        problems.append(f"{len(run.documents)} of {run.cfg.documents} documents were made")
    with services.sessions() as session:
        made = set(
            session.scalars(
                select(Document.id)
                .join(User, User.id == Document.created_by_id)
                .where(User.username == "soak-signer", Document.kind == "notice")
            )
        )
        if extra := made - set(run.documents):
            problems.append(
                f"documents were made that no answered request was told about: {sorted(extra)}"
            )
        for doc in run.documents:
            kinds = list(
                session.scalars(
                    select(DocumentVersion.kind)
                    .where(DocumentVersion.document_id == doc)
                    .order_by(DocumentVersion.seq)
                )
            )
            if kinds != ["rendered", "unit-signed", "officer-signed"]:
                problems.append(f"document {doc}: versions {kinds}")
    return problems


# -- the figures ---------------------------------------------------------------------------------


def _figures(run: _Run, services: Services, started: float, tsa: FaultyTsaProxy) -> dict[str, Any]:
    with services.sessions() as session:
        caps = list(session.scalars(select(Capture)))
        attempts = {str(j.capture_id): j.attempts for j in session.scalars(select(Job))}
    ends = [c.sealed_at or c.ended_at for c in caps if c.status in TERMINAL]
    first = min(run.accepted.values()) if run.accepted else started
    last = max((e.timestamp() for e in ends if e is not None), default=first)
    drain_s = max(last - first, 0.001)
    sealed = sorted(
        (c.sealed_at - c.created_at).total_seconds()
        for c in caps
        if c.status == "stored" and c.sealed_at and c.created_at
    )

    def pct(p: float) -> float | None:
        if not sealed:
            return None
        if len(sealed) == 1:
            return sealed[0]
        return statistics.quantiles(sealed, n=100, method="inclusive")[int(p) - 1]

    count = {s: sum(1 for c in caps if c.status == s) for s in TERMINAL}
    return {
        "accepted": len(run.accepted),
        "completed": sum(1 for c in caps if c.status == "stored" and c.outcome == "complete"),
        "partial": sum(1 for c in caps if c.status == "stored" and c.outcome == "partial"),
        "failed": count["failed"],
        "retried": sum(1 for a in attempts.values() if a > 1),
        "extra_attempts": sum(max(a - 1, 0) for a in attempts.values()),
        "client_retries": run.client_retries,
        "workers_died": run.workers_died,
        "documents_signed": len(run.documents),
        "drain_s": round(drain_s, 1),
        "captures_per_min": round(len(ends) / drain_s * 60, 1),
        "p50_sealed_s": _round(pct(50)),
        "p95_sealed_s": _round(pct(95)),
        "tsa_requests": tsa.requests,
    }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def format_figures(columns: dict[str, dict[str, Any]]) -> str:
    """The figures side by side, one column per run."""
    names = list(next(iter(columns.values())).keys())
    head = f"{'':<20}" + "".join(f"{c:>14}" for c in columns)
    rows = [head]
    for n in names:
        rows.append(f"{n:<20}" + "".join(f"{col.get(n)!s:>14}" for col in columns.values()))
    return "\n".join(rows)
