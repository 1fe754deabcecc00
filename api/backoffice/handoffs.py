"""The agents' queue and conversation pages: take, reply, transfer, resolve; live over SSE."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from api.backoffice.audit import audited
from api.backoffice.web import CsrfStaff, StaffContext, StaffPage, render
from api.deps import AppContext, get_context
from crm.config import get_settings
from crm.conversations import service as conversations
from crm.customers.panel import customer_panel
from crm.db import SHANGHAI, session_scope
from crm.errors import DomainError
from crm.handoff import events, notices, queue
from crm.handoff import service as handoffs
from crm.handoff import tickets as handoff_tickets
from crm.handoff.canned import CANNED_REPLIES
from crm.handoff.models import REASONS

router = APIRouter(prefix="/backoffice", tags=["back office: handoff"])
Context = Annotated[AppContext, Depends(get_context)]
Version = Annotated[int, Form()]


def actor(staff: StaffContext) -> handoffs.Actor:
    """The session's staff member as the domain's actor."""
    return handoffs.Actor(staff.user_id, staff.display_name, staff.role, staff.store_id)


@router.get("", response_class=HTMLResponse)
def queue_page(request: Request, staff: StaffPage) -> HTMLResponse:
    """The queue: waiting, mine, colleagues', left messages; refreshed live."""
    with session_scope() as session:
        lists = queue.queue_for(session, actor(staff))
    return render(request, "queue.html", staff, queue=lists)


@router.get("/queue/fragment", response_class=HTMLResponse)
def queue_fragment(request: Request, staff: StaffPage) -> HTMLResponse:
    """The queue's lists alone, for the live refresh."""
    with session_scope() as session:
        lists = queue.queue_for(session, actor(staff))
    return render(request, "_queue_lists.html", staff, queue=lists)


@router.get("/events")
async def live_events(staff: StaffPage) -> StreamingResponse:
    """Server-sent events: something changed in the queue or a conversation."""

    async def stream() -> AsyncIterator[str]:
        yield "retry: 3000\n\n"
        async for event in events.subscribe():
            yield f"data: {json.dumps(event, ensure_ascii=False)}\n\n" if event else ": ping\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


def _local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(SHANGHAI) if moment else None


def conversation_page(
    request: Request, staff: StaffContext, handoff_id: int, error: str = "", status: int = 200
) -> HTMLResponse:
    with session_scope() as session:
        me = actor(staff)
        handoff = handoffs.get(session, handoff_id, me)
        view: dict[str, Any] = {
            "handoff": handoff,
            "reason": REASONS.get(handoff.reason, handoff.reason),
            "messages": conversations.list_messages(session, handoff.conversation_id),
            "panel": customer_panel(session, handoff.customer_id),
            "window_closes": _local(handoffs.window_closes(session, handoff)),
            "window_open": handoffs.window_open(session, handoff),
            "mine": handoff.state == "assigned" and handoff.agent_id == me.id,
            "targets": queue.transfer_targets(session, handoff, me),
            "agent": queue.actor_of(session, handoff.agent_id) if handoff.agent_id else None,
            "ticket_form": handoff_tickets.chat_form(session, handoff, me),
        }
        page = render(
            request,
            "handoff.html",
            staff,
            status_code=status,
            error=error,
            canned=CANNED_REPLIES,
            **view,
        )
    return page


def refused_page(
    request: Request, staff: StaffContext, handoff_id: int, exc: DomainError
) -> HTMLResponse:
    """The conversation's page saying why a change was refused (an error page if it is gone)."""
    try:
        return conversation_page(request, staff, handoff_id, exc.detail, exc.status_code)
    except DomainError:
        return render(request, "error.html", staff, status_code=exc.status_code, message=exc.detail)


@router.get("/handoffs/{handoff_id}", response_class=HTMLResponse)
def handoff_page(request: Request, staff: StaffPage, handoff_id: int) -> HTMLResponse:
    """One conversation: transcript, customer panel, reply box and actions."""
    with audited(request, staff, "handoff.view", "handoff", handoff_id):
        return conversation_page(request, staff, handoff_id)


