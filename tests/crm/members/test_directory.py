"""The back office's member directory: what a query finds, whom a viewer sees, masked phones,
and staff points adjustments (once per form, within the rules, recorded under the username)."""

from __future__ import annotations

import dataclasses
import itertools
import random
import secrets
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.errors import Conflict, Forbidden, InvalidInput, NotFound
from crm.handoff.service import Actor
from crm.members import directory
from crm.members.directory import MemberRow, adjust_points, search_members
from crm.points.errors import InsufficientPoints
from crm.points.models import PointsEntry
from crm.purchases.models import Purchase

AGENT_HZ01 = Actor(1, "小王", "agent", "JX-HZ01")
AGENT_HZ02 = Actor(2, "小李", "agent", "JX-HZ02")
AGENT_ALL = Actor(3, "小赵", "agent", None)
SUPERVISOR_HZ02 = Actor(4, "张主管", "supervisor", "JX-HZ02")
ADMIN = Actor(5, "管理员", "admin", None)
MIDDLES = itertools.count(random.randrange(5000))  # phones made here never repeat


def tag() -> str:
    """A name fragment no other test uses (with a letter: digits alone are a number query)."""
    return f"k{secrets.token_hex(4)}"


def phone_ending(suffix: str) -> str:
    return f"137{next(MIDDLES):04d}{suffix}"


def unused_suffix(db: Session) -> str:
    """Four digits no stored phone ends with (other tests commit customers too) and that are no
    customer's id, now or of the next few created (digits also search by id)."""
    taken = {p[-4:] for p in db.scalars(select(Customer.phone).where(Customer.phone.is_not(None)))}
    ids = set(db.scalars(select(Customer.id)))
    ids |= set(range(max(ids, default=0) + 1, max(ids, default=0) + 10))
    return next(
        s
        for s in (f"{random.randrange(10**4):04d}" for _ in range(1000))
        if s not in taken and int(s) not in ids
    )


def customer(
    db: Session, name: str, phone: str | None = None, store: str | None = None
) -> Customer:
    """A customer whose home store is `store` (through a purchase there)."""
    person = Customer(display_name=name, phone=phone, tier="银卡")
    db.add(person)
    db.flush()
    if store:
        db.add(
            Purchase(
                order_no=f"D-{secrets.token_hex(6)}",
                source="pos",
                customer_id=person.id,
                sku="RG-DR-12",
                price_yuan=Decimal("99.00"),
                paid_at=datetime(2026, 3, 1, 2, tzinfo=UTC),
                store_id=store,
            )
        )
        db.flush()
    return person


def ids(rows: list[MemberRow]) -> list[int]:
    return [row.customer_id for row in rows]


def key() -> str:
    return directory.new_adjust_key()


def test_full_phone_finds_exactly_that_member_masked(db: Session) -> None:
    phone = phone_ending(unused_suffix(db))
    person = customer(db, "陈师傅", phone, "JX-HZ01")
    adjust_points(db, person.id, ADMIN, "boss", 300, "活动补发积分", key())
    for query in (phone, f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}"):
        assert search_members(db, query, ADMIN) == [
            MemberRow(person.id, "陈**", f"{phone[:3]}****{phone[-4:]}", "银卡", 300, "JX-HZ01")
        ]


def test_last_four_digits_find_every_member_ending_so(db: Session) -> None:
    suffix = unused_suffix(db)
    first = customer(db, "甲", phone_ending(suffix))
    second = customer(db, "乙", phone_ending(suffix))
    customer(db, "丙", phone_ending(f"{(int(suffix) + 1) % 10000:04d}"))
    assert ids(search_members(db, suffix, ADMIN)) == [second.id, first.id]


def test_name_fragment_and_customer_id(db: Session) -> None:
    token = tag()
    older = customer(db, f"王{token}师傅")
    newer = customer(db, f"老王{token}")
    customer(db, f"李{secrets.token_hex(4)}")
    assert ids(search_members(db, token, ADMIN)) == [newer.id, older.id]
    assert ids(search_members(db, f"王{token}", ADMIN)) == [newer.id, older.id]
    assert ids(search_members(db, f"{token}师傅", ADMIN)) == [older.id]
    assert ids(search_members(db, f"#{older.id}", ADMIN)) == [older.id]
    assert older.id in ids(search_members(db, str(older.id), ADMIN))


def test_queries_that_name_nobody(db: Session) -> None:
    customer(db, f"百分之{secrets.token_hex(4)}")
    for query in ("", "   ", "%", "_", "#99999999999999999999", "12345678901234567890"):
        assert search_members(db, query, ADMIN) == []


def test_agents_see_their_store_and_storeless_members_others_see_all(db: Session) -> None:
    token = tag()
    hz01 = customer(db, f"一店{token}", store="JX-HZ01")
    hz02 = customer(db, f"二店{token}", store="JX-HZ02")
    none = customer(db, f"无店{token}")
    assert ids(search_members(db, token, AGENT_HZ01)) == [none.id, hz01.id]
    assert ids(search_members(db, token, AGENT_HZ02)) == [none.id, hz02.id]
    everyone = [none.id, hz02.id, hz01.id]
    for viewer in (AGENT_ALL, SUPERVISOR_HZ02, ADMIN):
        assert ids(search_members(db, token, viewer)) == everyone


