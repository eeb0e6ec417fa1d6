"""Statements (text + attachments, signed with the merchant's key after re-authentication),
document data errors by field, the service records, and the append-only audit trail and
versions (refused by the ORM and by the database itself)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import delete, select, text, update

from signing.pades import read_audit
from signing.verify import validate_pdf
from storage.models import Document, DocumentAttachment, DocumentVersion, PortalAudit
from tests.portal.conftest import PASSWORD, World, csrf_of, order_data
from workflow import serving
from workflow.documents import validate_document


def _statement(
    client: TestClient, doc_id: str, files: list[tuple[str, bytes, str]], **fields: str
) -> object:
    csrf = csrf_of(client.get(f"/portal/documents/{doc_id}/statement").text)
    data = {"text": "我公司对认定的事实有异议。", "password": PASSWORD, "csrf": csrf}
    data.update(fields)
    return client.post(
        f"/portal/documents/{doc_id}/statement",
        data=data,
        files=[("attachments", f) for f in files],
        follow_redirects=False,
    )


def _statements(world: World, parent: str) -> list[Document]:
    with world.services.sessions() as session:
        return list(
            session.scalars(
                select(Document).where(Document.parent_id == parent, Document.kind == "statement")
            )
        )


def test_statement_limits_are_enforced_before_anything_is_signed(
    world: World, merchant_client: Callable[[str], TestClient]
) -> None:
    ma = merchant_client("ma")
    doc = world.docs["ma"]
    before = len(_statements(world, doc))
    big = b"%PDF-1.7\n" + b"0" * (world.ctx.max_attachment_bytes + 1)
    cases = {
        "too large": [("big.pdf", big, "application/pdf")],
        "bad type": [("x.exe", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)), "text/plain")],
        "too many": [(f"n{i}.txt", b"note", "text/plain") for i in range(6)],
    }
    for what, files in cases.items():
        r = _statement(ma, doc, files)
        assert r.status_code == 422, what  # type: ignore[attr-defined]
        assert 'id="attachments-error"' in r.text, what  # type: ignore[attr-defined]
    r = _statement(ma, doc, [], text="   ")
    assert r.status_code == 422 and 'id="text-error"' in r.text  # type: ignore[attr-defined]
    r = _statement(ma, doc, [("a.txt", b"note", "text/plain")], password="wrong password")
    assert r.status_code == 401  # type: ignore[attr-defined]
    assert len(_statements(world, doc)) == before


def test_statement_is_a_signed_pdf_with_hashed_attachments(
    world: World, merchant_client: Callable[[str], TestClient]
) -> None:
    ma = merchant_client("ma")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    r = _statement(
        ma,
        world.docs["ma"],
        [("照片.png", png, "image/png"), ("../../etc/说明.txt", "说明".encode(), "text/plain")],
        requests_hearing="true",
    )
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    statement_id = r.headers["location"].split("/")[-1].split("?")[0]  # type: ignore[attr-defined]
    page = ma.get(f"/portal/documents/{statement_id}")
    assert page.status_code == 200 and "陈述申辩书" in page.text
    with world.services.sessions() as session:
        rows = session.scalars(
            select(DocumentAttachment).where(DocumentAttachment.document_id == statement_id)
        ).all()
        names = {a.filename: a for a in rows}
    assert set(names) == {"照片.png", "说明.txt"}
    assert names["照片.png"].content_type == "image/png"
    assert world.services.store.read_bytes(names["照片.png"].object_key) == png
    doc, version = serving.version_for_merchant(world.ctx, world.ids["ma"], statement_id, None)
    assert doc.data["requests_hearing"] is True
    assert {a["name"]: a["sha256"] for a in doc.data["attachments"]} == {
        n: a.sha256 for n, a in names.items()
    }
    pdf = world.services.store.read_bytes(version.object_key)
    path = Path(world.ctx.work_dir) / "statement-check.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pdf)
    report = validate_document(path, world.ctx.trust_roots_pem)
    assert report.ok, report.to_dict()
    assert [s.field_name for s in report.signatures] == ["party"]
    assert world.codes["ma"] in (report.signatures[0].signer or {})["subject"]
    emb = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures[0]
    trail = read_audit(emb.sig_object)
    assert trail is not None and trail["purpose"] == "statement"
    assert trail["auth_method"] == "password re-entered at signing" and trail["ip"] == "testclient"
    # The structured data inside the PDF (document.json) carries the attachment hashes too.
    embedded = validate_pdf(path, world.ctx.trust_roots_pem, attachments=["document.json"])
    attached = json.loads(embedded.attachments["document.json"])
    assert {a["sha256"] for a in attached["data"]["attachments"]} == {
        a.sha256 for a in names.values()
    }


def test_document_data_errors_name_the_field(
    world: World, officer_client: Callable[[str], TestClient]
) -> None:
    alice = officer_client("alice")
    body = {
        "merchant_id": world.ids["ma"],
        "template": "order_to_correct",
        "data": order_data(deadline="2000-01-01"),
    }
    r = alice.post("/api/documents", json=body)
    assert r.status_code == 422
    assert r.json()["detail"]["field"] == "deadline"
    body["data"] = order_data(party={"name": "x", "credit_code": world.codes["mb"]})
    r = alice.post("/api/documents", json=body)
    assert r.status_code == 422 and r.json()["detail"]["field"] == "party.credit_code"
    data = order_data()
    data.pop("officers")
    body["data"] = data
    r = alice.post("/api/documents", json=body)
    assert r.status_code == 422 and r.json()["detail"]["field"] == "officers"
    # In the page: the form keeps the JSON and lists the fields.
    page = alice.post(
        "/documents",
        data={
            "merchant_id": world.ids["ma"],
            "template": "order_to_correct",
            "data": json.dumps(order_data(deadline="2000-01-01")),
            "csrf": csrf_of(alice.get("/documents/new").text),
        },
    )
    assert page.status_code == 422 and "<code>deadline</code>" in page.text
    assert "2000-01-01" in page.text
    r = alice.post("/api/documents", json={**body, "template": "statement", "data": {}})
    assert r.status_code == 422 and r.json()["detail"]["field"] == "template"


def test_service_records_and_proof_of_service(
    world: World, merchant_client: Callable[[str], TestClient]
) -> None:
    doc_id = world.docs["mc"]
    mc = merchant_client("mc")
    assert mc.get(f"/portal/documents/{doc_id}").status_code == 200
    mc.get(f"/portal/documents/{doc_id}")  # only the first opening is recorded
    with world.services.sessions() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None and doc.served_at is not None
        assert doc.first_opened_at is not None and doc.first_opened_at > doc.served_at
        assert doc.first_opened_ip == "testclient"
        assert doc.first_opened_user_agent == "testclient"
        opened = session.scalars(
            select(PortalAudit).where(
                PortalAudit.document_id == doc_id, PortalAudit.action == "document.opened"
            )
        ).all()
        assert len(opened) == 1
        served = session.scalars(
            select(PortalAudit).where(
                PortalAudit.document_id == doc_id, PortalAudit.action == "document.served"
            )
        ).one()
        assert served.at == doc.served_at and served.actor_id == f"user:{world.bob.id}"
    proof_id = serving.make_proof_of_service(world.ctx, world.bob, doc_id)
    proof, version = serving.version_for_officer(world.ctx, world.bob, proof_id, None)
    assert proof.kind == "proof_of_service" and proof.parent_id == doc_id
    assert proof.data["method"] == "electronic"
    assert proof.data["served_at"].startswith(doc.served_at.isoformat()[:19])
    assert "首次打开" in proof.data["remarks"] and "testclient" in proof.data["remarks"]
    path = Path(world.ctx.work_dir) / "proof-check.pdf"
    path.write_bytes(world.services.store.read_bytes(version.object_key))
    report = validate_document(path, world.ctx.trust_roots_pem)
    assert report.ok and [s.field_name for s in report.signatures] == ["unit"]


def test_audit_and_versions_are_append_only(world: World) -> None:
    with world.services.sessions() as session:
        row = session.scalars(select(PortalAudit)).first()
        version = session.scalars(select(DocumentVersion)).first()
        assert row is not None and version is not None
        row_id, version_id = row.id, version.id
        row.action = "rewritten"
        with pytest.raises(PermissionError):
            session.flush()
        session.rollback()
        session.delete(session.get(DocumentVersion, version_id))
        with pytest.raises(PermissionError):
            session.flush()
        session.rollback()
    # Below the ORM, the database refuses too (triggers from revision 0003_portal).
    for statement in (
        update(PortalAudit).where(PortalAudit.id == row_id).values(action="x"),
        delete(PortalAudit).where(PortalAudit.id == row_id),
        update(DocumentVersion).where(DocumentVersion.id == version_id).values(sha256="0" * 64),
        delete(DocumentVersion).where(DocumentVersion.id == version_id),
        text(f"UPDATE portal_audit SET ip = 'x' WHERE id = {row_id}"),
    ):
        with pytest.raises(Exception, match="append-only"), world.services.session() as s:
            s.execute(statement)
    with world.services.sessions() as session:
        assert session.get(PortalAudit, row_id).action != "x"  # type: ignore[union-attr]
