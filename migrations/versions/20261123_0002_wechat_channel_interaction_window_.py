"""wechat channel: interaction window, outbox, subscription credits, media, store locations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:52:19.576566
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('subscription_credits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identity_id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.String(length=128), nullable=False),
    sa.Column('remaining', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['identity_id'], ['wechat_identities.id'], name=op.f('fk_subscription_credits_identity_id_wechat_identities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_credits')),
    sa.UniqueConstraint('identity_id', 'template_id', name=op.f('uq_subscription_credits_identity_id_template_id'))
    )
    with op.batch_alter_table('subscription_credits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_credits_identity_id'), ['identity_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appid', sa.String(length=32), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('fallback', sa.JSON(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('errcode', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('wechat_msgid', sa.BigInteger(), nullable=True),
    sa.Column('receipt', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_outbox_message_id_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_idempotency_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_openid'), ['openid'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_wechat_msgid'), ['wechat_msgid'], unique=False)

    with op.batch_alter_table('kb_stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('longitude', sa.Float(), nullable=True))

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media_id', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('media_url', sa.Text(), nullable=True))

    with op.batch_alter_table('wechat_identities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_interaction_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('subscribed', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('unsubscribed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('source', sa.String(length=128), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('wechat_identities', schema=None) as batch_op:
        batch_op.drop_column('source')
        batch_op.drop_column('unsubscribed_at')
        batch_op.drop_column('subscribed')
        batch_op.drop_column('last_interaction_at')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('media_url')
        batch_op.drop_column('media_id')

    with op.batch_alter_table('kb_stores', schema=None) as batch_op:
        batch_op.drop_column('longitude')
        batch_op.drop_column('latitude')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_wechat_msgid'))
        batch_op.drop_index(batch_op.f('ix_outbox_openid'))
        batch_op.drop_index('ix_outbox_due')

    op.drop_table('outbox')
    with op.batch_alter_table('subscription_credits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_credits_identity_id'))

    op.drop_table('subscription_credits')
