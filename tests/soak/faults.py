"""The soak's fault injectors: a private PostgreSQL cluster, a TCP proxy in front of the S3 server,
a proxy in front of the TSA, a work folder on a small tmpfs.

Why private copies and proxies: the PostgreSQL on 127.0.0.1:5432 and the S3 server are shared by
every engineer's tests (and by the other pytest worker in CI), so the soak never restarts or stops
them. It restarts a PostgreSQL cluster of its own (``initdb`` into a temporary folder, run as the
``postgres`` OS user when the test runs as root), and it takes "the S3 server" and "the TSA" away
by making the proxies the service talks to refuse connections or answer errors: from the
service's side of the socket an outage of the proxy is an outage of the server.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.fixtures.http_tsa import BurstHTTPServer, free_port

PG_BIN = Path(
    os.environ.get(
        "EVIDENCE_SOAK_PG_BIN",
        next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), "/usr/bin"),
    )
)


class FaultSetupError(RuntimeError):
    """The machine cannot host a fault the soak needs (a missing binary, no permission)."""


# -- PostgreSQL ---------------------------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of the soak's own, on a free port, that it may really restart."""

    def __init__(self, port: int | None = None) -> None:
        # Its own folder under /tmp: the ``postgres`` user cannot enter pytest's 0700 folders.
        self.base = Path(tempfile.mkdtemp(prefix="evidence-soak-pg-"))
        self.port = port or free_port()
        self.data = self.base / "pgdata"
        self.sockets = self.base / "pgsock"
        self.log = self.base / "postgres.log"
        self._user = "postgres" if os.geteuid() == 0 else None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/evidence"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            args,
            user=self._user,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.base,
        )
        if proc.returncode != 0:
            raise FaultSetupError(
                f"{' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
            )
        return proc

    def start(self) -> None:
        initdb = PG_BIN / "initdb"
        if not initdb.exists():
            raise FaultSetupError(
                f"{initdb} is missing: install PostgreSQL's server package or set "
                "EVIDENCE_SOAK_PG_BIN to its bin folder"
            )
        self.sockets.mkdir(exist_ok=True)
        if self._user is not None:
            pw = pwd.getpwnam(self._user)
            for path in (self.base, self.sockets):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        self._run(
            str(initdb), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
            "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        self._pg_ctl("start")
        self._run(
            str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "evidence",
        )  # fmt: skip

    def _pg_ctl(self, action: str, *extra: str) -> None:
        opts = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c max_connections=200"
        )
        self._run(
            str(PG_BIN / "pg_ctl"), action, "-D", str(self.data), "-l", str(self.log), "-w",
            "-t", "60", "-o", opts, *extra,
        )  # fmt: skip

    def stop_server(self) -> None:
        """Stop the server (fast: every session is ended); the cluster stays."""
        self._run(str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w")

    def start_server(self) -> None:
        self._pg_ctl("start")

    def restart(self, down_s: float = 2.0) -> None:
        """Stop the server, stay down ``down_s``, start again."""
        self.stop_server()
        time.sleep(down_s)
        self.start_server()
        self.restarts += 1

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(FaultSetupError, subprocess.TimeoutExpired):
                self._run(
                    str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", "-w",
                    timeout=60,
                )  # fmt: skip
        shutil.rmtree(self.base, ignore_errors=True)


# -- a TCP proxy (the S3 server's stand-in outage) -----------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``upstream``; ``outage()`` closes the listener and every open
    connection (clients get "connection refused" / "reset"), ``restore()`` listens again."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.connections = 0

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._listen()
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(128)
        with self._lock:
            self._listener = s

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            with self._lock:
                listener = self._listener
            if listener is None:
                time.sleep(0.05)
                continue
            try:
                ready, _, _ = select.select([listener], [], [], 0.1)
                if not ready:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):
                continue  # closed by an outage meanwhile
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            if self._listener is None:  # an outage began meanwhile
                client.close()
                upstream.close()
                return
            self._conns.update((client, upstream))
            self.connections += 1
        pumps = [
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True),
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True),
        ]
        for t in pumps:
            t.start()
        for t in pumps:
            t.join()
        with self._lock:
            self._conns.discard(client)
            self._conns.discard(upstream)
        client.close()
        upstream.close()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            src.shutdown(socket.SHUT_RD)

    def outage(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns = list(self._conns)
        if listener is not None:
            listener.close()
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self._listen()

    def stop(self) -> None:
        self._stopped.set()
        self.outage()
        if self._thread is not None:
            self._thread.join(timeout=5)


# -- the TSA answering errors --------------------------------------------------------------------


class FaultyTsaProxy:
    """An HTTP front of the built-in TSA (``upstream``, the service's own ``/tsa``) that, while
    failing, answers by turns HTTP 500 and HTTP 200 with garbage in place of a time-stamp reply:
    a TSA that errs, and one that answers nonsense, are both outages the seal must survive."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.failing = threading.Event()
        self.port = free_port()
        self.requests = self.errors = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, ctype, reply = proxy._answer(body, self.headers.get("Content-Type", ""))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up (its timeout)
                    self.wfile.write(reply)

        self._server = BurstHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tsa"

    def _answer(self, body: bytes, ctype: str) -> tuple[int, str, bytes]:
        with self._lock:
            self.requests += 1
            failing = self.failing.is_set()
            if failing:
                self.errors += 1
                n = self.errors
        if failing:
            if n % 2:
                return 500, "text/plain", b"internal error (injected by the soak test)"
            return 200, "application/timestamp-reply", os.urandom(64)
        request = urllib.request.Request(
            self.upstream, data=body, headers={"Content-Type": ctype}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read()
        except OSError as exc:  # the service itself is restarting its database, say
            return 503, "text/plain", f"upstream TSA unreachable: {exc}".encode()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- a work folder that fills up -----------------------------------------------------------------


class SmallDisk:
    """A tmpfs of ``size_mb`` mounted on the work folder (root only); ``fill()`` writes a filler
    file until the disk is full, ``free()`` removes it."""

    def __init__(self, path: Path, size_mb: int = 96) -> None:
        self.path = path
        self.size_mb = size_mb
        self.mounted = False
        self.filler = path / ".soak-filler"

    def mount(self) -> None:
        if os.geteuid() != 0:
            raise FaultSetupError(
                "the disk-full fault mounts a small tmpfs on the work folder and needs root"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m,mode=0755", "tmpfs", self.path],
            check=True,
            capture_output=True,
            timeout=30,
        )
        self.mounted = True

    def fill(self) -> int:
        written = 0
        block = b"\0" * (1 << 20)
        with contextlib.suppress(OSError), open(self.filler, "wb") as fh:
            while True:
                fh.write(block)
                fh.flush()
                written += len(block)
        with contextlib.suppress(OSError), open(self.filler, "ab") as fh:  # the last few KiB
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        return written

    def free(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.filler.unlink()

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(
                ["umount", "-l", self.path], check=False, capture_output=True, timeout=30
            )
            self.mounted = False


# -- processes -----------------------------------------------------------------------------------


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


def cmdline(pid: int) -> str | None:
    try:
        raw = (Path("/proc") / str(pid) / "cmdline").read_bytes()
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace")


def descendants(pid: int) -> dict[int, str]:
    """Every live process below ``pid``, with its command line."""
    tree, found, todo = _children(), {}, [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            cmd = cmdline(child)
            if cmd is None:
                continue
            found[child] = cmd
            todo.append(child)
    return found


def alive(pid: int, cmd: str) -> bool:
    """Still running (not a zombie) and still the same program (PIDs are reused)."""
    return cmdline(pid) == cmd


def kill_all(procs: dict[int, str]) -> None:
    """SIGKILL each process of ``procs`` that is still the same program."""
    for pid, cmd in procs.items():
        if alive(pid, cmd):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def watched_tree(root: int, interval_s: float = 0.5) -> Iterator[dict[int, str]]:
    """Record every process that is ever seen below ``root`` while the block runs (a killed
    worker's browser is reparented at once: it must be seen before, to be found after)."""
    seen: dict[int, str] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(interval_s):
            seen.update(descendants(root))

    seen.update(descendants(root))
    thread = threading.Thread(target=watch, name="process-watch", daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(timeout=5)
