"""points ledger and accounts, member tier validity and birthday

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:11:51.447561
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('points_accounts',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('balance', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('balance >= 0', name=op.f('ck_points_accounts_balance_not_negative')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_points_accounts_customer_id_customers')),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_points_accounts'))
    )
    op.create_table('points_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=True),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('yuan', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('shortfall', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("amount <> 0 OR kind IN ('earn', 'reverse')", name=op.f('ck_points_entries_amount_not_zero')),
    sa.CheckConstraint("kind IN ('earn', 'redeem', 'reverse', 'return', 'expire', 'adjust')", name=op.f('ck_points_entries_kind')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_points_entries_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_entries')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_points_entries_idempotency_key'))
    )
    with op.batch_alter_table('points_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_points_entries_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_points_entries_ref'), ['ref'], unique=False)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tier_since', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('birthday', sa.Date(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('birthday')
        batch_op.drop_column('tier_since')

    with op.batch_alter_table('points_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_points_entries_ref'))
        batch_op.drop_index(batch_op.f('ix_points_entries_customer_id'))

    op.drop_table('points_entries')
    op.drop_table('points_accounts')
