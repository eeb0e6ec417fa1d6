"""WACZ packages as independent tools see them: py-wacz's validator, openssl ts, Harvard LIL's
wacz-signing verifier (in its own venv), warcio."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from capture.types import CaptureResult
from capture.wacz import WaczError, build_wacz
from certs.pki import Pki
from signing.errors import TsaUnavailableError
from signing.timestamp import HttpTimestamper
from signing.wacz_sign import PackageSigner, verify_signed_data
from tests.fixtures.tools import wacz_signing_verify
from tests.signing.conftest import openssl
from tests.wacz.conftest import HOST, PAGE_HTML, PAGE_URL, run_wacz_validate, write_capture


def _build(capture: CaptureResult, out: Path, signer: PackageSigner | None) -> Any:
    return build_wacz(
        capture,
        out,
        sign=signer.sign if signer else None,
        extra_files=[("files/provenance.html", capture.provenance_html_path)],
        title="Evidence capture of item 42",
        description="Test capture",
    )


def _read_json(zf: zipfile.ZipFile, name: str) -> Any:
    return json.loads(zf.read(name))


def _rewrite(src: Path, dst: Path, changes: dict[str, bytes]) -> None:
    """Copy a ZIP, replacing some entries' contents (same order, same compression)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, changes.get(info.filename, zin.read(info.filename)))


