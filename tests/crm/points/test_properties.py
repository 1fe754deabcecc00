"""Property: under any sequence of earn, redeem, refund, adjust, expire and repeats, the cached
balance is the ledger's sum, never negative, nothing past its expiry stays open after the job,
and a refused or repeated operation leaves the ledger as it was."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.errors import DomainError
from crm.points.expiry import expire_due
from crm.points.ledger import replay_of
from crm.points.models import PointsEntry
from crm.points.refunds import reverse_for_refund
from crm.points.service import adjust, earn_for_purchase, redeem
from crm.purchases.models import Purchase
from tests.crm.points.conftest import assert_consistent, bought, member

TIERS = ("普通会员", "银卡", "金卡", "钻石")
yuan = st.decimals(min_value=0, max_value=3000, places=2, allow_nan=False, allow_infinity=False)
OPS = st.one_of(
    st.tuples(st.just("earn"), yuan, st.sampled_from(TIERS)),
    st.tuples(
        st.just("redeem"),
        st.one_of(st.integers(-1, 10).map(lambda n: n * 100), st.integers(-500, 3000)),
        st.integers(0, 9),
    ),
    st.tuples(st.just("refund"), st.integers(0, 9), st.integers(0, 110)),  # % of the order
    st.tuples(st.just("adjust"), st.integers(-3000, 3000)),
    st.tuples(st.just("expire")),
    st.tuples(st.just("advance"), st.integers(0, 400)),
    st.tuples(st.just("repeat"), st.integers(0, 99)),
)


def _entries(db: Session, customer_id: int) -> list[tuple[int, int]]:
    stmt = select(PointsEntry.id, PointsEntry.amount).where(PointsEntry.customer_id == customer_id)
    return [(row.id, row.amount) for row in db.execute(stmt.order_by(PointsEntry.id))]


class Run:
    """One example: a member, their orders, the day, and the calls that succeeded."""

    def __init__(self, db: Session) -> None:
        self.db = db
        self.customer = member(db, birthday=date(1990, 5, 4))
        self.orders: list[Purchase] = []
        self.today = date(2025, 1, 1)
        self.done: list[tuple[Callable[[], Any], Any]] = []
        self.n = 0

    def call(self, op: tuple[Any, ...]) -> Callable[[], Any] | None:
        """The service call `op` stands for (None when it has nothing to act on)."""
        db, cid, day, self.n = self.db, self.customer.id, self.today, self.n + 1
        key = f"prop-{cid}-{self.n}"
        kind = op[0]
        if kind == "earn":
            self.customer.tier = op[2]
            self.orders.append(bought(db, self.customer, op[1], day))
            order = self.orders[-1]
            return lambda: earn_for_purchase(db, order, day)
        if kind == "redeem":
            ref = self.orders[op[2] % len(self.orders)].order_no if self.orders else "NONE"
            return lambda: redeem(db, cid, op[1], ref, key)
        if kind == "refund" and self.orders:
            order = self.orders[op[1] % len(self.orders)]
            refund = (order.price_yuan * op[2] / 100).quantize(Decimal("0.01"))
            return lambda: reverse_for_refund(db, order.order_no, refund, key, day)
        if kind == "adjust":
            return lambda: adjust(db, cid, op[1], "属性测试", "测试", key, day)
        if kind == "expire":
            return lambda: expire_due(db, day)
        return None

    def step(self, op: tuple[Any, ...]) -> None:
        if op[0] == "advance":
            self.today += timedelta(days=op[1])
            return
        if op[0] == "repeat":
            self.repeat(op[1])
            return
        call = self.call(op)
        if call is None:
            return
        before = _entries(self.db, self.customer.id)
        try:
            result = call()
        except DomainError as exc:
            event(f"{op[0]} refused: {type(exc).__name__}")
            assert _entries(self.db, self.customer.id) == before
        else:
            event(f"{op[0]} done")
            self.done.append((call, _identity(result)))
        assert_consistent(self.db, self.customer.id)
        if op[0] == "expire":
            lots = replay_of(self.db, self.customer.id).lots
            assert all(lot.expires_on is None or lot.expires_on >= self.today for lot in lots)

    def repeat(self, index: int) -> None:
        if not self.done:
            return
        call, first = self.done[index % len(self.done)]
        event("repeat")
        before = _entries(self.db, self.customer.id)
        again = _identity(call())
        assert _entries(self.db, self.customer.id) == before
        if first is not None:  # the expiry job reports what this run did
            assert again == first


def _identity(result: Any) -> Any:
    if isinstance(result, PointsEntry):
        return (result.id, result.amount)
    return None if type(result).__name__ == "ExpiryReport" else result


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(opening=st.integers(0, 5000), ops=st.lists(OPS, min_size=1, max_size=40))
def test_the_balance_is_always_the_ledger_sum_and_never_negative(
    db: Session, opening: int, ops: list[tuple[Any, ...]]
) -> None:
    example = db.begin_nested()
    try:
        run = Run(db)
        for op in [("adjust", opening), *ops]:
            run.step(op)
        balance = assert_consistent(db, run.customer.id)
        assert balance == sum(amount for _, amount in _entries(db, run.customer.id))
    finally:
        example.rollback()
