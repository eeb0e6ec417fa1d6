"""Case documents of a party without a portal account: ``documents.merchant_id`` nullable.

Revision ID: 0008_documents_without_account
Revises: 0007_payments_publicity
Create Date: 2026-12-07

A party that has no portal account yet still gets its documents (served by post or public
notice); they are kept as the unit's, with no merchant, until an officer links the party to an
account (``link_party``). On SQLite the NOT NULL is changed in the table's stored definition
rather than by recreating the table (see ``_sqlite_merchant_id``). Downgrading is refused
while such documents exist: making the column NOT NULL again would have to invent an owner
for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008_documents_without_account'
down_revision: str | Sequence[str] | None = '0007_payments_publicity'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_NOT_NULL = 'merchant_id VARCHAR(32) NOT NULL,'
_NULL = 'merchant_id VARCHAR(32),'


def _sqlite_merchant_id(nullable: bool) -> None:
    """Change the column's NOT NULL in the table's stored definition: SQLite allows this
    (it changes no stored row, https://www.sqlite.org/lang_altertable.html, "making other
    kinds of table schema changes"), where recreating ``documents`` would trip the foreign
    keys of the versions, attachments and case documents that reference its rows."""
    conn = op.get_bind()
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'documents'"
    ).scalar()
    old, new = (_NOT_NULL, _NULL) if nullable else (_NULL, _NOT_NULL)
    if sql is None or sql.count(old) != 1:
        raise RuntimeError(f'documents.merchant_id is not defined as expected ({old!r})')
    version = int(conn.exec_driver_sql('PRAGMA schema_version').scalar() or 0)
    conn.exec_driver_sql('PRAGMA writable_schema = ON')
    conn.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'documents'",
        (sql.replace(old, new),),
    )
    conn.exec_driver_sql(f'PRAGMA schema_version = {version + 1}')
    conn.exec_driver_sql('PRAGMA writable_schema = OFF')
    problems = conn.exec_driver_sql('PRAGMA integrity_check').scalar()
    if problems != 'ok':
        raise RuntimeError(f'documents after changing merchant_id: {problems}')


def _merchant_id(nullable: bool) -> None:
    if op.get_context().dialect.name == 'sqlite':
        _sqlite_merchant_id(nullable)
        return
    op.alter_column(
        'documents', 'merchant_id', existing_type=sa.String(length=32), nullable=nullable
    )


def upgrade() -> None:
    _merchant_id(True)


def downgrade() -> None:
    orphans = op.get_bind().execute(
        sa.text('SELECT count(*) FROM documents WHERE merchant_id IS NULL')
    ).scalar()
    if orphans:
        raise RuntimeError(
            f'{orphans} case documents belong to parties without a portal account; link those '
            'parties to their accounts (link_party) before downgrading below '
            '0008_documents_without_account'
        )
    _merchant_id(False)
