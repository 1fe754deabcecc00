"""The back office's member pages: search, one member with their ledger, points adjustment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.backoffice.audit import audited
from api.backoffice.handoffs import actor
from api.backoffice.web import CsrfStaff, StaffContext, StaffPage, render, require_role
from crm.db import SHANGHAI, session_scope
from crm.errors import DomainError
from crm.members import directory
from crm.staff.service import SUPERVISORS

router = APIRouter(prefix="/backoffice/members", tags=["back office: members"])
Supervisor = Annotated[StaffContext, Depends(require_role(*SUPERVISORS))]
Field = Annotated[str, Form()]
KIND_LABELS = {
    "earn": "消费积分",
    "redeem": "积分抵扣",
    "reverse": "退款扣回",
    "return": "退款退还",
    "expire": "过期",
    "adjust": "人工调整",
}


@router.get("", response_class=HTMLResponse)
def members_page(request: Request, staff: StaffPage, q: str = "") -> HTMLResponse:
    """The search box and the members matching it (an agent sees their store's)."""
    with session_scope() as session:
        rows = directory.search_members(session, q, actor(staff))
    return render(request, "members.html", staff, q=q.strip(), rows=rows)


def _page(
    request: Request,
    staff: StaffContext,
    customer_id: int,
    error: str = "",
    status: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    with session_scope() as session:
        page = directory.member_page(session, customer_id, actor(staff))
    done = request.query_params.get("done") == "1" and not error
    return render(
        request,
        "member.html",
        staff,
        status_code=status,
        page=page,
        panel=page.panel,
        error=error,
        done=done,
        form=form or {},
        kinds=KIND_LABELS,
        shanghai=SHANGHAI,
    )


@router.get("/{customer_id}", response_class=HTMLResponse)
def member(request: Request, staff: StaffPage, customer_id: int) -> HTMLResponse:
    """One member: the 360° panel, the latest 20 ledger lines, the adjust form for supervisors."""
    with audited(request, staff, "member.view", "customer", customer_id):
        return _page(request, staff, customer_id)


@router.post("/{customer_id}/points", response_model=None)
def adjust(
    request: Request,
    staff: CsrfStaff,
    _: Supervisor,
    customer_id: int,
    amount: Field = "",
    reason: Field = "",
    idempotency_key: Field = "",
) -> HTMLResponse | RedirectResponse:
    """Credit or debit the member's points once per form; on refusal the page says why."""
    detail = {"amount": amount, "reason": reason}
    try:
        with audited(request, staff, "points.adjust", "customer", customer_id, detail) as unit:
            directory.adjust_points(
                unit.session,
                customer_id,
                actor(staff),
                staff.username,
                amount,
                reason,
                idempotency_key,
            )
    except DomainError as exc:
        form = {"amount": amount, "reason": reason}
        return _page(request, staff, customer_id, exc.detail, exc.status_code, form)
    return RedirectResponse(f"/backoffice/members/{customer_id}?done=1", status_code=303)
