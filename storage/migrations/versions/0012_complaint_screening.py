"""Complaint screening (room: screening): each complaint's profile and keys (identifiers and
its text's bottom-k sketch, looked up by kind and value) and every screening made, append-only.

Revision ID: 0012_complaint_screening
Revises: 0011_legal_catalogue
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations import append_only

revision: str = "0012_complaint_screening"
down_revision: str | Sequence[str] | None = "0011_legal_catalogue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "complaint_profiles",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=True),
        sa.Column("merchant_key", sa.String(length=300), nullable=False),
        sa.Column("folded", sa.Text(), nullable=False),
        sa.Column("purchased_on", sa.Date(), nullable=True),
        sa.Column("index_version", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_complaint_profiles_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_complaint_profiles_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_complaint_profiles")),
    )
    op.create_index(
        op.f("ix_complaint_profiles_received_at"),
        "complaint_profiles",
        ["received_at"],
        unique=False,
    )
    op.create_table(
        "complaint_keys",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["complaint_profiles.case_id"],
            name=op.f("fk_complaint_keys_case_id_complaint_profiles"),
        ),
        sa.PrimaryKeyConstraint("case_id", "kind", "value", name=op.f("pk_complaint_keys")),
    )
    op.create_index(
        "ix_complaint_keys_kind_value", "complaint_keys", ["kind", "value"], unique=False
    )
    op.create_table(
        "complaint_screenings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("flag_score", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("facts", _JSON, nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("screened_by", sa.String(length=200), nullable=False),
        sa.Column("screened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_complaint_screenings_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_complaint_screenings_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_screenings")),
    )
    op.create_index(
        op.f("ix_complaint_screenings_case_id"), "complaint_screenings", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_complaint_screenings_screened_at"),
        "complaint_screenings",
        ["screened_at"],
        unique=False,
    )
    append_only.make_append_only(["complaint_screenings"])


def downgrade() -> None:
    append_only.undo(["complaint_screenings"])
    op.drop_index(op.f("ix_complaint_screenings_screened_at"), table_name="complaint_screenings")
    op.drop_index(op.f("ix_complaint_screenings_case_id"), table_name="complaint_screenings")
    op.drop_table("complaint_screenings")
    op.drop_index("ix_complaint_keys_kind_value", table_name="complaint_keys")
    op.drop_table("complaint_keys")
    op.drop_index(op.f("ix_complaint_profiles_received_at"), table_name="complaint_profiles")
    op.drop_table("complaint_profiles")
