"""The portal's tables on PostgreSQL: revision 0003_portal upgrades, the models agree with it,
rows round-trip (UTC times, JSONB), constraints hold, the append-only triggers fire, and the
revision downgrades and upgrades again cleanly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from storage.db import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
    migrate,
)
from storage.models import (
    Base,
    Document,
    DocumentVersion,
    Merchant,
    MerchantSetupCode,
    PortalAudit,
    Unit,
    User,
)
from tests.portal.conftest import credit_code

pytestmark = pytest.mark.postgres

PORTAL_TABLES = {
    "units",
    "merchants",
    "merchant_setup_codes",
    "merchant_sessions",
    "auth_throttles",
    "documents",
    "document_versions",
    "document_attachments",
    "portal_audit",
}


def test_portal_schema_on_postgresql(pg_database: Callable[[], str]) -> None:
    url = pg_database()
    migrate(url)
    assert current_revision(url) == head_revision()
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) >= PORTAL_TABLES
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "target_metadata": Base.metadata}
            )
            assert list(compare_metadata(ctx, Base.metadata)) == []
        sessions = make_session_factory(engine)
        now = datetime.now(UTC)
        with sessions.begin() as session:
            unit = Unit(name="甲市市场监督管理局")
            session.add(unit)
            session.flush()
            session.add(
                User(
                    username="o",
                    display_name="O",
                    password_hash="x",
                    role="officer",
                    must_change_password=False,
                    disabled=False,
                    unit_id=unit.id,
                )
            )
            merchant = Merchant(unit_id=unit.id, name="甲", credit_code=credit_code(1))
            session.add(merchant)
            session.flush()
            session.add(
                MerchantSetupCode(
                    merchant_id=merchant.id, code_hash="a" * 64, expires_at=now + timedelta(days=7)
                )
            )
            doc = Document(
                unit_id=unit.id,
                merchant_id=merchant.id,
                template="order_to_correct",
                title="责令改正通知书",
                data={"case_number": "示〔2026〕1号", "party": {"name": "甲"}},
                served_at=now,
            )
            session.add(doc)
            session.flush()
            session.add(
                DocumentVersion(
                    document_id=doc.id,
                    seq=1,
                    kind="rendered",
                    object_key="b" * 64,
                    sha256="b" * 64,
                    size=10,
                    actor="system",
                )
            )
            session.add(
                PortalAudit(
                    action="document.created",
                    actor_type="system",
                    actor_id="system",
                    document_id=doc.id,
                    details={"x": [1, "二"]},
                )
            )
            doc_id, unit_id = doc.id, unit.id
        with sessions() as session:
            loaded = session.get(Document, doc_id)
            assert loaded is not None and loaded.data["party"]["name"] == "甲"
            assert loaded.served_at == now and loaded.served_at.tzinfo is not None
            user = session.scalar(select(User).where(User.username == "o"))
            assert user is not None and user.unit_id == unit_id
            audit = session.scalars(select(PortalAudit)).one()
            assert audit.details == {"x": [1, "二"]}
        # Constraints: one version number per document, one account per credit code, kinds.
        for bad in (
            DocumentVersion(
                document_id=doc_id,
                seq=1,
                kind="rendered",
                object_key="c" * 64,
                sha256="c" * 64,
                size=1,
                actor="system",
            ),
            Merchant(unit_id=unit_id, name="重复", credit_code=credit_code(1)),
            Document(
                unit_id=unit_id,
                merchant_id=loaded.merchant_id,
                kind="letter",
                template="x",
                title="x",
            ),
        ):
            with pytest.raises(IntegrityError), sessions.begin() as session:
                session.add(bad)
        # Append-only below the ORM.
        for sql in (
            update(PortalAudit).values(action="rewritten"),
            text("DELETE FROM portal_audit"),
            update(DocumentVersion).values(size=0),
            text("DELETE FROM document_versions"),
        ):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(sql)
    finally:
        engine.dispose()

    # Down to 0002 and up again.
    cfg = alembic_config(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0002_evidence_seal")
        assert current_revision(url) == "0002_evidence_seal"
        names = set(inspect(engine).get_table_names())
        assert not (PORTAL_TABLES & names)
        assert "unit_id" not in {c["name"] for c in inspect(engine).get_columns("users")}
    finally:
        engine.dispose()
    migrate(url)
    assert current_revision(url) == head_revision()
