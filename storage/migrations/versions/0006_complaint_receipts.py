"""Complaint receipts (only the SHA-256 of the code a complainant holds) and captures queued
from inside a case (linked to the case as evidence, by the package's hash, once stored).

Revision ID: 0006_complaint_receipts
Revises: 0005_cases
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006_complaint_receipts'
down_revision: str | Sequence[str] | None = '0005_cases'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('complaint_receipts',
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_complaint_receipts_case_id_cases')),
    sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_complaint_receipts')),
    sa.UniqueConstraint('case_id', name=op.f('uq_complaint_receipts_case_id'))
    )
    op.create_table('case_capture_requests',
    sa.Column('capture_id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('evidence_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['capture_id'], ['captures.id'], name=op.f('fk_case_capture_requests_capture_id_captures')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_capture_requests_case_id_cases')),
    sa.ForeignKeyConstraint(['evidence_id'], ['case_evidence.id'], name=op.f('fk_case_capture_requests_evidence_id_case_evidence')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_case_capture_requests_requested_by_id_users')),
    sa.PrimaryKeyConstraint('capture_id', name=op.f('pk_case_capture_requests'))
    )
    with op.batch_alter_table('case_capture_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_capture_requests_case_id'), ['case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_capture_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_capture_requests_case_id'))
    op.drop_table('case_capture_requests')
    op.drop_table('complaint_receipts')
