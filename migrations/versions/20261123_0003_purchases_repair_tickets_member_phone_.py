"""purchases, repair tickets, member phone and tier

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 16:43:20.029852
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('purchases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_no', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('member_phone', sa.String(length=20), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('sku', sa.String(length=32), nullable=False),
    sa.Column('price_yuan', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('store_id', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_purchases_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchases')),
    sa.UniqueConstraint('order_no', name=op.f('uq_purchases_order_no'))
    )
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purchases_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_purchases_member_phone'), ['member_phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_purchases_sku'), ['sku'], unique=False)

    op.create_table('repair_tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=32), nullable=False),
    sa.Column('product_name', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    sa.Column('fault', sa.Text(), nullable=False),
    sa.Column('priority', sa.Boolean(), nullable=False),
    sa.Column('proof_kind', sa.String(length=16), nullable=False),
    sa.Column('proof_ref', sa.String(length=64), nullable=True),
    sa.Column('purchase_id', sa.Integer(), nullable=True),
    sa.Column('warranty_start', sa.Date(), nullable=True),
    sa.Column('in_warranty', sa.Boolean(), nullable=True),
    sa.Column('warranty_reason', sa.Text(), nullable=False),
    sa.Column('exclusions', sa.JSON(), nullable=False),
    sa.Column('fee_estimate', sa.JSON(), nullable=False),
    sa.Column('contact_phone', sa.String(length=20), nullable=False),
    sa.Column('service_method', sa.String(length=8), nullable=False),
    sa.Column('store_id', sa.String(length=16), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('diagnosis', sa.Text(), nullable=True),
    sa.Column('quote_yuan', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_asked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_repair_tickets_customer_id_customers')),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_repair_tickets_purchase_id_purchases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repair_tickets')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_repair_tickets_idempotency_key')),
    sa.UniqueConstraint('number', name=op.f('uq_repair_tickets_number'))
    )
    with op.batch_alter_table('repair_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repair_tickets_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_repair_tickets_state'), ['state'], unique=False)

    op.create_table('ticket_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=True),
    sa.Column('to_state', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['repair_tickets.id'], name=op.f('fk_ticket_events_ticket_id_repair_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_events'))
    )
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_events_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('ticket_follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['repair_tickets.id'], name=op.f('fk_ticket_follow_ups_ticket_id_repair_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_follow_ups')),
    sa.UniqueConstraint('ticket_id', name=op.f('uq_ticket_follow_ups_ticket_id'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('tier', sa.String(length=10), server_default='普通会员', nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_customers_phone'), ['phone'])



def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_customers_phone'), type_='unique')
        batch_op.drop_column('tier')
        batch_op.drop_column('phone')

    op.drop_table('ticket_follow_ups')
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_events_ticket_id'))

    op.drop_table('ticket_events')
    with op.batch_alter_table('repair_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repair_tickets_state'))
        batch_op.drop_index(batch_op.f('ix_repair_tickets_customer_id'))

    op.drop_table('repair_tickets')
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purchases_sku'))
        batch_op.drop_index(batch_op.f('ix_purchases_member_phone'))
        batch_op.drop_index(batch_op.f('ix_purchases_customer_id'))

    op.drop_table('purchases')
