"""Merchant portal: enforcement units (users.unit_id), merchant accounts, one-time setup codes,
merchant sessions, login throttling, served documents with immutable versions and attachments,
and the append-only portal audit trail.

Revision ID: 0003_portal
Revises: 0002_evidence_seal
Create Date: 2026-11-29

``portal_audit`` and ``document_versions`` are append-only in the database too: triggers refuse
UPDATE and DELETE on both SQLite and PostgreSQL (the ORM refuses them first, see
``storage.models``). ``users.unit_id`` is added with a plain ``ADD COLUMN ... REFERENCES`` on
SQLite: a batch rebuild of ``users`` would drop a table other tables point at, which SQLite
refuses with foreign keys on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.migrations import append_only
from sqlalchemy.dialects import postgresql

revision: str = '0003_portal'
down_revision: str | Sequence[str] | None = '0002_evidence_seal'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
_APPEND_ONLY = ('portal_audit', 'document_versions')


def upgrade() -> None:
    op.create_table('units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('seal_serial', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_units')),
    sa.UniqueConstraint('name', name=op.f('uq_units_name'))
    )
    op.create_table('auth_throttles',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_auth_throttles'))
    )
    op.create_table('portal_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=48), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('merchant_id', sa.String(length=32), nullable=True),
    sa.Column('document_id', sa.String(length=32), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.Column('auth_method', sa.String(length=48), nullable=True),
    sa.Column('sha256_before', sa.String(length=64), nullable=True),
    sa.Column('sha256_after', sa.String(length=64), nullable=True),
    sa.Column('details', _JSON, nullable=False),
    sa.CheckConstraint("actor_type IN ('officer', 'merchant', 'system')", name=op.f('ck_portal_audit_actor_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_audit'))
    )
    op.create_index(op.f('ix_portal_audit_document_id'), 'portal_audit', ['document_id'], unique=False)
    op.create_index(op.f('ix_portal_audit_merchant_id'), 'portal_audit', ['merchant_id'], unique=False)
    op.create_index(op.f('ix_portal_audit_unit_id'), 'portal_audit', ['unit_id'], unique=False)

    op.create_table('merchants',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('contact_email', sa.String(length=320), nullable=True),
    sa.Column('contact_phone', sa.String(length=40), nullable=True),
    sa.Column('cert_serial', sa.String(length=64), nullable=True),
    sa.Column('consent_signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('invited', 'active', 'disabled')", name=op.f('ck_merchants_status')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_merchants_created_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_merchants_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merchants')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_merchants_credit_code'))
    )
    op.create_index(op.f('ix_merchants_unit_id'), 'merchants', ['unit_id'], unique=False)

    op.create_table('documents',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('data', _JSON, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('parent_id', sa.String(length=32), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('served_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('served_by_id', sa.Integer(), nullable=True),
    sa.Column('first_opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_opened_ip', sa.String(length=64), nullable=True),
    sa.Column('first_opened_user_agent', sa.Text(), nullable=True),
    sa.Column('merchant_signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('notice', 'address_confirmation', 'statement', 'proof_of_service')", name=op.f('ck_documents_kind')),
    sa.CheckConstraint("status IN ('draft', 'signed', 'served', 'acknowledged')", name=op.f('ck_documents_status')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_documents_created_by_id_users')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_documents_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['parent_id'], ['documents.id'], name=op.f('fk_documents_parent_id_documents')),
    sa.ForeignKeyConstraint(['served_by_id'], ['users.id'], name=op.f('fk_documents_served_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_documents_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents'))
    )
    op.create_index(op.f('ix_documents_merchant_id'), 'documents', ['merchant_id'], unique=False)
    op.create_index(op.f('ix_documents_parent_id'), 'documents', ['parent_id'], unique=False)
    op.create_index('ix_documents_unit_id_created_at', 'documents', ['unit_id', 'created_at'], unique=False)

    op.create_table('merchant_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('merchant_id', sa.String(length=32), nullable=False),
    sa.Column('password_version', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_merchant_sessions_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merchant_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_merchant_sessions_token_hash'))
    )
    op.create_index(op.f('ix_merchant_sessions_merchant_id'), 'merchant_sessions', ['merchant_id'], unique=False)

    op.create_table('merchant_setup_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.String(length=32), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_merchant_setup_codes_created_by_id_users')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_merchant_setup_codes_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merchant_setup_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_merchant_setup_codes_code_hash'))
    )
    op.create_index(op.f('ix_merchant_setup_codes_merchant_id'), 'merchant_setup_codes', ['merchant_id'], unique=False)

    op.create_table('document_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.String(length=32), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('object_key', sa.String(length=128), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_attachments_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_attachments'))
    )
    op.create_index(op.f('ix_document_attachments_document_id'), 'document_attachments', ['document_id'], unique=False)

    op.create_table('document_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('object_key', sa.String(length=128), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('signer_subject', sa.Text(), nullable=True),
    sa.Column('signer_serial', sa.String(length=64), nullable=True),
    sa.Column('signing_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('level', sa.String(length=8), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('rendered', 'unit-signed', 'merchant-signed', 'merchant-uploaded')", name=op.f('ck_document_versions_kind')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_versions_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_versions')),
    sa.UniqueConstraint('document_id', 'seq', name=op.f('uq_document_versions_document_id'))
    )
    op.create_index(op.f('ix_document_versions_document_id'), 'document_versions', ['document_id'], unique=False)

    if op.get_context().dialect.name == 'sqlite':
        op.execute(
            'ALTER TABLE users ADD COLUMN unit_id INTEGER '
            'CONSTRAINT fk_users_unit_id_units REFERENCES units (id)'
        )
    else:
        op.add_column('users', sa.Column('unit_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_users_unit_id_units'), 'users', 'units', ['unit_id'], ['id'])
    op.create_index(op.f('ix_users_unit_id'), 'users', ['unit_id'], unique=False)

    append_only.create_refuse_function()
    append_only.make_append_only(_APPEND_ONLY)


def downgrade() -> None:
    append_only.undo(_APPEND_ONLY)
    append_only.drop_refuse_function()

    op.drop_index(op.f('ix_users_unit_id'), table_name='users')
    if op.get_context().dialect.name == 'sqlite':
        op.execute('ALTER TABLE users DROP COLUMN unit_id')
    else:
        op.drop_constraint(op.f('fk_users_unit_id_units'), 'users', type_='foreignkey')
        op.drop_column('users', 'unit_id')

    op.drop_index(op.f('ix_document_versions_document_id'), table_name='document_versions')
    op.drop_table('document_versions')
    op.drop_index(op.f('ix_document_attachments_document_id'), table_name='document_attachments')
    op.drop_table('document_attachments')
    op.drop_index(op.f('ix_merchant_setup_codes_merchant_id'), table_name='merchant_setup_codes')
    op.drop_table('merchant_setup_codes')
    op.drop_index(op.f('ix_merchant_sessions_merchant_id'), table_name='merchant_sessions')
    op.drop_table('merchant_sessions')
    op.drop_index('ix_documents_unit_id_created_at', table_name='documents')
    op.drop_index(op.f('ix_documents_parent_id'), table_name='documents')
    op.drop_index(op.f('ix_documents_merchant_id'), table_name='documents')
    op.drop_table('documents')
    op.drop_index(op.f('ix_merchants_unit_id'), table_name='merchants')
    op.drop_table('merchants')
    op.drop_index(op.f('ix_portal_audit_unit_id'), table_name='portal_audit')
    op.drop_index(op.f('ix_portal_audit_merchant_id'), table_name='portal_audit')
    op.drop_index(op.f('ix_portal_audit_document_id'), table_name='portal_audit')
    op.drop_table('portal_audit')
    op.drop_table('auth_throttles')
    op.drop_table('units')
