"""Opening repair tickets with a warranty decision, finding them, rating a finished repair."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from crm.customers.models import Customer
from crm.db import utcnow
from crm.errors import Conflict, NotFound
from crm.knowledge.models import Product, Store
from crm.tickets import states, warranty
from crm.tickets.lifecycle import due_date, get_product, is_overdue, record, rules_of, today
from crm.tickets.models import RepairTicket, TicketFollowUp
from crm.tickets.proof import ProofFound
from crm.tickets.schemas import TicketCreate

LOW_RATING = 3
RATING_OPEN = timedelta(days=7)  # later, a bare «4» is no longer taken as the rating
PHOTO_REASON = (
    "已收到您的凭证照片，维修中心收件时核对照片上的购买日期：在保修期内的免费维修，"
    "不在保修期内的按以下标准收费。"
)


def assess(
    session: Session,
    customer: Customer,
    product: Product,
    proof: ProofFound,
    fault: str,
    exclusions: list[str],
) -> warranty.WarrantyDecision:
    """The warranty decision for this product, proof, fault and the customer's tier."""
    return warranty.decide(
        product.data, proof.start, today(), customer.tier, fault, exclusions, rules_of(session)
    )


def open_ticket(session: Session, data: TicketCreate, proof: ProofFound) -> RepairTicket:
    """Open a ticket; the same form twice (same idempotency key) gives back the same ticket."""
    existing = session.scalars(
        select(RepairTicket).where(RepairTicket.idempotency_key == data.idempotency_key)
    ).one_or_none()
    if existing is not None:
        return existing
    customer = session.get(Customer, data.customer_id)
    if customer is None:
        raise NotFound(f"customer {data.customer_id} does not exist")
    product = get_product(session, data.sku)
    duplicate = _open_ticket_for(session, customer.id, product.sku)
    if duplicate is not None:
        raise Conflict(
            f"这件工具已有维修单 {duplicate.number}"
            f"（{states.label(duplicate.state)}），无需重复提交"
        )
    if data.store_id is not None and session.get(Store, data.store_id) is None:
        raise NotFound(f"没有找到门店 {data.store_id}")
    decision = assess(session, customer, product, proof, data.fault, data.exclusions)
    ticket = RepairTicket(
        idempotency_key=data.idempotency_key,
        customer_id=customer.id,
        sku=product.sku,
        product_name=product.name,
        category=product.category,
        fault=data.fault,
        priority=data.priority,
        proof_kind=proof.kind,
        proof_ref=proof.ref,
        purchase_id=proof.purchase.id if proof.purchase else None,
        warranty_start=proof.start,
        in_warranty=None if proof.kind == "photo" else decision.in_warranty,
        warranty_reason=PHOTO_REASON if proof.kind == "photo" else decision.reason,
        exclusions=list(data.exclusions),
        fee_estimate=_fee_json(decision),
        contact_phone=data.contact_phone,
        service_method=data.service_method,
        store_id=data.store_id,
        state=states.SUBMITTED,
        due_on=due_date(session, product, today(), data.service_method, data.store_id),
    )
    _insert_numbered(session, ticket)
    record(session, ticket, None, states.SUBMITTED, f"customer:{customer.id}", "顾客提交报修")
    return ticket


def _fee_json(decision: warranty.WarrantyDecision) -> dict[str, Any]:
    if decision.fee is None:
        return {}
    fee = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(decision.fee).items()}
    fee["text"] = decision.fee.text()
    return fee


def _open_ticket_for(session: Session, customer_id: int, sku: str) -> RepairTicket | None:
    return session.scalars(
        select(RepairTicket).where(
            RepairTicket.customer_id == customer_id,
            RepairTicket.sku == sku,
            RepairTicket.state.in_(states.OPEN_STATES),
        )
    ).first()


def _insert_numbered(session: Session, ticket: RepairTicket) -> None:
    """Number RP + date + 4-digit sequence (POL-REP-003); a clash with a concurrent insert
    takes the next number."""
    prefix = f"RP{today():%Y%m%d}-"
    for _ in range(20):
        last = session.scalar(
            select(func.max(RepairTicket.number)).where(RepairTicket.number.like(f"{prefix}%"))
        )
        ticket.number = f"{prefix}{int(last[-4:]) + 1 if last else 1:04d}"
        try:
            with session.begin_nested():
                session.add(ticket)
                session.flush()
            return
        except IntegrityError:
            session.expunge(ticket) if ticket in session else None
    raise Conflict("维修单号分配冲突，请稍后再试")


def get_ticket(session: Session, number: str, for_update: bool = False) -> RepairTicket:
    """A ticket by its number (row-locked when changing it), or NotFound."""
    query = select(RepairTicket).where(RepairTicket.number == number.upper())
    if for_update:
        query = query.with_for_update()
    ticket = session.scalars(query).one_or_none()
    if ticket is None:
        raise NotFound(f"没有找到维修单 {number.upper()}")
    return ticket


def list_tickets(
    session: Session,
    *,
    state: str | None = None,
    store_id: str | None = None,
    customer_id: int | None = None,
    overdue: bool | None = None,
    limit: int = 100,
) -> list[RepairTicket]:
    """Tickets newest first, filtered; `overdue` filters on is_overdue."""
    query = select(RepairTicket).options(selectinload(RepairTicket.events))
    if state:
        query = query.where(RepairTicket.state == state)
    if store_id:
        query = query.where(RepairTicket.store_id == store_id)
    if customer_id is not None:
        query = query.where(RepairTicket.customer_id == customer_id)
    found = list(session.scalars(query.order_by(RepairTicket.id.desc()).limit(limit)))
    if overdue is not None:
        found = [t for t in found if is_overdue(t) == overdue]
    return found


def open_tickets_of(session: Session, customer_id: int) -> list[RepairTicket]:
    """The customer's tickets still in progress, oldest first."""
    return list(
        session.scalars(
            select(RepairTicket)
            .where(
                RepairTicket.customer_id == customer_id,
                RepairTicket.state.in_(states.OPEN_STATES),
            )
            .order_by(RepairTicket.id)
        )
    )


def awaiting_approval_of(session: Session, customer_id: int) -> RepairTicket | None:
    """The customer's ticket whose quote waits for an answer (the oldest, if several)."""
    return session.scalars(
        select(RepairTicket)
        .where(
            RepairTicket.customer_id == customer_id,
            RepairTicket.state == states.AWAITING_APPROVAL,
        )
        .order_by(RepairTicket.id)
        .with_for_update()
    ).first()


def rate(session: Session, customer_id: int, score: int) -> RepairTicket | None:
    """Record a 1–5 rating on the customer's completed, unrated ticket; a low one opens a
    follow-up for a supervisor. None when no rating is pending."""
    if not 1 <= score <= 5:
        raise Conflict("评分请在 1 到 5 分之间")
    ticket = session.scalars(
        select(RepairTicket)
        .where(
            RepairTicket.customer_id == customer_id,
            RepairTicket.rating_asked_at > utcnow() - RATING_OPEN,
            RepairTicket.rating.is_(None),
        )
        .order_by(RepairTicket.rating_asked_at.desc())
        .with_for_update()
    ).first()
    if ticket is None:
        return None
    ticket.rating = score
    if score <= LOW_RATING:
        session.add(TicketFollowUp(ticket_id=ticket.id, reason=f"顾客评分 {score} 分，请主管回访"))
    record(session, ticket, ticket.state, ticket.state, f"customer:{customer_id}", f"评分 {score}")
    return ticket
