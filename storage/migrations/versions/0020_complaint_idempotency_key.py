"""A complaint's form key is unique among cases without an opener: the public complaint form
sent again (a lost reply, the back button) finds the complaint instead of making a second.

Revision ID: 0020_complaint_idempotency_key
Revises: 0019_case_idempotency_key
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_complaint_idempotency_key"
down_revision: str | Sequence[str] | None = "0019_case_idempotency_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A partial unique index (both databases have them): the opener's index lets NULLs repeat.
    op.create_index(
        "ix_cases_complaint_idempotency_key",
        "cases",
        ["idempotency_key"],
        unique=True,
        sqlite_where=sa.text("created_by_id IS NULL"),
        postgresql_where=sa.text("created_by_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_complaint_idempotency_key", table_name="cases")
