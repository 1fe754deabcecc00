"""`make backup` / `make restore`: a round trip brings the rows and the revision back exactly."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, delete, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from crm.conversations.models import Conversation, Message
from crm.customers.models import Customer, WechatIdentity
from crm.points.models import PointsEntry
from scripts.backup import BackupError, backup, head_revision, libpq, restore, revision
from tests.conftest import ROOT, TEST_DATABASE_URL, _ensure_database, migrate

TABLES = ("customers", "wechat_identities", "conversations", "messages", "points_entries")
SCRATCH_PG = (
    make_url(TEST_DATABASE_URL)
    .set(database="jiangxin_backup_test")
    .render_as_string(hide_password=False)
)


def _fresh_postgresql() -> str:
    _ensure_database(SCRATCH_PG)
    engine = create_engine(SCRATCH_PG, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    migrate(SCRATCH_PG)
    return SCRATCH_PG


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A migrated scratch database of each kind with a customer, points and a message in it."""
    url = _fresh_postgresql() if request.param == "postgresql" else f"sqlite:///{tmp_path / 'a.db'}"
    if request.param == "sqlite":
        migrate(url)
    engine = create_engine(url, poolclass=NullPool)
    with Session(engine) as session, session.begin():
        customer = Customer(display_name="王师傅", phone="13800000001")
        identity = WechatIdentity(customer=customer, appid="wx01", openid="o-wang")
        session.add_all([customer, identity])
        session.flush()
        conversation = Conversation(customer_id=customer.id, identity_id=identity.id, channel="oa")
        session.add(conversation)
        session.flush()
        session.add_all(
            [
                PointsEntry(
                    customer_id=customer.id,
                    amount=120,
                    kind="earn",
                    reason="购物 120 元",
                    ref="ORD-1",
                    idempotency_key="earn:ORD-1",
                    yuan=Decimal("120.00"),
                ),
                Message(
                    conversation_id=conversation.id,
                    direction="in",
                    msg_type="text",
                    content="电钻多少钱？",
                    wechat_msg_id=2**62 + 7,
                ),
            ]
        )
    yield url, engine
    engine.dispose()


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables the round trip writes, in id order."""
    with engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1"))]
            for t in TABLES
        }


def cli(
    url: str, *args: str, stdin: str = "", app_env: str = "test"
) -> subprocess.CompletedProcess[str]:
    """scripts/backup.py as `make backup` / `make restore` run it."""
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": app_env, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "backup.py"), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_round_trip_through_the_cli(database: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = database
    before, head = snapshot(engine), head_revision()
    assert before["customers"] and before["points_entries"] and before["messages"]

    made = cli(url, "backup", "--out", str(tmp_path / "backups"))
    assert made.returncode == 0, made.stderr
    [file] = list((tmp_path / "backups").iterdir())
    assert f"wrote {file}" in made.stdout and " in " in made.stdout

    with engine.begin() as conn:  # change, add and delete rows, and move the revision
        conn.execute(update(Customer).values(display_name="改了"))
        conn.execute(delete(Message))
        customer_id = conn.scalar(select(Customer.id))
        conn.execute(
            insert(PointsEntry).values(
                customer_id=customer_id,
                amount=-50,
                kind="redeem",
                reason="兑换",
                idempotency_key="redeem:1",
                shortfall=0,
            )
        )
        conn.execute(text("UPDATE alembic_version SET version_num = 'bogus'"))
    assert snapshot(engine) != before

    declined = cli(url, "restore", str(file), stdin="no\n")
    assert declined.returncode == 1 and "nothing was changed" in declined.stderr
    assert revision(make_url(url)) == "bogus"

    back = cli(url, "restore", str(file), "--yes")
    assert back.returncode == 0, back.stderr
    assert snapshot(engine) == before
    assert revision(make_url(url)) == head
    assert f"alembic revision {head} (the newest)" in back.stdout


def test_a_backup_of_the_wrong_kind_is_refused(
    database: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = database
    other = f"sqlite:///{tmp_path / 'other.db'}" if url.startswith("postgresql") else SCRATCH_PG
    if other.startswith("sqlite"):
        migrate(other)
    else:
        _fresh_postgresql()
    wrong = backup(other, tmp_path / "other")
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup")
    before = snapshot(engine)

    refused = cli(url, "restore", str(wrong), "--yes")
    assert refused.returncode == 1
    assert "refused, nothing was changed" in refused.stderr
    with pytest.raises(BackupError, match="neither a PostgreSQL"):
        restore(url, junk, yes=True, app_env="test")
    assert snapshot(engine) == before


def test_production_needs_an_explicit_yes(database: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = database
    file = backup(url, tmp_path)
    with engine.begin() as conn:
        conn.execute(update(Customer).values(display_name="改了"))
    changed = snapshot(engine)

    with pytest.raises(BackupError, match="APP_ENV=production"):
        restore(url, file, yes=False, app_env="production")
    assert snapshot(engine) == changed

    restore(url, file, yes=True, app_env="production")
    assert snapshot(engine) != changed


def test_the_password_stays_out_of_urls_and_missing_pg_dump_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = make_url("postgresql+psycopg://shop:s3cret@db.example:5433/jiangxin?sslmode=require")
    dsn, env = libpq(url)
    assert dsn == "postgresql://shop@db.example:5433/jiangxin?sslmode=require"
    assert env["PGPASSWORD"] == "s3cret"

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackupError, match="postgresql-client"):
        backup(url.render_as_string(hide_password=False), tmp_path / "out")
    assert "s3cret" not in capsys.readouterr().out
    assert not list((tmp_path / "out").iterdir())
