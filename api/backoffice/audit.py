"""Auditing back-office actions (`audited` around each unit of work) and the admins' log page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.backoffice.web import StaffContext, client_ip, render, require_role
from crm.audit import service as audit_log
from crm.audit.models import OUTCOMES
from crm.db import SHANGHAI, session_scope
from crm.errors import DomainError

router = APIRouter(prefix="/backoffice/audit", tags=["back office: audit"])
Admin = Annotated[StaffContext, Depends(require_role("admin"))]
OUTCOME_LABELS = {"ok": "成功", "refused": "被拒绝"}


@dataclass
class Unit:
    """An audited unit of work: the session, and what the route learns while it runs."""

    session: Session
    target_id: object = None
    detail: dict[str, Any] = field(default_factory=dict)


def who(request: Request, staff: StaffContext) -> audit_log.Who:
    """The session's staff member and address, as the audit log names them."""
    return audit_log.Who(staff.user_id, staff.username, staff.role, client_ip(request))


@contextmanager
def audited(
    request: Request,
    staff: StaffContext,
    action: str,
    target_type: str,
    target_id: object = None,
    detail: dict[str, Any] | None = None,
) -> Iterator[Unit]:
    """A unit of work whose success is audited in it; a refusal is audited after the rollback."""
    actor = who(request, staff)
    try:
        with session_scope() as session:
            unit = Unit(session, target_id, dict(detail or {}))
            yield unit
            audit_log.record(session, actor, action, target_type, unit.target_id, unit.detail)
    except DomainError as exc:
        refusal = {**unit.detail, "error": type(exc).__name__, "reason": exc.detail[:200]}
        with session_scope() as session:
            audit_log.record(
                session, actor, action, target_type, unit.target_id, refusal, "refused"
            )
        raise


@router.get("", response_class=HTMLResponse)
def audit_page(
    request: Request,
    staff: Admin,
    username: str = "",
    action: str = "",
    target: str = "",
    start: str = "",
    end: str = "",
    outcome: str = "",
    page: int = 1,
) -> HTMLResponse:
    """The audit log, newest first, filtered by staff, action, target, dates and outcome."""
    query = {"username": username, "action": action, "target": target}
    query |= {"start": start, "end": end, "outcome": outcome}
    error, status, found = "", 200, None
    try:
        wanted = audit_log.filter_of(username, action, target, start, end, outcome)
    except DomainError as exc:
        error, status = exc.detail, exc.status_code
    else:
        with session_scope() as session:
            found = audit_log.search(session, wanted, page)
    return render(
        request,
        "audit.html",
        staff,
        status,
        found=found,
        query={key: value.strip() for key, value in query.items()},
        error=error,
        outcomes={value: OUTCOME_LABELS[value] for value in OUTCOMES},
        shanghai=SHANGHAI,
    )
