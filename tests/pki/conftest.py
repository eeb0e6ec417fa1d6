"""Fixtures for the PKI end-to-end tests: the real app served by uvicorn on a free port (its
PKI names that port in every certificate), SoftHSM2 tokens, an NSS database for pdfsig, and a
small PDF to sign. All session-scoped: a CA, a server and tokens are set up once."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certs import hsm
from certs.pki import Pki
from evidence_service.config import Settings
from evidence_service.services import Services
from tests.fixtures.http_tsa import free_port
from tests.fixtures.nss import nss_factory

PASSPHRASE = "pki test passphrase"
SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
USER_PIN = "246810"
SO_PIN = "13579111"
#: Tokens made once per session (SoftHSM reads its token list when the module is loaded).
TOKENS = ("evidence-unit", "evidence-wrongpin", "evidence-cli")
UNIT = "广州市市场监督管理局"


def write_pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certs))
    return path


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, env=env)


@dataclass
class Served:
    """The app on 127.0.0.1:<port>, and its PKI (the same folder the server uses)."""

    url: str
    pki: Pki
    services: Services
    files: Path  # root.pem and issuing.pem for openssl


@contextmanager
def _serve(app: object, port: int) -> Iterator[None]:
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the evidence app did not start under uvicorn")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from evidence_service.web.app import create_app

    data = tmp_path_factory.mktemp("pki-served")
    port = free_port()
    settings = Settings(
        _env_file=None,
        data_dir=data / "data",
        key_passphrase=PASSPHRASE,
        host="127.0.0.1",
        port=port,
    )
    services = Services(settings)
    pki = services.pki
    files = data / "files"
    files.mkdir()
    write_pem(files / "root.pem", pki.root)
    write_pem(files / "issuing.pem", pki.issuing)
    try:
        with _serve(create_app(services=services), port):
            yield Served(url=f"http://127.0.0.1:{port}", pki=pki, services=services, files=files)
    finally:
        services.close()


@pytest.fixture(scope="session")
def offline_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A PKI whose public URL points at a port nobody listens on: anything that tries HTTP
    fails, so a passing test proves it needed none."""
    directory = tmp_path_factory.mktemp("pki-offline")
    return Pki.open(
        directory / "pki",
        PASSPHRASE.encode(),
        hostname="offline.example",
        public_url=f"http://127.0.0.1:{free_port()}",
    )


@dataclass
class SoftHsm:
    conf: Path
    module: Path = SOFTHSM_MODULE

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["SOFTHSM2_CONF"] = str(self.conf)
        env.update(extra)
        return env


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    if not SOFTHSM_MODULE.is_file() or shutil.which("softhsm2-util") is None:
        pytest.fail("SoftHSM2 is missing: apt-get install softhsm2 (it must run in CI)")
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    for label in TOKENS:
        proc = run(
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            USER_PIN,
            "--so-pin",
            SO_PIN,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    os.environ["EVIDENCE_TEST_HSM_PIN"] = USER_PIN
    os.environ["EVIDENCE_TEST_WRONG_PIN"] = "000000"
    try:
        yield SoftHsm(conf=conf)
    finally:
        hsm.close_sessions()
        for name in ("EVIDENCE_TEST_HSM_PIN", "EVIDENCE_TEST_WRONG_PIN"):
            os.environ.pop(name, None)
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture(scope="session")
def nssdb(tmp_path_factory: pytest.TempPathFactory) -> Callable[[x509.Certificate], str]:
    """``make(root)``: an NSS database trusting ``root`` for pdfsig (cached per root)."""
    return nss_factory(tmp_path_factory.mktemp("nss"))


def blank_pdf() -> bytes:
    """A one-page PDF written by pyHanko's own writer (no other PDF library needed)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter()
    page = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(n) for n in (0, 0, 595, 842)]
            ),
            generic.NameObject("/Resources"): generic.DictionaryObject(),
        }
    )
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
