"""Payments and publicity: payment notices (the payment number), approved deferrals and
instalment plans, orders, every callback received (counted or refused, with its raw body),
sealed receipts, and the published (redacted) penalty decisions with their publicity period.

Revision ID: 0007_payments_publicity
Revises: 0006_complaint_receipts
Create Date: 2026-12-06

``payment_arrangements``, ``payment_callbacks`` and ``payment_receipts`` get the append-only
triggers of 0003_portal/0005_cases (on PostgreSQL through ``evidence_refuse_change()``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.migrations import append_only
from sqlalchemy.dialects import postgresql

revision: str = '0007_payments_publicity'
down_revision: str | Sequence[str] | None = '0006_complaint_receipts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
_APPEND_ONLY = ('payment_arrangements', 'payment_callbacks', 'payment_receipts')


def upgrade() -> None:
    op.create_table('payment_callbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=True),
    sa.Column('order_id', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.CheckConstraint("outcome IN ('accepted', 'duplicate', 'refused')", name=op.f('ck_payment_callbacks_outcome')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_callbacks')),
    sa.UniqueConstraint('channel', 'nonce', name=op.f('uq_payment_callbacks_channel'))
    )
    with op.batch_alter_table('payment_callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_callbacks_order_id'), ['order_id'], unique=False)

    op.create_table('payment_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('decision_number', sa.String(length=64), nullable=False),
    sa.Column('party_name', sa.String(length=200), nullable=False),
    sa.Column('fine_fen', sa.BigInteger(), nullable=False),
    sa.Column('served_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_payment_notices_case_id_cases')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_payment_notices_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_notices')),
    sa.UniqueConstraint('case_id', name=op.f('uq_payment_notices_case_id')),
    sa.UniqueConstraint('number', name=op.f('uq_payment_notices_number'))
    )
    op.create_table('publicity_entries',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('decision_number', sa.String(length=64), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('published_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('period_rule', sa.String(length=64), nullable=False),
    sa.Column('period_years', sa.Integer(), nullable=False),
    sa.Column('content', _JSON, nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('taken_down_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_publicity_entries_case_id_cases')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_publicity_entries_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publicity_entries')),
    sa.UniqueConstraint('case_id', name=op.f('uq_publicity_entries_case_id'))
    )
    with op.batch_alter_table('publicity_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publicity_entries_last_day'), ['last_day'], unique=False)

    op.create_table('payment_arrangements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('schedule', _JSON, nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=False),
    sa.Column('approved_by_name', sa.String(length=200), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('deferral', 'instalments', 'partial')", name=op.f('ck_payment_arrangements_kind')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_payment_arrangements_approved_by_id_users')),
    sa.ForeignKeyConstraint(['notice_id'], ['payment_notices.id'], name=op.f('fk_payment_arrangements_notice_id_payment_notices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_arrangements'))
    )
    with op.batch_alter_table('payment_arrangements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_arrangements_notice_id'), ['notice_id'], unique=False)

    op.create_table('payment_orders',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('arrangement_id', sa.Integer(), nullable=True),
    sa.Column('instalment', sa.Integer(), nullable=True),
    sa.Column('principal_fen', sa.BigInteger(), nullable=False),
    sa.Column('surcharge_fen', sa.BigInteger(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('channel_order_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('txn_id', sa.String(length=64), nullable=True),
    sa.Column('case_recorded', sa.Boolean(), nullable=False),
    sa.Column('case_note', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('created', 'paid')", name=op.f('ck_payment_orders_status')),
    sa.ForeignKeyConstraint(['arrangement_id'], ['payment_arrangements.id'], name=op.f('fk_payment_orders_arrangement_id_payment_arrangements')),
    sa.ForeignKeyConstraint(['notice_id'], ['payment_notices.id'], name=op.f('fk_payment_orders_notice_id_payment_notices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_orders')),
    sa.UniqueConstraint('channel', 'txn_id', name=op.f('uq_payment_orders_channel'))
    )
    with op.batch_alter_table('payment_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_orders_notice_id'), ['notice_id'], unique=False)

    op.create_table('payment_receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('object_key', sa.String(length=128), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('signer_serial', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['payment_orders.id'], name=op.f('fk_payment_receipts_order_id_payment_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_receipts')),
    sa.UniqueConstraint('order_id', name=op.f('uq_payment_receipts_order_id'))
    )
    append_only.make_append_only(_APPEND_ONLY)


def downgrade() -> None:
    append_only.undo(_APPEND_ONLY)
    op.drop_table('payment_receipts')
    with op.batch_alter_table('payment_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_orders_notice_id'))

    op.drop_table('payment_orders')
    with op.batch_alter_table('payment_arrangements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_arrangements_notice_id'))

    op.drop_table('payment_arrangements')
    with op.batch_alter_table('publicity_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publicity_entries_last_day'))

    op.drop_table('publicity_entries')
    op.drop_table('payment_notices')
    with op.batch_alter_table('payment_callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_callbacks_order_id'))

    op.drop_table('payment_callbacks')
