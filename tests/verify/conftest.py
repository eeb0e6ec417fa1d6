"""Fixtures for the court verifier: our PKI and a "foreign" one, sealed packages built per the
contract (session-scoped, read-only: tests copy before they tamper), and helpers."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from capture.types import CaptureResult
from capture.wacz import build_wacz
from signing.verify import Report, Text, TrustStore, VerifyOptions, load_trust_bundle, verify_file
from tests.verify.sealing import Authorities, Sealed, TestLog, open_authorities, seal
from tests.wacz.conftest import write_capture

HOST = "evidence.example.org"
FOREIGN_HOST = "archive.example.net"


@pytest.fixture(scope="session")
def auth(tmp_path_factory: pytest.TempPathFactory) -> Authorities:
    return open_authorities(tmp_path_factory.mktemp("verify-pki") / "pki", HOST)


@pytest.fixture(scope="session")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> Authorities:
    return open_authorities(tmp_path_factory.mktemp("foreign-pki") / "pki", FOREIGN_HOST)


@pytest.fixture(scope="session")
def log(auth: Authorities) -> TestLog:
    return TestLog(auth)


@pytest.fixture(scope="session")
def bundle(
    auth: Authorities,
    sealed: Sealed,
    sealed_other: Sealed,
    plain: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """Our trust bundle plus CRLs of the issuing CA and the root, issued *after* the shared
    packages were sealed (a CRL speaks for the signing time only if issued after it)."""
    path = tmp_path_factory.mktemp("bundle") / "bundle.pem"
    path.write_bytes(auth.bundle(auth.crls_pem()))
    return path


@pytest.fixture(scope="session")
def bare_bundle(auth: Authorities, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our trust bundle as published (no revocation data)."""
    path = tmp_path_factory.mktemp("bare-bundle") / "bundle.pem"
    path.write_bytes(auth.bundle())
    return path


def trust_of(path: Path | bytes) -> TrustStore:
    data = path if isinstance(path, bytes) else path.read_bytes()
    return load_trust_bundle(data, source="given", description=Text("测试", "test"))


@pytest.fixture(scope="session")
def sealed(auth: Authorities, log: TestLog, tmp_path_factory: pytest.TempPathFactory) -> Sealed:
    base = tmp_path_factory.mktemp("sealed")
    capture = write_capture(base / "capture")
    return seal(capture, base / "work", auth, log)


@pytest.fixture(scope="session")
def sealed_other(
    auth: Authorities, log: TestLog, tmp_path_factory: pytest.TempPathFactory
) -> Sealed:
    """Another capture, sealed the same way (for swap tests)."""
    base = tmp_path_factory.mktemp("sealed-other")
    capture = write_capture(base / "capture", extra_payload=b"\x89PNG other image" * 50)
    return seal(capture, base / "work", auth, log)


@pytest.fixture(scope="session")
def plain(auth: Authorities, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package as sealed before manifests existed (build_wacz + signature only)."""
    base = tmp_path_factory.mktemp("plain")
    capture = write_capture(base / "capture")
    out = base / "plain.wacz"
    build_wacz(
        capture,
        out,
        sign=auth.signer.sign,
        extra_files=[("files/provenance.html", capture.provenance_html_path)],
    )
    return out


@pytest.fixture
def capture(tmp_path: Path) -> CaptureResult:
    return write_capture(tmp_path / "capture")


Verify = Callable[..., Report]


@pytest.fixture(scope="session")
def verify(bundle: Path) -> Verify:
    """verify(path, trust=<bundle path|bytes|None>, proofs=<path|None|"auto">, **options)."""
    default = trust_of(bundle)

    def run(
        path: Path,
        trust: Path | bytes | str | None = "default",
        proofs: Path | str | None = "auto",
        **options: Any,
    ) -> Report:
        if isinstance(trust, str):
            store = default
        else:
            store = TrustStore() if trust is None else trust_of(trust)
        if proofs == "auto":
            side = path.with_name(path.name + ".proofs.json")
            proofs_bytes = side.read_bytes() if side.is_file() else None
        else:
            proofs_bytes = proofs.read_bytes() if isinstance(proofs, Path) else None
        return verify_file(path, trust=store, proofs=proofs_bytes, options=VerifyOptions(**options))

    return run


def rewrite(
    src: Path,
    dst: Path,
    changes: Mapping[str, bytes | None] | None = None,
    add: Mapping[str, bytes] | None = None,
) -> Path:
    """Copy a ZIP entry by entry (same order, names, compression), replacing, removing (None)
    or adding entries: a well-formed ZIP whose *contents* differ."""
    changes = changes or {}
    add = add or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in changes and changes[info.filename] is None:
                continue
            data = changes.get(info.filename)
            zout.writestr(info, data if data is not None else zin.read(info.filename))
        for name, data in add.items():
            zout.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return dst


def member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(name)


def flip(data: bytes, pos: int) -> bytes:
    out = bytearray(data)
    out[pos % len(out)] ^= 0x01
    return bytes(out)


def copy_with_proofs(sealed: Sealed, dst_dir: Path, name: str = "package.wacz") -> Path:
    dst_dir.mkdir(parents=True, exist_ok=True)
    out = dst_dir / name
    shutil.copy(sealed.path, out)
    shutil.copy(sealed.proofs_path, dst_dir / (name + ".proofs.json"))
    return out


def statuses(report: Report) -> dict[str, str]:
    return {c.id: c.status.value for c in report.checks}


def digest_json(path: Path) -> dict[str, Any]:
    return json.loads(member(path, "datapackage-digest.json"))
