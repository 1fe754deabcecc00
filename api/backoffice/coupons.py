"""The back office's coupon pages: campaigns with their figures, issuing to a segment."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.backoffice.audit import audited
from api.backoffice.web import CsrfStaff, StaffContext, StaffPage, render
from api.deps import AppContext, get_context
from crm.coupons import report
from crm.coupons import service as coupons
from crm.db import session_scope
from crm.errors import DomainError, InvalidInput
from crm.tickets.lifecycle import today

PREFIX = "/backoffice/coupons"
router = APIRouter(prefix=PREFIX, tags=["back office: coupons"])
Context = Annotated[AppContext, Depends(get_context)]
Field = Annotated[str, Form()]


@router.get("", response_class=HTMLResponse)
def coupons_page(
    request: Request, staff: StaffPage, start: str = "", end: str = ""
) -> HTMLResponse:
    """Every campaign with its figures, over an optional window of issue days."""
    window, error = _window(start, end)
    with session_scope() as session:
        rows = report.overview(session, today(), window)
    period = {"start": start.strip(), "end": end.strip()}
    status = 422 if error else 200
    return render(request, "coupons.html", staff, status, rows=rows, period=period, error=error)


def _window(start: str, end: str) -> tuple[report.Window, str]:
    """The window typed, or the whole history and why the typed one was refused."""
    try:
        return report.parse_window(start, end), ""
    except InvalidInput as exc:
        return report.Window(), exc.detail


def _page(
    request: Request,
    staff: StaffContext,
    campaign: str,
    error: str = "",
    status: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    query = request.query_params
    window, window_error = _window(query.get("start", ""), query.get("end", ""))
    with session_scope() as session:
        page = report.campaign_page(session, campaign, staff.role, today(), window)
    issued = query.get("issued", "")
    return render(
        request,
        "coupon.html",
        staff,
        status if not window_error else 422,
        page=page,
        error=error or window_error,
        issued=int(issued) if issued.isdigit() and not error else None,
        issued_to=query.get("to", ""),
        period={"start": query.get("start", ""), "end": query.get("end", "")},
        form=form or {},
    )


@router.get("/{campaign}", response_class=HTMLResponse)
def coupon_page(request: Request, staff: StaffPage, campaign: str) -> HTMLResponse:
    """One campaign: its rule, its figures, and the issue form for supervisors."""
    return _page(request, staff, campaign)


@router.post("/{campaign}/issue", response_model=None)
def issue(
    request: Request,
    staff: CsrfStaff,
    context: Context,
    campaign: str,
    segment: Field = "",
    threshold: Field = "",
    idempotency_key: Field = "",
) -> HTMLResponse | RedirectResponse:
    """Issue the campaign's coupon to a segment, once per form; on refusal the page says why."""
    day = today()
    detail = {"segment": segment, "threshold": threshold}
    try:
        with audited(request, staff, "coupon.issue", "campaign", campaign, detail) as unit:
            session = unit.session
            plan = report.plan_issue(
                session, campaign, staff.role, segment, threshold, idempotency_key, day
            )
            issued = coupons.issue_to_segment(
                session,
                plan.segment,
                plan.campaign.type_id,
                plan.form_key,
                day,
                threshold_yuan=plan.threshold_yuan,
            )
            unit.detail["issued"] = issued
    except DomainError as exc:
        form = {"segment": segment, "threshold": threshold}
        return _page(request, staff, campaign, exc.detail, exc.status_code, form)
    context.worker.wake()  # the members' notices are in the outbox
    # A repeated form issues nothing new: the page still reports what the form issued.
    done = urlencode({"issued": plan.already_issued + issued, "to": segment})
    return RedirectResponse(f"{PREFIX}/{campaign}?{done}", status_code=303)
