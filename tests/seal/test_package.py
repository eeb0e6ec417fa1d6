"""A capture sealed end to end by `evidence capture URL -o p.wacz --certificate c.pdf`, checked
with tools we did not write: py-wacz, openssl, Poppler (pdfsig, pdftotext, pdffonts,
pdfdetach) and pyHanko's validator."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from datetime import datetime

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from signing.timestamp import verify_timestamp
from signing.translog import canonical_json, leaf_hash
from tests.fixtures.openssl import ts_verify
from tests.seal.conftest import Sealed, run
from tests.wacz.conftest import run_wacz_validate

pytestmark = pytest.mark.chromium

SEAL_FILES = (
    "files/manifest.json",
    "files/manifest.tsr",
    "files/log-entry.json",
    "files/certificate.pdf",
)


def test_package_lists_the_seal_files_and_py_wacz_accepts_it(sealed: Sealed) -> None:
    datapackage = sealed.json("datapackage.json")
    resources = {r["path"]: r for r in datapackage["resources"]}
    for path in SEAL_FILES:
        assert path in resources, sorted(resources)
        digest = hashlib.sha256(sealed.file(path)).hexdigest()
        assert resources[path]["hash"] == f"sha256:{digest}"
    assert sealed.file("files/certificate.pdf") == sealed.certificate.read_bytes()
    proc = run_wacz_validate(sealed.package)
    assert proc.returncode == 0 and "is valid" in proc.stdout, proc.stdout + proc.stderr


def test_manifest_lists_the_capture_files_and_is_the_logged_leaf(sealed: Sealed) -> None:
    raw = sealed.file("files/manifest.json")
    manifest = json.loads(raw)
    assert raw == canonical_json(manifest)  # canonical form, byte for byte
    assert manifest["type"] == "evidence-capture-manifest" and manifest["version"] == 1
    assert manifest["capture_id"] == sealed.record["id"]
    assert manifest["requested_url"] == sealed.record["requested_url"]
    assert manifest["final_url"] == sealed.record["final_url"]
    expected = {
        "archive/data.warc.gz",
        "indexes/index.cdx",
        "pages/pages.jsonl",  # known before packaging (page id = capture id)
        "files/screenshot.png",
        "files/page.pdf",
        "files/provenance.json",
        "files/provenance.html",
    }
    assert set(manifest["files"]) == expected
    for path, digest in manifest["files"].items():
        assert digest == "sha256:" + hashlib.sha256(sealed.file(path)).hexdigest(), path
    assert set(manifest["warc_resources"]) == {"screenshot", "pdf", "provenance"}
    pages = sealed.file("pages/pages.jsonl").decode().splitlines()
    assert json.loads(pages[1])["id"] == sealed.record["id"]
    datetime.fromisoformat(manifest["capture_started"].replace("Z", "+00:00"))

    entry = sealed.json("files/log-entry.json")
    manifest_digest = hashlib.sha256(raw).digest()
    assert entry["leaf_input"] == f"sha256:{manifest_digest.hex()}"
    assert entry["leaf_hash"] == leaf_hash(manifest_digest).hex()
    assert entry["log_url"] == f"{sealed.app_url}/api/log"
    assert sealed.record["manifest_sha256"] == manifest_digest.hex()
    assert sealed.record["log_entry"] == entry
    assert sealed.record["verify_url"].startswith(f"{sealed.app_url}/v/")


def test_openssl_verifies_the_manifest_time_stamp(sealed: Sealed) -> None:
    proc = ts_verify(
        sealed.unpacked / "files/manifest.json",
        sealed.unpacked / "files/manifest.tsr",
        sealed.bundle,
        sealed.bundle,
    )
    assert "Verification: OK" in proc.stdout, proc.stdout + proc.stderr
    # The capture's trusted time is this token's genTime (what the certificate states).
    token = verify_timestamp(
        sealed.file("files/manifest.tsr"),
        sealed.file("files/manifest.json"),
        sealed.bundle.read_bytes(),
    )
    assert datetime.fromisoformat(sealed.record["timestamp"]["trusted_time"]) == token.gen_time
    assert sealed.record["timestamp"]["serial"] == str(token.serial)
    # Another file does not verify against it.
    bad = ts_verify(
        sealed.unpacked / "files/log-entry.json",
        sealed.unpacked / "files/manifest.tsr",
        sealed.bundle,
        sealed.bundle,
    )
    assert "Verification: OK" not in bad.stdout


def test_pdfsig_reports_the_certificate_signature_valid_and_trusted(
    sealed: Sealed, nssdb: Callable[[x509.Certificate], str]
) -> None:
    """pdfsig with our root trusted and its OCSP check against the served responder (Poppler
    22.12 cannot say "Trusted" with -no-ocsp, see tests/pki/test_pdf.py)."""
    pki = sealed.services.pki
    proc = run("pdfsig", "-nssdir", nssdb(pki.root), str(sealed.certificate))
    out = proc.stdout + proc.stderr
    assert "Signature is Valid." in out, out
    assert "Certificate is Trusted." in out, out
    assert "Signature Type: ETSI.CAdES.detached" in out, out
    assert "电子证据固定服务" in out, out
    # Control: with another root, pdfsig does not trust it.
    from certs.pki import Pki

    other = Pki.open(sealed.base / "other-pki", b"x", hostname="o.example", public_url="http://o")
    proc = run("pdfsig", "-nssdir", nssdb(other.root), "-no-ocsp", str(sealed.certificate))
    assert "Certificate is Trusted." not in proc.stdout


def test_pyhanko_validates_the_certificate_offline_from_its_dss(sealed: Sealed) -> None:
    """B-LT: intact, trusted and with revocation data, from what the file carries alone."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    root = asn1_x509.Certificate.load(sealed.services.pki.root.public_bytes(Encoding.DER))
    reader = PdfFileReader(io.BytesIO(sealed.certificate.read_bytes()))
    dss = DocumentSecurityStore.read_dss(reader)
    assert len(dss.crls) >= 2 and len(dss.ocsps) >= 2  # our CAs' CRLs; seal and TSA OCSP
    vc = dss.as_validation_context(
        {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "require"}
    )
    [signature] = reader.embedded_signatures
    status = validate_pdf_signature(signature, vc)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.bottom_line
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    assert status.modification_level.name in ("NONE", "LTA_UPDATES")  # only the DSS added
    assert "电子证据固定服务" in status.signing_cert.subject.human_friendly


