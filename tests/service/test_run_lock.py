"""`make run` installs requirements/run.lock only: every third-party module the service
imports must come from a distribution that lock holds.

The tests run with test.lock (run.lock plus the test tools), so a runtime import of a
package only the tests bring in (httpx in the sandbox bank, once) passes every test and
still breaks `make run` on a fresh machine with ``ModuleNotFoundError``. This reads the
imports of the service's packages (all of them, at any depth, also those inside functions)
and checks each against the lock's distributions, through the metadata of the installed
test environment (which module belongs to which distribution)."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The packages `make run` runs (tests/ and benchmarks/ are not installed with it).
RUNTIME = ("evidence_service", "workflow", "signing", "capture", "storage", "certs")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked(lock: Path) -> set[str]:
    return {
        _canonical(m.group(1))
        for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock.read_text(), re.M)
    }


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level module -> the files importing it, for modules neither ours nor stdlib."""
    ours = set(RUNTIME) | {"tests", "benchmarks"}
    out: dict[str, set[str]] = {}
    for package in RUNTIME:
        for path in (ROOT / package).rglob("*.py"):
            for module in _imports(path):
                if module in ours or module in sys.stdlib_module_names or module == "__future__":
                    continue
                out.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    return out


def test_every_module_the_service_imports_is_in_the_run_lock() -> None:
    locked = _locked(ROOT / "requirements" / "run.lock")
    owners = packages_distributions()
    imports = _third_party_imports()
    assert "playwright" in imports and "av" in imports  # the scan sees what it must
    missing = {}
    for module, files in sorted(imports.items()):
        dists = {_canonical(d) for d in owners.get(module, [])}
        if not dists:
            missing[module] = (sorted(files)[:3], "not installed at all")
        elif not dists & locked:
            missing[module] = (sorted(files)[:3], f"from {sorted(dists)}, not in run.lock")
    assert not missing, (
        "the service imports modules `make run` does not install (add them to pyproject.toml "
        f"dependencies and run `make lock`): {missing}"
    )


def test_the_check_catches_a_test_only_package() -> None:
    """The same check, given test.lock minus run.lock: pytest is imported by nothing of the
    service, and would be named if it were."""
    run = _locked(ROOT / "requirements" / "run.lock")
    test = _locked(ROOT / "requirements" / "test.lock")
    owners = packages_distributions()
    assert "pytest" in test - run
    assert {_canonical(d) for d in owners["pytest"]} & run == set()
