"""Comparisons of two sealed captures (the signed report and highlighted screenshots in the
store, the report's facts here), append-only.

Revision ID: 0015_capture_comparisons
Revises: 0014_capture_watches
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations import append_only

revision: str = "0015_capture_comparisons"
down_revision: str | Sequence[str] | None = "0014_capture_watches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "capture_comparisons",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("a_capture_id", sa.String(length=32), nullable=False),
        sa.Column("b_capture_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("report_key", sa.String(length=128), nullable=False),
        sa.Column("report_sha256", sa.String(length=64), nullable=False),
        sa.Column("highlight_a_key", sa.String(length=128), nullable=True),
        sa.Column("highlight_b_key", sa.String(length=128), nullable=True),
        sa.Column("summary", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["a_capture_id"],
            ["captures.id"],
            name=op.f("fk_capture_comparisons_a_capture_id_captures"),
        ),
        sa.ForeignKeyConstraint(
            ["b_capture_id"],
            ["captures.id"],
            name=op.f("fk_capture_comparisons_b_capture_id_captures"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_capture_comparisons_created_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture_comparisons")),
    )
    op.create_index(
        op.f("ix_capture_comparisons_a_capture_id"),
        "capture_comparisons",
        ["a_capture_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_capture_comparisons_b_capture_id"),
        "capture_comparisons",
        ["b_capture_id"],
        unique=False,
    )
    append_only.make_append_only(["capture_comparisons"])


def downgrade() -> None:
    append_only.undo(["capture_comparisons"])
    op.drop_index(op.f("ix_capture_comparisons_b_capture_id"), table_name="capture_comparisons")
    op.drop_index(op.f("ix_capture_comparisons_a_capture_id"), table_name="capture_comparisons")
    op.drop_table("capture_comparisons")
