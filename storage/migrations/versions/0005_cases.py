"""The administrative case: cases, their parties, staff, evidence and documents, the
per-unit case-number sequence, and the append-only, hash-chained ``case_events``.

Revision ID: 0005_cases
Revises: 0004_officer_signatures
Create Date: 2026-12-06

``case_events`` gets the same append-only triggers as 0003_portal gave ``portal_audit`` (on
PostgreSQL through the ``evidence_refuse_change()`` function made there).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.migrations import append_only
from sqlalchemy.dialects import postgresql

revision: str = '0005_cases'
down_revision: str | Sequence[str] | None = '0004_officer_signatures'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('case_number_sequences',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_case_number_sequences_unit_id_units')),
    sa.PrimaryKeyConstraint('unit_id', 'year', name=op.f('pk_case_number_sequences'))
    )
    op.create_table('cases',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('procedure', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('party_kind', sa.String(length=16), nullable=False),
    sa.Column('shop_url', sa.Text(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('complainant_name', sa.String(length=200), nullable=True),
    sa.Column('complainant_contact', sa.String(length=200), nullable=True),
    sa.Column('facts', _JSON, nullable=False),
    sa.Column('event_count', sa.Integer(), nullable=False),
    sa.Column('chain_head', sa.String(length=64), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("party_kind IN ('organisation', 'natural_person')", name=op.f('ck_cases_party_kind')),
    sa.CheckConstraint("procedure IN ('general', 'simplified', 'fast_track')", name=op.f('ck_cases_procedure')),
    sa.CheckConstraint("source IN ('complaint', 'lead', 'inspection', 'transfer', 'platform')", name=op.f('ck_cases_source')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_cases_created_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_cases_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('number', name=op.f('uq_cases_number'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_unit_id_state', ['unit_id', 'state'], unique=False)

    op.create_table('case_events',
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('actor_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=48), nullable=False),
    sa.Column('from_state', sa.String(length=32), nullable=True),
    sa.Column('to_state', sa.String(length=32), nullable=True),
    sa.Column('details', _JSON, nullable=False),
    sa.Column('touches', _JSON, nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases')),
    sa.PrimaryKeyConstraint('case_id', 'seq', name=op.f('pk_case_events')),
    sa.UniqueConstraint('hash', name=op.f('uq_case_events_hash'))
    )
    op.create_table('case_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('capture_id', sa.String(length=32), nullable=True),
    sa.Column('object_key', sa.String(length=300), nullable=True),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('event_seq', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('capture', 'upload')", name=op.f('ck_case_evidence_kind')),
    sa.ForeignKeyConstraint(['capture_id'], ['captures.id'], name=op.f('fk_case_evidence_capture_id_captures')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_evidence_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_evidence'))
    )
    with op.batch_alter_table('case_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_evidence_case_id'), ['case_id'], unique=False)

    op.create_table('case_parties',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('merchant_id', sa.String(length=32), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('shop_url', sa.Text(), nullable=True),
    sa.Column('platform', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_parties_case_id_cases')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_case_parties_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_parties'))
    )
    with op.batch_alter_table('case_parties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_parties_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_parties_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('case_staff',
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('badge_number', sa.String(length=64), nullable=True),
    sa.CheckConstraint("role IN ('officer', 'reviewer', 'head')", name=op.f('ck_case_staff_role')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_staff_case_id_cases')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_case_staff_user_id_users')),
    sa.PrimaryKeyConstraint('case_id', 'user_id', 'role', name=op.f('pk_case_staff'))
    )
    with op.batch_alter_table('case_staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_staff_user_id'), ['user_id'], unique=False)

    op.create_table('case_documents',
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('document_id', sa.String(length=32), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('event_seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_documents_case_id_cases')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_case_documents_document_id_documents')),
    sa.PrimaryKeyConstraint('case_id', 'document_id', name=op.f('pk_case_documents'))
    )
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_number_prefix', sa.String(length=32), nullable=True))
    append_only.make_append_only(['case_events'])


def downgrade() -> None:
    append_only.undo(['case_events'])
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_column('case_number_prefix')

    op.drop_table('case_documents')
    with op.batch_alter_table('case_staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_staff_user_id'))

    op.drop_table('case_staff')
    with op.batch_alter_table('case_parties', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_parties_merchant_id'))
        batch_op.drop_index(batch_op.f('ix_case_parties_case_id'))

    op.drop_table('case_parties')
    with op.batch_alter_table('case_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_evidence_case_id'))

    op.drop_table('case_evidence')
    op.drop_table('case_events')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_unit_id_state')

    op.drop_table('cases')
    op.drop_table('case_number_sequences')
