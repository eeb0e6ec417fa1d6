"""Fixtures for the seal tests: one capture sealed by ``evidence capture ... --certificate``
(session-scoped, shared by the package, certificate and log tests), the app served on the
public URL its certificates name (pdfsig asks its OCSP responder), and tool helpers."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from evidence_service.config import Settings
from evidence_service.services import Services
from tests.conftest import run_cli
from tests.fixtures.http_tsa import free_port
from tests.fixtures.nss import nss_factory
from tests.fixtures.site import FixtureSite

PASSPHRASE = "seal test passphrase"


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False)


@contextmanager
def serve_app(services: Services, port: int) -> Iterator[str]:
    """The real app under uvicorn on 127.0.0.1:<port> (the port its PKI names)."""
    import uvicorn

    from evidence_service.web.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services=services), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the evidence app did not start under uvicorn")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def service_environment(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
    env.update(
        EVIDENCE_DATA_DIR=str(data_dir),
        EVIDENCE_CAPTURE_ALLOW_PRIVATE="true",
        EVIDENCE_KEY_PASSPHRASE=PASSPHRASE,
        EVIDENCE_CAPTURE_TIMEOUT_S="30",
        EVIDENCE_HOST="127.0.0.1",
        EVIDENCE_PORT=str(port),
    )
    env.update(extra)
    return env


def services_for(data_dir: Path, port: int, **overrides: Any) -> Services:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "key_passphrase": PASSPHRASE,
        "capture_allow_private": True,
        "host": "127.0.0.1",
        "port": port,
        "seal_retry_initial_s": 0.2,
        "seal_retry_max_s": 1.0,
    }
    values.update(overrides)
    return Services(Settings(_env_file=None, **values))  # type: ignore[call-arg]


@dataclass
class Sealed:
    """A capture sealed by the CLI, the files it wrote, and the app serving its data."""

    base: Path
    data_dir: Path
    env: dict[str, str]
    record: dict[str, Any]
    package: Path
    certificate: Path
    unpacked: Path
    bundle: Path
    services: Services
    app_url: str

    def file(self, path: str) -> bytes:
        return (self.unpacked / path).read_bytes()

    def json(self, path: str) -> Any:
        return json.loads(self.file(path))


def unpack(package: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(package) as zf:
        zf.extractall(into)
    return into


@pytest.fixture(scope="session")
def sealed(tmp_path_factory: pytest.TempPathFactory, fixture_site: FixtureSite) -> Iterator[Sealed]:
    base = tmp_path_factory.mktemp("sealed")
    port = free_port()
    data_dir = base / "data"
    env = service_environment(data_dir, port)
    package, certificate = base / "out" / "p.wacz", base / "out" / "c.pdf"
    proc = run_cli(
        [
            "capture",
            fixture_site.url("/listing"),
            "-o",
            str(package),
            "--certificate",
            str(certificate),
            "--json",
        ],
        env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads(proc.stdout)
    bundle = base / "bundle.pem"
    exported = run_cli(["trust", "export", "-o", str(bundle)], env)
    assert exported.returncode == 0, exported.stderr
    services = services_for(data_dir, port)
    try:
        with serve_app(services, port) as url:
            yield Sealed(
                base=base,
                data_dir=data_dir,
                env=env,
                record=record,
                package=package,
                certificate=certificate,
                unpacked=unpack(package, base / "unpacked"),
                bundle=bundle,
                services=services,
                app_url=url,
            )
    finally:
        services.close()


@pytest.fixture(scope="session")
def nssdb(tmp_path_factory: pytest.TempPathFactory) -> Callable[[x509.Certificate], str]:
    """``make(root)``: an NSS database trusting ``root`` for pdfsig (cached per root)."""
    return nss_factory(tmp_path_factory.mktemp("nss"))
