"""Real concurrent redemptions, each in its own session and transaction (committed, cleaned up)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from crm.coupons import service
from crm.coupons.models import Coupon
from crm.customers.models import Customer
from crm.db import session_scope
from tests.crm.coupons.conftest import TODAY, key, order_no


@pytest.fixture
def holder(engine: Engine) -> Iterator[int]:
    """A committed member, removed with their coupons afterwards."""
    with session_scope() as session:
        customer = Customer(display_name="并发测试", phone=None, tier="银卡")
        session.add(customer)
        session.flush()
        customer_id = customer.id
    yield customer_id
    with session_scope() as session:
        session.execute(delete(Coupon).where(Coupon.customer_id == customer_id))
        session.execute(delete(Customer).where(Customer.id == customer_id))


def _issue(customer_id: int, count: int) -> list[str]:
    with session_scope() as session:
        return [
            service.issue(session, customer_id, "CPN-TJ", key(), TODAY).code for _ in range(count)
        ]


def _race(attempts: list[Callable[[], object]]) -> Counter[str]:
    """Run every attempt in its own thread, released together; count outcomes by name."""
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(len(attempts))

    def run(attempt: Callable[[], object]) -> None:
        start.wait()
        try:
            attempt()
            name = "ok"
        except Exception as exc:  # every outcome is counted and asserted below
            name = type(exc).__name__
        with lock:
            outcomes[name] += 1

    threads = [threading.Thread(target=run, args=(a,)) for a in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def _redeem(code: str, customer_id: int, order: str) -> Callable[[], object]:
    def attempt() -> object:
        with session_scope() as session:
            return service.redeem(session, code, customer_id, order, Decimal("500"), TODAY)

    return attempt


def test_a_hundred_simultaneous_redemptions_of_one_coupon_one_wins(holder: int) -> None:
    (code,) = _issue(holder, 1)
    outcomes = _race([_redeem(code, holder, order_no()) for _ in range(100)])
    assert outcomes == {"ok": 1, "CouponAlreadyUsed": 99}
    with session_scope() as session:
        coupon = session.scalars(select(Coupon).where(Coupon.code == code)).one()
        assert coupon.status == "redeemed" and coupon.redeemed_order_no is not None


def test_two_coupons_racing_onto_one_order_one_wins(holder: int) -> None:
    codes = _issue(holder, 10)
    order = order_no()
    outcomes = _race([_redeem(code, holder, order) for code in codes])
    assert outcomes == {"ok": 1, "StackingNotAllowed": 9}
    with session_scope() as session:
        used = session.scalars(select(Coupon).where(Coupon.redeemed_order_no == order)).all()
        assert len(used) == 1
