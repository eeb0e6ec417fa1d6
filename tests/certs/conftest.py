"""Fixtures for the PKI tests: openssl runner and a fresh PKI folder per test."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from certs.pki import Pki

PASSPHRASE = b"correct horse battery staple"
HOST = "evidence.example.org"
PUBLIC_URL = "https://evidence.example.org"


def openssl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["openssl", *args], capture_output=True, text=True, timeout=60, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def open_pki(tmp_path: Path) -> Callable[..., Pki]:
    def make(**kwargs: object) -> Pki:
        params: dict[str, object] = {"hostname": HOST, "public_url": PUBLIC_URL}
        params.update(kwargs)
        directory = params.pop("directory", tmp_path / "pki")
        passphrase = params.pop("passphrase", PASSPHRASE)
        return Pki.open(directory, passphrase, **params)  # type: ignore[arg-type]

    return make
