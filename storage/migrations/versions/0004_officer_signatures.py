"""Officers sign documents with their own certificates: the officer's badge number (执法证号)
and signing-certificate serial on ``users``, and the ``officer-signed`` version kind.

Revision ID: 0004_officer_signatures
Revises: 0003_portal
Create Date: 2026-11-29

``users`` gets plain nullable ``ADD COLUMN``s (no rebuild: other tables point at it) and a
unique index (several NULLs allowed on both databases). The CHECK constraint on
``document_versions.kind`` cannot be altered in place on SQLite: the table is rebuilt (batch
mode), which drops its append-only triggers, so they are made again here exactly as
0003_portal made them. Nothing references ``document_versions``, so the rebuild is allowed with
foreign keys on. A downgrade fails while officer-signed versions exist (they are append-only
records of signatures and are never deleted to make a downgrade possible).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_officer_signatures'
down_revision: str | Sequence[str] | None = '0003_portal'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KINDS = "kind IN ('rendered', 'unit-signed', 'merchant-signed', 'merchant-uploaded')"
_NEW_KINDS = (
    "kind IN ('rendered', 'unit-signed', 'officer-signed', 'merchant-signed', "
    "'merchant-uploaded')"
)


def _version_kinds(check: str) -> None:
    if op.get_context().dialect.name == 'postgresql':
        op.drop_constraint(op.f('ck_document_versions_kind'), 'document_versions', type_='check')
        op.create_check_constraint(op.f('ck_document_versions_kind'), 'document_versions', check)
        return
    with op.batch_alter_table('document_versions', recreate='always') as batch_op:
        batch_op.drop_constraint(op.f('ck_document_versions_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_document_versions_kind'), check)
    for event in ('UPDATE', 'DELETE'):
        op.execute(f'DROP TRIGGER IF EXISTS document_versions_no_{event.lower()}')
        op.execute(
            f'CREATE TRIGGER document_versions_no_{event.lower()} BEFORE {event} '
            "ON document_versions "
            "BEGIN SELECT RAISE(ABORT, 'document_versions rows are append-only'); END"
        )


def upgrade() -> None:
    op.add_column('users', sa.Column('badge_number', sa.String(length=64), nullable=True))
    op.add_column('users', sa.Column('signing_cert_serial', sa.String(length=64), nullable=True))
    op.create_index(op.f('ix_users_badge_number'), 'users', ['badge_number'], unique=True)
    _version_kinds(_NEW_KINDS)


def downgrade() -> None:
    _version_kinds(_OLD_KINDS)
    op.drop_index(op.f('ix_users_badge_number'), table_name='users')
    if op.get_context().dialect.name == 'sqlite':
        op.execute('ALTER TABLE users DROP COLUMN signing_cert_serial')
        op.execute('ALTER TABLE users DROP COLUMN badge_number')
    else:
        op.drop_column('users', 'signing_cert_serial')
        op.drop_column('users', 'badge_number')
