"""Concurrent units of work on real PostgreSQL connections: one credit per order, and a
balance that never goes below zero (each thread commits through crm.db.session_scope)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TypeVar

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.db import session_scope
from crm.points.errors import InsufficientPoints
from crm.points.models import PointsAccount, PointsEntry
from crm.points.service import adjust, earn_for_purchase, redeem
from crm.purchases.models import Purchase
from tests.crm.points.conftest import assert_consistent, ledger_state, unique_phone

TODAY = date(2026, 3, 9)
T = TypeVar("T")


@pytest.fixture
def committed(engine: Engine) -> Iterator[list[int]]:
    """Ids of the customers a test commits; their rows are deleted afterwards."""
    created: list[int] = []
    yield created
    with session_scope() as session:
        for model in (PointsEntry, PointsAccount, Purchase):
            session.execute(delete(model).where(model.customer_id.in_(created)))
        session.execute(delete(Customer).where(Customer.id.in_(created)))


def _committed_member(created: list[int], tier: str = "普通会员") -> int:
    with session_scope() as session:
        customer = Customer(display_name="并发测试", phone=unique_phone(), tier=tier)
        session.add(customer)
        session.flush()
        created.append(customer.id)
        return customer.id


def _all_at_once(threads: int, work: Callable[[Session], T]) -> list[T | Exception]:
    """Run `work` in `threads` threads started together, each in its own unit of work."""
    start = threading.Barrier(threads)

    def one(_: int) -> T | Exception:
        start.wait()
        try:
            with session_scope() as session:
                return work(session)
        except Exception as exc:  # collected and asserted by the test
            return exc

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(threads)))


def test_fifty_deliveries_of_one_purchase_credit_it_exactly_once(committed: list[int]) -> None:
    cid = _committed_member(committed, tier="金卡")
    with session_scope() as session:
        purchase = Purchase(
            order_no=f"CONC-{cid}",
            source="pos",
            customer_id=cid,
            sku="RG-DR-12",
            price_yuan=Decimal("1000"),
            paid_at=datetime(2026, 3, 1, 2, tzinfo=UTC),
        )
        session.add(purchase)
        session.flush()
        purchase_id = purchase.id

    def deliver(session: Session) -> tuple[int, int]:
        found = session.get(Purchase, purchase_id)
        assert found is not None
        entry = earn_for_purchase(session, found, TODAY)
        return entry.id, entry.amount

    results = _all_at_once(50, deliver)
    assert not [r for r in results if isinstance(r, Exception)]
    assert len(set(results)) == 1
    assert isinstance(results[0], tuple) and results[0][1] == 1500
    with session_scope() as session:
        assert ledger_state(session, cid) == (1, 1500, 1500)
        assert_consistent(session, cid)


def test_concurrent_spending_never_takes_the_balance_below_zero(committed: list[int]) -> None:
    cid = _committed_member(committed)
    with session_scope() as session:
        adjust(session, cid, 1000, "开户赠送", "店员", f"conc-seed-{cid}", TODAY)
    keys = iter(range(40))
    lock = threading.Lock()

    def spend(session: Session) -> int:
        with lock:
            n = next(keys)
        return redeem(session, cid, 100, f"ORDER-{n}", f"conc-{cid}-{n}").amount

    results = _all_at_once(40, spend)
    assert results.count(-100) == 10
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 30 and all(isinstance(r, InsufficientPoints) for r in refused)
    with session_scope() as session:
        assert ledger_state(session, cid) == (11, 0, 0)


def test_concurrent_repeats_of_one_redemption_spend_once(committed: list[int]) -> None:
    cid = _committed_member(committed)
    with session_scope() as session:
        adjust(session, cid, 1000, "开户赠送", "店员", f"conc-seed-{cid}", TODAY)

    def spend(session: Session) -> int:
        return redeem(session, cid, 300, "ORDER-R", f"conc-same-{cid}").id

    results = _all_at_once(20, spend)
    assert len(set(results)) == 1 and not isinstance(results[0], Exception)
    with session_scope() as session:
        assert ledger_state(session, cid) == (2, 700, 700)
