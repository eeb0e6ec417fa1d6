"""Watching a URL until it is corrected: watches, their runs (each a sealed capture), and an
optional e-mail address on accounts for the notice when a watch's condition is met.

Revision ID: 0014_capture_watches
Revises: 0013_platform_partner
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_capture_watches"
down_revision: str | Sequence[str] | None = "0013_platform_partner"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email", sa.String(length=320), nullable=True))
    op.create_table(
        "capture_watches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("first_capture_id", sa.String(length=32), nullable=True),
        sa.Column("interval_hours", sa.Float(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("condition", sa.String(length=16), nullable=False),
        sa.Column("condition_text", sa.Text(), nullable=True),
        sa.Column("condition_status", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("runs_started", sa.Integer(), nullable=False),
        sa.Column("met_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("met_capture_id", sa.String(length=32), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notify_error", sa.Text(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "condition IN ('text_gone', 'text_present', 'status', 'redirected', 'none')",
            name=op.f("ck_capture_watches_condition"),
        ),
        sa.CheckConstraint(
            "state IN ('active', 'met', 'ended', 'stopped')",
            name=op.f("ck_capture_watches_state"),
        ),
        sa.CheckConstraint("interval_hours > 0", name=op.f("ck_capture_watches_interval_hours")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_capture_watches_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_capture_watches_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["first_capture_id"],
            ["captures.id"],
            name=op.f("fk_capture_watches_first_capture_id_captures"),
        ),
        sa.ForeignKeyConstraint(
            ["met_capture_id"],
            ["captures.id"],
            name=op.f("fk_capture_watches_met_capture_id_captures"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_capture_watches_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture_watches")),
    )
    op.create_index(
        op.f("ix_capture_watches_case_id"), "capture_watches", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_capture_watches_unit_id"), "capture_watches", ["unit_id"], unique=False
    )
    op.create_index(
        "ix_capture_watches_state_next_run_at",
        "capture_watches",
        ["state", "next_run_at"],
        unique=False,
    )
    op.create_table(
        "watch_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("watch_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("capture_id", sa.String(length=32), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("final_url", sa.Text(), nullable=True),
        sa.Column("redirected", sa.Boolean(), nullable=True),
        sa.Column("text_sha256", sa.String(length=64), nullable=True),
        sa.Column("text_changed", sa.Boolean(), nullable=True),
        sa.Column("condition_met", sa.Boolean(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'capturing', 'done', 'failed')",
            name=op.f("ck_watch_runs_state"),
        ),
        sa.ForeignKeyConstraint(
            ["capture_id"], ["captures.id"], name=op.f("fk_watch_runs_capture_id_captures")
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["case_evidence.id"],
            name=op.f("fk_watch_runs_evidence_id_case_evidence"),
        ),
        sa.ForeignKeyConstraint(
            ["watch_id"],
            ["capture_watches.id"],
            name=op.f("fk_watch_runs_watch_id_capture_watches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_runs")),
        sa.UniqueConstraint("capture_id", name=op.f("uq_watch_runs_capture_id")),
        sa.UniqueConstraint("watch_id", "seq", name=op.f("uq_watch_runs_watch_id")),
    )
    op.create_index("ix_watch_runs_state", "watch_runs", ["state"], unique=False)
    op.create_index(op.f("ix_watch_runs_watch_id"), "watch_runs", ["watch_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_watch_runs_watch_id"), table_name="watch_runs")
    op.drop_index("ix_watch_runs_state", table_name="watch_runs")
    op.drop_table("watch_runs")
    op.drop_index("ix_capture_watches_state_next_run_at", table_name="capture_watches")
    op.drop_index(op.f("ix_capture_watches_unit_id"), table_name="capture_watches")
    op.drop_index(op.f("ix_capture_watches_case_id"), table_name="capture_watches")
    op.drop_table("capture_watches")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email")
