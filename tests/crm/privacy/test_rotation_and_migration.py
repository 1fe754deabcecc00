"""Key rotation re-encrypts every value under the newest key; migration 0011 encrypts existing
rows and its downgrade decrypts them, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.db import make_engine, recreate_database
from crm.models import Base
from crm.privacy import __main__ as cli
from crm.privacy.crypto import Keyring, PiiDecryptionError, kid_of, new_key, phone_digest, using
from crm.privacy.rotation import rotate
from tests.conftest import TEST_DATABASE_URL, alembic_config, migrate

K1, K2, HASH1, HASH2 = new_key(), new_key(), new_key(), new_key()
OLD = Keyring.parse(f"k1:{K1}", HASH1)
BOTH = Keyring.parse(f"k2:{K2},k1:{K1}", HASH1)
NEW = Keyring.parse(f"k2:{K2}", HASH1)
ROWS = 7


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'pii.db'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def phones(n: int) -> list[str]:
    return [f"138{i:04d}{secrets.randbelow(10**4):04d}" for i in range(n)]


def kids(engine: Engine) -> set[str | None]:
    """The key ids of the customers' stored phones and names."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT phone, display_name FROM customers")).all()
    return {kid_of(v) for row in rows for v in row if v is not None}


def test_rotation_moves_every_value_to_the_new_key_and_the_old_key_can_go(sqlite: Engine) -> None:
    numbers = phones(ROWS)
    with using(OLD), Session(sqlite) as session:
        session.add_all(Customer(display_name=f"顾客{i}", phone=p) for i, p in enumerate(numbers))
        session.commit()
    assert kids(sqlite) == {"k1"}
    lines: list[str] = []
    reports = rotate(sqlite, Base.metadata, BOTH, lines.append, batch=3)  # 3 batches
    assert reports["customers"].reencrypted == 2 * ROWS and kids(sqlite) == {"k2"}
    assert lines[:3] == [
        f"customers: {n} rows read, {2 * n} re-encrypted, 0 hashes refreshed" for n in (3, 6, 7)
    ]
    again = rotate(sqlite, Base.metadata, BOTH, lambda _: None)  # idempotent
    assert again["customers"].reencrypted == 0 and again["customers"].kids == {"k2": 2 * ROWS}
    with using(NEW), Session(sqlite) as session:  # k1 removed from PII_KEYS
        stored = session.scalars(select(Customer).order_by(Customer.id)).all()
        assert [c.phone for c in stored] == numbers
        wanted = select(Customer).where(Customer.phone_hash == phone_digest(numbers[3]))
        assert session.scalars(wanted).one().display_name == "顾客3"
    with using(OLD), Session(sqlite) as session, pytest.raises(PiiDecryptionError, match="'k2'"):
        session.scalars(select(Customer)).all()


def test_rotation_refreshes_the_hashes_under_a_new_hash_key(sqlite: Engine) -> None:
    numbers = phones(3)
    with using(OLD), Session(sqlite) as session:
        session.add_all(Customer(phone=p) for p in numbers)
        session.commit()
    rehashed = Keyring.parse(f"k1:{K1}", HASH2)
    report = rotate(sqlite, Base.metadata, rehashed, lambda _: None)["customers"]
    assert (report.reencrypted, report.rehashed) == (0, 2 * len(numbers))  # hash + last-4 hash
    with using(rehashed), Session(sqlite) as session:
        wanted = select(Customer).where(Customer.phone_hash == phone_digest(numbers[0]))
        assert session.scalars(wanted).one().phone == numbers[0]