def test_certificate_states_the_facts_in_text_and_in_its_attachment(sealed: Sealed) -> None:
    text = run("pdftotext", "-layout", str(sealed.certificate), "-").stdout
    compact = "".join(text.split())
    manifest = sealed.json("files/manifest.json")
    entry = sealed.json("files/log-entry.json")
    for label in ("电子数据取证证书", "可信时间", "取证环境与清洁性检查", "文件完整性", "透明日志"):
        assert label in text, label
    assert sealed.record["requested_url"] in compact
    for path, digest in manifest["files"].items():
        assert digest in compact, path
    assert sealed.record["manifest_sha256"] in compact
    assert entry["leaf_hash"] in compact and entry["log_id"] in compact
    assert sealed.record["timestamp"]["serial"] in compact
    assert sealed.record["verify_url"] in compact

    fonts = run("pdffonts", str(sealed.certificate)).stdout
    assert "WenQuanYi" in fonts and " yes yes " in fonts, fonts  # CJK font embedded, subset

    listing = run("pdfdetach", "-list", str(sealed.certificate)).stdout
    assert "certificate.json" in listing, listing
    saved = sealed.base / "certificate.json"
    proc = run(
        "pdfdetach", "-savefile", "certificate.json", "-o", str(saved), str(sealed.certificate)
    )
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(saved.read_bytes())
    assert facts["type"] == "evidence-certificate" and facts["capture_id"] == sealed.record["id"]
    assert facts["files"] == manifest["files"]
    assert facts["manifest"]["sha256"] == sealed.record["manifest_sha256"]
    assert facts["transparency_log"] == entry
    assert facts["trusted_time"]["serial"] == sealed.record["timestamp"]["serial"]
    assert facts["target"]["final_url"] == sealed.record["final_url"]
    assert facts["environment"]["clean_profile"] is True
    assert facts["environment"]["proxy_used"] is False
    assert facts["environment"]["hosts"][0]["dns_addresses"] == ["127.0.0.1"]
    assert facts["server"]["ip"] == "127.0.0.1"
    assert facts["local_clock"]["clock_measured"] is True


def test_pdf_is_pdf_a_3b_before_signing(sealed: Sealed) -> None:
    """The certificate declares PDF/A-3b (XMP pdfaid) and carries certificate.json with an
    AFRelationship, as PDF/A-3 wants."""
    data = sealed.certificate.read_bytes()
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data))
    metadata = reader.root["/Metadata"].get_object().data
    assert b"pdfaid:part" in metadata and b"3" in metadata
    assert "/AF" in reader.root
    files = reader.root["/AF"]
    relationship = [f.get_object()["/AFRelationship"] for f in files]
    assert "/Data" in [str(r) for r in relationship]
