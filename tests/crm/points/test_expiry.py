"""PTS-EXP-001 with PTS-USE-003: the oldest points are spent first, what is left of a year's
points lapses after 12-31 of the next year, and the job can run any number of times."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.points.expiry import expire_due
from crm.points.fifo import replay
from crm.points.models import PointsEntry
from crm.points.service import adjust, earn_for_purchase, redeem
from tests.crm.points.conftest import assert_consistent, bought, ledger_state, member


def _expired(db: Session, customer_id: int) -> list[tuple[int, str]]:
    rows = db.scalars(
        select(PointsEntry)
        .where(PointsEntry.customer_id == customer_id, PointsEntry.kind == "expire")
        .order_by(PointsEntry.id)
    )
    return [(row.amount, row.reason) for row in rows]


def test_what_is_left_of_a_years_points_lapses_after_the_next_year(db: Session) -> None:
    customer = member(db)
    earn_for_purchase(db, bought(db, customer, "1000"), date(2025, 6, 1))  # until 2026-12-31
    earn_for_purchase(db, bought(db, customer, "500"), date(2026, 6, 1))  # until 2027-12-31
    redeem(db, customer.id, 300, "ORDER-X", f"spend-{customer.id}")  # from 2025's points
    assert expire_due(db, date(2026, 12, 31)).points == 0  # valid until 24:00
    assert ledger_state(db, customer.id)[2] == 1200
    report = expire_due(db, date(2027, 1, 1))
    assert report.points >= 700 and report.customers >= 1
    assert _expired(db, customer.id) == [(-700, "积分过期（有效期至 2026-12-31）")]
    assert assert_consistent(db, customer.id) == 500
    expire_due(db, date(2027, 1, 1))
    expire_due(db, date(2027, 3, 1))
    assert _expired(db, customer.id) == [(-700, "积分过期（有效期至 2026-12-31）")]
    expire_due(db, date(2028, 1, 1))
    assert assert_consistent(db, customer.id) == 0
    assert [amount for amount, _ in _expired(db, customer.id)] == [-700, -500]


def test_several_years_lapse_in_one_run_each_on_its_own_line(db: Session) -> None:
    customer = member(db)
    adjust(db, customer.id, 100, "补发", "店员", f"a-{customer.id}", date(2024, 3, 1))
    adjust(db, customer.id, 200, "补发", "店员", f"b-{customer.id}", date(2025, 3, 1))
    adjust(db, customer.id, 400, "补发", "店员", f"c-{customer.id}", date(2026, 3, 1))
    expire_due(db, date(2027, 2, 1))
    assert [amount for amount, _ in _expired(db, customer.id)] == [-100, -200]
    assert assert_consistent(db, customer.id) == 400


def test_a_spent_out_member_has_nothing_to_expire(db: Session) -> None:
    customer = member(db)
    adjust(db, customer.id, 300, "补发", "店员", f"a-{customer.id}", date(2025, 3, 1))
    redeem(db, customer.id, 300, "ORDER-Y", f"spend-{customer.id}")
    expire_due(db, date(2027, 1, 1))
    assert _expired(db, customer.id) == []


def test_the_replay_spends_the_earliest_expiry_first_whatever_the_entry_order() -> None:
    late, early = date(2027, 12, 31), date(2026, 12, 31)
    result = replay([(1, 100, late), (2, 50, early), (3, -120, None), (4, 30, None)])
    assert result.used[3] == [(early, 50), (late, 70)]
    assert result.open_by_expiry() == {late: 30, None: 30}
