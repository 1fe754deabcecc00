"""Staff API for repair tickets: list and filter, read, change state, diagnose and quote, assign."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import AppContext, bearer, get_context
from crm.db import session_scope
from crm.errors import Unauthorized
from crm.tickets import flows, lifecycle, service, states
from crm.tickets.models import RepairTicket
from crm.tickets.schemas import AssignIn, DiagnosisIn, TicketRead, TransitionIn


def staff_member(
    context: Annotated[AppContext, Depends(get_context)], token: Annotated[str, Depends(bearer)]
) -> str:
    """The calling staff member's name, from their bearer token (a FastAPI dependency)."""
    for known, name in context.settings.staff_api_tokens.items():
        if token and secrets.compare_digest(token.encode(), known.encode()):
            return f"staff:{name}"
    raise Unauthorized("missing or wrong staff token")


Staff = Annotated[str, Depends(staff_member)]
Context = Annotated[AppContext, Depends(get_context)]
router = APIRouter(prefix="/api/backoffice/tickets", tags=["back office: tickets"])


def read(ticket: RepairTicket) -> TicketRead:
    """The ticket with its state label, overdue flag and history."""
    return TicketRead.model_validate(
        {
            **{c: getattr(ticket, c) for c in TicketRead.model_fields if hasattr(ticket, c)},
            "state_label": states.label(ticket.state),
            "overdue": lifecycle.is_overdue(ticket),
            "events": list(ticket.events),
        }
    )


@router.get("")
def list_tickets(
    _: Staff,
    state: Annotated[str | None, Query()] = None,
    store_id: Annotated[str | None, Query()] = None,
    overdue: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TicketRead]:
    """Tickets newest first, filtered by state, store and overdue."""
    with session_scope() as session:
        found = service.list_tickets(
            session, state=state, store_id=store_id, overdue=overdue, limit=limit
        )
        return [read(t) for t in found]


@router.get("/{number}")
def get_ticket(number: str, _: Staff) -> TicketRead:
    """One ticket with its history."""
    with session_scope() as session:
        return read(service.get_ticket(session, number))


@router.post("/{number}/transition")
async def transition(number: str, body: TransitionIn, actor: Staff, context: Context) -> TicketRead:
    """Move the ticket to another state (only legal moves); the customer is notified."""

    def change() -> TicketRead:
        with session_scope() as session:
            ticket = service.get_ticket(session, number, for_update=True)
            flows.change_state(session, ticket, body.to, actor, body.note)
            session.refresh(ticket)
            return read(ticket)

    result = await asyncio.to_thread(change)
    context.worker.wake()  # the notice is committed to the outbox: send it now
    return result


@router.post("/{number}/diagnosis")
def diagnose(number: str, body: DiagnosisIn, actor: Staff) -> TicketRead:
    """Record the finding and, out of warranty, the quote."""
    with session_scope() as session:
        ticket = service.get_ticket(session, number, for_update=True)
        lifecycle.diagnose(session, ticket, body.diagnosis, body.quote_yuan, actor)
        session.refresh(ticket)
        return read(ticket)


@router.post("/{number}/assign")
def assign(number: str, body: AssignIn, actor: Staff) -> TicketRead:
    """Hand the ticket to a store."""
    with session_scope() as session:
        ticket = service.get_ticket(session, number, for_update=True)
        lifecycle.assign_store(session, ticket, body.store_id, actor)
        session.refresh(ticket)
        return read(ticket)
