"""Files uploaded into a case are sealed like captures: hashed as they stream, stored
content-addressed, their record time-stamped (checked with OpenSSL), then linked by hash."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from evidence_service.sealing.case_evidence import seal_upload
from signing.timestamp import TimestampError
from storage.models import CaseEvent
from tests.fixtures.openssl import ts_verify
from workflow.cases import service
from workflow.cases.service import CaseContext

from . import test_service
from .test_service import World, _open

world = test_service.world  # the same fixture: a service with a unit and its officers


def test_an_upload_is_stored_time_stamped_and_linked_by_hash(world: World, tmp_path: Path) -> None:
    case_id = _open(world)
    content = b"chat record: 'we sold 3,000 pieces'\n" * 50_000  # ~1.8 MB, several chunks
    sealed = seal_upload(
        world.services,
        world.ctx,
        world.officer,
        case_id,
        io.BytesIO(content),
        file_name="chat.txt",
        media_type="text/plain",
        description="与客服的聊天记录",
    )
    store = world.services.store
    assert store.read_bytes(sealed.object_key) == content
    record = json.loads(store.read_bytes(sealed.record_key))
    assert record["sha256"] == sealed.sha256 and record["size"] == len(content)
    (tmp_path / "record.json").write_bytes(store.read_bytes(sealed.record_key))
    (tmp_path / "record.tsr").write_bytes(store.read_bytes(sealed.token_key))
    (tmp_path / "bundle.pem").write_bytes(world.services.trust_bundle_pem())
    proc = ts_verify(
        tmp_path / "record.json",
        tmp_path / "record.tsr",
        tmp_path / "bundle.pem",
        tmp_path / "bundle.pem",
    )
    assert "Verification: OK" in proc.stdout, proc.stdout + proc.stderr
    view = service.case_view(world.ctx, world.officer, case_id)
    assert [(e.file_name, e.sha256) for e in view.evidence] == [("chat.txt", sealed.sha256)]
    with world.services.sessions() as session:
        event = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq.desc())
        ).first()
    assert event is not None and event.action == "attach_evidence"
    assert event.touches == [{"kind": "upload", "id": sealed.object_key, "sha256": sealed.sha256}]
    assert event.details["proof"]["timestamp"] == sealed.token_key


def test_without_a_tsa_nothing_is_linked(world: World) -> None:
    case_id = _open(world)

    class Down:
        name = "down"

        def stamp(self, data: bytes) -> object:
            raise TimestampError("TSA unreachable")

    world.services.timestampers = [Down()]  # type: ignore[misc, list-item]
    with pytest.raises(TimestampError, match="no time-stamp authority answered"):
        seal_upload(
            world.services, world.ctx, world.officer, case_id, io.BytesIO(b"x"), file_name="x"
        )
    assert service.case_view(world.ctx, world.officer, case_id).evidence == []


def test_another_unit_cannot_upload_into_the_case(world: World) -> None:
    case_id = _open(world)
    stranger = service.Actor("user:999", "x", "officer", world.unit_id + 1)
    with pytest.raises(service.CaseNotFound):
        seal_upload(
            world.services,
            CaseContext(world.services.sessions),
            stranger,
            case_id,
            io.BytesIO(b"x"),
            file_name="x",
        )
