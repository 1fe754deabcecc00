"""encrypt personal data at rest: phones and names under AES-GCM, phones found by keyed hash

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:00:00.000000

Existing rows are encrypted here with the keys in PII_KEYS / PII_HASH_KEY (crm.privacy.crypto);
the downgrade decrypts them back with the same keys.
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from crm.privacy.crypto import keyring, kid_of, phone_digest, phone_last4_digest

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PHONE_CIPHER = 164  # crm.privacy.crypto.ciphertext_length(20)
NAME_CIPHER = 592  # ciphertext_length(100)
DIGEST = 64
BATCH = 500

Digests = dict[str, Callable[[str | None], str | None]]
# table → {column: (plaintext length, ciphertext length, {hash column: digest})}
COLUMNS: dict[str, dict[str, tuple[int, int, Digests]]] = {
    'customers': {
        'display_name': (100, NAME_CIPHER, {}),
        'phone': (
            20,
            PHONE_CIPHER,
            {'phone_hash': phone_digest, 'phone_last4_hash': phone_last4_digest},
        ),
    },
    'purchases': {'member_phone': (20, PHONE_CIPHER, {'member_phone_hash': phone_digest})},
    'repair_tickets': {'contact_phone': (20, PHONE_CIPHER, {})},
}


def upgrade() -> None:
    # SQLite: no table is rebuilt (a rebuild of `customers` trips the foreign keys of the rows
    # pointing at it); it enforces no VARCHAR length and its unique constraint on the phone
    # stays, harmless on ciphertext (random nonces never repeat).
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if not sqlite:
        op.drop_constraint(op.f('uq_customers_phone'), 'customers', type_='unique')
    op.add_column('customers', sa.Column('phone_hash', sa.String(length=DIGEST), nullable=True))
    op.add_column(
        'customers', sa.Column('phone_last4_hash', sa.String(length=DIGEST), nullable=True)
    )
    op.drop_index(op.f('ix_purchases_member_phone'), table_name='purchases')
    op.add_column(
        'purchases', sa.Column('member_phone_hash', sa.String(length=DIGEST), nullable=True)
    )
    if not sqlite:
        _resize(wide=True)
    _convert(encrypt=True)
    op.create_index(op.f('ix_customers_phone_hash'), 'customers', ['phone_hash'], unique=True)
    op.create_index(op.f('ix_customers_phone_last4_hash'), 'customers', ['phone_last4_hash'])
    op.create_index(op.f('ix_purchases_member_phone_hash'), 'purchases', ['member_phone_hash'])


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    op.drop_index(op.f('ix_purchases_member_phone_hash'), table_name='purchases')
    op.drop_index(op.f('ix_customers_phone_last4_hash'), table_name='customers')
    op.drop_index(op.f('ix_customers_phone_hash'), table_name='customers')
    _convert(encrypt=False)
    if not sqlite:
        _resize(wide=False)
    op.drop_column('purchases', 'member_phone_hash')
    op.create_index(op.f('ix_purchases_member_phone'), 'purchases', ['member_phone'])
    op.drop_column('customers', 'phone_last4_hash')
    op.drop_column('customers', 'phone_hash')
    if not sqlite:
        op.create_unique_constraint(op.f('uq_customers_phone'), 'customers', ['phone'])


def _resize(wide: bool) -> None:
    """Columns wide enough for ciphertext (or back to their plaintext widths)."""
    for name, columns in COLUMNS.items():
        for column, (plain, cipher, _) in columns.items():
            old, new = (plain, cipher) if wide else (cipher, plain)
            op.alter_column(
                name,
                column,
                existing_type=sa.String(length=old),
                type_=sa.String(length=new),
                existing_nullable=name != 'repair_tickets',
            )


def _convert(encrypt: bool) -> None:
    """Encrypt every plaintext value and fill its hashes (or decrypt every value back)."""
    ring = keyring()
    conn = op.get_bind()
    for name, columns in COLUMNS.items():
        hashes = [h for _, _, digests in columns.values() for h in digests]
        names = ['id', *columns, *(hashes if encrypt else [])]
        rows = sa.table(name, *(sa.column(n) for n in names))
        after = 0
        while True:
            stmt = sa.select(rows).where(rows.c.id > after).order_by(rows.c.id).limit(BATCH)
            batch = conn.execute(stmt).mappings().all()
            for row in batch:
                values: dict[str, str | None] = {}
                for column, (_, _, digests) in columns.items():
                    stored = row[column]
                    if stored is None:
                        continue
                    context = f'{name}.{column}'
                    encrypted = kid_of(stored) is not None
                    plain = ring.decrypt(stored, context) if encrypted else stored
                    if encrypt:
                        values[column] = stored if encrypted else ring.encrypt(plain, context)
                        values.update({h: digest(plain) for h, digest in digests.items()})
                    else:
                        values[column] = plain
                if values:
                    conn.execute(sa.update(rows).where(rows.c.id == row['id']).values(**values))
            if len(batch) < BATCH:
                break
            after = batch[-1]['id']
