"""`python -m crm.purchases`: CSV and JSON imports, dry runs, and the demo seeder."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from crm.conversations.models import Conversation, Message
from crm.customers.models import Customer, WechatIdentity
from crm.db import SHANGHAI, session_scope
from crm.handoff.demo import OPENID_PREFIX
from crm.handoff.models import Handoff
from crm.purchases.__main__ import main
from crm.purchases.demo import MEMBERS, PURCHASES, seed_demo
from crm.purchases.models import Purchase
from crm.purchases.service import get_by_order_no
from tests.crm.purchases.conftest import order

ROOT = Path(__file__).resolve().parents[3]
FIELDS = ["order_no", "source", "member_phone", "member_id", "sku", "price_yuan", "paid_at"]
FIELDS += ["delivered_at", "store"]


@pytest.fixture
def committed(engine: Engine) -> Iterator[list[str]]:
    """Order numbers the test commits through the CLI; deleted afterwards."""
    order_nos: list[str] = []
    yield order_nos
    with session_scope() as session:
        session.execute(delete(Purchase).where(Purchase.order_no.in_(order_nos)))


def _stored(order_no: str) -> Purchase | None:
    with session_scope() as session:
        return get_by_order_no(session, order_no)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_import_then_reimport(
    tmp_path: Path, committed: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [order(), order(source="mall", store="", delivered_at="2025-06-03 12:00")]
    committed.extend(r["order_no"] for r in rows)
    path = _write_csv(tmp_path / "orders.csv", rows)
    assert main(["import", str(path)]) == 0
    assert "purchases: 2 created, 0 unchanged" in capsys.readouterr().out
    assert main(["import", str(path)]) == 0
    assert "purchases: 0 created, 2 unchanged" in capsys.readouterr().out
    mall = _stored(rows[1]["order_no"])
    assert mall is not None and mall.store_id is None and mall.delivered_at is not None


def test_dry_run_writes_nothing(
    tmp_path: Path, committed: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [order(), order()]
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    assert main(["import", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 would be created, 0 unchanged" in out and "nothing written" in out
    assert _stored(rows[0]["order_no"]) is None


def test_invalid_json_file_lists_every_error_and_writes_nothing(
    tmp_path: Path, committed: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    future = (datetime.now(SHANGHAI) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    rows = [order(), order(sku="XX-NOPE-1"), order(paid_at=future)]
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    assert main(["import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "purchases: invalid: 2 invalid row(s), nothing was imported" in err
    assert f"row 2 ({rows[1]['order_no']}): unknown SKU XX-NOPE-1" in err
    assert f"row 3 ({rows[2]['order_no']}): paid_at: " in err and "is in the future" in err
    assert _stored(rows[0]["order_no"]) is None


def test_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "orders.txt").write_text("x", encoding="utf-8")
    (tmp_path / "orders.json").write_text('{"not": "a list"}', encoding="utf-8")
    for name in ("orders.txt", "orders.json", "missing.csv"):
        assert main(["import", str(tmp_path / name)]) == 1
    err = capsys.readouterr().err
    assert "expected a .csv or .json file" in err
    assert "the JSON must be a list of order objects" in err
    assert "No such file" in err


def test_gbk_csv_from_excel_is_read(tmp_path: Path, committed: list[str]) -> None:
    row = order()
    committed.append(row["order_no"])
    text = ",".join(FIELDS) + "\n" + ",".join(str(row.get(f, "")) for f in FIELDS) + "\n"
    path = tmp_path / "订单.csv"
    path.write_bytes(text.encode("gb18030"))
    assert main(["import", str(path)]) == 0
    assert _stored(row["order_no"]) is not None


def test_module_exits_1_on_invalid_input(tmp_path: Path, engine: Engine) -> None:
    path = _write_csv(tmp_path / "bad.csv", [order(store="JX-ZZ99")])
    done = subprocess.run(
        [sys.executable, "-m", "crm.purchases", "import", str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "unknown store JX-ZZ99" in done.stderr


def remove_demo_chats(session: Session) -> set[int]:
    """Delete the demo week of conversations; the customers it created, to delete next."""
    identities = select(WechatIdentity.id).where(WechatIdentity.openid.startswith(OPENID_PREFIX))
    chats = select(Conversation.id).where(Conversation.identity_id.in_(identities))
    people = set(
        session.scalars(
            select(Customer.id).where(
                Customer.id.in_(
                    select(WechatIdentity.customer_id).where(WechatIdentity.id.in_(identities))
                ),
                Customer.phone.is_(None),
            )
        )
    )
    session.execute(delete(Handoff).where(Handoff.conversation_id.in_(chats)))
    session.execute(
        update(Message).where(Message.conversation_id.in_(chats)).values(reply_to_id=None)
    )
    session.execute(delete(Message).where(Message.conversation_id.in_(chats)))
    session.execute(delete(Conversation).where(Conversation.id.in_(chats)))
    session.execute(delete(WechatIdentity).where(WechatIdentity.openid.startswith(OPENID_PREFIX)))
    return people


@pytest.fixture
def demo_cleanup(engine: Engine) -> Iterator[None]:
    yield
    with session_scope() as session:
        demo = select(Purchase.customer_id).where(Purchase.order_no.like("DEMO-%"))
        ids = {i for i in session.scalars(demo) if i is not None}
        ids |= remove_demo_chats(session)
        session.execute(delete(Purchase).where(Purchase.order_no.like("DEMO-%")))
        session.execute(delete(Customer).where(Customer.id.in_(ids)))


def test_seed_demo_twice_changes_nothing(
    demo_cleanup: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["seed-demo"]) == 0
    assert f"{len(MEMBERS)} members and {PURCHASES} purchases created" in capsys.readouterr().out
    assert main(["seed-demo"]) == 0
    assert "0 members and 0 purchases created" in capsys.readouterr().out
    with session_scope() as session:
        count = select(func.count()).where(Purchase.order_no.like("DEMO-%"))
        assert session.scalar(count) == PURCHASES


def test_demo_data_is_realistic_and_spread_over_warranty_periods(db: Session) -> None:
    today = datetime.now(SHANGHAI).date()
    summary = seed_demo(db, today=today)
    assert (summary.members_created, summary.purchases_created) == (len(MEMBERS), PURCHASES)
    names = {n for n, _ in MEMBERS}
    members = [c for c in db.scalars(select(Customer)) if c.display_name in names]  # encrypted
    assert {c.tier for c in members} == {"普通会员", "银卡", "金卡", "钻石"}
    purchases = list(db.scalars(select(Purchase).where(Purchase.order_no.like("DEMO-%"))))
    days = [(today - p.paid_at.astimezone(SHANGHAI).date()).days for p in purchases]
    assert min(days) >= 1 and max(days) <= 31 * 30
    assert any(d < 365 for d in days) and any(d > 2 * 365 for d in days)
    assert sum(p.customer_id is None for p in purchases) >= 1  # phones of no member yet
    for p in purchases:
        if p.source == "pos":
            assert p.store_id and p.delivered_at is None
        else:
            assert p.delivered_at is not None
            assert timedelta(days=1) <= p.delivered_at - p.paid_at < timedelta(days=4)
    again = seed_demo(db, today=today - timedelta(days=40))  # another day: still nothing new
    assert (again.members_created, again.purchases_created) == (0, 0)
