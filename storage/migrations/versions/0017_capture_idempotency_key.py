"""The idempotency key of the request that made a capture: a client's retry finds it.

Revision ID: 0017_capture_idempotency_key
Revises: 0016_capture_video
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_capture_idempotency_key"
down_revision: str | Sequence[str] | None = "0016_capture_video"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN and CREATE UNIQUE INDEX on both databases (no table rebuild on SQLite).
    op.add_column("captures", sa.Column("idempotency_key", sa.String(length=128), nullable=True))
    op.create_index(
        "ix_captures_created_by_id_idempotency_key",
        "captures",
        ["created_by_id", "idempotency_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_captures_created_by_id_idempotency_key", table_name="captures")
    with op.batch_alter_table("captures") as batch:
        batch.drop_column("idempotency_key")
