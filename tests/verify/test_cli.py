"""``evidence verify`` as a court runs it: exit status, last line, report files, the proofs
sidecar found next to the package, and the local data folder's trust bundle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.fixtures.venv import run_text, venv_command
from tests.verify.conftest import copy_with_proofs, flip, member, rewrite
from tests.verify.sealing import Authorities, Sealed

REPO = Path(__file__).resolve().parents[2]
EXE = venv_command("evidence")


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
    base.update(env or {})
    cmd = [str(EXE)] if EXE.exists() else ["evidence"]
    return run_text([*cmd, "verify", *args], env=base, cwd=cwd)


def test_exit_codes_and_last_line(sealed: Sealed, bundle: Path, tmp_path: Path) -> None:
    pkg = copy_with_proofs(sealed, tmp_path / "ok")
    ok = run(str(pkg), "--trust", str(bundle), "--lang", "en", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines = ok.stdout.rstrip("\n").split("\n")
    assert lines[-1] == "TOTAL-PASSED"
    assert any(line.startswith("PASSED") and "log.inclusion" in line for line in lines)

    bad = rewrite(
        sealed.path,
        tmp_path / "bad.wacz",
        {"files/page.pdf": flip(member(sealed.path, "files/page.pdf"), 7)},
    )
    failed = run(str(bad), "--trust", str(bundle), cwd=tmp_path)
    assert failed.returncode == 1
    assert failed.stdout.rstrip("\n").split("\n")[-1] == "TOTAL-FAILED HASH_FAILURE"
    assert "files/page.pdf" in failed.stdout

    untrusted = run(str(pkg), cwd=tmp_path)  # no --trust, no local data folder
    assert untrusted.returncode == 2
    assert (
        untrusted.stdout.rstrip("\n").split("\n")[-1] == "INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND"
    )
    assert "--trust" in untrusted.stderr


def test_reports_in_every_format(sealed: Sealed, bundle: Path, tmp_path: Path) -> None:
    pkg = copy_with_proofs(sealed, tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    proc = run(
        str(pkg),
        "--trust",
        str(bundle),
        "--report",
        str(out / "r.json"),
        "--report",
        str(out / "r.html"),
        "--report",
        str(out / "r.pdf"),
        "--lang",
        "en",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "r.json").read_text())
    assert data["indication"] == "TOTAL-PASSED"
    assert data["trust"]["source"] == "given" and "--trust" in data["trust"]["description"]["en"]
    assert data["facts"]["proofs_file"] == "package.wacz.proofs.json"  # found next to FILE
    html = (out / "r.html").read_text()
    assert 'data-indication="TOTAL-PASSED"' in html and '<html lang="en"' in html
    assert (out / "r.pdf").read_bytes().startswith(b"%PDF-")


def test_usage_errors(sealed: Sealed, tmp_path: Path) -> None:
    proc = run(str(sealed.path), "--report", str(tmp_path / "report.docx"))
    assert proc.returncode == 2 and proc.stdout == "" and "--report" in proc.stderr
    proc = run(str(tmp_path / "missing.wacz"))
    assert proc.returncode == 2 and proc.stdout == ""


def test_local_data_folder_trust_bundle(sealed: Sealed, auth: Authorities, tmp_path: Path) -> None:
    """On a machine running the service, its own certificates are used (and the report says
    so) -- read from the PKI folder without its keys or passphrase."""
    data_dir = tmp_path / "data"
    shutil.copytree(auth.directory, data_dir / "pki")
    pkg = copy_with_proofs(sealed, tmp_path / "in")
    proc = run(
        str(pkg),
        "--report",
        str(tmp_path / "r.json"),
        env={"EVIDENCE_DATA_DIR": str(data_dir)},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["trust"]["source"] == "local"
    assert str(data_dir / "pki") in data["trust"]["description"]["en"]
    assert b"PRIVATE KEY" not in json.dumps(data).encode()


def test_bare_token_and_pdf(sealed: Sealed, bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_bytes(member(sealed.path, "files/manifest.json"))
    (tmp_path / "manifest.tsr").write_bytes(member(sealed.path, "files/manifest.tsr"))
    proc = run(
        str(tmp_path / "manifest.tsr"),
        "--data",
        str(tmp_path / "manifest.json"),
        "--trust",
        str(bundle),
    )
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("TOTAL-PASSED"), proc.stdout
    (tmp_path / "certificate.pdf").write_bytes(member(sealed.path, "files/certificate.pdf"))
    proc = run(str(tmp_path / "certificate.pdf"), "--trust", str(bundle))
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("TOTAL-PASSED"), proc.stdout


def test_json_on_stdout(sealed: Sealed, bundle: Path, tmp_path: Path) -> None:
    """``--json``: the report model on stdout and nothing else (no temporary file needed);
    the exit status is the same as without it."""
    from signing.verify import REPORT_JSON_SCHEMA, Report

    pkg = copy_with_proofs(sealed, tmp_path / "ok")
    ok = run(str(pkg), "--trust", str(bundle), "--json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)  # the whole of stdout is one JSON document
    __import__("jsonschema").validate(data, REPORT_JSON_SCHEMA)
    assert (data["indication"], data["sub_indication"]) == ("TOTAL-PASSED", None)
    checks = {c["id"]: c for c in data["checks"]}
    assert checks["log.inclusion"]["status"] == "PASSED"
    assert checks["package.timestamp"]["facts"]["gen_time"] == data["facts"]["package_time_stamped"]
    assert {f["path"] for f in data["facts"]["files"]} >= {"archive/data.warc.gz"}
    assert data["facts"]["proofs_file"] == "package.wacz.proofs.json"
    assert Report.from_dict(data).indication_line() == "TOTAL-PASSED"

    bad = rewrite(
        sealed.path,
        tmp_path / "bad.wacz",
        {"files/page.pdf": flip(member(sealed.path, "files/page.pdf"), 7)},
    )
    failed = run(str(bad), "--trust", str(bundle), "--json", cwd=tmp_path)
    assert failed.returncode == 1
    data = json.loads(failed.stdout)
    assert (data["indication"], data["sub_indication"]) == ("TOTAL-FAILED", "HASH_FAILURE")

    untrusted = run(str(pkg), "--json", "--report", str(tmp_path / "r.html"), cwd=tmp_path)
    assert untrusted.returncode == 2
    assert json.loads(untrusted.stdout)["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    assert "--trust" in untrusted.stderr  # the warning stays on stderr
    assert (tmp_path / "r.html").is_file()
