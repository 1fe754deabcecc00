"""Repair tickets as staff work them: what a staff member may see and change, and a ticket
opened for the customer of a handoff conversation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.errors import Forbidden, InvalidInput, NotFound
from crm.handoff import service as handoffs
from crm.handoff.models import Handoff
from crm.handoff.service import Actor
from crm.knowledge.models import Store
from crm.privacy.masking import mask_name, mask_phone
from crm.purchases.schemas import problems
from crm.staff.service import can_see_store
from crm.tickets import flows, intake, lifecycle, proof, service, states
from crm.tickets.models import RepairTicket, TicketEvent
from crm.tickets.replies import summary
from crm.tickets.schemas import SERVICE_METHODS, DiagnosisIn, Proof, TicketCreate, TransitionIn

OTHER_STORE = "这张维修单属于其他门店，您无权查看或处理"
NEEDS_STORE = "到店维修请选择顾客送修的门店"
SCAN = 500  # newest tickets read to fill one page of those the viewer may see
LABELS = {name: state.label for name, state in states.STATES.items()}
Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class TicketRow:
    """A ticket as the list shows it."""

    ticket: RepairTicket
    state_label: str
    overdue: bool


@dataclass(frozen=True)
class TicketPage:
    """One ticket as its page shows it: the customer's phone masked, the moves it allows."""

    ticket: RepairTicket
    state_label: str
    overdue: bool
    customer_name: str | None
    customer_phone: str | None
    contact_phone: str | None
    events: list[TicketEvent]
    next_states: list[tuple[str, str]]
    may_diagnose: bool


@dataclass(frozen=True)
class ChatTicketForm:
    """What the «open a repair ticket» form of a conversation offers."""

    products: list[tuple[str, str]]  # (sku, name) the customer bought from us
    phone_hint: str | None  # the member's phone, masked: used when the field is left empty
    methods: tuple[str, ...]
    stores: list[tuple[str, str]]  # (id, name)
    store_id: str | None  # preselected: the customer's store, else the agent's
    key: str


def _by(username: str) -> str:
    return f"staff:{username}"


def _parsed(model: type[Model], **values: object) -> Model:
    """The form's values as `model`, or InvalidInput saying what is wrong."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput(problems(exc)) from exc


def visible_tickets(
    session: Session, viewer: Actor, state: str = "", overdue_only: bool = False, limit: int = 100
) -> list[TicketRow]:
    """Tickets newest first that the viewer may see, by state and overdue."""
    found = service.list_tickets(
        session, state=state or None, overdue=True if overdue_only else None, limit=SCAN
    )
    seen = [t for t in found if can_see_store(viewer, t.store_id)][:limit]
    return [TicketRow(t, LABELS[t.state], lifecycle.is_overdue(t)) for t in seen]


def ticket_for(session: Session, number: str, viewer: Actor, lock: bool = False) -> RepairTicket:
    """A ticket the viewer may see (row-locked when `lock`); NotFound or Forbidden."""
    ticket = service.get_ticket(session, number, for_update=lock)
    if not can_see_store(viewer, ticket.store_id):
        raise Forbidden(OTHER_STORE)
    return ticket


def ticket_page(session: Session, number: str, viewer: Actor) -> TicketPage:
    """What the ticket's page shows the viewer."""
    ticket = ticket_for(session, number, viewer)
    customer = session.get(Customer, ticket.customer_id)
    allowed = states.TRANSITIONS[ticket.state]
    return TicketPage(
        ticket=ticket,
        state_label=LABELS[ticket.state],
        overdue=lifecycle.is_overdue(ticket),
        customer_name=mask_name(customer.display_name) if customer else None,
        customer_phone=mask_phone(customer.phone) if customer else None,
        contact_phone=mask_phone(ticket.contact_phone),
        events=list(ticket.events),
        next_states=[(s, label) for s, label in LABELS.items() if s in allowed],
        may_diagnose=ticket.state in states.OPEN_STATES - {states.SUBMITTED},
    )


