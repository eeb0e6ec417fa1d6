"""The idempotency key of the request that opened a case (a lead) and what it asked: a retry
finds the case.

Revision ID: 0019_case_idempotency_key
Revises: 0018_document_idempotency_key
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_case_idempotency_key"
down_revision: str | Sequence[str] | None = "0018_document_idempotency_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN and CREATE UNIQUE INDEX on both databases (no table rebuild on SQLite).
    op.add_column("cases", sa.Column("idempotency_key", sa.String(length=128), nullable=True))
    op.add_column("cases", sa.Column("request_digest", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_cases_created_by_id_idempotency_key",
        "cases",
        ["created_by_id", "idempotency_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_cases_created_by_id_idempotency_key", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("request_digest")
        batch.drop_column("idempotency_key")
