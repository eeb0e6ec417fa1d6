"""The electronic case file (``evidence_service.sealing.case_export``) and its offline check
(``signing.verify.casefile``), on a real case: staffed and filed through the case workflow,
with a capture sealed by the real pipeline (from a written capture, as the seal tests do), an
uploaded file, and a document rendered and sealed by the portal's code (two versions).

The case file is exported once per module and verified TOTAL-PASSED; then each way of
tampering with it (an event changed, removed or moved; a document changed or removed; a
package removed, swapped or altered; a file added; the manifest rewritten to match; a whole
history rewritten and re-signed by someone holding the service's keys) is checked for its
verdict and for the message naming what and where. ``openssl ts -verify`` checks the
manifest's time-stamp independently; the CLI command and the download route are exercised end
to end; memory stays flat when a large file is exported.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_service.bootstrap import initialize
from evidence_service.sealing import pipeline
from evidence_service.sealing.case_evidence import seal_upload
from evidence_service.sealing.case_export import (
    CASE_FILE_MIME,
    CaseExportError,
    CaseExportPending,
    _read_ahead,
    export_case,
)
from evidence_service.sealing.case_file import case_context
from evidence_service.security import hash_password
from evidence_service.services import Services
from evidence_service.web.app import create_app
from evidence_service.web.portal.deps import build_context, officer_ref
from signing.case_chain import ChainedEvent, event_body, event_hash
from signing.errors import TsaUnavailableError
from signing.translog import canonical_json
from signing.verify import (
    REPORT_JSON_SCHEMA,
    Indication,
    Report,
    Status,
    Text,
    TrustStore,
    load_trust_bundle,
    render_html,
    render_pdf,
    verify_file,
)
from signing.verify import casefile as verifier
from storage.models import Capture, CaseEvent, CaseEvidence, DocumentVersion, Unit, User
from storage.objects import CHUNK_SIZE
from tests.conftest import run_cli
from tests.fixtures.openssl import ts_verify
from tests.portal.conftest import credit_code, csrf_of, order_data, setup_merchant
from tests.service.conftest import make_settings
from tests.wacz.conftest import write_capture
from workflow import merchants, serving
from workflow.cases import service
from workflow.cases.service import Actor, CaseContext, PartyIn

PASSWORD = "case export password"
PASSPHRASE = "case export passphrase"


@dataclass
class Exported:
    services: Services
    ctx: CaseContext
    data_dir: Path
    unit_id: int
    officer: Actor
    ids: dict[str, int]
    case_id: str
    number: str
    capture_id: str
    document_id: str
    case_zip: Path
    bundle: Path

    def trust(self) -> TrustStore:
        return load_trust_bundle(
            self.bundle.read_bytes(), source="given", description=Text("测试", "test")
        )

    def verify(self, path: Path) -> Report:
        report = verify_file(path, trust=self.trust())
        jsonschema.validate(report.to_dict(), REPORT_JSON_SCHEMA)
        return report


def _user(services: Services, unit_id: int, username: str, name: str, badge: str | None) -> int:
    with services.session() as session:
        user = User(
            username=username,
            display_name=name,
            password_hash=hash_password(PASSWORD),
            unit_id=unit_id,
            badge_number=badge,
        )
        session.add(user)
        session.flush()
        return user.id


def seal_capture(services: Services, **kw: Any) -> str:
    """A capture sealed by the real pipeline from a written capture (no browser)."""
    with services.session() as session:
        cap = Capture(
            requested_url="https://shop.example.com/item/42", status="sealing", summary={}
        )
        session.add(cap)
        session.flush()
        capture_id = cap.id
    work = services.settings.work_dir / capture_id
    pipeline.seal_capture(services, capture_id, write_capture(work / "capture", **kw), work)
    return capture_id


def attach_capture(
    ctx: CaseContext, who: Actor, case_id: str, services: Services, cid: str
) -> None:
    with services.sessions() as session:
        cap = session.get(Capture, cid)
        assert cap is not None and cap.package_sha256
        sha, size = cap.package_sha256, cap.package_size
    service.add_evidence(
        ctx,
        who,
        case_id,
        kind="capture",
        file_name="商品页.wacz",
        sha256=sha,
        capture_id=cid,
        size=size,
        media_type="application/wacz+zip",
    )


def attach_upload(
    ctx: CaseContext, who: Actor, case_id: str, services: Services, path: Path, name: str
) -> str:
    stored = services.store.put_file(path, content_type="image/jpeg")
    service.add_evidence(
        ctx,
        who,
        case_id,
        kind="upload",
        file_name=name,
        sha256=stored.sha256,
        object_key=stored.key,
        size=stored.size,
        media_type="image/jpeg",
    )
    return stored.sha256


def build_case(base: Path) -> Exported:
    services = Services(make_settings(base / "data", key_passphrase=PASSPHRASE))
    initialize(services)
    with services.session() as session:
        unit_id = session.scalars(select(Unit.id)).one()
    ids = {
        "wang": _user(services, unit_id, "wang", "王五", "SL-0001"),
        "zhao": _user(services, unit_id, "zhao", "赵六", "SL-0002"),
        "head": _user(services, unit_id, "head", "钱局长", "SL-0003"),
    }
    ctx = case_context(services)
    officer = Actor(f"user:{ids['wang']}", "王五", "officer", unit_id)
    head = Actor(f"user:{ids['head']}", "钱局长", "head", unit_id)
    case_id = service.open_case(
        ctx,
        officer,
        unit_id=unit_id,
        title="虚假宣传",
        summary="商品页面宣称“国家级”",
        parties=[PartyIn("某网店", credit_code="9144030071526726XG", shop_url="https://shop/1")],
    )
    service.assign(ctx, officer, case_id, ids["wang"])
    service.assign(ctx, officer, case_id, ids["zhao"])
    service.act(ctx, officer, case_id, "register")
    service.act(
        ctx,
        officer,
        case_id,
        "propose_filing",
        {"no_penalty_lists_consulted": True, "no_penalty_path_offered": True},
    )
    service.act(ctx, head, case_id, "approve_filing")
    capture_id = seal_capture(services)
    attach_capture(ctx, officer, case_id, services, capture_id)
    receipt = base / "receipt.jpg"
    receipt.write_bytes(b"\xff\xd8\xff\xe0" + b"JFIF receipt " * 64)
    with receipt.open("rb") as fh:  # sealed at upload: a time-stamped record of its hash
        seal_upload(
            services, ctx, officer, case_id, fh, file_name="进货单据.jpg", media_type="image/jpeg"
        )
    portal = build_context(services)
    with services.sessions() as session:
        wang = session.get(User, ids["wang"])
        assert wang is not None
        session.expunge(wang)
    ref = officer_ref(wang)
    merchant = setup_merchant(portal, ref, "某网店有限公司", credit_code(7), consent=False)
    document_id = serving.create_document(
        portal, ref, merchant_id=merchant, template="order_to_correct", data=order_data()
    )
    with services.sessions() as session:
        first = session.scalar(
            select(DocumentVersion.sha256).where(DocumentVersion.document_id == document_id)
        )
    assert first is not None
    service.link_document(ctx, officer, case_id, document_id, "order_to_correct", first)
    serving.sign_as_unit(portal, ref, document_id)  # the sealed version 2
    service.act(ctx, officer, case_id, "end_investigation", {"major_case": False})
    view = service.case_view(ctx, officer, case_id)
    assert view.case.number is not None
    bundle = base / "bundle.pem"
    bundle.write_bytes(services.trust_bundle_pem())
    case_zip = base / "case.zip"
    export_case(services, case_id, case_zip, exported_by=officer.actor)
    return Exported(
        services,
        ctx,
        base / "data",
        unit_id,
        officer,
        ids,
        case_id,
        view.case.number,
        capture_id,
        document_id,
        case_zip,
        bundle,
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    built = build_case(tmp_path_factory.mktemp("case-export"))
    yield built
    built.services.close()


# -- helpers ---------------------------------------------------------------------------------


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rewrite(
    src: Path,
    dst: Path,
    change: Callable[[dict[str, bytes]], dict[str, bytes | None]],
) -> Path:
    """A well-formed copy of the case file whose members are changed (None: removed; a new
    name: added at the end), entry order and compression kept."""
    with zipfile.ZipFile(src) as zin:
        infos = zin.infolist()
        data = {i.filename: zin.read(i.filename) for i in infos}
    changes = change(dict(data))
    with zipfile.ZipFile(dst, "w") as zout:
        for info in infos:
            new = changes.get(info.filename, data[info.filename])
            if info.filename in changes and new is None:
                continue
            assert new is not None
            zout.writestr(info, new)
        for name, new in changes.items():
            if name not in data and new is not None:
                zout.writestr(name, new)
    return dst


def failed(report: Report) -> dict[str, str]:
    """Failing checks: id -> their English reason and details (what the court reads)."""
    return {
        c.id: " | ".join([c.reason.en, *(d.en for d in c.details)])
        for c in report.checks
        if c.status is Status.FAILED
    }


def event_lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines()]


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(canonical_json(line) + b"\n" for line in lines)


def path_of(files: dict[str, bytes], prefix: str, suffix: str = "") -> str:
    return next(n for n in files if n.startswith(prefix) and n.endswith(suffix))


# -- the export ------------------------------------------------------------------------------


def test_the_case_file_holds_the_whole_case_and_verifies(exported: Exported) -> None:
    w = exported
    files = members(w.case_zip)
    with zipfile.ZipFile(w.case_zip) as zf:
        first = zf.infolist()[0]
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
    assert files["mimetype"] == CASE_FILE_MIME.encode() == verifier.CASE_FILE_MIME.encode()
    case = json.loads(files["case.json"])
    assert case["case"]["number"] == w.number and case["case"]["title"] == "虚假宣传"
    assert {s["badge_number"] for s in case["staff"]} == {"SL-0001", "SL-0002"}
    # every event, in order, with its canonical body, hash and inclusion proof
    with w.services.sessions() as session:
        rows = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == w.case_id).order_by(CaseEvent.seq)
            )
        )
        versions = list(
            session.scalars(
                select(DocumentVersion)
                .where(DocumentVersion.document_id == w.document_id)
                .order_by(DocumentVersion.seq)
            )
        )
        cap = session.get(Capture, w.capture_id)
        assert cap is not None
    lines = event_lines(files["events.jsonl"])
    assert [line["hash"] for line in lines] == [r.hash for r in rows]
    assert case["case"]["event_count"] == len(rows) == 10
    for line in lines:
        assert hashlib.sha256(canonical_json(line["event"])).hexdigest() == line["hash"]
        assert line["log"]["tree_size"] == json.loads(files["tree-head.json"])["tree_size"]
    # every document version and the package, byte for byte as stored
    doc_dir = path_of(files, "documents/", "/v1.pdf").rsplit("/", 1)[0]
    assert doc_dir.endswith("-order_to_correct") and len(versions) == 2
    for v in versions:
        assert hashlib.sha256(files[f"{doc_dir}/v{v.seq}.pdf"]).hexdigest() == v.sha256
    package = path_of(files, "evidence/1-", ".wacz")
    assert hashlib.sha256(files[package]).hexdigest() == cap.package_sha256
    assert json.loads(files[package + ".proofs.json"])["package_sha256"] == cap.package_sha256
    upload = path_of(files, "evidence/2-", ".jpg")
    assert upload.endswith("进货单据.jpg")
    record = json.loads(files[upload + ".record.json"])
    assert record["sha256"] == hashlib.sha256(files[upload]).hexdigest()
    manifest = json.loads(files["manifest.json"])
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json", "manifest.tsr", "manifest-digest.json"}
    assert all(hashlib.sha256(files[p]).hexdigest() == h for p, h in listed.items())
    # the index lists it all
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(files["index.pdf"])
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    for needle in (w.number, rows[-1].hash, versions[0].sha256, cap.package_sha256, package):
        assert needle in text
    report = w.verify(w.case_zip)
    assert report.kind == "casefile"
    assert report.indication is Indication.TOTAL_PASSED, report.summary.en
    passed = {c.id for c in report.checks if c.status is Status.PASSED}
    assert {
        "zip.container",
        "casefile.format",
        "casefile.signature",
        "casefile.signature.timestamp",
        "casefile.manifest.timestamp",
        "casefile.files",
        "casefile.events",
        "casefile.log",
        "casefile.touches",
        "casefile.evidence.1",
    } <= passed
    document = next(c for c in report.checks if c.id.startswith("casefile.document."))
    assert document.status is Status.PASSED and document.facts["path"].endswith("/v2.pdf")
    sealed_upload = report.check("casefile.evidence.2")
    assert sealed_upload.status is Status.PASSED
    assert "sealed when uploaded" in sealed_upload.reason.en
    assert report.find("casefile.evidence.2.content") is None  # a JPEG: no signatures of its own
    html = render_html(report, "zh")
    assert "casefile.events" in html and w.number in html
    assert render_pdf(report, "en").startswith(b"%PDF-")
    assert report.facts["case"]["number"] == w.number


def test_openssl_verifies_the_manifest_time_stamp(exported: Exported, tmp_path: Path) -> None:
    """And the upload's record token too: a court's expert needs nothing of ours."""
    files = members(exported.case_zip)
    upload = path_of(files, "evidence/2-", ".jpg")
    pairs = [("manifest.json", "manifest.tsr"), (f"{upload}.record.json", f"{upload}.record.tsr")]
    for i, (data, token) in enumerate(pairs):
        (tmp_path / f"{i}.data").write_bytes(files[data])
        (tmp_path / f"{i}.tsr").write_bytes(files[token])
        ok = ts_verify(tmp_path / f"{i}.data", tmp_path / f"{i}.tsr", exported.bundle)
        assert "Verification: OK" in ok.stdout, (data, ok.stdout, ok.stderr)
        (tmp_path / "other").write_bytes(files[data] + b" ")
        bad = ts_verify(tmp_path / "other", tmp_path / f"{i}.tsr", exported.bundle)
        assert bad.returncode != 0 and "Verification: OK" not in bad.stdout


# -- tampering -------------------------------------------------------------------------------


def _changed_event(files: dict[str, bytes]) -> dict[str, bytes | None]:
    lines = event_lines(files["events.jsonl"])
    lines[2]["event"]["actor_name"] = "别人"
    return {"events.jsonl": jsonl(lines)}


def _removed_event(files: dict[str, bytes]) -> dict[str, bytes | None]:
    lines = event_lines(files["events.jsonl"])
    return {"events.jsonl": jsonl(lines[:3] + lines[4:])}


def _reordered_events(files: dict[str, bytes]) -> dict[str, bytes | None]:
    lines = event_lines(files["events.jsonl"])
    lines[1], lines[2] = lines[2], lines[1]
    return {"events.jsonl": jsonl(lines)}


def _changed_document(files: dict[str, bytes]) -> dict[str, bytes | None]:
    v1 = path_of(files, "documents/", "/v1.pdf")
    return {v1: files[v1].replace(b"%%EOF", b"%%EOF\n% added", 1)}


def _removed_document(files: dict[str, bytes]) -> dict[str, bytes | None]:
    return {path_of(files, "documents/", "/v2.pdf"): None}


def _removed_package(files: dict[str, bytes]) -> dict[str, bytes | None]:
    return {path_of(files, "evidence/1-", ".wacz"): None}


def _swapped_evidence(files: dict[str, bytes]) -> dict[str, bytes | None]:
    one, two = path_of(files, "evidence/1-", ".wacz"), path_of(files, "evidence/2-")
    return {one: files[two], two: files[one]}


def _altered_package(files: dict[str, bytes]) -> dict[str, bytes | None]:
    name = path_of(files, "evidence/1-", ".wacz")
    inner = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(files[name])) as zin, zipfile.ZipFile(inner, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "files/provenance.json":
                data = data.replace(b"officer", b"someone")
            zout.writestr(info, data)
    return {name: inner.getvalue()}


def _added_file(files: dict[str, bytes]) -> dict[str, bytes | None]:
    return {"evidence/3-extra.jpg": b"\xff\xd8\xff extra"}


def _manifest_rewritten(files: dict[str, bytes]) -> dict[str, bytes | None]:
    case = json.loads(files["case.json"])
    case["case"]["title"] = "另一标题"
    new_case = json.dumps(case, ensure_ascii=False).encode()
    manifest = json.loads(files["manifest.json"])
    for item in manifest["files"]:
        if item["path"] == "case.json":
            item.update(sha256=hashlib.sha256(new_case).hexdigest(), size=len(new_case))
    return {"case.json": new_case, "manifest.json": canonical_json(manifest)}


def _swapped_versions(files: dict[str, bytes]) -> dict[str, bytes | None]:
    v1, v2 = path_of(files, "documents/", "/v1.pdf"), path_of(files, "documents/", "/v2.pdf")
    return {v1: files[v2], v2: files[v1]}


Change = Callable[[dict[str, bytes]], dict[str, bytes | None]]

#: How the case file is tampered with -> (what the report's summary names: the deciding
#: check's message, and for each check that must fail, what its message must say).
TAMPERING: dict[str, tuple[Change, str, dict[str, str]]] = {
    "event changed": (
        _changed_event,
        "event 3's content does not match its hash",
        {"casefile.files": "events.jsonl does not match the SHA-256 in the signed manifest"},
    ),
    "event removed": (
        _removed_event,
        "event number 5 where 4 was expected",
        {
            "casefile.events": "the case file holds 9 (events were removed or added)",
            "casefile.files": "events.jsonl does not match",
        },
    ),
    "events reordered": (
        _reordered_events,
        "event number 3 where 2 was expected",
        {"casefile.files": "events.jsonl does not match"},
    ),
    "document changed": (
        _changed_document,
        "as event 9 added it",
        {
            "casefile.touches": "is not among its versions in documents/009-order_to_correct",
            "casefile.files": "009-order_to_correct/v1.pdf does not match the SHA-256 in the "
            "signed manifest",
        },
    ),
    "document versions swapped": (
        _swapped_versions,
        "009-order_to_correct/v1.pdf does not match the SHA-256",
        {"casefile.files": "009-order_to_correct/v2.pdf does not match the SHA-256"},
    ),
    "document version removed": (
        _removed_document,
        "009-order_to_correct/v2.pdf, listed in the signed manifest, is missing",
        {"casefile.document.9": "009-order_to_correct/v2.pdf is missing or damaged"},
    ),
    "package removed": (
        _removed_package,
        "The evidence event 7 attached (capture ",
        {
            "casefile.touches": "is not in the case file (expected at evidence/1-商品页.wacz)",
            "casefile.files": "evidence/1-商品页.wacz, listed in the signed manifest, is missing",
            "casefile.evidence.1": "evidence/1-商品页.wacz is missing or damaged",
        },
    ),
    "evidence swapped": (
        _swapped_evidence,
        "evidence/1-商品页.wacz is not the evidence event 7 attached",
        {
            "casefile.touches": "evidence/2-进货单据.jpg is not the evidence event 8 attached",
            "casefile.files": "evidence/1-商品页.wacz does not match",
            "casefile.evidence.1": "TOTAL-FAILED",
            "casefile.evidence.2": "is not the file its upload record names",
        },
    ),
    "package altered inside": (
        _altered_package,
        "evidence/1-商品页.wacz is not the evidence event 7 attached",
        {
            "casefile.files": "evidence/1-商品页.wacz does not match the SHA-256",
            "casefile.evidence.1": "TOTAL-FAILED HASH_FAILURE",
        },
    ),
    "file added": (
        _added_file,
        "evidence/3-extra.jpg is not listed in the signed manifest (it was added)",
        {},
    ),
    "manifest rewritten to match": (
        _manifest_rewritten,
        "manifest.json is not the manifest that was signed",
        {"casefile.manifest.timestamp": "does not cover the case file manifest"},
    ),
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_tampering_is_reported_with_what_and_where(
    exported: Exported, tmp_path: Path, how: str
) -> None:
    change, deciding, expected = TAMPERING[how]
    tampered = rewrite(exported.case_zip, tmp_path / "case.zip", change)
    report = exported.verify(tampered)
    assert report.indication is Indication.TOTAL_FAILED, report.summary.en
    assert deciding in report.summary.en, report.summary.en
    found = failed(report)
    for check_id, message in expected.items():
        assert check_id in found, f"{check_id} did not fail: {sorted(found)}"
        assert message in found[check_id], (check_id, found[check_id])


def test_a_history_rewritten_and_re_signed_with_the_services_keys_fails_the_log(
    exported: Exported, tmp_path: Path
) -> None:
    """Someone holding the signing key and the TSA rewrites event 3 and re-chains, re-hashes,
    re-stamps and re-signs everything: only the transparency log, whose signed tree head
    already covers the original events, still tells."""
    w = exported
    files = members(w.case_zip)
    lines = event_lines(files["events.jsonl"])
    prev = lines[1]["hash"]
    for line in lines[2:]:
        body = line["event"]
        if body["seq"] == 3:
            body["actor_name"] = "别人"
        body["prev"] = prev
        line["hash"] = prev = hashlib.sha256(canonical_json(body)).hexdigest()
    case = json.loads(files["case.json"])
    case["case"]["chain_head"] = prev
    new = {"events.jsonl": jsonl(lines), "case.json": json.dumps(case).encode()}
    manifest = json.loads(files["manifest.json"])
    manifest["chain_head"] = prev
    for item in manifest["files"]:
        if item["path"] in new:
            data = new[item["path"]]
            item.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    manifest_bytes = canonical_json(manifest)
    sha = hashlib.sha256(manifest_bytes).hexdigest()
    signed = w.services.package_signer.sign(f"sha256:{sha}")
    token = w.services.timestampers[0].stamp(manifest_bytes)
    new.update(
        {
            "manifest.json": manifest_bytes,
            "manifest.tsr": token.response_der,
            "manifest-digest.json": json.dumps(
                {"path": "manifest.json", "hash": f"sha256:{sha}", "signedData": signed}
            ).encode(),
        }
    )
    report = w.verify(rewrite(w.case_zip, tmp_path / "case.zip", lambda _f: dict(new)))
    assert report.check("casefile.signature").status is Status.PASSED
    assert report.check("casefile.events").status is Status.PASSED
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is not None and report.sub_indication.value == "HASH_FAILURE"
    log = failed(report)["casefile.log"]
    assert "Event 3 is not in the transparency log" in log
    assert f"Event {len(lines)} is not in the transparency log" in log
    assert "Event 2 is not" not in log


def test_without_trust_the_signer_is_unknown(exported: Exported) -> None:
    report = verify_file(exported.case_zip, trust=TrustStore())
    assert report.indication_line() == "INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND"
    assert report.check("casefile.files").status is Status.PASSED  # integrity still shown


# -- refusals and memory ---------------------------------------------------------------------


def test_evidence_not_yet_sealed_stops_the_export(exported: Exported, tmp_path: Path) -> None:
    w = exported
    case_id = service.open_case(w.ctx, w.officer, unit_id=w.unit_id, title="线索", summary="s")
    with w.services.session() as session:
        cap = Capture(requested_url="https://shop.example.com/", status="sealing", summary={})
        session.add(cap)
        session.flush()
        cid = cap.id
    service.add_evidence(
        w.ctx,
        w.officer,
        case_id,
        kind="capture",
        file_name="x.wacz",
        sha256="0" * 64,
        capture_id=cid,
    )
    out = tmp_path / "case.zip"
    with pytest.raises(CaseExportPending, match="not sealed"):
        export_case(w.services, case_id, out)
    assert not out.exists() and not list(tmp_path.iterdir())
    with pytest.raises(service.CaseNotFound):
        export_case(w.services, w.case_id, out, unit_id=w.unit_id + 1)


def test_a_time_stamp_authority_that_is_down_defers_the_export(
    exported: Exported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(_data: bytes) -> object:
        raise TsaUnavailableError("the TSA does not answer", tsa_url="builtin")

    for stamper in exported.services.timestampers:
        monkeypatch.setattr(stamper, "stamp", down)
    out = tmp_path / "case.zip"
    with pytest.raises(CaseExportPending, match=r"does not answer.*try again later"):
        export_case(exported.services, exported.case_id, out)
    assert not list(tmp_path.iterdir())


def test_events_the_log_missed_are_logged_and_covered_before_the_export(
    exported: Exported, tmp_path: Path
) -> None:
    w = exported

    def down(_digest: bytes) -> object:
        raise ConnectionError("log unavailable")

    broken = CaseContext(sessions=w.services.sessions, log_event=down)
    case_id = service.open_case(broken, w.officer, unit_id=w.unit_id, title="线索", summary="s")
    service.act(broken, w.officer, case_id, "register")
    assert len([h for h in service.unlogged_events(w.ctx) if h]) >= 2
    out = tmp_path / "case.zip"
    export_case(w.services, case_id, out)
    report = w.verify(out)
    assert report.indication is Indication.TOTAL_PASSED, report.summary.en
    assert "All 2 events are in the transparency log" in report.check("casefile.log").reason.en


def test_a_large_file_is_streamed_not_held_in_memory(exported: Exported, tmp_path: Path) -> None:
    w = exported
    big = tmp_path / "video.jpg"
    with big.open("wb") as fh:
        for _ in range(48):
            fh.write(os.urandom(1 << 20))
    case_id = service.open_case(w.ctx, w.officer, unit_id=w.unit_id, title="大文件", summary="s")
    sha = attach_upload(w.ctx, w.officer, case_id, w.services, big, "录像.jpg")
    out = tmp_path / "case.zip"
    tracemalloc.start()
    try:
        result = export_case(w.services, case_id, out)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.payload_bytes > 48 << 20
    assert peak < 16 << 20, f"the export held {peak >> 20} MiB at once"
    with zipfile.ZipFile(out) as zf:
        name = next(n for n in zf.namelist() if n.startswith("evidence/1-"))
        digest = hashlib.sha256()
        with zf.open(name) as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    assert digest.hexdigest() == sha
    report = w.verify(out)
    assert report.indication is Indication.TOTAL_PASSED, report.summary.en
    # attached without a seal of its own (by hash only): checked by that hash
    assert report.check("casefile.evidence.1").status is Status.NOT_APPLICABLE


def test_what_the_store_verified_is_what_is_sealed_and_a_damaged_object_stops_it(
    exported: Exported, tmp_path: Path
) -> None:
    """The manifest takes a stored object's digest from its key (the store refuses to finish
    reading bytes that do not match it) and the file's own SHA-256 is taken while it is
    written: both must be the real ones. A record that names other bytes than the key, or
    an object damaged in the store, stops the export with nothing written."""
    w = exported
    upload = tmp_path / "chat.png"
    upload.write_bytes(os.urandom(3 * (1 << 20) + 17))  # a few read-ahead pieces and a tail
    case_id = service.open_case(w.ctx, w.officer, unit_id=w.unit_id, title="聊天", summary="s")
    sha = attach_upload(w.ctx, w.officer, case_id, w.services, upload, "聊天记录.png")
    out = tmp_path / "case.zip"
    result = export_case(w.services, case_id, out)
    assert result.size == out.stat().st_size
    assert result.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    files = members(out)
    listed = {f["path"]: f for f in json.loads(files["manifest.json"])["files"]}
    name = path_of(files, "evidence/1-")
    assert listed[name]["sha256"] == sha == hashlib.sha256(files[name]).hexdigest()
    assert listed[name]["size"] == upload.stat().st_size

    with w.services.session() as session:
        row = session.scalar(select(CaseEvidence).where(CaseEvidence.case_id == case_id))
        assert row is not None
        row.sha256 = "0" * 64
    try:
        with pytest.raises(CaseExportError, match=r"the case recorded 0{64}"):
            export_case(w.services, case_id, tmp_path / "other.zip")
    finally:
        with w.services.session() as session:
            row = session.scalar(select(CaseEvidence).where(CaseEvidence.case_id == case_id))
            assert row is not None
            row.sha256 = sha

    stored = w.services.settings.objects_dir / sha[:2] / sha[2:4] / sha
    stored.chmod(0o644)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, in the middle of a piece read ahead
    stored.write_bytes(bytes(data))
    damaged = tmp_path / "damaged.zip"
    with pytest.raises(CaseExportError, match=rf"'{sha}' is corrupt.*nothing was exported"):
        export_case(w.services, case_id, damaged)
    assert not damaged.exists()
    assert not list(tmp_path.glob(".damaged.zip.*"))  # the partial file is removed


def test_the_read_ahead_thread_ends_with_the_object_or_when_its_reader_stops() -> None:
    """A stored object is read one piece ahead in a second thread; a writer that stops early
    (a failed write) must not leave that thread blocked for ever."""
    data = os.urandom(5 * CHUNK_SIZE + 3)
    assert b"".join(_read_ahead(io.BytesIO(data))) == data
    pieces = _read_ahead(io.BytesIO(data))
    assert next(pieces) == data[:CHUNK_SIZE]
    pieces.close()
    assert not [t for t in threading.enumerate() if t.name == "case-file-read-ahead"]


def test_a_case_is_found_by_its_id_or_its_number(exported: Exported) -> None:
    w = exported
    assert service.find_case(w.ctx, w.number) == w.case_id
    assert service.find_case(w.ctx, f" {w.case_id} ") == w.case_id  # as pasted
    with pytest.raises(service.CaseNotFound, match=r"no case '示市监处' \(give its id or its"):
        service.find_case(w.ctx, "示市监处")


@pytest.mark.parametrize(
    ("field", "value", "check_id", "message"),
    [
        (
            "domain",
            "evil.example",
            "casefile.signature",
            "The domain 'evil.example' claimed by the signature data is not in the certificate",
        ),
        (
            "created",
            "2020-01-01T00:00:00.000Z",
            "casefile.signature.timestamp",
            "is not within 10 minutes after the signature's stated creation time",
        ),
    ],
)
def test_the_unsigned_fields_of_the_case_file_signature_are_held_to_the_spec(
    exported: Exported, tmp_path: Path, field: str, value: str, check_id: str, message: str
) -> None:
    """``domain`` and ``created`` are outside the signature: the signed-manifest checker
    (``signing.verify.manifest_signature``, shared with the packages) holds them to the WACZ
    signing spec's rules, so a rewritten one leaves the case file INDETERMINATE."""

    def change(files: dict[str, bytes]) -> dict[str, bytes | None]:
        digest = json.loads(files["manifest-digest.json"])
        digest["signedData"][field] = value
        return {"manifest-digest.json": json.dumps(digest).encode()}

    report = exported.verify(rewrite(exported.case_zip, tmp_path / "case.zip", change))
    assert report.indication is Indication.INDETERMINATE, report.summary.en
    check = report.check(check_id)
    assert check.status is Status.INDETERMINATE and message in check.reason.en
    assert report.check("casefile.files").status is Status.PASSED  # no file was changed


