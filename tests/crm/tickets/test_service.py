"""Tickets against the real database: opening with a warranty decision, duplicates, proof that
is not the customer's, the lifecycle with its notices, quotes and ratings."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm.customers import service as customers
from crm.customers.models import Customer
from crm.db import utcnow
from crm.errors import Conflict, Forbidden, NotFound
from crm.outbox.models import OutboxItem
from crm.points import service as points
from crm.purchases.models import Purchase
from crm.tickets import flows, lifecycle, proof, service, states
from crm.tickets.models import RepairTicket, TicketEvent, TicketFollowUp
from crm.tickets.schemas import Proof, TicketCreate

OA = "wx0000000000000001"  # the default Settings' official account


def _member(db: Session, tier: str = "普通会员") -> Customer:
    identity = customers.resolve_identity(db, OA, "o-" + secrets.token_hex(6), None)
    customers.follow(identity, None)
    customers.touch_interaction(identity)  # inside the 48-hour window
    customer = identity.customer
    customer.tier = tier
    customer.phone = f"137{secrets.randbelow(10**8):08d}"
    db.flush()
    return customer


def _bought(db: Session, customer: Customer, sku: str, days_ago: int) -> Purchase:
    purchase = Purchase(
        order_no="T" + secrets.token_hex(5).upper(),
        source="pos",
        member_phone=customer.phone,
        customer_id=customer.id,
        sku=sku,
        price_yuan=Decimal("299"),
        paid_at=utcnow() - timedelta(days=days_ago),
        store_id="JX-HZ01",
    )
    db.add(purchase)
    db.flush()
    return purchase


def _open(db: Session, customer: Customer, sku: str, found: proof.ProofFound, **kw: object):  # type: ignore[no-untyped-def]
    data = TicketCreate(
        customer_id=customer.id,
        sku=sku,
        fault=str(kw.get("fault", "开机没反应")),
        proof=Proof(kind=found.kind, ref=found.ref),  # type: ignore[arg-type]
        exclusions=list(kw.get("exclusions", [])),  # type: ignore[call-overload]
        contact_phone=customer.phone or "13700000000",
        service_method="到店",
        store_id="JX-HZ01",
        idempotency_key=str(kw.get("key", secrets.token_hex(8))),
    )
    return service.open_ticket(db, data, found)


def test_a_recent_purchase_opens_an_in_warranty_ticket_with_number_due_date_and_history(
    db: Session,
) -> None:
    customer = _member(db)
    found = proof.from_purchase(_bought(db, customer, "RG-DR-12", days_ago=60))
    ticket = _open(db, customer, "RG-DR-12", found)
    assert ticket.number.startswith(f"RP{lifecycle.today():%Y%m%d}-")
    assert ticket.in_warranty is True and ticket.fee_estimate == {}
    assert ticket.state == states.SUBMITTED and ticket.due_on and ticket.due_on > lifecycle.today()
    events = db.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).all()
    assert [(e.from_state, e.to_state, e.actor) for e in events] == [
        (None, "submitted", f"customer:{customer.id}")
    ]


def test_an_old_purchase_is_out_of_warranty_with_a_fee_estimate_for_the_tier(db: Session) -> None:
    plain, gold = _member(db), _member(db, tier="银卡")
    for customer, inspection in ((plain, "30"), (gold, "0")):
        found = proof.from_purchase(_bought(db, customer, "RG-AG-100", days_ago=800))
        ticket = _open(db, customer, "RG-AG-100", found)
        assert ticket.in_warranty is False and "到期" in ticket.warranty_reason
        assert Decimal(ticket.fee_estimate["inspection_yuan"]) == Decimal(inspection)
        assert ticket.fee_estimate["text"]


def test_the_same_form_twice_opens_one_ticket_and_a_second_repair_of_the_tool_is_refused(
    db: Session,
) -> None:
    customer = _member(db)
    found = proof.from_purchase(_bought(db, customer, "RG-DR-12", days_ago=10))
    first = _open(db, customer, "RG-DR-12", found, key="form-key-123")
    assert _open(db, customer, "RG-DR-12", found, key="form-key-123").id == first.id
    with pytest.raises(Conflict, match=first.number):
        _open(db, customer, "RG-DR-12", found)
    count = db.scalar(select(func.count()).where(RepairTicket.customer_id == customer.id))
    assert count == 1


def test_unknown_sku_and_someone_elses_order_change_nothing(db: Session) -> None:
    customer, other = _member(db), _member(db)
    theirs = _bought(db, other, "RG-DR-12", days_ago=10)
    with pytest.raises(Forbidden):
        proof.from_order_no(db, customer, "RG-DR-12", theirs.order_no, customer.phone)
    with pytest.raises(NotFound):
        _open(db, customer, "RG-XX-999", proof.ProofFound("none", None, None))
    assert db.scalar(select(func.count()).where(RepairTicket.customer_id == customer.id)) == 0


def test_a_serial_date_in_the_future_is_refused(db: Session) -> None:
    future = f"RG-{(lifecycle.today().year + 2) % 100:02d}01-000001"
    with pytest.raises(proof.InvalidProof):
        proof.from_serial(future, lifecycle.rules_of(db))


def _walk(db: Session, ticket: RepairTicket, *targets: str) -> None:
    for target in targets:
        flows.change_state(db, ticket, target, "staff:测试")


def test_walking_the_states_notifies_the_customer_once_per_visible_state(db: Session) -> None:
    customer = _member(db)
    ticket = _open(db, customer, "RG-DR-12", proof.ProofFound("none", None, None))
    _walk(db, ticket, states.ACCEPTED, states.DIAGNOSING)
    with pytest.raises(states.IllegalTransition):  # a quote is needed first
        flows.change_state(db, ticket, states.AWAITING_APPROVAL, "staff:测试")
    lifecycle.diagnose(db, ticket, "开关损坏", Decimal("75"), "staff:测试")
    _walk(db, ticket, states.AWAITING_APPROVAL)
    assert flows.approve_quote(db, customer.id) is ticket and ticket.state == states.REPAIRING
    _walk(db, ticket, states.READY_FOR_PICKUP, states.COMPLETED)
    with pytest.raises(states.IllegalTransition):
        flows.change_state(db, ticket, states.REPAIRING, "staff:测试")
    assert ticket.state == states.COMPLETED
    notices = db.scalars(
        select(OutboxItem).where(OutboxItem.idempotency_key.like(f"ticket:{ticket.number}:%"))
    ).all()
    kinds = sorted(n.idempotency_key.split(":")[2] for n in notices)
    assert kinds == sorted(
        [
            "accepted",
            "diagnosing",
            "awaiting_approval",
            "repairing",
            "ready_for_pickup",
            "completed",
        ]
    )
    completed = next(n for n in notices if ":completed:" in n.idempotency_key)
    assert completed.payload["msgtype"] == "msgmenu"  # rating choices on the official account


def test_declining_a_quote_returns_the_tool_and_a_low_rating_opens_a_follow_up(
    db: Session,
) -> None:
    customer = _member(db)
    ticket = _open(db, customer, "RG-AG-100", proof.ProofFound("none", None, None))
    _walk(db, ticket, states.ACCEPTED, states.DIAGNOSING)
    lifecycle.diagnose(db, ticket, "电机烧毁", Decimal("180"), "staff:测试")
    _walk(db, ticket, states.AWAITING_APPROVAL)
    assert flows.decline_quote(db, customer.id) is ticket
    assert ticket.state == states.READY_FOR_PICKUP  # handed in at a store: picked up there
    assert flows.decline_quote(db, customer.id) is None  # nothing left to decline
    assert service.rate(db, customer.id, 2) is None  # not completed: no rating asked yet
    _walk(db, ticket, states.COMPLETED)
    assert service.rate(db, customer.id, 2) is ticket and ticket.rating == 2
    assert service.rate(db, customer.id, 5) is None  # rated once
    follow_up = db.scalars(select(TicketFollowUp).where(TicketFollowUp.ticket_id == ticket.id))
    assert follow_up.one().resolved_at is None


def test_overdue_is_flagged_only_while_the_repair_centre_has_the_tool(db: Session) -> None:
    customer = _member(db)
    ticket = _open(db, customer, "RG-DR-12", proof.ProofFound("none", None, None))
    _walk(db, ticket, states.ACCEPTED)
    late = lifecycle.today() + timedelta(days=30)
    assert lifecycle.is_overdue(ticket, late)
    assert not lifecycle.is_overdue(ticket, lifecycle.today())
    assert ticket in service.list_tickets(db, customer_id=customer.id, overdue=False)


def test_a_repair_finished_late_is_compensated_with_points_once(db: Session) -> None:
    customer = _member(db)
    ticket = _open(db, customer, "RG-DR-12", proof.ProofFound("none", None, None))
    _walk(db, ticket, states.ACCEPTED, states.DIAGNOSING, states.REPAIRING)
    ticket.due_on = lifecycle.today() - timedelta(days=1)  # the repair centre ran late
    _walk(db, ticket, states.READY_FOR_PICKUP)
    assert points.balance(db, customer.id) == 200  # POL-TAT-006
    assert flows.compensate_overdue(db, ticket) == 200  # asked again: the same credit
    assert points.balance(db, customer.id) == 200


def test_a_quote_unanswered_for_more_than_7_days_counts_as_declined(db: Session) -> None:
    customer = _member(db)
    ticket = _open(db, customer, "RG-AG-100", proof.ProofFound("none", None, None))
    _walk(db, ticket, states.ACCEPTED, states.DIAGNOSING)
    lifecycle.diagnose(db, ticket, "开关烧蚀", Decimal("65"), "staff:测试")
    _walk(db, ticket, states.AWAITING_APPROVAL)
    assert flows.expire_quotes(db, lifecycle.today()) == 0  # still within the 7 days
    db.execute(
        update(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id)
        .values(at=utcnow() - timedelta(days=8))
    )
    assert flows.expire_quotes(db, lifecycle.today()) == 1
    assert ticket.state == states.READY_FOR_PICKUP  # handed in at a store: back to the store
    assert flows.expire_quotes(db, lifecycle.today()) == 0
