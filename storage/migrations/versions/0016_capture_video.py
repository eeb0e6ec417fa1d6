"""The session video of a capture: its stored object.

Revision ID: 0016_capture_video
Revises: 0015_capture_comparisons
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_capture_video"
down_revision: str | Sequence[str] | None = "0015_capture_comparisons"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("captures", sa.Column("video_key", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("captures") as batch:
        batch.drop_column("video_key")
