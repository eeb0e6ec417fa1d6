"""Fixtures for signing tests: one PKI and TSA per session, served over real HTTP, an
independent OpenSSL TSA, and small misbehaving HTTP servers."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from certs.pki import Pki
from signing.tsa import TimeStampAuthority
from tests.fixtures.http_tsa import BurstHTTPServer, free_port, serve_tsa
from tests.fixtures.openssl_tsa import OpensslTsa, serve_openssl_tsa

HOST = "evidence.example.org"


def openssl(
    *args: str, check: bool = True, input: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["openssl", *args], capture_output=True, timeout=60, check=False, input=input
    )
    result = subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode(errors="replace"),
        proc.stderr.decode(errors="replace"),
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@dataclass(frozen=True)
class PkiFiles:
    """PEM files of the session PKI, for openssl command lines."""

    root: Path
    issuing: Path
    tsa: Path
    tsa_chain: Path  # TSA + issuing (untrusted intermediates)
    bundle: Path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.open(
        tmp_path_factory.mktemp("pki") / "pki",
        b"session passphrase",
        hostname=HOST,
        public_url=f"https://{HOST}",
    )


@pytest.fixture(scope="session")
def pki_files(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    d = tmp_path_factory.mktemp("pem")
    pki.package_signing_credential()

    def write(name: str, *certs: object) -> Path:
        path = d / name
        path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certs))  # type: ignore[attr-defined]
        return path

    tsa = pki.tsa_credential().cert
    bundle = d / "bundle.pem"
    bundle.write_bytes(pki.trust_bundle_pem())
    return PkiFiles(
        root=write("root.pem", pki.root),
        issuing=write("issuing.pem", pki.issuing),
        tsa=write("tsa.pem", tsa),
        tsa_chain=write("tsa-chain.pem", tsa, pki.issuing),
        bundle=bundle,
    )


@pytest.fixture(scope="session")
def authority(pki: Pki) -> TimeStampAuthority:
    return TimeStampAuthority(pki.tsa_credential())


@pytest.fixture(scope="session")
def tsa_url(authority: TimeStampAuthority) -> Iterator[str]:
    with serve_tsa(authority, free_port()) as url:
        yield url


@pytest.fixture(scope="session")
def openssl_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpensslTsa]:
    with serve_openssl_tsa(tmp_path_factory.mktemp("openssl-tsa")) as tsa:
        yield tsa


@contextmanager
def serve_canned(
    body: bytes | Callable[[bytes], bytes],
    *,
    content_type: str = "application/timestamp-reply",
    status: int = 200,
    delay_s: float = 0.0,
) -> Iterator[str]:
    """An HTTP server that answers every POST with ``body`` (or ``body(request)``)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            request = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if delay_s:
                time.sleep(delay_s)
            data = body(request) if callable(body) else body
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = BurstHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    finally:
        server.shutdown()
        server.server_close()
