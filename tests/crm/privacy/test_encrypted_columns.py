"""Phones and names are ciphertext in the database, plaintext in Python, found by keyed hash."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.customers.service import bind_phone
from crm.privacy.crypto import PiiDecryptionError, kid_of, phone_digest, phone_last4_digest
from crm.purchases.models import Purchase
from crm.purchases.service import purchases_of
from crm.tickets.models import RepairTicket


def new_phone() -> str:
    return f"139{secrets.randbelow(10**8):08d}"


def a_ticket(customer: Customer, phone: str) -> RepairTicket:
    return RepairTicket(
        number=f"RP-{secrets.token_hex(4)}",
        idempotency_key=secrets.token_hex(8),
        customer_id=customer.id,
        sku="RG-DR-12",
        product_name="锂电钻",
        category="电动工具",
        fault="不转",
        proof_kind="photo",
        warranty_reason="待核实",
        contact_phone=phone,
        service_method="到店",
        state="submitted",
    )


def test_the_tables_hold_no_plaintext_phone_or_name(db: Session) -> None:
    phone, contact = new_phone(), new_phone()
    person = Customer(display_name="王小明", phone=phone)
    db.add(person)
    db.flush()
    order = f"T-{secrets.token_hex(5)}"
    db.add(
        Purchase(
            order_no=order,
            source="pos",
            member_phone=phone,
            sku="RG-DR-12",
            price_yuan=Decimal("99.00"),
            paid_at=datetime(2026, 3, 1, tzinfo=UTC),
        )
    )
    db.add(a_ticket(person, contact))
    db.flush()
    raw = db.execute(
        text(
            "SELECT c.display_name, c.phone, c.phone_hash, p.member_phone, p.member_phone_hash, "
            "t.contact_phone FROM customers c JOIN purchases p ON p.order_no = :order "
            "JOIN repair_tickets t ON t.customer_id = c.id WHERE c.id = :id"
        ),
        {"order": order, "id": person.id},
    ).one()
    dump = " ".join(raw)
    for secret in (phone, contact, "王小明", phone[-4:] + "'"):
        assert secret not in dump
    assert all(kid_of(v) == "dev" for v in (raw[0], raw[1], raw[3], raw[5]))
    assert raw[2] == raw[4] == phone_digest(phone)  # same keyed hash: purchases join customers
    db.expire_all()
    again = db.get(Customer, person.id)
    assert again is not None and (again.display_name, again.phone) == ("王小明", phone)


def test_hashes_follow_every_assignment_and_none_clears_them(db: Session) -> None:
    first, second = new_phone(), new_phone()
    person = Customer(phone=first)
    assert person.phone_hash == phone_digest(first)
    assert person.phone_last4_hash == phone_last4_digest(first[-4:])
    person.phone = second
    assert person.phone_hash == phone_digest(second)
    person.phone = None  # what an erasure does
    assert person.phone_hash is None and person.phone_last4_hash is None


def test_lookups_by_phone_go_through_the_hash(db: Session) -> None:
    phone = new_phone()
    member = Customer(display_name="李师傅")
    db.add(member)
    db.flush()
    db.add(
        Purchase(
            order_no=f"T-{secrets.token_hex(5)}",
            source="pos",
            member_phone=phone,
            sku="RG-DR-12",
            price_yuan=Decimal("99.00"),
            paid_at=datetime(2026, 3, 1, tzinfo=UTC),
        )
    )
    db.flush()
    assert [p.member_phone for p in purchases_of(db, member)] == []
    bind_phone(db, member, f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}")
    found = db.scalars(select(Customer).where(Customer.phone_hash == phone_digest(phone))).one()
    assert found.id == member.id
    assert [p.member_phone for p in purchases_of(db, member)] == [phone]  # claimed by hash


def test_one_phone_binds_one_customer(db: Session) -> None:
    phone = new_phone()
    db.add(Customer(phone=phone))
    db.flush()
    with pytest.raises(IntegrityError), db.begin_nested():
        db.add(Customer(phone=phone))
        db.flush()


def test_a_tampered_row_fails_clearly_when_read(db: Session) -> None:
    person = Customer(phone=new_phone())
    other = Customer(phone=new_phone())
    db.add_all([person, other])
    db.flush()
    stored = db.scalar(text("SELECT phone FROM customers WHERE id = :id"), {"id": other.id})
    # A phone's ciphertext copied into the name column (bypassing the type): bound to
    # customers.phone, it does not pass as customers.display_name.
    db.execute(
        text("UPDATE customers SET display_name = :v WHERE id = :id"),
        {"v": stored, "id": person.id},
    )
    db.expire_all()
    with pytest.raises(
        PiiDecryptionError, match=r"customers\.display_name: .*failed authentication"
    ):
        db.get(Customer, person.id)
