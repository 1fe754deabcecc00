"""The supervisors' dashboard page: the figures of the last day, week or month."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.backoffice.web import StaffContext, render, require_role
from crm.db import session_scope, utcnow
from crm.handoff.dashboard import dashboard_figures
from crm.staff.service import SUPERVISORS

router = APIRouter(prefix="/backoffice/dashboard", tags=["back office: dashboard"])
Supervisor = Annotated[StaffContext, Depends(require_role(*SUPERVISORS))]
WINDOWS = {1: "今天（24 小时）", 7: "最近 7 天", 30: "最近 30 天"}


@router.get("", response_class=HTMLResponse)
def dashboard(
    request: Request, staff: Supervisor, days: Annotated[int, Query()] = 7
) -> HTMLResponse:
    """Containment, handoffs by reason, queue wait, satisfaction, unanswered, tickets."""
    days = days if days in WINDOWS else 7
    until = utcnow()
    with session_scope() as session:
        figures = dashboard_figures(session, until - timedelta(days=days), until)
    return render(request, "dashboard.html", staff, figures=figures, days=days, windows=WINDOWS)
