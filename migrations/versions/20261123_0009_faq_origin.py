"""kb_faqs.origin, back-office edits and the file's baseline text; kb_resolved_questions

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('kb_faqs') as batch_op:
        batch_op.add_column(
            sa.Column('origin', sa.String(length=16), server_default='file', nullable=False)
        )
        batch_op.add_column(sa.Column('updated_by', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('file_question', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('file_answer', sa.Text(), nullable=True))
    # Every FAQ stored so far came from faq.yml as it is: that text is the baseline.
    op.execute('UPDATE kb_faqs SET file_question = question, file_answer = answer')
    op.create_table(
        'kb_resolved_questions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('question_key', sa.String(length=200), nullable=False),
        sa.Column('question', sa.Text(), nullable=False),
        sa.Column('faq_id', sa.String(length=16), nullable=False),
        sa.Column('created_by', sa.String(length=50), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['faq_id'],
            ['kb_faqs.id'],
            name=op.f('fk_kb_resolved_questions_faq_id_kb_faqs'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_resolved_questions')),
        sa.UniqueConstraint('question_key', name=op.f('uq_kb_resolved_questions_question_key')),
    )
    op.create_index(
        op.f('ix_kb_resolved_questions_faq_id'), 'kb_resolved_questions', ['faq_id']
    )


def downgrade() -> None:
    op.drop_table('kb_resolved_questions')
    with op.batch_alter_table('kb_faqs') as batch_op:
        batch_op.drop_column('file_answer')
        batch_op.drop_column('file_question')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('updated_by')
        batch_op.drop_column('origin')
