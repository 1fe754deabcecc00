"""Opening repair tickets with a warranty decision, moving them through their lifecycle, rating."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from crm.customers.models import Customer
from crm.db import utcnow
from crm.errors import Conflict, NotFound
from crm.knowledge.models import Product, Rule, Store
from crm.tickets import states, warranty
from crm.tickets.calendar import add_working_days, working_days_between
from crm.tickets.models import RepairTicket, TicketEvent, TicketFollowUp
from crm.tickets.proof import ProofFound
from crm.tickets.schemas import TicketCreate

SHANGHAI = ZoneInfo("Asia/Shanghai")
LOW_RATING = 3


def today() -> date:
    """The business day in the shops' time zone."""
    return datetime.now(SHANGHAI).date()


def rules_of(session: Session) -> dict[str, dict[str, Any]]:
    """Every policy and membership rule's data by id (POL-WAR-002 → {...})."""
    return {rule.id: rule.data for rule in session.scalars(select(Rule))}


def get_product(session: Session, sku: str) -> Product:
    """A product of the catalogue, or NotFound naming the SKU."""
    product = session.get(Product, sku.upper())
    if product is None:
        raise NotFound(f"没有找到商品 {sku}，请核对型号")
    return product


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
        warranty_reason=decision.reason,
        exclusions=list(data.exclusions),
        fee_estimate=_fee_json(decision),
        contact_phone=data.contact_phone,
        service_method=data.service_method,
        store_id=data.store_id,
        state=states.SUBMITTED,
        due_on=due_date(session, product, today(), data.service_method, data.store_id),
    )
    _insert_numbered(session, ticket)
    _record(session, ticket, None, states.SUBMITTED, f"customer:{customer.id}", "顾客提交报修")
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


def due_date(
    session: Session, product: Product, start: date, method: str, store_id: str | None
) -> date:
    """Target date: the category's turnaround (POL-TAT-002/003), plus the store's transit to the
    repair centre when handed in at a store (POL-TAT-004)."""
    rules = rules_of(session)
    days = _turnaround_days(rules, product)
    if method == "到店" and store_id:
        tat = rules.get("POL-TAT-004", {})
        city = "ningbo" if store_id.startswith("JX-NB") else "hangzhou"
        days += int(tat.get(f"{city}_store_transit_working_days_each_way", 0))
    return add_working_days(start, days)


def _turnaround_days(rules: dict[str, dict[str, Any]], product: Product) -> int:
    if product.sku in rules.get("POL-WAR-005", {}).get("skus", []):
        span = str(rules.get("POL-TAT-003", {}).get("brand_working_days", "15"))
        return int(re.findall(r"\d+", span)[-1])
    for target in rules.get("POL-TAT-002", {}).get("targets_working_days", []):
        if product.category in target.get("categories", []):
            return int(target["working_days"])
    inspection = rules.get("POL-TAT-001", {}).get("inspection_working_days", 1)
    return int(inspection) + 2  # not repaired (batteries, hand tools): inspect and replace


def _record(
    session: Session,
    ticket: RepairTicket,
    from_state: str | None,
    to_state: str,
    actor: str,
    note: str | None,
) -> None:
    session.add(
        TicketEvent(
            ticket_id=ticket.id, from_state=from_state, to_state=to_state, actor=actor, note=note
        )
    )
    session.flush()


def get_ticket(session: Session, number: str, for_update: bool = False) -> RepairTicket:
    """A ticket by its number (row-locked when changing it), or NotFound."""
    query = select(RepairTicket).where(RepairTicket.number == number.upper())
    if for_update:
        query = query.with_for_update()
    ticket = session.scalars(query).one_or_none()
    if ticket is None:
        raise NotFound(f"没有找到维修单 {number.upper()}")
    return ticket


def transition(
    session: Session, ticket: RepairTicket, target: str, actor: str, note: str | None = None
) -> RepairTicket:
    """Move `ticket` to `target` if the lifecycle allows it; record who, when and why."""
    states.check(ticket.state, target)
    if target == states.AWAITING_APPROVAL and ticket.quote_yuan is None:
        raise states.IllegalTransition("请先填写检测结果和报价，再请顾客确认")
    current = ticket.state
    if target == states.ACCEPTED:  # the repair centre's clock starts at receipt
        product = get_product(session, ticket.sku)
        ticket.due_on = add_working_days(today(), _turnaround_days(rules_of(session), product))
    if current == states.AWAITING_APPROVAL and ticket.due_on is not None:
        waited = working_days_between(
            _changed_on(session, ticket), today()
        )  # not counted (POL-TAT-005)
        ticket.due_on = add_working_days(ticket.due_on, waited)
    ticket.state = target
    if target == states.COMPLETED:
        ticket.rating_asked_at = utcnow()
    _record(session, ticket, current, target, actor, note)
    return ticket


def _changed_on(session: Session, ticket: RepairTicket) -> date:
    last = session.scalar(
        select(func.max(TicketEvent.at)).where(TicketEvent.ticket_id == ticket.id)
    )
    last = last or ticket.created_at
    return last.astimezone(SHANGHAI).date() if last.tzinfo else last.date()


def diagnose(
    session: Session, ticket: RepairTicket, diagnosis: str, quote: Decimal | None, actor: str
) -> RepairTicket:
    """Record the repair centre's finding and quote (while the tool is with them)."""
    if ticket.state not in (states.ACCEPTED, states.DIAGNOSING, states.AWAITING_APPROVAL):
        raise states.IllegalTransition(
            f"维修单当前为「{states.label(ticket.state)}」，不能再填写检测结果"
        )
    ticket.diagnosis = diagnosis
    ticket.quote_yuan = quote
    note = f"检测结果：{diagnosis}" + (f"；报价 {quote} 元" if quote is not None else "")
    _record(session, ticket, ticket.state, ticket.state, actor, note)
    return ticket


def assign_store(session: Session, ticket: RepairTicket, store_id: str, actor: str) -> RepairTicket:
    """Hand the ticket to a store."""
    if session.get(Store, store_id) is None:
        raise NotFound(f"没有找到门店 {store_id}")
    ticket.store_id = store_id
    _record(session, ticket, ticket.state, ticket.state, actor, f"分配门店 {store_id}")
    return ticket


def is_overdue(ticket: RepairTicket, on: date | None = None) -> bool:
    """Past its due date while the repair centre is working on it."""
    return (
        ticket.due_on is not None
        and ticket.state in states.CLOCK_STATES | {states.SUBMITTED}
        and (on or today()) > ticket.due_on
    )


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
            RepairTicket.rating_asked_at.is_not(None),
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
    _record(session, ticket, ticket.state, ticket.state, f"customer:{customer_id}", f"评分 {score}")
    return ticket