def change_state(
    session: Session, number: str, viewer: Actor, username: str, target: str, note: str = ""
) -> RepairTicket:
    """Move the ticket (legal moves only) and tell the customer, as the staff member."""
    move = _parsed(TransitionIn, to=target, note=note.strip() or None)
    ticket = ticket_for(session, number, viewer, lock=True)
    return flows.change_state(session, ticket, move.to, _by(username), move.note)


def diagnose(
    session: Session, number: str, viewer: Actor, username: str, diagnosis: str, quote: str = ""
) -> RepairTicket:
    """Record the repair centre's finding and, out of warranty, the quote."""
    found = _parsed(DiagnosisIn, diagnosis=diagnosis.strip(), quote_yuan=quote.strip() or None)
    ticket = ticket_for(session, number, viewer, lock=True)
    return lifecycle.diagnose(session, ticket, found.diagnosis, found.quote_yuan, _by(username))


def _stores(session: Session) -> list[Store]:
    stores = session.scalars(select(Store).where(Store.id != intake.NOT_A_STORE).order_by(Store.id))
    return list(stores)


def chat_form(session: Session, handoff: Handoff, viewer: Actor) -> ChatTicketForm:
    """The ticket form of a conversation: the customer's purchases, a fresh idempotency key."""
    customer = session.get(Customer, handoff.customer_id)
    owned = intake.owned_products(session, customer) if customer else []
    return ChatTicketForm(
        products=[(p.sku, p.name) for p in owned],
        phone_hint=mask_phone(customer.phone) if customer else None,
        methods=SERVICE_METHODS,
        stores=[(s.id, s.name) for s in _stores(session)],
        store_id=handoff.store_id or viewer.store_id,
        key=f"handoff:{handoff.id}:{uuid.uuid4().hex}",
    )


def open_from_conversation(
    session: Session,
    handoff_id: int,
    actor: Actor,
    sku: str,
    fault: str,
    service_method: str,
    phone: str,
    *,
    username: str,
    store_id: str | None = None,
    idempotency_key: str | None = None,
) -> RepairTicket:
    """Open a ticket for the customer of the actor's conversation, with their purchase of the
    product as proof; the customer gets the same read-back as from the repair form."""
    handoff = handoffs.get(session, handoff_id, actor, lock=True)  # one form at a time
    handoffs.check_owner(handoff, actor, strict=True)
    key = idempotency_key or f"handoff:{handoff.id}:{uuid.uuid4().hex}"
    again = session.scalars(select(RepairTicket).where(RepairTicket.idempotency_key == key))
    if (done := again.one_or_none()) is not None:
        return done  # the same form posted twice
    customer = session.get(Customer, handoff.customer_id)
    if customer is None:
        raise NotFound(f"customer {handoff.customer_id} does not exist")
    sku = sku.strip().upper()
    purchase = proof.latest_purchase_of(session, customer, sku)
    data = _parsed(
        TicketCreate,
        customer_id=customer.id,
        sku=sku,
        fault=fault.strip(),
        proof=Proof(kind="purchase", ref=purchase.order_no) if purchase else Proof(kind="none"),
        contact_phone=phone.strip() or customer.phone or "",
        service_method=service_method,
        store_id=_store_for(service_method, store_id, handoff, actor),
        priority=intake.is_battery_hazard(fault),
        idempotency_key=key,
    )
    found = proof.from_purchase(purchase) if purchase else proof.ProofFound("none", None, None)
    ticket = service.open_ticket(session, data, found)
    note = f"客服在会话 #{handoff.id} 中代顾客登记"
    lifecycle.record(session, ticket, ticket.state, ticket.state, _by(username), note)
    handoffs.send_if_open(session, handoff, summary(session, ticket), actor.id)
    return ticket


def _store_for(method: str, chosen: str | None, handoff: Handoff, actor: Actor) -> str | None:
    """The store of a walk-in repair (chosen, else the customer's, else the agent's)."""
    if method != "到店":
        return None
    store = chosen or handoff.store_id or actor.store_id
    if not store:
        raise InvalidInput(NEEDS_STORE)
    return store
