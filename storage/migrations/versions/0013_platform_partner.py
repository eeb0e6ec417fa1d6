"""The platform as a partner: platform portal accounts and the requests a case sends them.

Revision ID: 0013_platform_partner
Revises: 0012_complaint_screening
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_platform_partner"
down_revision: str | Sequence[str] | None = "0012_complaint_screening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platform_accounts",
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("platform_name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_platform_accounts_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_platform_accounts")),
    )
    op.create_table(
        "platform_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("platform_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("listing_url", sa.Text(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence_id", sa.Integer(), nullable=True),
        sa.Column("capture_id", sa.String(length=32), nullable=True),
        sa.Column("recheck", sa.String(length=16), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('assistance', 'takedown')", name=op.f("ck_platform_requests_kind")
        ),
        sa.CheckConstraint(
            "state IN ('sending', 'served', 'answered', 'confirmed', 'checked')",
            name=op.f("ck_platform_requests_state"),
        ),
        sa.CheckConstraint(
            "recheck IS NULL OR recheck IN ('gone', 'not_found', 'still_there')",
            name=op.f("ck_platform_requests_recheck"),
        ),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["captures.id"], name=op.f("fk_platform_requests_capture_id_captures")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_platform_requests_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_platform_requests_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_platform_requests_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["case_evidence.id"],
            name=op.f("fk_platform_requests_evidence_id_case_evidence"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["merchants.id"],
            name=op.f("fk_platform_requests_platform_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_requests")),
    )
    op.create_index(
        op.f("ix_platform_requests_case_id"), "platform_requests", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_platform_requests_platform_id"), "platform_requests", ["platform_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_platform_requests_platform_id"), table_name="platform_requests")
    op.drop_index(op.f("ix_platform_requests_case_id"), table_name="platform_requests")
    op.drop_table("platform_requests")
    op.drop_table("platform_accounts")