def test_signed_package_passes_py_wacz_validate(
    capture: CaptureResult, signer: PackageSigner, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "package.wacz"
    info = _build(capture, out, signer)
    proc = run_wacz_validate(out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation succeeded" in proc.stdout
    assert info.path == out and info.size == out.stat().st_size
    assert info.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert info.signed_data is not None


def test_unsigned_package_is_valid_too(capture: CaptureResult, tmp_path: Path) -> None:
    out = tmp_path / "unsigned.wacz"
    info = _build(capture, out, None)
    assert info.signed_data is None
    with zipfile.ZipFile(out) as zf:
        assert "signedData" not in _read_json(zf, "datapackage-digest.json")
    proc = run_wacz_validate(out)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_datapackage_hash_matches_and_layout(
    capture: CaptureResult, signer: PackageSigner, tmp_path: Path
) -> None:
    out = tmp_path / "p.wacz"
    info = _build(capture, out, signer)
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert names[0] == "archive/data.warc.gz"
        # The Harvard verifier reads the last entry as the digest.
        assert names[-2:] == ["datapackage.json", "datapackage-digest.json"]
        assert zf.getinfo("archive/data.warc.gz").compress_type == zipfile.ZIP_STORED
        assert zf.getinfo("files/screenshot.png").compress_type == zipfile.ZIP_STORED

        package = _read_json(zf, "datapackage.json")
        assert package["profile"] == "data-package"
        assert package["wacz_version"] == "1.1.1"
        assert package["mainPageURL"] == PAGE_URL
        assert package["title"] == "Evidence capture of item 42"
        assert package["description"] == "Test capture"
        resources = {r["path"]: r for r in package["resources"]}
        assert set(resources) == {
            "archive/data.warc.gz",
            "indexes/index.cdx",
            "pages/pages.jsonl",
            "files/screenshot.png",
            "files/page.pdf",
            "files/provenance.json",
            "files/provenance.html",
        }
        assert set(resources) | {"datapackage.json", "datapackage-digest.json"} == set(names)
        for path, res in resources.items():
            data = zf.read(path)
            assert res["hash"] == "sha256:" + hashlib.sha256(data).hexdigest(), path
            assert res["bytes"] == len(data), path
        assert list(info.resources) == package["resources"]

        # Files a court opens without a WARC reader are the capture's own bytes.
        assert zf.read("archive/data.warc.gz") == capture.warc_path.read_bytes()
        assert zf.read("files/screenshot.png") == capture.screenshot_path.read_bytes()
        assert zf.read("files/page.pdf") == capture.pdf_path.read_bytes()
        assert zf.read("files/provenance.json") == capture.provenance_json_path.read_bytes()
        assert zf.read("files/provenance.html") == capture.provenance_html_path.read_bytes()

        dp = zf.read("datapackage.json")
        digest = _read_json(zf, "datapackage-digest.json")
        assert digest["path"] == "datapackage.json"
        assert digest["hash"] == "sha256:" + hashlib.sha256(dp).hexdigest()
        assert info.datapackage_sha256 == hashlib.sha256(dp).hexdigest()
        assert digest["signedData"]["hash"] == digest["hash"]
        assert digest["signedData"]["created"] == package["created"]

        lines = zf.read("pages/pages.jsonl").decode().splitlines()
        header, page = json.loads(lines[0]), json.loads(lines[1])
        assert header == {
            "format": "json-pages-1.0",
            "id": "pages",
            "title": "Evidence capture of item 42",
        }
        assert page["url"] == PAGE_URL and page["status"] == 200
        assert page["title"] == capture.title
        assert page["ts"] == package["mainPageDate"]
        assert len(lines) == 2


def test_index_offsets_point_at_the_records(capture: CaptureResult, tmp_path: Path) -> None:
    out = tmp_path / "p.wacz"
    _build(capture, out, None)
    with zipfile.ZipFile(out) as zf:
        index = zf.read("indexes/index.cdx").decode().splitlines()
        warc = zf.read("archive/data.warc.gz")
    assert index == sorted(index)
    entries = [json.loads(line.split(" ", 2)[2]) for line in index]
    urls = {e["url"] for e in entries}
    assert {
        PAGE_URL,
        "urn:evidence:screenshot",
        "urn:evidence:pdf",
        "urn:evidence:provenance",
    } <= urls
    for entry in entries:
        assert entry["filename"] == "data.warc.gz"
        start, length = int(entry["offset"]), int(entry["length"])
        record = next(iter(ArchiveIterator(io.BytesIO(warc[start : start + length]))))
        assert record.rec_headers.get_header("WARC-Target-URI") == entry["url"]
        if entry["url"] == PAGE_URL:
            assert record.content_stream().read() == PAGE_HTML


def test_openssl_verifies_the_time_signature_with_the_trust_bundle(
    capture: CaptureResult, signer: PackageSigner, pki: Pki, root_pem: Path, tmp_path: Path
) -> None:
    out = tmp_path / "p.wacz"
    signed = _build(capture, out, signer).signed_data
    (tmp_path / "signature.txt").write_bytes(signed["signature"].encode("ascii"))
    (tmp_path / "ts.tsr").write_bytes(base64.b64decode(signed["timeSignature"]))
    (tmp_path / "bundle.pem").write_bytes(pki.trust_bundle_pem())
    ok = openssl(
        "ts",
        "-verify",
        "-data",
        str(tmp_path / "signature.txt"),
        "-in",
        str(tmp_path / "ts.tsr"),
        "-CAfile",
        str(root_pem),
        "-untrusted",
        str(tmp_path / "bundle.pem"),
    )
    assert "Verification: OK" in ok.stdout
    assert verify_signed_data(signed, pki.trust_bundle_pem()).valid


@pytest.mark.slow
def test_harvard_wacz_signing_verifier_accepts_and_rejects(
    capture: CaptureResult, signer: PackageSigner, pki: Pki, tmp_path: Path
) -> None:
    out = tmp_path / "p.wacz"
    _build(capture, out, signer)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    fp = pki.root_fingerprint_sha256

    accepted = wacz_signing_verify(out, cert_roots=[fp], ts_roots=[fp], cwd=cwd)
    assert accepted.ok, accepted.error
    assert accepted.output is not None
    assert accepted.output["observer"] == [HOST]
    assert str(accepted.output["software"]).startswith("evidence-service")

    # Our root must be pinned explicitly; it is trusted for nothing by default.
    other = "0" * 64
    assert not wacz_signing_verify(out, cert_roots=[other], ts_roots=[fp], cwd=cwd).ok
    assert not wacz_signing_verify(out, cert_roots=[fp], ts_roots=[other], cwd=cwd).ok

    # A signature from another package: the verifier fails.
    other_pkg = tmp_path / "other.wacz"
    _build(write_capture(tmp_path / "other", title="Other"), other_pkg, signer)
    with zipfile.ZipFile(other_pkg) as zf:
        foreign = _read_json(zf, "datapackage-digest.json")["signedData"]
    with zipfile.ZipFile(out) as zf:
        digest = _read_json(zf, "datapackage-digest.json")
    digest["signedData"]["signature"] = foreign["signature"]
    swapped = tmp_path / "swapped.wacz"
    _rewrite(out, swapped, {"datapackage-digest.json": json.dumps(digest).encode()})
    result = wacz_signing_verify(swapped, cert_roots=[fp], ts_roots=[fp], cwd=cwd)
    assert not result.ok


def test_tampering_with_the_package_is_detected(
    capture: CaptureResult, signer: PackageSigner, pki: Pki, tmp_path: Path
) -> None:
    out = tmp_path / "p.wacz"
    _build(capture, out, signer)
    with zipfile.ZipFile(out) as zf:
        dp = zf.read("datapackage.json")
        warc = zf.read("archive/data.warc.gz")
        pdf = zf.read("files/page.pdf")
        signed = _read_json(zf, "datapackage-digest.json")["signedData"]

    # One byte of datapackage.json: its hash no longer matches the signed digest.
    i = dp.index(b"Evidence capture")
    changed = dp[:i] + b"e" + dp[i + 1 :]
    assert changed != dp and len(changed) == len(dp)
    tampered = tmp_path / "dp.wacz"
    _rewrite(out, tampered, {"datapackage.json": changed})
    proc = run_wacz_validate(tampered)
    assert proc.returncode != 0
    assert "hash mismatch" in proc.stdout
    assert signed["hash"] != "sha256:" + hashlib.sha256(changed).hexdigest()

    # One byte of a file: its datapackage hash no longer matches.
    bad = pdf.replace(b"fake pdf", b"fake PDF")
    tampered = tmp_path / "file.wacz"
    _rewrite(out, tampered, {"files/page.pdf": bad})
    proc = run_wacz_validate(tampered)
    assert proc.returncode != 0, proc.stdout
    assert "hash-count" in proc.stdout and "page.pdf" in proc.stdout

    # One byte of the WARC (gzip members): the package is invalid as well.
    j = len(warc) // 2
    bad_warc = warc[:j] + bytes([warc[j] ^ 0x20]) + warc[j + 1 :]
    tampered = tmp_path / "warc.wacz"
    _rewrite(out, tampered, {"archive/data.warc.gz": bad_warc})
    proc = run_wacz_validate(tampered)
    assert proc.returncode != 0, proc.stdout

    # A swapped signature fails our verifier (the Harvard one: see the test above).
    other = signer.sign("sha256:" + hashlib.sha256(b"x").hexdigest())
    check = verify_signed_data(signed | {"signature": other["signature"]}, pki.trust_bundle_pem())
    assert not check.valid


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_failure_while_signing_leaves_no_package(
    capture: CaptureResult, pki: Pki, tmp_path: Path
) -> None:
    down = PackageSigner(
        pki.package_signing_credential,
        [HttpTimestamper(f"http://127.0.0.1:{_closed_port()}/tsa", timeout=2)],
        domain=HOST,
    )
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "package.wacz"
    with pytest.raises(TsaUnavailableError):
        _build(capture, out, down)
    assert not out.exists()
    assert list(out_dir.iterdir()) == []

    # An existing package at out_path stays untouched by a failed rebuild.
    out.write_bytes(b"previous package")
    with pytest.raises(TsaUnavailableError):
        _build(capture, out, down)
    assert out.read_bytes() == b"previous package"
    assert [p.name for p in out_dir.iterdir()] == ["package.wacz"]


@pytest.mark.parametrize(
    "path",
    [
        "provenance.html",
        "files/sub/provenance.html",
        "../evil.html",
        "/abs/x.html",
        "datapackage.json",
        "archive/data.warc.gz",
        "files/./x.html",
    ],
)
def test_extra_file_paths_are_checked(capture: CaptureResult, tmp_path: Path, path: str) -> None:
    out = tmp_path / "p.wacz"
    with pytest.raises(WaczError):
        build_wacz(capture, out, sign=None, extra_files=[(path, capture.provenance_html_path)])
    assert not out.exists()


def test_signer_must_sign_what_it_was_given(capture: CaptureResult, tmp_path: Path) -> None:
    def wrong(hash_str: str, *, created: str) -> dict[str, Any]:
        return {"hash": "sha256:" + "0" * 64, "created": created}

    out = tmp_path / "p.wacz"
    with pytest.raises(WaczError, match="another hash"):
        build_wacz(capture, out, sign=wrong)
    assert not out.exists()


@pytest.mark.slow
def test_large_warc_is_streamed(tmp_path: Path, signer: PackageSigner) -> None:
    big = os.urandom(48 * 1024 * 1024)
    capture = write_capture(tmp_path / "big", extra_payload=big)
    del big
    out = tmp_path / "big.wacz"
    tracemalloc.start()
    try:
        info = _build(capture, out, signer)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size > 48 * 1024 * 1024
    assert peak < 16 * 1024 * 1024, f"peak Python memory {peak / 2**20:.1f} MiB"
    proc = run_wacz_validate(out)
    assert proc.returncode == 0, proc.stdout