def test_the_cli_rotates_the_configured_database(
    sqlite: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with using(OLD), Session(sqlite) as session:
        session.add(Customer(phone=phones(1)[0]))
        session.commit()
    monkeypatch.setattr(cli, "get_engine", lambda: sqlite)
    with using(BOTH):
        assert cli.main(["rotate-keys"]) == 0
    out = capsys.readouterr().out
    assert "current key 'k2'" in out and "customers: 1 rows read, 1 re-encrypted" in out
    assert "keys found before: ['k1']" in out and kids(sqlite) == {"k2"}
    with using(Keyring.parse(f"k3:{new_key()}", HASH1)):
        assert cli.main(["rotate-keys"]) == 1  # k2 is missing: stops, changes nothing
    assert "stopped: customers.phone: key 'k2' is not in PII_KEYS" in capsys.readouterr().err


INSERTS = [
    "INSERT INTO customers (id, display_name, phone, tier, created_at) VALUES "
    "(1, '王小明', '13800001111', '银卡', '2026-03-01'), (2, NULL, '13900002222', '普通会员',"
    " '2026-03-01'), (3, '无手机', NULL, '普通会员', '2026-03-01')",
    "INSERT INTO purchases (id, order_no, source, member_phone, customer_id, sku, price_yuan, "
    "paid_at, created_at) VALUES (1, 'M-1', 'pos', '13800001111', 1, 'RG-DR-12', 99, "
    "'2026-03-01', '2026-03-01'), (2, 'M-2', 'pos', '13700003333', NULL, 'RG-DR-12', 99, "
    "'2026-03-01', '2026-03-01')",
    "INSERT INTO repair_tickets (id, number, idempotency_key, customer_id, sku, product_name, "
    "category, fault, priority, proof_kind, warranty_reason, exclusions, fee_estimate, "
    "contact_phone, service_method, state, updated_at, created_at) VALUES (1, 'RP-1', 'k-1', 1, "
    "'RG-DR-12', '锂电钻', '电动工具', '不转', false, 'photo', '待核实', '[]', '{}', "
    "'13600004444', '到店', 'submitted', '2026-03-01', '2026-03-01')",
]
PLAIN = (
    "SELECT c.display_name, c.phone, p.member_phone, t.contact_phone FROM customers c "
    "LEFT JOIN purchases p ON p.customer_id = c.id LEFT JOIN repair_tickets t "
    "ON t.customer_id = c.id WHERE c.id = 1"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind (PostgreSQL: a scratch database beside the test one)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    scratch = f"{make_url(TEST_DATABASE_URL).database}_pii_migration"
    url = make_url(TEST_DATABASE_URL).set(database=scratch)
    recreate_database(url.render_as_string(hide_password=False))
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
    admin.dispose()


def test_migration_encrypts_existing_rows_and_the_downgrade_decrypts_them(blank_url: str) -> None:
    config = alembic_config(blank_url)
    command.upgrade(config, "0010")
    engine = make_engine(blank_url)
    with engine.begin() as conn:
        for statement in INSERTS:
            conn.execute(text(statement))
    command.upgrade(config, "0011")
    with engine.connect() as conn:
        stored = conn.execute(text(PLAIN)).one()
        assert {kid_of(v) for v in stored} == {"dev"}
        hashed = conn.execute(text("SELECT phone_hash FROM customers WHERE id = 2")).scalar()
        assert hashed == phone_digest("13900002222")
    with Session(engine) as session:
        member = session.scalars(
            select(Customer).where(Customer.phone_hash == phone_digest("13800001111"))
        ).one()
        assert (member.id, member.display_name) == (1, "王小明")
        assert session.get(Customer, 3).phone is None  # type: ignore[union-attr]
        session.add(Customer(phone="13800001111"))
        with pytest.raises(IntegrityError):  # still one customer per phone
            session.flush()
    command.downgrade(config, "0010")
    with engine.connect() as conn:
        assert tuple(conn.execute(text(PLAIN)).one()) == (
            "王小明",
            "13800001111",
            "13800001111",
            "13600004444",
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:  # the old unique constraint
        conn.execute(text("UPDATE customers SET phone = '13800001111' WHERE id = 2"))
    engine.dispose()
