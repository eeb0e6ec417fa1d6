"""The ``evidence`` command prints no library's warnings, whatever library versions are installed.

A court clerk reads the verifier's output; a ``CryptographyDeprecationWarning`` about pyHanko's
imports tells them nothing and makes a script that expects ``error: ...`` on stderr fail. The lock
pins a cryptography that does not warn, so these tests also run the command with the next
cryptography (51, which deprecates the DSA classes pyHanko 0.38 imports) in front of the venv.
"""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence_service.__main__ import quiet_known_warnings
from tests.fixtures.tools import LOCKS, tool_site
from tests.fixtures.venv import VENV_BIN, run_text, venv_command


@pytest.fixture(scope="module")
def newer_cryptography() -> Path:
    return tool_site("cryptography-next", LOCKS / "cryptography-next.lock")


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_text([venv_command("evidence"), *args], env=env, timeout=180)


def test_the_newer_cryptography_really_warns_without_the_filter(
    newer_cryptography: Path, service_env: Callable[..., dict[str, str]]
) -> None:
    """The control: importing pyHanko under cryptography 51 does warn, so the next test's
    silence is the filter's doing and not an accident of versions."""
    env = service_env(PYTHONPATH=str(newer_cryptography))
    script = "import cryptography, pyhanko.sign; print(cryptography.__version__)"
    proc = run_text([VENV_BIN / "python", "-c", script], env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "51.0.1"
    assert "DSA is deprecated" in proc.stderr


def test_commands_print_no_library_warning_with_newer_cryptography(
    newer_cryptography: Path,
    service_env: Callable[..., dict[str, str]],
    tmp_path: Path,
) -> None:
    env = service_env(PYTHONPATH=str(newer_cryptography))
    bundle = tmp_path / "bundle.pem"
    ok = _run(["trust", "export", "-o", str(bundle)], env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr == ""
    assert b"-----BEGIN CERTIFICATE-----" in bundle.read_bytes()
    version = _run(["--version"], env)
    assert version.returncode == 0 and version.stderr == ""
    # A failing command: stderr holds only our own lines (a first-use note, then the error).
    (tmp_path / "text.pdf").write_text("hello")
    failed = _run(["sign", str(tmp_path / "text.pdf"), "-o", str(tmp_path / "out.pdf")], env)
    assert failed.returncode == 2
    lines = failed.stderr.splitlines()
    assert lines[-1].startswith("error: ") and "not a PDF" in lines[-1], failed.stderr
    assert all(line.startswith(("note: ", "error: ")) for line in lines), failed.stderr
    assert not (tmp_path / "out.pdf").exists()


def test_the_filter_is_narrow() -> None:
    """Only the known warning from pyHanko is hidden: the same text from our code, or another
    deprecation from pyHanko, still shows."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        quiet_known_warnings()
        for module in ("pyhanko.sign.signers.pdf_cms", "signing.pades"):
            warnings.warn_explicit(
                "DSA is deprecated and support will be removed",
                DeprecationWarning,
                filename="x.py",
                lineno=1,
                module=module,
            )
        warnings.warn_explicit(
            "something else is deprecated",
            DeprecationWarning,
            filename="x.py",
            lineno=1,
            module="pyhanko.sign.fields",
        )
    assert sorted(str(w.message) for w in seen) == [
        "DSA is deprecated and support will be removed",
        "something else is deprecated",
    ]
