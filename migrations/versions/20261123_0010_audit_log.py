"""audit_entries: the back office's append-only audit log (the database refuses UPDATE/DELETE)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = 'audit_entries is append-only'
PG_FUNCTION = f"""
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
END
$$
"""
PG_TRIGGERS = {
    'audit_entries_no_change': 'BEFORE UPDATE OR DELETE ON audit_entries FOR EACH ROW',
    'audit_entries_no_truncate': 'BEFORE TRUNCATE ON audit_entries FOR EACH STATEMENT',
}
SQLITE_TRIGGERS = {
    'audit_entries_no_update': 'BEFORE UPDATE ON audit_entries',
    'audit_entries_no_delete': 'BEFORE DELETE ON audit_entries',
}


def upgrade() -> None:
    op.create_table(
        'audit_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        sa.Column('staff_username', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=True),
        sa.Column('ip', sa.String(length=64), nullable=True),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('target_type', sa.String(length=32), nullable=True),
        sa.Column('target_id', sa.String(length=64), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('outcome', sa.String(length=8), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('ok', 'refused')", name=op.f('ck_audit_entries_outcome')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries')),
    )
    op.create_index(op.f('ix_audit_entries_at'), 'audit_entries', ['at'])
    op.create_index(op.f('ix_audit_entries_action'), 'audit_entries', ['action'])
    op.create_index(op.f('ix_audit_entries_staff_username'), 'audit_entries', ['staff_username'])
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute(PG_FUNCTION)
        for name, when in PG_TRIGGERS.items():
            op.execute(
                f'CREATE TRIGGER {name} {when} EXECUTE FUNCTION audit_entries_append_only()'
            )
    elif dialect == 'sqlite':
        for name, when in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        for name in PG_TRIGGERS:
            op.execute(f'DROP TRIGGER IF EXISTS {name} ON audit_entries')
        op.execute('DROP FUNCTION IF EXISTS audit_entries_append_only()')
    elif dialect == 'sqlite':
        for name in SQLITE_TRIGGERS:
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
    op.drop_table('audit_entries')