@router.get("/handoffs/{handoff_id}/transcript", response_class=HTMLResponse)
def transcript(request: Request, staff: StaffPage, handoff_id: int) -> HTMLResponse:
    """The transcript alone, for the live refresh."""
    with session_scope() as session:
        handoff = handoffs.get(session, handoff_id, actor(staff))
        messages = conversations.list_messages(session, handoff.conversation_id)
        return render(request, "_transcript.html", staff, messages=messages)


def _act(
    request: Request,
    staff: StaffContext,
    context: AppContext,
    handoff_id: int,
    change: Callable[..., object],
    action: str,
    detail: dict[str, Any] | None = None,
) -> HTMLResponse | RedirectResponse:
    """Run one audited change in its own unit of work; tell everyone; on refusal, say why."""
    try:
        with audited(request, staff, action, "handoff", handoff_id, detail) as unit:
            change(unit.session, actor(staff))
    except DomainError as exc:
        return refused_page(request, staff, handoff_id, exc)
    context.worker.wake()
    events.publish("changed", handoff_id=handoff_id)
    return RedirectResponse(f"/backoffice/handoffs/{handoff_id}", status_code=303)


@router.post("/handoffs/{handoff_id}/take", response_model=None)
def take(
    request: Request, staff: CsrfStaff, context: Context, handoff_id: int, version: Version
) -> HTMLResponse | RedirectResponse:
    """Take a waiting conversation."""
    return _act(
        request,
        staff,
        context,
        handoff_id,
        lambda s, a: handoffs.take(s, handoff_id, a, version),
        "handoff.take",
        {"version": version},
    )


@router.post("/handoffs/{handoff_id}/reply", response_model=None)
def reply(
    request: Request,
    staff: CsrfStaff,
    context: Context,
    handoff_id: int,
    text: Annotated[str, Form()],
) -> HTMLResponse | RedirectResponse:
    """Send the agent's reply through the customer-service API."""
    return _act(
        request,
        staff,
        context,
        handoff_id,
        lambda s, a: handoffs.reply(s, handoff_id, a, text),
        "handoff.reply",
        {"chars": len(text)},  # the length only: the text itself stays in the transcript
    )


@router.post("/handoffs/{handoff_id}/notify", response_model=None)
def notify(
    request: Request,
    staff: CsrfStaff,
    context: Context,
    handoff_id: int,
    text: Annotated[str, Form()],
) -> HTMLResponse | RedirectResponse:
    """Outside the 48-hour window: a service notification instead of a message."""
    settings = get_settings()
    return _act(
        request,
        staff,
        context,
        handoff_id,
        lambda s, a: notices.notify_customer(s, handoff_id, a, text, settings),
        "handoff.notify",
        {"chars": len(text)},
    )


@router.post("/handoffs/{handoff_id}/transfer", response_model=None)
def transfer(
    request: Request,
    staff: CsrfStaff,
    context: Context,
    handoff_id: int,
    version: Version,
    to: Annotated[str, Form()],
) -> HTMLResponse | RedirectResponse:
    """Give the conversation to a colleague, or back to the queue (`to`=queue)."""

    def change(session: Any, me: handoffs.Actor) -> object:
        target = None if to == "queue" else queue.actor_of(session, int(to) if to.isdigit() else 0)
        if to != "queue" and target is None:
            raise DomainError("找不到这位同事，或 TA 的账号已停用")
        return handoffs.transfer(session, handoff_id, me, version, target)

    detail = {"version": version, "to": to}
    return _act(request, staff, context, handoff_id, change, "handoff.transfer", detail)


@router.post("/handoffs/{handoff_id}/resolve", response_model=None)
def resolve(
    request: Request, staff: CsrfStaff, context: Context, handoff_id: int, version: Version
) -> HTMLResponse | RedirectResponse:
    """End the human part: the bot answers the customer's next message."""
    response = _act(
        request,
        staff,
        context,
        handoff_id,
        lambda s, a: handoffs.resolve(s, handoff_id, a, version),
        "handoff.resolve",
        {"version": version},
    )
    if isinstance(response, RedirectResponse):
        return RedirectResponse("/backoffice", status_code=303)
    return response
