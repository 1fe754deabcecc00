"""The back office's repair-ticket pages: list, one ticket, move it, diagnose and quote; and a
ticket opened from a handoff conversation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.backoffice import handoffs as handoff_pages
from api.backoffice.audit import audited
from api.backoffice.handoffs import actor
from api.backoffice.web import CsrfStaff, StaffContext, StaffPage, render
from api.deps import AppContext, get_context
from crm.db import SHANGHAI, session_scope
from crm.errors import DomainError
from crm.handoff import events
from crm.handoff import tickets as staff_tickets

router = APIRouter(prefix="/backoffice/tickets", tags=["back office: tickets"])
chat_router = APIRouter(prefix="/backoffice/handoffs", tags=["back office: handoff"])
Context = Annotated[AppContext, Depends(get_context)]
Field = Annotated[str, Form()]


@router.get("", response_class=HTMLResponse)
def tickets_page(
    request: Request, staff: StaffPage, state: str = "", overdue: bool = False
) -> HTMLResponse:
    """Tickets newest first, by state and overdue (an agent of a store sees their store's)."""
    with session_scope() as session:
        rows = staff_tickets.visible_tickets(session, actor(staff), state, overdue)
        return render(
            request,
            "tickets.html",
            staff,
            rows=rows,
            state=state,
            overdue=overdue,
            labels=staff_tickets.LABELS,
            shanghai=SHANGHAI,
        )


def _render_ticket(
    request: Request, staff: StaffContext, number: str, error: str = "", status: int = 200
) -> HTMLResponse:
    with session_scope() as session:
        page = staff_tickets.ticket_page(session, number, actor(staff))
        return render(
            request,
            "ticket.html",
            staff,
            status_code=status,
            page=page,
            ticket=page.ticket,
            labels=staff_tickets.LABELS,
            error=error,
            done=request.query_params.get("done") == "1" and not error,
            shanghai=SHANGHAI,
        )


@router.get("/{number}", response_class=HTMLResponse)
def ticket_page(request: Request, staff: StaffPage, number: str) -> HTMLResponse:
    """One ticket: customer, warranty, history, and the forms for what may happen next."""
    return _render_ticket(request, staff, number)


@router.post("/{number}/transition", response_model=None)
def transition(
    request: Request, staff: CsrfStaff, context: Context, number: str, to: Field, note: Field = ""
) -> HTMLResponse | RedirectResponse:
    """Move the ticket to a state its lifecycle allows; the customer is notified."""
    try:
        with audited(
            request, staff, "ticket.transition", "ticket", number.upper(), {"to": to}
        ) as unit:
            staff_tickets.change_state(unit.session, number, actor(staff), staff.username, to, note)
    except DomainError as exc:
        return _render_ticket(request, staff, number, exc.detail, exc.status_code)
    context.worker.wake()  # the notice is committed to the outbox: send it now
    return RedirectResponse(f"/backoffice/tickets/{number.upper()}?done=1", status_code=303)


@router.post("/{number}/diagnosis", response_model=None)
def diagnose(
    request: Request, staff: CsrfStaff, number: str, diagnosis: Field, quote_yuan: Field = ""
) -> HTMLResponse | RedirectResponse:
    """Record the repair centre's finding and, out of warranty, the quote."""
    detail = {"quote_yuan": quote_yuan}
    try:
        with audited(request, staff, "ticket.diagnose", "ticket", number.upper(), detail) as unit:
            staff_tickets.diagnose(
                unit.session, number, actor(staff), staff.username, diagnosis, quote_yuan
            )
    except DomainError as exc:
        return _render_ticket(request, staff, number, exc.detail, exc.status_code)
    return RedirectResponse(f"/backoffice/tickets/{number.upper()}?done=1", status_code=303)


@chat_router.post("/{handoff_id}/ticket", response_model=None)
def open_from_conversation(
    request: Request,
    staff: CsrfStaff,
    context: Context,
    handoff_id: int,
    fault: Field,
    service_method: Field,
    sku: Field = "",
    sku_other: Field = "",
    phone: Field = "",
    store_id: Field = "",
    idempotency_key: Field = "",
) -> HTMLResponse | RedirectResponse:
    """Open a repair ticket for the customer of the agent's conversation."""
    detail = {"handoff_id": handoff_id, "sku": sku_other.strip() or sku, "method": service_method}
    try:
        with audited(request, staff, "ticket.create", "ticket", None, detail) as unit:
            ticket = staff_tickets.open_from_conversation(
                unit.session,
                handoff_id,
                actor(staff),
                sku_other.strip() or sku,
                fault,
                service_method,
                phone,
                username=staff.username,
                store_id=store_id or None,
                idempotency_key=idempotency_key or None,
            )
            number = unit.target_id = ticket.number
    except DomainError as exc:
        return handoff_pages.refused_page(request, staff, handoff_id, exc)
    context.worker.wake()  # the read-back to the customer is in the outbox
    events.publish("changed", handoff_id=handoff_id)
    return RedirectResponse(f"/backoffice/tickets/{number}", status_code=303)
