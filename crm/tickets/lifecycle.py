"""The ticket lifecycle: legal state changes with who, when and why, due dates from the
turnaround targets, the quote clock, diagnosis and store assignment."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.db import SHANGHAI, utcnow
from crm.errors import NotFound
from crm.knowledge.models import Product, Rule, Store
from crm.tickets import states
from crm.tickets.calendar import add_working_days, working_days_between
from crm.tickets.models import RepairTicket, TicketEvent


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


def record(
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
            changed_on(session, ticket), today()
        )  # not counted (POL-TAT-005)
        ticket.due_on = add_working_days(ticket.due_on, waited)
    ticket.state = target
    if target == states.COMPLETED:
        ticket.rating_asked_at = utcnow()
    record(session, ticket, current, target, actor, note)
    return ticket


def changed_on(session: Session, ticket: RepairTicket) -> date:
    """The business day of the ticket's last recorded change."""
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
    record(session, ticket, ticket.state, ticket.state, actor, note)
    return ticket


def assign_store(session: Session, ticket: RepairTicket, store_id: str, actor: str) -> RepairTicket:
    """Hand the ticket to a store."""
    if session.get(Store, store_id) is None:
        raise NotFound(f"没有找到门店 {store_id}")
    ticket.store_id = store_id
    record(session, ticket, ticket.state, ticket.state, actor, f"分配门店 {store_id}")
    return ticket


def is_overdue(ticket: RepairTicket, on: date | None = None) -> bool:
    """Past its due date while the repair centre is working on it."""
    return (
        ticket.due_on is not None
        and ticket.state in states.CLOCK_STATES | {states.SUBMITTED}
        and (on or today()) > ticket.due_on
    )
