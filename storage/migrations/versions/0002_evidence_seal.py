"""Evidence seal: transparency log (leaves, subtree cache, signed tree heads) and the capture's
manifest, certificate, proofs sidecar, log entry and public verification code.

Revision ID: 0002_evidence_seal
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002_evidence_seal'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('log_nodes',
    sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('node_index', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('level', 'node_index', name=op.f('pk_log_nodes'))
    )
    op.create_table('log_tree_heads',
    sa.Column('tree_size', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sth', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('tree_size', name=op.f('pk_log_tree_heads'))
    )
    op.create_index(op.f('ix_log_tree_heads_published_at'), 'log_tree_heads', ['published_at'], unique=False)

    op.create_table('log_leaves',
    sa.Column('leaf_index', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('leaf_hash', sa.String(length=64), nullable=False),
    sa.Column('leaf_input', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('capture_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['capture_id'], ['captures.id'], name=op.f('fk_log_leaves_capture_id_captures')),
    sa.PrimaryKeyConstraint('leaf_index', name=op.f('pk_log_leaves')),
    sa.UniqueConstraint('capture_id', name=op.f('uq_log_leaves_capture_id')),
    sa.UniqueConstraint('leaf_hash', name=op.f('uq_log_leaves_leaf_hash'))
    )

    # Plain ADD COLUMN on both databases (nullable, no constraint: no table rebuild on SQLite).
    op.add_column('captures', sa.Column('manifest_sha256', sa.String(length=64), nullable=True))
    op.add_column('captures', sa.Column('manifest_key', sa.String(length=128), nullable=True))
    op.add_column('captures', sa.Column('certificate_key', sa.String(length=128), nullable=True))
    op.add_column('captures', sa.Column('proofs_key', sa.String(length=128), nullable=True))
    op.add_column('captures', sa.Column('log_leaf_index', sa.Integer(), nullable=True))
    op.add_column('captures', sa.Column('verify_code', sa.String(length=32), nullable=True))
    op.add_column('captures', sa.Column('seal_expires_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f('ix_captures_verify_code'), 'captures', ['verify_code'], unique=True)
    op.create_index(op.f('ix_captures_seal_expires_at'), 'captures', ['seal_expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_captures_seal_expires_at'), table_name='captures')
    op.drop_index(op.f('ix_captures_verify_code'), table_name='captures')
    with op.batch_alter_table('captures', schema=None) as batch_op:
        batch_op.drop_column('seal_expires_at')
        batch_op.drop_column('verify_code')
        batch_op.drop_column('log_leaf_index')
        batch_op.drop_column('proofs_key')
        batch_op.drop_column('certificate_key')
        batch_op.drop_column('manifest_key')
        batch_op.drop_column('manifest_sha256')

    op.drop_table('log_leaves')
    op.drop_index(op.f('ix_log_tree_heads_published_at'), table_name='log_tree_heads')
    op.drop_table('log_tree_heads')
    op.drop_table('log_nodes')
