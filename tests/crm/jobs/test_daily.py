"""The daily jobs: each step does its work once a day, a second run changes nothing, and the
schedule runs them once across processes sharing the store."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import date

import pytest
import redis
from sqlalchemy import delete

from crm.coupons import service as coupons
from crm.coupons.models import Coupon
from crm.customers.models import Customer
from crm.db import session_scope
from crm.jobs.__main__ import main
from crm.jobs.daily import run_daily
from crm.jobs.scheduler import run_once
from crm.kv import RedisStore
from crm.tickets.lifecycle import today


@pytest.fixture
def old_coupon(engine: object) -> Iterator[int]:
    """A committed member with a coupon issued long ago (past its last valid day)."""
    with session_scope() as session:
        member = Customer(display_name="job", phone=f"134{secrets.randbelow(10**8):08d}")
        session.add(member)
        session.flush()
        coupon = coupons.issue(session, member.id, "CPN-TJ", f"job:{member.id}", date(2020, 1, 1))
        coupon_id, member_id = coupon.id, member.id
    yield coupon_id
    with session_scope() as session:
        session.execute(delete(Coupon).where(Coupon.customer_id == member_id))
        session.execute(delete(Customer).where(Customer.id == member_id))


def test_a_daily_run_expires_what_is_due_and_a_second_run_changes_nothing(old_coupon: int) -> None:
    first = run_daily(today())
    assert first.failed == [] and first.coupons_expired >= 1
    with session_scope() as session:
        coupon = session.get(Coupon, old_coupon)
        assert coupon is not None and coupon.status == "expired"
    second = run_daily(today())
    assert (second.coupons_expired, second.points_expired, second.birthday_coupons) == (0, 0, 0)


def test_the_cli_prints_each_step(capsys: pytest.CaptureFixture[str], engine: object) -> None:
    assert main(["daily", "--date", today().isoformat()]) == 0
    out = capsys.readouterr().out
    assert "coupons_expired" in out and "tiers_changed" in out


def test_the_schedule_runs_once_a_day_across_processes(
    redis_db: redis.Redis, engine: object
) -> None:
    one, two = RedisStore(redis_db), RedisStore(redis_db)  # two api replicas, one Redis
    assert asyncio.run(run_once(one)) is True
    assert asyncio.run(run_once(two)) is False
