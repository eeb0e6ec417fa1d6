"""0008_documents_without_account: ``documents.merchant_id`` becomes nullable on SQLite (the
table is recreated while other tables reference its rows) and PostgreSQL, and the downgrade
is refused while a document has no merchant."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from storage.db import alembic_config, current_revision, head_revision, make_engine, migrate

ROWS = [
    "INSERT INTO units (id, name, created_at) "
    "VALUES (1, '示例市市场监督管理局', '2026-03-02 00:00:00')",
    "INSERT INTO merchants (id, unit_id, name, credit_code, status, created_at) "
    "VALUES ('m1', 1, '某某公司', '9144030071526726XG', 'active', '2026-03-02 00:00:00')",
    "INSERT INTO documents (id, unit_id, merchant_id, kind, template, title, data, status, "
    "created_at, updated_at) VALUES ('d1', 1, 'm1', 'notice', 'order_to_correct', 't', '{}', "
    "'draft', '2026-03-02 00:00:00', '2026-03-02 00:00:00')",
    "INSERT INTO document_versions (document_id, seq, kind, object_key, sha256, size, actor, "
    "created_at) VALUES ('d1', 1, 'rendered', 'k', 'aa', 1, 'user:1', '2026-03-02 00:00:00')",
]


def _run(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for sql in statements:
                conn.execute(text(sql))
    finally:
        engine.dispose()


def _to(url: str, revision: str, *, down: bool) -> None:
    cfg = alembic_config(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(cfg, revision)
    finally:
        engine.dispose()


def test_documents_without_a_merchant_up_and_down(fresh_db_url: str) -> None:
    url = fresh_db_url
    _to(url, "0007_payments_publicity", down=False)
    _run(url, *ROWS)  # a document with its versions, referenced while the table is rebuilt
    _to(url, "0008_documents_without_account", down=False)
    _run(url, "UPDATE documents SET merchant_id = NULL WHERE id = 'd1'")
    with pytest.raises(RuntimeError, match="link those parties"):
        _to(url, "0007_payments_publicity", down=True)
    _run(url, "UPDATE documents SET merchant_id = 'm1' WHERE id = 'd1'")
    _to(url, "0007_payments_publicity", down=True)
    assert current_revision(url) == "0007_payments_publicity"
    with pytest.raises(Exception, match=r"(?i)null"):
        _run(url, "UPDATE documents SET merchant_id = NULL WHERE id = 'd1'")
    migrate(url)
    assert current_revision(url) == head_revision()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM document_versions")).scalar() == 1
    finally:
        engine.dispose()
