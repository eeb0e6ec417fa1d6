"""The merchant register (room: register): entries, their platform shops, the name bigrams
and their counts the look-up searches by, the imports and the append-only change log; and an
index on case parties' credit codes (a party's earlier cases are found by it).

Revision ID: 0010_merchant_register
Revises: 0009_case_document_cursors
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.migrations import append_only

revision: str = "0010_merchant_register"
down_revision: str | Sequence[str] | None = "0009_case_document_cursors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "register_gram_counts",
        sa.Column("gram", sa.String(length=2), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("gram", name=op.f("pk_register_gram_counts")),
    )
    op.create_table(
        "register_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("bad", sa.Integer(), nullable=False),
        sa.Column(
            "problems",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_imports")),
    )
    op.create_table(
        "register_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("legal_representative", sa.String(length=100), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column(
            "licences",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_import_id", sa.Integer(), nullable=True),
        sa.Column("updated_import_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_import_id"],
            ["register_imports.id"],
            name=op.f("fk_register_entries_created_import_id_register_imports"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_import_id"],
            ["register_imports.id"],
            name=op.f("fk_register_entries_updated_import_id_register_imports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_entries")),
        sa.UniqueConstraint("credit_code", name=op.f("uq_register_entries_credit_code")),
    )
    op.create_index(
        op.f("ix_register_entries_name_key"), "register_entries", ["name_key"], unique=False
    )
    op.create_table(
        "register_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["register_entries.id"],
            name=op.f("fk_register_changes_entry_id_register_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["register_imports.id"],
            name=op.f("fk_register_changes_import_id_register_imports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_changes")),
    )
    op.create_index(
        op.f("ix_register_changes_entry_id"), "register_changes", ["entry_id"], unique=False
    )
    op.create_index(
        op.f("ix_register_changes_import_id"), "register_changes", ["import_id"], unique=False
    )
    op.create_table(
        "register_name_grams",
        sa.Column("gram", sa.String(length=2), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["register_entries.id"],
            name=op.f("fk_register_name_grams_entry_id_register_entries"),
        ),
        sa.PrimaryKeyConstraint("gram", "entry_id", name=op.f("pk_register_name_grams")),
    )
    op.create_table(
        "register_shops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=100), nullable=True),
        sa.Column("shop_url", sa.Text(), nullable=True),
        sa.Column("url_key", sa.String(length=1000), nullable=True),
        sa.Column("shop_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["register_entries.id"],
            name=op.f("fk_register_shops_entry_id_register_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_shops")),
        sa.UniqueConstraint("url_key", name=op.f("uq_register_shops_url_key")),
    )
    op.create_index(
        op.f("ix_register_shops_entry_id"), "register_shops", ["entry_id"], unique=False
    )
    op.create_index(
        "ix_register_shops_shop_id_platform",
        "register_shops",
        ["shop_id", "platform"],
        unique=False,
    )
    op.create_index("ix_case_parties_credit_code", "case_parties", ["credit_code"], unique=False)
    append_only.make_append_only(["register_changes"])


def downgrade() -> None:
    append_only.undo(["register_changes"])
    op.drop_index("ix_case_parties_credit_code", table_name="case_parties")
    op.drop_index("ix_register_shops_shop_id_platform", table_name="register_shops")
    op.drop_index(op.f("ix_register_shops_entry_id"), table_name="register_shops")
    op.drop_table("register_shops")
    op.drop_table("register_name_grams")
    op.drop_index(op.f("ix_register_changes_import_id"), table_name="register_changes")
    op.drop_index(op.f("ix_register_changes_entry_id"), table_name="register_changes")
    op.drop_table("register_changes")
    op.drop_index(op.f("ix_register_entries_name_key"), table_name="register_entries")
    op.drop_table("register_entries")
    op.drop_table("register_imports")
    op.drop_table("register_gram_counts")
