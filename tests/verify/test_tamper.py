"""Tampering with a sealed package, file by file: every change must be caught, named by the
right check, with the exact ETSI indication.

The ZIP is rewritten entry by entry (well-formed, CRCs right) so that what is tested is the
evidence checks, not the container check (which the fuzz test and test_container cover).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from signing.verify import Indication, Report, Status, Sub
from tests.verify.conftest import Verify, digest_json, flip, member, rewrite
from tests.verify.sealing import Authorities, Sealed, canonical

CONTENT_FILES = [
    "archive/data.warc.gz",
    "indexes/index.cdx",
    "pages/pages.jsonl",
    "files/screenshot.png",
    "files/page.pdf",
    "files/provenance.json",
    "files/provenance.html",
    "files/manifest.json",
    "files/manifest.tsr",
    "files/log-entry.json",
    "files/certificate.pdf",
]

#: Besides package.resources, which checks must also name the change (FAILED; an id prefix).
ALSO_FAILED = {
    "archive/data.warc.gz": ["manifest.content", "warc.records"],
    "indexes/index.cdx": ["manifest.content"],
    "pages/pages.jsonl": [],
    "files/screenshot.png": ["manifest.content", "warc.resources"],
    "files/page.pdf": ["manifest.content", "warc.resources"],
    "files/provenance.json": ["manifest.content", "warc.resources"],
    "files/provenance.html": ["manifest.content"],
    "files/manifest.json": [
        "manifest.timestamp",
        "certificate.content",
        "log.inclusion",
    ],
    "files/manifest.tsr": ["manifest.timestamp"],
    "files/log-entry.json": ["log.inclusion", "certificate.content"],
    "files/certificate.pdf": ["certificate."],  # its signature or its document time-stamp
}


def _json_hex_flip(data: bytes) -> bytes:
    """Change one hex digit of the first hash in a JSON file (the JSON stays valid)."""
    text = data.decode()
    match = re.search(r"[0-9a-f]{64}", text) or re.search(r"[0-9]", text)
    assert match is not None
    pos = match.start() + (10 if match.end() - match.start() == 64 else 0)
    new = "0" if text[pos] != "0" else "1"
    return (text[:pos] + new + text[pos + 1 :]).encode()


def _mutate(name: str, data: bytes) -> bytes:
    if name.endswith(".json"):
        return _json_hex_flip(data)
    if name == "pages/pages.jsonl":
        return data.replace(b"Item 42", b"Item 43")
    if name == "indexes/index.cdx":
        return data.replace(b"shop", b"shoq", 1)
    return flip(data, len(data) // 2)


def _failed(report: Report) -> set[str]:
    return {c.id for c in report.checks if c.status is Status.FAILED}


@pytest.mark.parametrize("name", CONTENT_FILES)
def test_changing_a_file_fails(name: str, sealed: Sealed, verify: Verify, tmp_path: Path) -> None:
    out = rewrite(
        sealed.path, tmp_path / "p.wacz", {name: _mutate(name, member(sealed.path, name))}
    )
    report = verify(out, proofs=sealed.proofs_path)
    assert report.indication_line() == "TOTAL-FAILED HASH_FAILURE", report.summary.en
    failed = _failed(report)
    assert "package.resources" in failed
    for expected in ALSO_FAILED[name]:
        assert any(f.startswith(expected) for f in failed), (name, expected, failed)
    assert name in report.check("package.resources").reason.en
    assert report.check("package.signature").status is Status.PASSED  # the signature is intact


@pytest.mark.parametrize("name", CONTENT_FILES)
def test_removing_a_file_is_signed_data_not_found(
    name: str, sealed: Sealed, verify: Verify, tmp_path: Path
) -> None:
    """On the package alone this is ETSI's SIGNED_DATA_NOT_FOUND (the signed list names a file
    that cannot be found). With its proofs file it is a proven change: the proofs name the
    SHA-256 of the package as sealed, which this one no longer has."""
    out = rewrite(sealed.path, tmp_path / "p.wacz", {name: None})
    report = verify(out, proofs=None)
    assert report.indication_line() == "INDETERMINATE SIGNED_DATA_NOT_FOUND", [
        (c.id, c.status.value, c.reason.en) for c in report.checks if c.status is Status.FAILED
    ]
    resources = report.check("package.resources")
    assert resources.status is Status.INDETERMINATE and name in resources.reason.en
    assert not _failed(report)
    with_proofs = verify(out, proofs=sealed.proofs_path)
    assert with_proofs.indication_line() == "TOTAL-FAILED HASH_FAILURE"
    assert with_proofs.check("proofs.file").status is Status.FAILED


def test_removing_datapackage_or_its_digest(sealed: Sealed, verify: Verify, tmp_path: Path) -> None:
    report = verify(rewrite(sealed.path, tmp_path / "a.wacz", {"datapackage.json": None}))
    assert report.indication_line() == "INDETERMINATE SIGNED_DATA_NOT_FOUND"
    assert report.check("package.digest").sub_indication is Sub.SIGNED_DATA_NOT_FOUND
    report = verify(rewrite(sealed.path, tmp_path / "b.wacz", {"datapackage-digest.json": None}))
    assert report.indication_line() == "INDETERMINATE NO_SIGNING_CERTIFICATE_FOUND"
    assert report.check("package.signature").status is Status.INDETERMINATE


def test_changing_datapackage_json(sealed: Sealed, verify: Verify, tmp_path: Path) -> None:
    dp = member(sealed.path, "datapackage.json")
    report = verify(
        rewrite(sealed.path, tmp_path / "p.wacz", {"datapackage.json": _json_hex_flip(dp)})
    )
    assert report.indication_line() == "TOTAL-FAILED HASH_FAILURE"
    assert report.check("package.digest").status is Status.FAILED
    assert report.decided[2] is report.check("package.digest")


def test_changing_the_signed_digest(sealed: Sealed, verify: Verify, tmp_path: Path) -> None:
    digest = digest_json(sealed.path)
    digest["hash"] = digest["hash"][:-1] + ("0" if digest["hash"][-1] != "0" else "1")
    out = rewrite(
        sealed.path, tmp_path / "p.wacz", {"datapackage-digest.json": json.dumps(digest).encode()}
    )
    report = verify(out)
    assert report.indication_line() == "TOTAL-FAILED HASH_FAILURE"
    assert report.check("package.digest").status is Status.FAILED


def test_changing_the_signature_value(sealed: Sealed, verify: Verify, tmp_path: Path) -> None:
    digest = digest_json(sealed.path)
    raw = bytearray(base64.b64decode(digest["signedData"]["signature"]))
    raw[-3] ^= 0x01
    digest["signedData"]["signature"] = base64.b64encode(bytes(raw)).decode()
    out = rewrite(
        sealed.path, tmp_path / "p.wacz", {"datapackage-digest.json": json.dumps(digest).encode()}
    )
    report = verify(out)
    assert report.indication_line() == "TOTAL-FAILED SIG_CRYPTO_FAILURE"
    assert report.check("package.signature").sub_indication is Sub.SIG_CRYPTO_FAILURE


@pytest.mark.parametrize("where", ["files/", "archive/", "top"])
def test_adding_a_file_fails(where: str, sealed: Sealed, verify: Verify, tmp_path: Path) -> None:
    name = {"files/": "files/note.txt", "archive/": "archive/extra.bin", "top": "readme.txt"}[where]
    out = rewrite(sealed.path, tmp_path / "p.wacz", add={name: b"added after sealing"})
    report = verify(out, proofs=None)
    assert report.indication_line() == "TOTAL-FAILED FORMAT_FAILURE"
    check = report.check("package.resources")
    assert check.status is Status.FAILED and name in check.reason.en


def test_replacing_the_package_token(
    sealed: Sealed, auth: Authorities, verify: Verify, tmp_path: Path
) -> None:
    """A genuine token of our own TSA, but over other data."""
    other = auth.timestamper().stamp(b"some other signature")
    digest = digest_json(sealed.path)
    digest["signedData"]["timeSignature"] = base64.b64encode(other.response_der).decode()
    out = rewrite(
        sealed.path, tmp_path / "p.wacz", {"datapackage-digest.json": json.dumps(digest).encode()}
    )
    report = verify(out)
    assert report.indication_line() == "TOTAL-FAILED HASH_FAILURE"
    check = report.check("package.timestamp")
    assert (check.status, check.sub_indication) == (Status.FAILED, Sub.HASH_FAILURE)
    assert report.check("package.signature").status is Status.PASSED


def test_replacing_the_manifest_token(
    sealed: Sealed, auth: Authorities, verify: Verify, tmp_path: Path
) -> None:
    other = auth.timestamper().stamp(b'{"type":"evidence-capture-manifest"}')
    out = rewrite(sealed.path, tmp_path / "p.wacz", {"files/manifest.tsr": other.response_der})
    report = verify(out)
    assert report.indication_line() == "TOTAL-FAILED HASH_FAILURE"
    check = report.check("manifest.timestamp")
    assert (check.status, check.sub_indication) == (Status.FAILED, Sub.HASH_FAILURE)


def _resign(src: Path, dst: Path, auth: Authorities, changes: dict[str, bytes]) -> Path:
    """Change files, rebuild datapackage.json and sign it with ``auth``'s keys (what a forger
    with their own certificate could do)."""
    import hashlib
    import zipfile

    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(src) as zf:
        dp = json.loads(zf.read("datapackage.json"))
    for res in dp["resources"]:
        if res["path"] in changes:
            res["hash"] = "sha256:" + hashlib.sha256(changes[res["path"]]).hexdigest()
            res["bytes"] = len(changes[res["path"]])
    dp["created"] = created
    dp_bytes = json.dumps(dp, indent=2).encode()
    hash_str = "sha256:" + hashlib.sha256(dp_bytes).hexdigest()
    digest = {
        "path": "datapackage.json",
        "hash": hash_str,
        "signedData": auth.signer.sign(hash_str, created=created),
    }
    return rewrite(
        src,
        dst,
        {
            **changes,
            "datapackage.json": dp_bytes,
            "datapackage-digest.json": json.dumps(digest).encode(),
        },
    )


def test_resigned_with_another_key_is_indeterminate(
    sealed: Sealed, foreign: Authorities, verify: Verify, tmp_path: Path
) -> None:
    out = _resign(sealed.path, tmp_path / "p.wacz", foreign, {})
    report = verify(out, proofs=None)
    assert report.indication_line() == "INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND"
    sig = report.check("package.signature")
    assert sig.sub_indication is Sub.NO_CERTIFICATE_CHAIN_FOUND
    assert "archive.example.net" in json.dumps(sig.facts)
    assert report.check("package.timestamp").sub_indication is Sub.NO_CERTIFICATE_CHAIN_FOUND


def test_changed_and_resigned_is_caught_by_the_manifest(
    sealed: Sealed, foreign: Authorities, verify: Verify, tmp_path: Path
) -> None:
    shot = flip(member(sealed.path, "files/screenshot.png"), 100)
    out = _resign(sealed.path, tmp_path / "p.wacz", foreign, {"files/screenshot.png": shot})
    report = verify(out, proofs=None)
    assert report.check("package.resources").status is Status.PASSED  # consistent forgery...
    assert report.indication_line() == "TOTAL-FAILED HASH_FAILURE"  # ...but the manifest knows
    assert report.check("manifest.content").status is Status.FAILED
    assert report.check("warc.resources").status is Status.FAILED


@pytest.mark.parametrize(
    "names",
    [
        ["files/certificate.pdf"],
        ["files/manifest.json"],
        [
            "files/manifest.json",
            "files/manifest.tsr",
            "files/log-entry.json",
            "files/certificate.pdf",
        ],
    ],
)
def test_swapping_in_another_captures_seal(
    names: list[str], sealed: Sealed, sealed_other: Sealed, verify: Verify, tmp_path: Path
) -> None:
    changes = {n: member(sealed_other.path, n) for n in names}
    report = verify(rewrite(sealed.path, tmp_path / "p.wacz", changes), proofs=None)
    assert report.indication_line() == "TOTAL-FAILED HASH_FAILURE"
    failed = _failed(report)
    if names == ["files/certificate.pdf"]:
        # a genuine, valid certificate -- of another capture
        assert report.check("certificate.signature").status is Status.PASSED
        assert "certificate.content" in failed
    else:
        assert "manifest.content" in failed or "manifest.timestamp" in failed
        assert {"package.resources"} <= failed


def test_swapped_seal_even_when_resigned(
    sealed: Sealed, sealed_other: Sealed, auth: Authorities, verify: Verify, tmp_path: Path
) -> None:
    """Even re-signed with *our* key (an insider), another capture's certificate and manifest
    do not fit this capture's files."""
    names = [
        "files/manifest.json",
        "files/manifest.tsr",
        "files/log-entry.json",
        "files/certificate.pdf",
    ]
    out = _resign(
        sealed.path, tmp_path / "p.wacz", auth, {n: member(sealed_other.path, n) for n in names}
    )
    report = verify(out, proofs=None)
    assert report.check("package.signature").status is Status.PASSED
    assert report.indication_line() == "TOTAL-FAILED HASH_FAILURE"
    assert report.check("manifest.content").status is Status.FAILED


