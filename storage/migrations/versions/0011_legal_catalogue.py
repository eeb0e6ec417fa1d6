"""Legal catalogue versions: each unit's legal-basis and discretion catalogue, one append-only
row per version (workflow/legal; room legal).

Revision ID: 0011_legal_catalogue
Revises: 0010_merchant_register
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations import append_only

revision: str = "0011_legal_catalogue"
down_revision: str | Sequence[str] | None = "0010_merchant_register"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "legal_catalogue_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "catalogue",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_legal_catalogue_versions_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_catalogue_versions")),
        sa.UniqueConstraint("unit_id", "version", name=op.f("uq_legal_catalogue_versions_unit_id")),
    )
    with op.batch_alter_table("legal_catalogue_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_legal_catalogue_versions_unit_id"), ["unit_id"], unique=False
        )
    append_only.make_append_only(["legal_catalogue_versions"])


def downgrade() -> None:
    append_only.undo(["legal_catalogue_versions"])
    with op.batch_alter_table("legal_catalogue_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_catalogue_versions_unit_id"))
    op.drop_table("legal_catalogue_versions")
