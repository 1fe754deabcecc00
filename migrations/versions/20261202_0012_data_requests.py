"""data_requests: customers' requests for a copy (approved by an admin) or erasure of their data

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'data_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('channel', sa.String(length=12), nullable=False),
        sa.Column('requested_by', sa.String(length=64), nullable=False),
        sa.Column('decided_by', sa.String(length=64), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('available_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('downloads', sa.Integer(), server_default='0', nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('export', 'erasure')", name=op.f('ck_data_requests_kind')
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'refused', 'cancelled', 'done')",
            name=op.f('ck_data_requests_status'),
        ),
        sa.ForeignKeyConstraint(
            ['customer_id'],
            ['customers.id'],
            name=op.f('fk_data_requests_customer_id_customers'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_data_requests')),
    )
    op.create_index(op.f('ix_data_requests_customer_id'), 'data_requests', ['customer_id'])
    op.create_index(op.f('ix_data_requests_status'), 'data_requests', ['status'])


def downgrade() -> None:
    op.drop_index(op.f('ix_data_requests_status'), table_name='data_requests')
    op.drop_index(op.f('ix_data_requests_customer_id'), table_name='data_requests')
    op.drop_table('data_requests')
