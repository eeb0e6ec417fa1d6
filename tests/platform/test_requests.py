"""Requests from a case to a platform, end to end: the letters generated from the case,
valid, sealed and signed, served on the platform with proof of service; the platform sees
only its own requests; its data export sealed as evidence on the case; its deadline on the
case page and in the due-soon queue; every step an event of the case's chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from signing.case_chain import chain_problems
from signing.verify import Text, load_trust_bundle, verify_file
from storage.models import CaseEvent, CaseEvidence, Document, DocumentVersion, PlatformRequest
from tests.platform.conftest import (
    PLATFORM_A_CODE,
    PLATFORM_B_CODE,
    World,
    api_client,
    assistance_body,
    officer_client,
    platform_client,
)
from tests.portal.conftest import csrf_of
from workflow import platforms
from workflow.cases import service
from workflow.documents import validate_data


@pytest.fixture(scope="module")
def sent(world: World) -> dict[str, object]:
    """A request for assistance sent through the API to platform A."""
    r = api_client(world).post(
        f"/api/cases/{world.case_id}/platform-requests", json=assistance_body(world.platform_a)
    )
    assert r.status_code == 201, r.text
    out: dict[str, object] = r.json()
    return out


def _letter(w: World, document_id: str) -> tuple[Document, list[DocumentVersion], bytes]:
    with w.services.session() as session:
        doc = session.get(Document, document_id)
        assert doc is not None
        versions = list(
            session.scalars(
                select(DocumentVersion)
                .where(DocumentVersion.document_id == document_id)
                .order_by(DocumentVersion.seq)
            )
        )
        session.expunge_all()
    return doc, versions, w.portal.store.read_bytes(versions[-1].object_key)


def test_the_assistance_letter_is_made_from_the_case_sealed_and_served(
    world: World, sent: dict[str, object], tmp_path: Path
) -> None:
    assert sent["state"] == "served" and sent["kind"] == "assistance"
    doc, versions, pdf = _letter(world, str(sent["document_id"]))
    assert doc.template == "assistance_request" and doc.merchant_id == world.platform_a
    assert doc.served_at is not None and doc.status == "served"
    # The data is the case's, and valid field by field.
    model = validate_data("assistance_request", doc.data)
    data = model.model_dump(mode="json")
    assert data["seller"]["name"] == "广州某某电子商务有限公司"
    assert data["platform"]["name"] == "某某网络科技有限公司"
    assert data["case_number"].startswith("示市监处")
    assert [d["kind"] for d in data["data_requested"]] == ["registration", "orders"]
    assert data["reply_deadline"] == sent["due_on"]
    assert data["contact"]["phone"] == "020-12345678"
    # Sealed by the unit and signed by the officer, verifiable against the trust bundle.
    assert [v.kind for v in versions] == ["rendered", "unit-signed", "officer-signed"]
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    trust = load_trust_bundle(
        world.services.trust_bundle_pem(), source="service", description=Text("服务", "service")
    )
    assert verify_file(path, trust=trust).indication.value == "TOTAL-PASSED"
    # In the case file, with its proof of service.
    view = service.case_view(world.ctx, world.actor(), world.case_id)
    assert (doc.template, doc.id) in [(d.template, d.document_id) for d in view.documents]
    with world.services.session() as session:
        proofs = list(
            session.scalars(
                select(Document).where(
                    Document.parent_id == doc.id, Document.kind == "proof_of_service"
                )
            )
        )
    assert proofs


def test_the_platform_sees_its_own_requests_only(world: World, sent: dict[str, object]) -> None:
    a = platform_client(world, PLATFORM_A_CODE)
    home = a.get("/platform")
    assert f"/platform/requests/{sent['id']}" in home.text
    page = a.get(f"/platform/requests/{sent['id']}")
    assert page.status_code == 200 and "商品编号 42 的全部订单记录" in page.text
    letter = a.get(f"/platform/requests/{sent['id']}/letter")
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF-")
    with world.services.session() as session:
        doc = session.get(Document, str(sent["document_id"]))
        assert doc is not None and doc.first_opened_at is not None  # its opening recorded
        party_doc = session.scalars(
            select(Document.id).where(Document.merchant_id == world.party_id)
        ).first()
    assert party_doc is not None
    # Nothing of the case beyond the request: not the party's documents, not the case.
    assert a.get(f"/platform/requests/{party_doc}").status_code == 404
    assert a.get(f"/cases/{world.case_id}", follow_redirects=False).status_code == 303

    b = platform_client(world, PLATFORM_B_CODE)
    assert f"/platform/requests/{sent['id']}" not in b.get("/platform").text
    for path in ("", "/letter"):
        assert b.get(f"/platform/requests/{sent['id']}{path}").status_code == 404
    home_b = b.get("/platform")
    r = b.post(
        f"/platform/requests/{sent['id']}/export",
        data={"csrf": csrf_of(home_b.text)},
        files={"file": ("x.csv", b"a,b\n", "text/csv")},
    )
    assert r.status_code == 404
    assert platforms.requests_for_platform(world.portal, world.platform_b) == []


def test_the_data_export_is_sealed_as_evidence_on_the_case(
    world: World, sent: dict[str, object]
) -> None:
    a = platform_client(world, PLATFORM_A_CODE)
    page = a.get(f"/platform/requests/{sent['id']}")
    export = "订单号,金额,时间\nA1001,99.00,2026-09-02 10:00\n".encode()
    r = a.post(
        f"/platform/requests/{sent['id']}/export",
        data={"csrf": csrf_of(page.text)},
        files={"file": ("orders.csv", export, "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    with world.services.session() as session:
        row = session.get(PlatformRequest, str(sent["id"]))
        assert row is not None and row.state == "answered" and row.evidence_id is not None
        evidence = session.get(CaseEvidence, row.evidence_id)
        assert evidence is not None
        event = session.get(CaseEvent, (world.case_id, evidence.event_seq))
        assert event is not None
    assert evidence.case_id == world.case_id and evidence.kind == "upload"
    assert evidence.sha256 == hashlib.sha256(export).hexdigest()
    assert world.services.store.read_bytes(evidence.object_key or "") == export
    proof = event.details["proof"]
    assert proof["trusted_time"] and proof["timestamp"]
    record = json.loads(world.services.store.read_bytes(proof["record"]))
    assert record["sha256"] == evidence.sha256 and record["uploaded_by"].startswith("merchant:")
    assert event.role == "platform"
    api = api_client(world).get(f"/api/cases/{world.case_id}/platform-requests").json()
    mine = next(x for x in api if x["id"] == sent["id"])
    assert mine["state"] == "answered" and mine["deadline"]["status"] == "met"


def test_the_deadline_shows_on_the_case_and_in_the_due_soon_queue(world: World) -> None:
    api = api_client(world)
    r = api.post(
        f"/api/cases/{world.case_id}/platform-requests", json=assistance_body(world.platform_b)
    )
    assert r.status_code == 201, r.text
    due_on = dt.date.fromisoformat(r.json()["deadline"]["due_date"])
    assert r.json()["deadline"]["rule"] == "platform_assistance_reply"
    officer = officer_client(world)
    page = officer.get(f"/cases/{world.case_id}")
    assert page.status_code == 200
    assert "平台协助调查答复" in page.text  # among the case's deadlines
    assert f'id="platform-request-{r.json()["id"]}"' in page.text  # and in the panel
    assert "platform_assistance_reply" in {
        d.rule_id for d in service.case_view(world.ctx, world.actor(), world.case_id).deadlines
    }
    with time_machine.travel(dt.datetime.combine(due_on, dt.time(3), dt.UTC), tick=False):
        queue = officer_client(world).get("/cases/queue")
    assert queue.status_code == 200
    assert "平台协助调查答复" in queue.text


def test_every_step_is_an_event_of_the_case_chain(world: World, sent: dict[str, object]) -> None:
    with world.services.session() as session:
        rows = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == world.case_id).order_by(CaseEvent.seq)
            )
        )
        session.expunge_all()
    actions = [e.action for e in rows]
    for name in ("platform_request_sent", "platform_request_served", "platform_data_received"):
        assert name in actions
    served = next(e for e in rows if e.action == "platform_request_served")
    assert served.details["document_id"] == sent["document_id"]
    assert served.details["proof_of_service"]
    events = [(service.chained_event(e), e.hash) for e in rows]
    assert chain_problems(events, head=rows[-1].hash) == []
