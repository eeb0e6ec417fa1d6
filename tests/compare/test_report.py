"""The comparison report end to end on the command line: ``evidence compare`` of two real
sealed captures of the fixture shop -> a sealed, signed PDF; ``evidence verify`` accepts it with
the two packages it cites and fails precisely with a wrong package or a tampered report;
pdfsig and pyHanko accept its signature; pdftotext reads the facts it states."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from evidence_service.services import Services
from tests.compare.conftest import ShopCaptures
from tests.conftest import run_cli
from tests.seal.conftest import run, serve_app, services_for

#: Real captures (four sealed in the shared fixture) on a shared machine take minutes.
pytestmark = [pytest.mark.chromium, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def report(shop_captures: ShopCaptures) -> tuple[Path, dict[str, object]]:
    out = shop_captures.base / "report.pdf"
    p = shop_captures.packages
    proc = run_cli(
        ["compare", str(p["original"]), str(p["edited"]), "-o", str(out), "--json"],
        shop_captures.env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, json.loads(proc.stdout)


@pytest.fixture(scope="module")
def served(shop_captures: ShopCaptures) -> Iterator[Services]:
    """The service whose OCSP responder pdfsig asks (the port its certificates name)."""
    port = int(shop_captures.env["EVIDENCE_PORT"])
    services = services_for(Path(shop_captures.env["EVIDENCE_DATA_DIR"]), port)
    try:
        with serve_app(services, port):
            yield services
    finally:
        services.close()


def _verify(shop: ShopCaptures, *args: str) -> tuple[int, dict[str, object], str]:
    proc = run_cli(["verify", "--trust", str(shop.bundle), "--json", *args], shop.env, 180)
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def _check(report: dict[str, object], check_id: str) -> dict[str, object]:
    checks = report["checks"]
    assert isinstance(checks, list)
    return next(c for c in checks if c["id"] == check_id)


def test_compare_json_states_the_changes(
    shop_captures: ShopCaptures, report: tuple[Path, dict[str, object]]
) -> None:
    path, facts = report
    assert path.read_bytes().startswith(b"%PDF-")
    text = facts["text"]
    assert isinstance(text, dict)
    assert any("全网最低价" in line for line in text["removed"])
    assert any("¥259.00" in line for line in text["added"])
    fields = facts["fields"]
    assert isinstance(fields, dict)
    assert {"field": "price", "old": "199.00 CNY", "new": "259.00 CNY"} in fields["changed"]
    visual = facts["visual"]
    assert isinstance(visual, dict) and 0 < visual["changed_pixel_share"] < 0.5
    images = facts["images"]
    assert isinstance(images, dict) and len(images["added"]) == len(images["removed"]) == 1
    a, b = facts["a"], facts["b"]
    assert isinstance(a, dict) and isinstance(b, dict)
    assert a["sha256"] == shop_captures.records["original"]["package"]["sha256"]  # type: ignore[index]
    assert b["sha256"] == shop_captures.records["edited"]["package"]["sha256"]  # type: ignore[index]
    assert a["verification"]["indication"] == "TOTAL-PASSED"
    assert a["trusted_time"] < b["trusted_time"]


def test_compare_without_output_only_prints(shop_captures: ShopCaptures) -> None:
    p = shop_captures.packages
    proc = run_cli(["compare", str(p["original"]), str(p["gone"])], shop_captures.env)
    assert proc.returncode == 0, proc.stderr
    assert "field http_status: 200 -> 404" in proc.stdout
    assert "the page is gone in B" in proc.stdout


def test_the_report_verifies_with_the_two_packages(
    shop_captures: ShopCaptures, report: tuple[Path, dict[str, object]]
) -> None:
    path, _facts = report
    p = shop_captures.packages
    code, out, err = _verify(
        shop_captures, str(path), "--package", str(p["original"]), "--package", str(p["edited"])
    )
    assert code == 0, json.dumps(out, ensure_ascii=False)[:3000] + err
    assert out["indication"] == "TOTAL-PASSED"
    for check_id in (
        "pdf.signature",
        "comparison.content",
        "comparison.packages",
        "comparison.package.a",
        "comparison.package.b",
    ):
        assert _check(out, check_id)["status"] == "PASSED", check_id
    # alone, the report's seal still verifies; the check of the packages says what to add
    code, out, _ = _verify(shop_captures, str(path))
    assert code == 0 and out["indication"] == "TOTAL-PASSED"
    alone = _check(out, "comparison.packages")
    assert alone["status"] == "INDETERMINATE" and "--package" in alone["reason"]["en"]


def test_a_wrong_package_fails_with_a_precise_message(
    shop_captures: ShopCaptures, report: tuple[Path, dict[str, object]]
) -> None:
    path, facts = report
    p = shop_captures.packages
    code, out, _ = _verify(
        shop_captures, str(path), "--package", str(p["original"]), "--package", str(p["gone"])
    )
    assert code == 1
    assert out["indication"] == "TOTAL-FAILED" and out["sub_indication"] == "HASH_FAILURE"
    check = _check(out, "comparison.packages")
    reason = check["reason"]["en"]  # type: ignore[index]
    assert "gone.wacz" in reason and facts["b"]["sha256"] in reason  # type: ignore[index]
    # only one of the two: not enough to say
    code, out, _ = _verify(shop_captures, str(path), "--package", str(p["original"]))
    assert code == 2 and out["indication"] == "INDETERMINATE"
    assert _check(out, "comparison.packages")["sub_indication"] == "SIGNED_DATA_NOT_FOUND"


def test_a_tampered_report_fails(
    shop_captures: ShopCaptures, report: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    path, _facts = report
    data = bytearray(path.read_bytes())
    at = data.find(b"259.00")
    if at < 0:  # text is in compressed content streams: change a byte in the middle
        at = len(data) // 3
    data[at] ^= 0x01
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(bytes(data))
    p = shop_captures.packages
    code, out, _ = _verify(
        shop_captures, str(bad), "--package", str(p["original"]), "--package", str(p["edited"])
    )
    assert code == 1, out
    assert out["indication"] == "TOTAL-FAILED"


def test_pdfsig_and_pyhanko_accept_the_signature(
    served: Services,
    report: tuple[Path, dict[str, object]],
    nssdb: Callable[[x509.Certificate], str],
) -> None:
    path, _facts = report
    proc = run("pdfsig", "-nssdir", nssdb(served.pki.root), str(path))
    out = proc.stdout + proc.stderr
    assert "Signature is Valid." in out, out
    assert "Certificate is Trusted." in out, out
    assert "电子证据固定服务" in out, out

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    root = asn1_x509.Certificate.load(served.pki.root.public_bytes(Encoding.DER))
    reader = PdfFileReader(io.BytesIO(path.read_bytes()))
    vc = DocumentSecurityStore.read_dss(reader).as_validation_context(
        {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "require"}
    )
    [signature] = reader.embedded_signatures
    status = validate_pdf_signature(signature, vc)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted


def test_the_report_states_its_facts(
    report: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    path, facts = report
    text = run("pdftotext", "-layout", str(path), "-").stdout
    compact = "".join(text.split())
    for label in ("电子数据比对报告", "字段变化", "文本变化", "截图比对", "259.00CNY"):
        assert label in compact, label
    for letter in ("a", "b"):
        assert facts[letter]["sha256"] in compact  # type: ignore[index]
    saved = tmp_path / "comparison.json"
    proc = run("pdfdetach", "-savefile", "comparison.json", "-o", str(saved), str(path))
    assert proc.returncode == 0, proc.stderr
    attached = json.loads(saved.read_bytes())
    assert attached["type"] == "evidence-comparison"
    assert attached["fields"]["changed"] == facts["fields"]["changed"]  # type: ignore[index]


def test_a_damaged_package_is_not_compared_as_evidence(
    shop_captures: ShopCaptures, tmp_path: Path
) -> None:
    data = bytearray(shop_captures.packages["edited"].read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the stored WARC: its CRC and digests no longer match
    damaged = tmp_path / "damaged.wacz"
    damaged.write_bytes(bytes(data))
    out = tmp_path / "report.pdf"
    proc = run_cli(
        ["compare", str(shop_captures.packages["original"]), str(damaged), "-o", str(out)],
        shop_captures.env,
        timeout=180,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not_verified: package B (damaged.wacz) fails verification (TOTAL-FAILED" in proc.stderr
    assert "evidence verify damaged.wacz" in proc.stderr
    assert not out.exists()  # nothing half-written
    wrong = run_cli(
        ["compare", str(damaged), str(damaged), "-o", str(tmp_path / "r.txt")], shop_captures.env
    )
    assert wrong.returncode == 2 and "name it .pdf" in wrong.stderr
