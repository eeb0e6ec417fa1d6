"""The layout stays true: imports point one way, no circles, no module under its old name.

``lint-imports`` (import-linter, contracts in pyproject.toml) reads every import, including
those inside functions. The tests below also break the rule on purpose, in a copy of the tree,
to show that the check would notice.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.venv import run_text, venv_command

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ["evidence_service", "workflow", "signing", "certs", "capture", "storage"]
#: The flat modules of evidence_service before it was given rooms (issue 9), and where each went.
OLD_MODULES = [
    "api", "app", "auth", "certificate", "certificate_pdf", "cli_certs", "cli_documents",
    "cli_verify", "document_views", "documents_api", "log_http", "pdf_font", "pdf_writer",
    "pipeline", "pki_http", "records", "renewal", "transparency", "tsa_http", "ui",
    "verify_http", "worker", "portal",
]  # fmt: skip


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return run_text([venv_command("lint-imports"), "--no-cache"], cwd=root, env=env)


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_repository_keeps_every_contract() -> None:
    proc = lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_the_copy_is_checked_not_the_repository(tree_copy: Path) -> None:
    """The control for the tests below: the untouched copy passes."""
    proc = lint_imports(tree_copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _append(path: Path, code: str) -> None:
    path.write_text(path.read_text() + "\n\n" + code + "\n")


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        pytest.param(
            {
                "evidence_service/sealing/worker.py": "def _late() -> None:\n"
                "    from evidence_service.web import pages  # noqa: F401\n"
            },
            [
                "Rooms of evidence_service point one way",
                "evidence_service.sealing.worker -> evidence_service.web.pages",
            ],
            id="sealing importing the web room",
        ),
        pytest.param(
            {
                "evidence_service/sealing/transparency.py": "def _late() -> None:\n"
                "    from evidence_service.sealing import renewal  # noqa: F401\n"
            },
            ["No cycles are allowed in evidence_service.sealing"],
            id="a circle hidden in a function",
        ),
        pytest.param(
            {
                "storage/objects.py": "import warcio  # noqa: F401,E402",
                "capture/urls.py": "from storage import objects  # noqa: F401,E402",
            },
            ["storage.objects -> warcio", "capture.urls -> storage.objects"],
            id="a leaf importing upwards",
        ),
    ],
)
def test_an_import_against_the_layout_is_refused(
    tree_copy: Path, edits: dict[str, str], expected: list[str]
) -> None:
    for name, code in edits.items():
        _append(tree_copy / name, code)
    proc = lint_imports(tree_copy)
    assert proc.returncode != 0
    for text in expected:
        assert text in proc.stdout, proc.stdout


def test_no_module_is_reached_by_its_old_flat_name() -> None:
    names = "|".join(OLD_MODULES)
    old = re.compile(rf"\bevidence_service(\.({names})\b|/({names})(\.py|/))")
    offenders = []
    for folder in [*PACKAGES, "tests", "benchmarks", "scripts", "docs"]:
        for path in (REPO / folder).rglob("*"):
            if path.suffix not in (".py", ".md", ".sh", ".toml") or "__pycache__" in path.parts:
                continue
            if path == Path(__file__):
                continue
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if old.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert offenders == []
    for name in OLD_MODULES:
        assert not (REPO / "evidence_service" / f"{name}.py").exists()