def test_proofs_of_another_package(sealed: Sealed, sealed_other: Sealed, verify: Verify) -> None:
    report = verify(sealed.path, proofs=sealed_other.proofs_path)
    assert report.indication is Indication.TOTAL_FAILED
    assert report.check("proofs.file").sub_indication is Sub.HASH_FAILURE
    # the other package's inclusion proof is for another leaf
    assert report.check("log.inclusion").status is Status.FAILED


def test_tampered_inclusion_proof(sealed: Sealed, verify: Verify, tmp_path: Path) -> None:
    proofs = json.loads(sealed.proofs_path.read_text())
    path = proofs["inclusion"]["audit_path"]
    path[0] = path[0][:-1] + ("0" if path[0][-1] != "0" else "1")
    bad = tmp_path / "bad.proofs.json"
    bad.write_text(json.dumps(proofs))
    report = verify(sealed.path, proofs=bad)
    check = report.check("log.inclusion")
    assert (check.status, check.sub_indication) == (Status.FAILED, Sub.HASH_FAILURE)
    assert report.indication_line() == "TOTAL-FAILED HASH_FAILURE"


def test_tampered_tree_head_signature(sealed: Sealed, verify: Verify, tmp_path: Path) -> None:
    proofs = json.loads(sealed.proofs_path.read_text())
    sth = proofs["inclusion"]["sth"]
    sth["tree_size"] += 1  # the signature no longer covers these fields
    bad = tmp_path / "bad.proofs.json"
    bad.write_text(json.dumps(proofs))
    check = verify(sealed.path, proofs=bad).check("log.inclusion")
    assert (check.status, check.sub_indication) == (Status.FAILED, Sub.SIG_CRYPTO_FAILURE)


def test_tampered_archive_timestamp(
    sealed: Sealed, auth: Authorities, verify: Verify, tmp_path: Path
) -> None:
    proofs = json.loads(sealed.proofs_path.read_text())
    other = auth.timestamper().stamp(b"not the package")
    proofs["archive_timestamps"][0]["time_stamp"] = base64.b64encode(other.response_der).decode()
    bad = tmp_path / "bad.proofs.json"
    bad.write_text(json.dumps(proofs))
    check = verify(sealed.path, proofs=bad).check("proofs.archive_timestamps")
    assert (check.status, check.sub_indication) == (Status.FAILED, Sub.HASH_FAILURE)


def test_log_entry_for_another_manifest(sealed: Sealed, verify: Verify, tmp_path: Path) -> None:
    entry = json.loads(member(sealed.path, "files/log-entry.json"))
    entry["leaf_input"] = "sha256:" + "11" * 32
    out = rewrite(sealed.path, tmp_path / "p.wacz", {"files/log-entry.json": canonical(entry)})
    check = verify(out).check("log.inclusion")
    assert (check.status, check.sub_indication) == (Status.FAILED, Sub.HASH_FAILURE)
