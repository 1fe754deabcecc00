"""coupons

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 17:12:25.751022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('coupons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('type_id', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('face_value_yuan', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('discount_rate', sa.Numeric(precision=4, scale=3), nullable=True),
    sa.Column('max_discount_yuan', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('threshold_yuan', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('redeemed_order_no', sa.String(length=40), nullable=True),
    sa.Column('redeemed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('redeemed_discount_yuan', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('issued', 'redeemed', 'expired', 'void')", name=op.f('ck_coupons_status')),
    sa.CheckConstraint('valid_until >= valid_from', name=op.f('ck_coupons_validity')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_coupons_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupons')),
    sa.UniqueConstraint('code', name=op.f('uq_coupons_code')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_coupons_idempotency_key'))
    )
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coupons_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_coupons_redeemed_order_no'), ['redeemed_order_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_coupons_valid_until'), ['valid_until'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coupons_valid_until'))
        batch_op.drop_index(batch_op.f('ix_coupons_redeemed_order_no'))
        batch_op.drop_index(batch_op.f('ix_coupons_customer_id'))

    op.drop_table('coupons')
