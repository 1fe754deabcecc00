"""Order import is all-or-nothing and idempotent; purchases are found by customer and by phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.customers.service import bind_phone
from crm.errors import Conflict, InvalidImport, InvalidInput
from crm.purchases.models import Purchase
from crm.purchases.service import (
    belongs_to,
    check_purchases,
    get_by_order_no,
    import_purchases,
    purchases_of,
)
from tests.crm.purchases.conftest import member, order, unique_order_no, unique_phone


def _count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Purchase)) or 0


def _errors(db: Session, rows: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(InvalidImport) as caught:
        import_purchases(db, rows)
    return caught.value.errors


def test_import_creates_purchases_in_shanghai_time_and_links_members(db: Session) -> None:
    phone = unique_phone()
    by_phone, by_id = member(db, phone), member(db)
    rows = [
        order(member_phone=phone, paid_at="2025-06-01 10:30:00"),
        order(
            source="mall",
            member_phone=None,
            member_id=by_id.id,
            store=None,
            paid_at="2025-06-01T10:30:00Z",
            delivered_at="2025-06-03T09:00:00+08:00",
        ),
        order(member_phone="+86 137-0000-0001"),
    ]
    report = import_purchases(db, rows)
    assert (report.created, report.unchanged, report.errors) == (3, 0, [])
    first, mall, walk_in = (get_by_order_no(db, r["order_no"]) for r in rows)
    assert first is not None and mall is not None and walk_in is not None
    assert first.customer_id == by_phone.id and first.store_id == "JX-HZ01"
    assert first.paid_at == datetime(2025, 6, 1, 2, 30, tzinfo=UTC)  # naive = Asia/Shanghai
    assert first.price_yuan == Decimal("299.00")
    assert (mall.customer_id, mall.member_phone, mall.store_id) == (by_id.id, None, None)
    assert mall.delivered_at == datetime(2025, 6, 3, 1, 0, tzinfo=UTC)
    assert (walk_in.member_phone, walk_in.customer_id) == ("13700000001", None)


def test_reimport_of_the_same_orders_changes_nothing(db: Session) -> None:
    rows = [order(), order(source="mall", store=None, delivered_at="2025-06-02 18:00")]
    import_purchases(db, rows)
    before = _count(db)
    # The same instants written another way (UTC, a number as price) are the same content.
    again = [
        {**rows[0], "paid_at": "2025-06-01T02:30:00+00:00", "price_yuan": 299},
        {**rows[1], "sku": "rg-dr-12"},
    ]
    report = import_purchases(db, again)
    assert (report.created, report.unchanged, report.errors) == (0, 2, [])
    assert _count(db) == before


def test_changed_content_is_refused_and_nothing_is_written(db: Session) -> None:
    first = order()
    import_purchases(db, [first])
    fresh = order()
    errors = _errors(db, [fresh, {**first, "price_yuan": "199.00"}])
    assert errors == [
        f"row 2 ({first['order_no']}): already imported with different content; "
        "nothing was overwritten"
    ]
    assert get_by_order_no(db, fresh["order_no"]) is None
    stored = get_by_order_no(db, first["order_no"])
    assert stored is not None and stored.price_yuan == Decimal("299.00")


FUTURE = (datetime.now(UTC) + timedelta(days=2)).isoformat()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"sku": "XX-NOPE-1"}, "unknown SKU XX-NOPE-1"),
        ({"paid_at": FUTURE}, "paid_at: 20"),
        ({"store": "JX-ZZ99"}, "unknown store JX-ZZ99"),
        ({"store": None}, "store is required for a pos order"),
        ({"member_id": 2_000_000_000}, "no member with member_id 2000000000"),
        ({"member_phone": None}, "member_phone or member_id is required"),
        ({"member_phone": "12345678901"}, "member_phone: '12345678901' is not a Chinese mobile"),
        ({"price_yuan": "-1"}, "price_yuan: Input should be greater than or equal to 0"),
        ({"source": "web"}, "source: Input should be 'pos' or 'mall'"),
        ({"delivered_at": "2025-06-05"}, "delivered_at applies to mall orders only"),
        (
            {"source": "mall", "store": None, "delivered_at": "2025-05-01"},
            "delivered_at is before paid_at",
        ),
        ({"source": "mall", "store": None, "delivered_at": FUTURE}, "delivered_at: 20"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_row_names_row_and_order_and_nothing_is_written(
    db: Session, change: dict[str, Any], problem: str
) -> None:
    good, bad = order(), order(**change)
    errors = _errors(db, [good, bad])
    assert len(errors) == 1
    assert errors[0].startswith(f"row 2 ({bad['order_no']}): ")
    assert problem in errors[0]
    if problem.endswith(": 20"):
        assert errors[0].endswith("is in the future")
    assert get_by_order_no(db, good["order_no"]) is None


def test_every_bad_row_is_listed_in_row_order(db: Session) -> None:
    rows = [order(sku="XX-NOPE-1"), order(), order(paid_at=FUTURE), {"source": "pos"}]
    errors = _errors(db, rows)
    assert [e.split(":")[0] for e in errors] == [
        f"row 1 ({rows[0]['order_no']})",
        f"row 3 ({rows[2]['order_no']})",
        "row 4 (no order_no)",
    ]
    assert "is in the future" in errors[1]


def test_an_order_twice_in_one_import(db: Session) -> None:
    row = order()
    report = import_purchases(db, [row, dict(row)])
    assert (report.created, report.unchanged) == (1, 1)
    other = order()
    errors = _errors(db, [other, {**other, "sku": "RG-DR-20BL"}])
    assert errors == [f"row 2 ({other['order_no']}): repeats row 1 with different content"]


def test_member_id_and_someone_elses_phone_are_refused(db: Session) -> None:
    phone = unique_phone()
    owner, other = member(db, phone), member(db)
    errors = _errors(db, [order(member_phone=phone, member_id=other.id)])
    assert f"member_phone belongs to member {owner.id}, not to member_id {other.id}" in errors[0]


def test_dry_run_reports_and_writes_nothing(db: Session) -> None:
    existing = order()
    import_purchases(db, [existing])
    before = _count(db)
    report = check_purchases(db, [existing, order(), order(sku="XX-NOPE-1")])
    assert (report.created, report.unchanged, len(report.errors)) == (1, 1, 1)
    assert _count(db) == before


def test_progress_is_reported_every_500_rows(db: Session) -> None:
    calls: list[tuple[int, int]] = []
    check_purchases(
        db, [order() for _ in range(1001)], lambda done, total: calls.append((done, total))
    )
    assert calls == [(500, 1001), (1000, 1001), (1001, 1001)]


def test_purchases_of_a_customer_newest_first(db: Session) -> None:
    phone = unique_phone()
    older, newer = order(member_phone=phone, paid_at="2024-01-01 09:00"), order(member_phone=phone)
    someone = member(db)
    theirs = order(member_phone=phone, member_id=someone.id, paid_at="2025-07-01 09:00")
    import_purchases(db, [older, newer, theirs])
    customer = member(db)
    customer.phone = phone  # bound some other way: unlinked purchases under it are still theirs
    db.flush()
    assert [p.order_no for p in purchases_of(db, customer)] == [
        newer["order_no"],
        older["order_no"],
    ]
    assert [p.order_no for p in purchases_of(db, someone)] == [theirs["order_no"]]
    assert purchases_of(db, member(db)) == []


def test_bind_phone_claims_the_earlier_purchases(db: Session) -> None:
    phone = unique_phone()
    someone = member(db)
    mine, theirs = order(member_phone=phone), order(member_phone=phone, member_id=someone.id)
    import_purchases(db, [mine, theirs])
    customer = member(db)
    bind_phone(db, customer, f"{phone[:3]} {phone[3:7]} {phone[7:]}")
    assert customer.phone == phone
    claimed = get_by_order_no(db, mine["order_no"])
    assert claimed is not None and claimed.customer_id == customer.id
    kept = get_by_order_no(db, theirs["order_no"])
    assert kept is not None and kept.customer_id == someone.id
    assert [p.order_no for p in purchases_of(db, customer)] == [mine["order_no"]]
    bind_phone(db, customer, phone)  # binding the same number again is fine


def test_bind_phone_refuses_a_number_of_another_member_or_no_mobile(db: Session) -> None:
    phone = unique_phone()
    member(db, phone)
    customer = member(db)
    with pytest.raises(Conflict):
        bind_phone(db, customer, phone)
    with pytest.raises(InvalidInput):
        bind_phone(db, customer, "0571-88231650")
    assert customer.phone is None


def test_belongs_to(db: Session) -> None:
    phone, contact = unique_phone(), unique_phone()
    owner, stranger = member(db, phone), member(db)
    linked, by_contact = order(member_phone=phone), order(member_phone=contact)
    import_purchases(db, [linked, by_contact])
    linked_p = get_by_order_no(db, linked["order_no"])
    contact_p = get_by_order_no(db, by_contact["order_no"])
    assert linked_p is not None and contact_p is not None
    assert belongs_to(linked_p, owner, None)
    assert not belongs_to(linked_p, stranger, None)
    assert not belongs_to(linked_p, stranger, phone)  # linked to somebody else
    assert belongs_to(contact_p, stranger, contact)
    assert belongs_to(contact_p, stranger, f"+86 {contact}")
    assert not belongs_to(contact_p, stranger, None)
    assert not belongs_to(contact_p, stranger, "not a phone")


def test_get_by_order_no(db: Session) -> None:
    row = order()
    import_purchases(db, [row])
    found = get_by_order_no(db, f" {row['order_no']} ")
    assert found is not None and found.sku == "RG-DR-12"
    assert get_by_order_no(db, unique_order_no()) is None
