"""``evidence certs`` as an operator runs it (subprocess, no server): issue, list, revoke,
export the bundle, check it with openssl; clear errors and exit codes; an HSM-backed unit."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509
from pkcs11 import Attribute, ObjectClass

from certs import HsmKeyRef
from certs.hsm import hsm_session
from evidence_service.cli import main
from tests.conftest import run_cli
from tests.pki.conftest import UNIT, SoftHsm, run

CODE = "91310000MA1FL1MMXL"


def _ok(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = run_cli(["certs", *args], env)
    assert proc.returncode == 0, f"evidence certs {args}: {proc.stdout}\n{proc.stderr}"
    return proc


def _verify(pki_dir: Path, bundle: Path, leaf: Path) -> subprocess.CompletedProcess[str]:
    return run(
        "openssl", "verify", "-crl_check_all",
        "-CAfile", str(pki_dir / "root.pem"),
        "-untrusted", str(bundle),
        "-CRLfile", str(bundle),
        str(leaf),
    )  # fmt: skip


def test_issue_list_revoke_export_round_trip(
    service_env: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    env = service_env()
    pki_dir = Path(env["EVIDENCE_DATA_DIR"]) / "pki"

    unit = json.loads(_ok(["issue", "--kind", "unit", "--name", UNIT, "--json"], env).stdout)
    assert unit["kind"] == "unit" and unit["subject"] == f"CN={UNIT},O={UNIT}"
    officer = _ok(
        ["issue", "--kind", "officer", "--name", "郑十一", "--org", UNIT, "--id", "GZ-11",
         "--key-type", "rsa-2048", "--days", "90"],
        env,
    ).stdout  # fmt: skip
    assert "officer certificate" in officer and "serialNumber=GZ-11" in officer
    merchant = json.loads(
        _ok(
            [
                "issue",
                "--kind",
                "merchant",
                "--name",
                "某某旗舰店",
                "--credit-code",
                CODE,
                "--json",
            ],
            env,
        ).stdout
    )
    assert merchant["owner_id"] == CODE

    listed = _ok(["list"], env).stdout
    assert UNIT in listed and "郑十一" in listed and "某某旗舰店" in listed
    officers = json.loads(_ok(["list", "--kind", "officer", "--json"], env).stdout)
    assert [o["owner_id"] for o in officers] == ["GZ-11"]
    everything = json.loads(_ok(["list", "--json"], env).stdout)
    assert {"unit", "officer", "merchant", "tsa", "ocsp-responder", "issuing-ca"} <= {
        e["kind"] for e in everything
    }

    bundle = tmp_path / "bundle.pem"
    out = _ok(["export-bundle", "-o", str(bundle)], env).stdout
    assert "2 CRLs" in out
    text = bundle.read_text()
    assert "# OCSP responder" in text and "# Time-stamp authority" in text
    leaf = pki_dir / "issued" / f"{merchant['serial']}.pem"
    ok = _verify(pki_dir, bundle, leaf)
    assert ok.returncode == 0 and ok.stdout.strip().endswith("OK"), ok.stdout + ok.stderr

    revoked = json.loads(
        _ok(
            ["revoke", merchant["serial"].upper(), "--reason", "cessationOfOperation", "--json"],
            env,
        ).stdout
    )
    assert revoked["status"] == "revoked" and revoked["revocation_reason"] == "cessationOfOperation"
    _ok(["export-bundle", "-o", str(bundle)], env)
    refused = _verify(pki_dir, bundle, leaf)
    assert refused.returncode != 0 and "certificate revoked" in refused.stdout + refused.stderr
    assert (
        json.loads(_ok(["list", "--status", "revoked", "--json"], env).stdout)[0]["serial"]
        == (merchant["serial"])
    )

    # Clear errors, exit status 2 for bad input (in-process: same code, no interpreter start).
    runner = CliRunner()
    for args, message in (
        (["revoke", merchant["serial"], "--reason", "superseded"], "already revoked"),
        (["revoke", "abcdef", "--reason", "superseded"], "no certificate with serial abcdef"),
        (["revoke", unit["serial"], "--reason", "lostIt"], "Invalid value for '--reason'"),
        (["revoke", unit["serial"], "--reason", "cACompromise"], "for CA certificates"),
        (["issue", "--kind", "merchant", "--name", "某店"], "credit code"),
        (
            [
                "issue",
                "--kind",
                "merchant",
                "--name",
                "某店",
                "--credit-code",
                "91310000MA1FL1MMX1",
            ],
            "check character",
        ),
        (["issue", "--kind", "officer", "--name", "某人", "--org", UNIT], "officer id"),
        (["issue", "--kind", "unit", "--name", UNIT, "--hsm-module", "/x.so"], "--hsm-token"),
    ):
        result = runner.invoke(main, ["certs", *args], env=env)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_hsm_unit_from_the_cli(
    service_env: Callable[..., dict[str, str]], softhsm: SoftHsm
) -> None:
    env = softhsm.env(**service_env(), CLI_HSM_PIN="246810", CLI_BAD_PIN="111111")
    hsm_args = ["--hsm-module", str(softhsm.module), "--hsm-token", "evidence-cli"]
    wrong = run_cli(
        [
            "certs",
            "issue",
            "--kind",
            "unit",
            "--name",
            UNIT,
            *hsm_args,
            "--hsm-pin-env",
            "CLI_BAD_PIN",
        ],
        env,
    )
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "refused the PIN from $CLI_BAD_PIN" in wrong.stderr and "111111" not in wrong.stderr

    out = _ok(
        ["issue", "--kind", "unit", "--name", UNIT, *hsm_args, "--hsm-pin-env", "CLI_HSM_PIN",
         "--hsm-key-label", "cli-seal", "--json"],
        env,
    ).stdout  # fmt: skip
    record = json.loads(out)
    assert record["key_storage"] == "hsm"
    assert record["hsm"] == {
        "module": str(softhsm.module),
        "token_label": "evidence-cli",
        "key_label": "cli-seal",
        "pin_env": "CLI_HSM_PIN",
    }
    # The token holds the non-extractable key and the certificate the CA issued.
    pki_dir = Path(env["EVIDENCE_DATA_DIR"]) / "pki"
    issued = x509.load_pem_x509_certificate(
        (pki_dir / f"issued/{record['serial']}.pem").read_bytes()
    )
    opened = hsm_session(
        HsmKeyRef(softhsm.module, "evidence-cli", "cli-seal", "EVIDENCE_TEST_HSM_PIN")
    )
    with opened.lock:
        objects = {
            o.object_class: o for o in opened.session.get_objects({Attribute.LABEL: "cli-seal"})
        }
    assert (
        x509.load_der_x509_certificate(objects[ObjectClass.CERTIFICATE][Attribute.VALUE]) == issued
    )
    assert objects[ObjectClass.PRIVATE_KEY][Attribute.EXTRACTABLE] is False