def test_limit_counts_visible_members_across_batches(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(directory, "BATCH", 2)
    token = tag()
    mine = [customer(db, f"本店{token}", store="JX-HZ01") for _ in range(3)]
    for _ in range(3):  # newer, so read first, and none of them visible
        customer(db, f"外店{token}", store="JX-HZ02")
    assert ids(search_members(db, token, AGENT_HZ01, limit=2)) == [mine[2].id, mine[1].id]
    assert ids(search_members(db, token, AGENT_HZ01)) == [m.id for m in reversed(mine)]
    assert search_members(db, token, AGENT_HZ01, limit=0) == []


def test_rows_never_carry_the_full_phone(db: Session) -> None:
    phone = phone_ending(unused_suffix(db))
    customer(db, "保密", phone)
    (row,) = search_members(db, phone, ADMIN)
    assert phone not in repr(dataclasses.astuple(row))
    assert row.phone == f"{phone[:3]}****{phone[-4:]}"


def test_member_page_is_scoped_like_the_search(db: Session) -> None:
    person = customer(db, "二店会员", store="JX-HZ02")
    with pytest.raises(Forbidden, match="其他门店"):
        directory.member_page(db, person.id, AGENT_HZ01)
    page = directory.member_page(db, person.id, AGENT_HZ02)
    assert page.member.customer_id == person.id and not page.may_adjust
    assert page.ledger.items == [] and page.ledger.size == 20
    assert page.adjust_key.startswith("staff-adjust:")
    assert page.adjust_key != directory.member_page(db, person.id, ADMIN).adjust_key
    assert directory.member_page(db, person.id, SUPERVISOR_HZ02).may_adjust
    with pytest.raises(NotFound):
        directory.member_page(db, 2_000_000_000, ADMIN)


def test_adjustment_is_written_once_per_key_under_the_username(db: Session) -> None:
    person = customer(db, "调整", store="JX-HZ01")
    form = key()
    credit = adjust_points(db, person.id, SUPERVISOR_HZ02, "zhang", " 200 ", " 活动补发积分 ", form)
    again = adjust_points(db, person.id, SUPERVISOR_HZ02, "zhang", "200", "活动补发积分", form)
    assert again.id == credit.id
    assert (credit.kind, credit.amount, credit.reason, credit.ref) == (
        "adjust",
        200,
        "活动补发积分",
        "staff:zhang",
    )
    assert credit.expires_on is not None
    debit = adjust_points(db, person.id, ADMIN, "root", -200, "误发收回积分", key())
    assert (debit.amount, debit.expires_on, debit.ref) == (-200, None, "staff:root")
    entries = db.scalars(select(PointsEntry).where(PointsEntry.customer_id == person.id))
    assert [e.amount for e in entries] == [200, -200]
    with pytest.raises(Conflict):  # the same form re-posted with another amount
        adjust_points(db, person.id, ADMIN, "root", 100, "活动补发积分", form)


@pytest.mark.parametrize(
    ("viewer", "amount", "reason", "form", "error", "message"),
    [
        (AGENT_ALL, 100, "活动补发积分", None, Forbidden, "主管和管理员"),
        (ADMIN, 0, "活动补发积分", None, InvalidInput, "不能为 0"),
        (ADMIN, 5001, "活动补发积分", None, InvalidInput, "±5000"),
        (ADMIN, "-5001", "活动补发积分", None, InvalidInput, "±5000"),
        (ADMIN, "1.5", "活动补发积分", None, InvalidInput, "整数"),
        (ADMIN, "abc", "活动补发积分", None, InvalidInput, "整数"),
        (ADMIN, "", "活动补发积分", None, InvalidInput, "整数"),
        (ADMIN, 100, " 补发 ", None, InvalidInput, "调整原因"),
        (ADMIN, 100, "补" * 201, None, InvalidInput, "调整原因"),
        (ADMIN, 100, "活动补发积分", "earn:P-1", InvalidInput, "刷新页面"),
        (ADMIN, -1, "误发收回积分", None, InsufficientPoints, "积分不足"),
    ],
)
def test_refused_adjustments_write_nothing(
    db: Session,
    viewer: Actor,
    amount: int | str,
    reason: str,
    form: str | None,
    error: type[Exception],
    message: str,
) -> None:
    person = customer(db, "拒绝")
    with pytest.raises(error, match=message):
        adjust_points(db, person.id, viewer, "someone", amount, reason, form or key())
    assert db.scalars(select(PointsEntry).where(PointsEntry.customer_id == person.id)).all() == []


def test_supervisors_adjust_any_stores_member_up_to_the_limit(db: Session) -> None:
    person = customer(db, "外店", store="JX-HZ02")
    with pytest.raises(Forbidden, match="其他门店"):
        directory.visible_member(db, person.id, AGENT_HZ01)
    assert adjust_points(db, person.id, SUPERVISOR_HZ02, "zhang", 5000, "大额补发积分", key())
