"""Case document cursors: which cases the worker's housekeeping has worked through for the
documents they owe (generated from the case by workflow.cases.documents).

Revision ID: 0009_case_document_cursors
Revises: 0008_documents_without_account
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_case_document_cursors'
down_revision: str | Sequence[str] | None = '0008_documents_without_account'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('case_document_cursors',
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('checked_events', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_document_cursors_case_id_cases')),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_case_document_cursors'))
    )


def downgrade() -> None:
    op.drop_table('case_document_cursors')
