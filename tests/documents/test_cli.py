"""``evidence document templates|render|sample`` and ``evidence sign`` as a user runs them
(subprocesses, on a fresh data folder with no server running), checked with the court
verifier's CLI ``evidence verify``; every expected failure is one clear line and exit 2,
with nothing written."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from workflow.documents import SAMPLES_DIR, TEMPLATES

from .conftest import UNIT, encrypted_pdf

Cli = Callable[..., Any]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """``cli(*args)`` runs ``evidence`` on one fresh data folder (no server anywhere)."""
    base = tmp_path_factory.mktemp("documents-cli")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
    env.update(
        EVIDENCE_DATA_DIR=str(base / "data"),
        EVIDENCE_KEY_PASSPHRASE="documents cli passphrase",
        EVIDENCE_HOST="127.0.0.1",
        EVIDENCE_PORT="9",  # the CA's OCSP/CRL URLs lead nowhere: nothing may need them
        EVIDENCE_DEFAULT_UNIT_NAME=UNIT,
    )

    def call(*args: str, timeout: float = 180) -> Any:
        return run_cli(list(args), env, timeout=timeout)

    return call


def test_templates_lists_every_template_with_its_fields(cli: Cli) -> None:
    proc = cli("document", "templates")
    assert proc.returncode == 0, proc.stderr
    for key, doc_type in TEMPLATES.items():
        assert key in proc.stdout and doc_type.title_zh in proc.stdout
    assert "* party.credit_code" not in proc.stdout  # optional for individuals
    assert "party.credit_code" in proc.stdout and "* case_number" in proc.stdout
    listing = json.loads(cli("document", "templates", "--json").stdout)
    assert [t["key"] for t in listing] == list(TEMPLATES)
    decision = next(t for t in listing if t["key"] == "penalty_decision")
    paths = {f["path"]: f["required"] for f in decision["fields"]}
    assert paths["legal_basis[]"] and paths["legal_basis[].article"] and paths["remedies.court"]
    assert [s["name"] for s in decision["signature_slots"]] == ["officer", "unit", "party"]
    sample = json.loads(cli("document", "sample", "statement").stdout)
    assert sample == json.loads((SAMPLES_DIR / "statement.json").read_text(encoding="utf-8"))


def test_render_every_sample_then_sign_in_order_and_verify(cli: Cli, tmp_path: Path) -> None:
    for key in TEMPLATES:
        out = tmp_path / f"{key}.pdf"
        proc = cli(
            "document", "render", key, "--data", str(SAMPLES_DIR / f"{key}.json"), "-o", str(out)
        )
        assert proc.returncode == 0, proc.stderr
        assert out.read_bytes().startswith(b"%PDF-")

    # Issued by the unit (certifying, its slot), then the officer fills theirs.
    issued = tmp_path / "decision.pdf"
    proc = cli(
        "document",
        "render",
        "penalty_decision",
        "--data",
        str(SAMPLES_DIR / "penalty_decision.json"),
        "-o",
        str(issued),
        "--sign",
        "--english",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert facts["signed"] and facts["field"] == "unit" and facts["level"] == "B-LTA"
    assert UNIT in facts["signer"]
    issue = cli(
        "certs",
        "issue",
        "--kind",
        "officer",
        "--name",
        "张三",
        "--org",
        UNIT,
        "--id",
        "SL-CLI-1",
    )
    assert issue.returncode == 0, issue.stderr
    countersigned = tmp_path / "decision-2.pdf"
    proc = cli(
        "sign",
        str(issued),
        "-o",
        str(countersigned),
        "--signer",
        "SL-CLI-1",
        "--reason",
        "承办人",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["field"] == "officer"

    bundle = tmp_path / "bundle.pem"
    assert cli("trust", "export", "-o", str(bundle)).returncode == 0
    verified = cli("verify", str(countersigned), "--trust", str(bundle), "--lang", "en")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    out = verified.stdout
    assert out.strip().endswith("TOTAL-PASSED")
    for needed in (
        "field unit;",
        "field officer;",
        "signer Common Name: 张三",
        f"signer Common Name: {UNIT}",
        "trusted yes",
        "revocation good",
        "coverage ENTIRE_REVISION",
        "changes after signing FORM_FILLING",
        "PAdES level B-LTA",
        "time-stamped 20",
    ):
        assert needed in out, (needed, out)
    # B-LT and above validate with revocation data required, with no responder reachable.
    strict = cli("verify", str(countersigned), "--trust", str(bundle), "--require-revocation")
    assert strict.returncode == 0, strict.stdout


def test_sign_at_each_level_and_invisibly(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "statement.pdf"
    assert (
        cli(
            "document",
            "render",
            "statement",
            "--data",
            str(SAMPLES_DIR / "statement.json"),
            "-o",
            str(source),
        ).returncode
        == 0
    )
    for level in ("b-b", "b-t", "b-lt", "b-lta"):
        out = tmp_path / f"{level}.pdf"
        proc = cli("sign", str(source), "-o", str(out), "--level", level, "--invisible", "--json")
        assert proc.returncode == 0, proc.stderr
        facts = json.loads(proc.stdout)
        assert facts["level"] == level.upper() and facts["field"] == "unit_1"
        if level in ("b-b", "b-lta"):  # (the others: test_signing, in-process)
            report = cli("verify", str(out), "--lang", "en")  # trust: the local data folder
            assert report.returncode == 0, report.stdout
            assert f"PAdES level {level.upper()}" in report.stdout


def _encrypted(path: Path) -> Path:
    path.write_bytes(encrypted_pdf())
    return path


def test_clear_errors_exit_2_and_write_nothing(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "in.pdf"
    assert (
        cli(
            "document",
            "render",
            "proof_of_service",
            "--data",
            str(SAMPLES_DIR / "proof_of_service.json"),
            "-o",
            str(source),
        ).returncode
        == 0
    )
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "out.pdf"
    (tmp_path / "text.pdf").write_text("hello")
    (tmp_path / "bad.json").write_text('{"case_number": ', encoding="utf-8")
    bad_code = json.loads((SAMPLES_DIR / "statement.json").read_text(encoding="utf-8"))
    bad_code["party"]["credit_code"] = "9144030071526726XA"
    (tmp_path / "bad-code.json").write_text(json.dumps(bad_code, ensure_ascii=False))
    revoked = json.loads(
        cli(
            "certs",
            "issue",
            "--kind",
            "officer",
            "--name",
            "李雷",
            "--org",
            UNIT,
            "--id",
            "SL-CLI-REV",
            "--json",
        ).stdout
    )
    assert cli("certs", "revoke", revoked["serial"], "--reason", "keycompromise").returncode == 0

    cases = [
        (("sign", str(tmp_path / "missing.pdf"), "-o", str(out)), "no such file"),
        (("sign", str(tmp_path / "text.pdf"), "-o", str(out)), "not a PDF"),
        (("sign", str(_encrypted(tmp_path / "enc.pdf")), "-o", str(out)), "encrypted"),
        (("sign", str(source), "-o", str(out), "--signer", "nobody"), "unknown signer"),
        (("sign", str(source), "-o", str(out), "--signer", "SL-CLI-REV"), "revoked on"),
        (
            (
                "document",
                "render",
                "statement",
                "--data",
                str(tmp_path / "bad.json"),
                "-o",
                str(out),
            ),
            "not valid JSON (line 1",
        ),
        (
            (
                "document",
                "render",
                "statement",
                "--data",
                str(tmp_path / "bad-code.json"),
                "-o",
                str(out),
            ),
            "party.credit_code: check digit is wrong",
        ),
        (
            (
                "document",
                "render",
                "nope",
                "--data",
                str(SAMPLES_DIR / "statement.json"),
                "-o",
                str(out),
            ),
            "unknown document template 'nope'",
        ),
    ]
    for args, message in cases:
        proc = cli(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("error: ") and message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert "cannot sign" in proc.stderr or message != "revoked on"
        assert list(out_dir.iterdir()) == [], args  # nothing half-written


def test_extraction_record_from_a_package_on_the_command_line(
    cli: Cli, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.verify.sealing import TestLog, open_authorities, seal
    from tests.wacz.conftest import PAGE_URL, write_capture

    auth = open_authorities(tmp_path_factory.mktemp("cli-record-pki") / "pki", "ev.example.org")
    package = seal(write_capture(tmp_path / "capture"), tmp_path / "work", auth, TestLog(auth)).path
    out = tmp_path / "record.pdf"
    proc = cli(
        "document", "render", "evidence_extraction_record",
        "--data", str(SAMPLES_DIR / "evidence_extraction_record.json"),
        "--capture", str(package), "-o", str(out), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    from workflow.documents import capture_facts

    text = "".join(run_pdftotext(out).split())
    assert PAGE_URL in text and capture_facts(package)["package_sha256"] in text
    bad = cli(
        "document", "render", "evidence_extraction_record",
        "--data", str(SAMPLES_DIR / "evidence_extraction_record.json"),
        "--capture", str(SAMPLES_DIR / "statement.json"), "-o", str(tmp_path / "x.pdf"),
    )  # fmt: skip
    assert bad.returncode == 2 and "not a readable package" in bad.stderr, bad.stderr


def run_pdftotext(pdf: Path) -> str:
    from .conftest import run

    proc = run("pdftotext", str(pdf), "-")
    assert proc.returncode == 0, proc.stderr
    return str(proc.stdout)