# -- the command line and the download -------------------------------------------------------


def _env(w: Exported) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_")}
    env.update(
        EVIDENCE_DATA_DIR=str(w.data_dir),
        EVIDENCE_KEY_PASSPHRASE=PASSPHRASE,
        EVIDENCE_CAPTURE_ALLOW_PRIVATE="true",
    )
    return env


def test_evidence_case_export_writes_what_evidence_verify_passes(
    exported: Exported, tmp_path: Path
) -> None:
    w = exported
    out = tmp_path / "case.zip"
    done = run_cli(["case", "export", w.number, "-o", str(out)], _env(w))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out}") and "events" in done.stdout
    checked = run_cli(["verify", str(out), "--trust", str(w.bundle), "--lang", "en"], _env(w))
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.strip().splitlines()[-1] == "TOTAL-PASSED"
    assert "casefile.events" in checked.stdout
    missing = run_cli(["case", "export", "no-such-case", "-o", str(out)], _env(w))
    assert missing.returncode == 2 and "no case" in missing.stderr


def _login(client: TestClient, username: str) -> None:
    page = client.get("/login")
    done = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text


def test_the_case_file_is_downloaded_by_its_unit_only(exported: Exported, tmp_path: Path) -> None:
    w = exported
    with w.services.session() as session:
        other_unit = merchants.ensure_unit(session, "乙市市场监督管理局")
        session.flush()
        other = other_unit.id
    _user(w.services, other, "stranger", "外单位", "SL-0099")
    with w.services.session() as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None
        admin.password_hash = hash_password(PASSWORD)
        admin.must_change_password = False
    url = f"/cases/{w.case_id}/export"
    with TestClient(create_app(services=w.services)) as client:
        anonymous = client.get(url, follow_redirects=False)
        assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
        _login(client, "zhao")
        got = client.get(url)
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == "application/zip"
        assert got.headers["content-disposition"].startswith("attachment;")
        assert got.headers["x-content-sha256"] == hashlib.sha256(got.content).hexdigest()
        (tmp_path / "download.zip").write_bytes(got.content)
        assert client.get("/cases/no-such-case/export").status_code == 404
    assert w.verify(tmp_path / "download.zip").indication is Indication.TOTAL_PASSED
    assert not list(w.services.settings.work_dir.glob("case-export-*"))  # removed once sent
    with TestClient(create_app(services=w.services)) as client:
        _login(client, "stranger")
        assert client.get(url).status_code == 404  # another unit's case: as if none
    with TestClient(create_app(services=w.services)) as client:
        _login(client, "admin")
        assert client.get(url).status_code == 403  # an administrator sees no case


def test_events_are_hashed_as_the_workflow_does_and_a_case_file_is_known_by_its_head() -> None:
    """The exported body is ``signing.case_chain``'s (the bytes the workflow hashed), and the
    engine tells a case file from a WACZ by its first entry alone."""
    from datetime import UTC, datetime

    event = ChainedEvent(
        "c1",
        1,
        datetime(2026, 3, 2, 1, tzinfo=UTC),
        "user:1",
        "王五",
        "officer",
        "register",
        "received",
        "verifying",
        {},
        [],
        None,
    )
    assert hashlib.sha256(canonical_json(event_body(event))).hexdigest() == event_hash(event)
    assert verifier.is_case_file(
        b"PK\x03\x04"
        + b"\0" * 4
        + b"\0\0"
        + b"\0" * 16
        + b"\x08\0\0\0"
        + b"mimetype"
        + CASE_FILE_MIME.encode()
    )
    assert not verifier.is_case_file(b"PK\x03\x04" + b"\0" * 60)
