"""Rotating the unit's seal as docs/deploy.md says: issue a new unit certificate, revoke the
old one; documents are sealed with the new one from then on. Without a replacement the unit
cannot seal, and the refusal says how to issue one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from certs.subjects import SubjectInfo
from evidence_service.bootstrap import default_unit_name, initialize
from evidence_service.services import Services
from storage.models import Unit
from workflow.document_versions import unit_seal_serial
from workflow.errors import ConflictError


def test_issue_then_revoke_rotates_the_seal(services_factory: Callable[..., Services]) -> None:
    services = services_factory()
    initialize(services)
    name = default_unit_name(services)
    with services.sessions() as session:
        unit_id = session.scalars(select(Unit.id).where(Unit.name == name)).one()
    ctx = services.portal
    old = unit_seal_serial(ctx, unit_id)

    new = services.pki.issue("unit", SubjectInfo(name)).serial_hex
    assert new != old
    assert unit_seal_serial(ctx, unit_id) == old  # the recorded seal signs until retired

    services.pki.revoke(old, "superseded")
    assert unit_seal_serial(ctx, unit_id) == new
    with services.sessions() as session:
        assert session.get(Unit, unit_id).seal_serial == new  # type: ignore[union-attr]

    services.pki.revoke(new, "superseded")
    with pytest.raises(ConflictError) as refused:
        unit_seal_serial(ctx, unit_id)
    assert refused.value.code == "seal_unusable"
    assert "evidence certs issue --kind unit" in str(refused.value)
