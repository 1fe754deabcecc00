"""The back office's data-rights pages (admins only): find a person by phone, openid or «#id»,
see what we hold, file and approve an export, download it as JSON, erase the person. Every
action, and every refused attempt, is in the audit log."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.backoffice.audit import audited, who
from api.backoffice.web import ROLE_MESSAGE, CsrfStaff, StaffContext, StaffPage, render
from crm.audit import service as audit_log
from crm.db import SHANGHAI, session_scope
from crm.errors import DomainError, Forbidden, InvalidInput
from crm.privacy import erasure, export, rights
from crm.rasa import forget
from crm.tickets.lifecycle import today

router = APIRouter(prefix="/backoffice/privacy", tags=["back office: data rights"])
BACKOFFICE = "backoffice"
# What the admin types to confirm an erasure (a button alone is too easy to press).
ERASE_WORD = "删除"
STATUS_LABELS = {
    "pending": "待审批",
    "approved": "已批准",
    "refused": "已拒绝",
    "cancelled": "已取消",
    "done": "已完成",
}
KIND_LABELS = {"export": "导出", "erasure": "删除"}


def _admin(request: Request, staff: StaffContext) -> StaffContext:
    """The staff member if an admin; otherwise the attempt is audited and refused."""
    if staff.role != "admin":
        with session_scope() as session:
            detail = {"path": request.url.path, "method": request.method}
            audit_log.record(
                session, who(request, staff), "privacy.denied", None, None, detail, "refused"
            )
        raise Forbidden(ROLE_MESSAGE)
    return staff


async def admin_page(request: Request, staff: StaffPage) -> StaffContext:
    """An admin viewing a page (a dependency)."""
    return _admin(request, staff)


async def admin_form(request: Request, staff: CsrfStaff) -> StaffContext:
    """An admin posting a form with a valid CSRF token (a dependency)."""
    return _admin(request, staff)


AdminPage = Annotated[StaffContext, Depends(admin_page)]
AdminForm = Annotated[StaffContext, Depends(admin_form)]


@router.get("", response_class=HTMLResponse, response_model=None)
def privacy_page(request: Request, staff: AdminPage, q: str = "") -> Response:
    """Search by phone, openid or «#id» (a hit goes to the person's page); open export requests."""
    error, status = "", 200
    if q.strip():
        try:
            with audited(request, staff, "privacy.lookup", "customer") as unit:
                unit.detail = {"by": _kind_of(q)}
                found = rights.find_customer(unit.session, q)
                unit.target_id = found.id
        except DomainError as exc:
            error, status = exc.detail, exc.status_code
        else:
            return RedirectResponse(f"/backoffice/privacy/customers/{unit.target_id}", 303)
    with session_scope() as session:
        waiting = export.open_exports(session)
    return render(
        request,
        "privacy.html",
        staff,
        status,
        error=error,
        waiting=waiting,
        shanghai=SHANGHAI,
        kinds=KIND_LABELS,
    )


def _kind_of(query: str) -> str:
    """What a search named, for the log (never the phone or openid itself)."""
    text = query.strip()
    if text.startswith("#"):
        return "id"
    return "phone" if text.replace(" ", "").replace("-", "").lstrip("+").isdigit() else "openid"


def _customer_page(
    request: Request, staff: StaffContext, customer_id: int, error: str = "", status: int = 200
) -> HTMLResponse:
    with audited(request, staff, "privacy.view", "customer", customer_id) as unit:
        customer = rights.find_customer(unit.session, f"#{customer_id}")
        found = rights.holdings(unit.session, customer, today())
        requests = export.requests_of(unit.session, customer_id)
        downloadable = {r.id for r in requests if export.downloadable(r)}
    return render(
        request,
        "privacy_customer.html",
        staff,
        status,
        found=found,
        requests=requests,
        downloadable=downloadable,
        error=error,
        notice=request.query_params.get("done", "") if not error else "",
        erase_word=ERASE_WORD,
        statuses=STATUS_LABELS,
        kinds=KIND_LABELS,
        shanghai=SHANGHAI,
    )


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(request: Request, staff: AdminPage, customer_id: int) -> HTMLResponse:
    """What we hold about one person, their requests, and the export and erase forms."""
    return _customer_page(request, staff, customer_id)


@router.post("/customers/{customer_id}/export", response_model=None)
def file_export(
    request: Request, staff: AdminForm, customer_id: int
) -> HTMLResponse | RedirectResponse:
    """File an export request for a person who asked by another channel."""
    try:
        with audited(request, staff, "privacy.export_request", "customer", customer_id) as unit:
            filed = export.request_export(unit.session, customer_id, BACKOFFICE, staff.username)
            unit.detail = {"request": filed.id}
    except DomainError as exc:
        return _customer_page(request, staff, customer_id, exc.detail, exc.status_code)
    return RedirectResponse(f"/backoffice/privacy/customers/{customer_id}?done=filed", 303)


@router.post("/requests/{request_id}/{decision}", response_model=None)
def decide(
    request: Request, staff: AdminForm, request_id: int, decision: str
) -> HTMLResponse | RedirectResponse:
    """Approve or refuse a pending export request."""
    if decision not in ("approve", "refuse"):
        raise InvalidInput("未知的操作")
    customer_id = _customer_of(request_id)
    action = f"privacy.export_{decision}"
    try:
        with audited(request, staff, action, "data_request", request_id) as unit:
            decided = export.decide(unit.session, request_id, decision == "approve", staff.username)
            unit.detail = {"customer": decided.customer_id}
    except DomainError as exc:
        return _customer_page(request, staff, customer_id, exc.detail, exc.status_code)
    return RedirectResponse(f"/backoffice/privacy/customers/{customer_id}?done={decision}", 303)


@router.get("/requests/{request_id}/download")
def download(request: Request, staff: AdminPage, request_id: int) -> Response:
    """The export as a JSON file (approved requests, while available)."""
    with audited(request, staff, "privacy.export_download", "data_request", request_id) as unit:
        data = export.download(unit.session, request_id)
        unit.detail = {"customer": data["customer"]["id"]}
    body = json.dumps(data, ensure_ascii=False, indent=2)
    name = f"personal-data-{data['customer']['id']}-{request_id}.json"
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/customers/{customer_id}/erase", response_model=None)
def erase(
    request: Request,
    staff: AdminForm,
    customer_id: int,
    confirm: Annotated[str, Form(max_length=20)] = "",
) -> HTMLResponse | RedirectResponse:
    """Erase the person (the admin types 删除 to confirm); refused while a ticket holds a tool."""
    try:
        with audited(request, staff, "privacy.erase", "customer", customer_id) as unit:
            if confirm.strip() != ERASE_WORD:
                raise InvalidInput(f"请在确认框中输入「{ERASE_WORD}」后再提交")
            done = erasure.erase(unit.session, customer_id, BACKOFFICE, staff.username)
            unit.detail = {"already": done.already, **done.counts}
    except DomainError as exc:
        return _customer_page(request, staff, customer_id, exc.detail, exc.status_code)
    forget(done.senders)  # their conversations in Rasa too, once our erasure is committed
    return RedirectResponse(f"/backoffice/privacy/customers/{customer_id}?done=erased", 303)


def _customer_of(request_id: int) -> int:
    with session_scope() as session:
        return export.get_request(session, request_id).customer_id
