"""The back office's knowledge pages: FAQ list and edit, the questions the bot could not answer,
and turning one of them into an FAQ (supervisors and admins change; every staff member reads)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.backoffice.audit import audited
from api.backoffice.web import CsrfStaff, StaffContext, StaffPage, render, require_role
from crm.db import SHANGHAI, session_scope, utcnow
from crm.errors import DomainError
from crm.knowledge import editing, service, unanswered
from crm.staff.service import SUPERVISORS

PREFIX = "/backoffice/knowledge"
router = APIRouter(prefix=PREFIX, tags=["back office: knowledge"])
Supervisor = Annotated[StaffContext, Depends(require_role(*SUPERVISORS))]
Field = Annotated[str, Form()]
CATEGORY_LABELS = {
    "product": "商品选购",
    "warranty": "保修",
    "repair": "维修",
    "returns": "退换货",
    "membership": "会员",
    "points": "积分",
    "coupons": "优惠券",
    "orders_delivery": "订单与配送",
    "stores": "门店",
    "account_privacy": "账户与隐私",
    "usage_tips": "使用技巧",
}
PERIODS = {7: "最近 7 天", 30: "最近 30 天", 90: "最近 90 天", 365: "最近一年"}
UNANSWERED_LIMIT = 100


def _common(staff: StaffContext) -> dict[str, Any]:
    return {
        "categories": CATEGORY_LABELS,
        "may_edit": staff.role in SUPERVISORS,
        "shanghai": SHANGHAI,
    }


@router.get("", response_class=HTMLResponse)
def faq_list(request: Request, staff: StaffPage, q: str = "", category: str = "") -> HTMLResponse:
    """Every FAQ, or those matching the search box and the category filter."""
    category = category if category in CATEGORY_LABELS else ""
    with session_scope() as session:
        faqs = editing.search_faqs(session, q, category)
    return render(
        request,
        "knowledge.html",
        staff,
        faqs=faqs,
        q=q.strip(),
        category=category,
        limit=editing.SEARCH_LIMIT,
        **_common(staff),
    )


@router.get("/unanswered", response_class=HTMLResponse)
def unanswered_list(request: Request, staff: StaffPage, days: int = 30) -> HTMLResponse:
    """The questions the bot did not understand lately, the most frequent first."""
    days = days if days in PERIODS else 30
    with session_scope() as session:
        rows = unanswered.top_unanswered(
            session, utcnow() - timedelta(days=days), None, UNANSWERED_LIMIT
        )
    return render(
        request,
        "unanswered.html",
        staff,
        rows=rows,
        days=days,
        periods=PERIODS,
        limit=UNANSWERED_LIMIT,
        **_common(staff),
    )


def _form_page(
    request: Request,
    staff: StaffContext,
    faq_id: str | None,
    form: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    """The edit form of an FAQ (or the new-FAQ form without an id), with what was typed."""
    with session_scope() as session:
        faq = service.get_faq(session, faq_id) if faq_id else None
    shown = form or ({"question": faq.question, "answer": faq.answer} if faq else {})
    flags = request.query_params
    return render(
        request,
        "faq_edit.html",
        staff,
        status_code=status,
        faq=faq,
        form=shown,
        error=error,
        saved=flags.get("saved") == "1" and not error,
        created=flags.get("created") == "1" and not error,
        **_common(staff),
    )


@router.get("/faq/new", response_class=HTMLResponse)
def new_faq(request: Request, staff: Supervisor, question: str = "") -> HTMLResponse:
    """The new-FAQ form, prefilled with an unanswered question when it comes from that list."""
    form = {"question": question.strip(), "from_unanswered": question.strip()}
    return _form_page(request, staff, None, form)


@router.post("/faq", response_model=None)
def create(
    request: Request,
    staff: CsrfStaff,
    _: Supervisor,
    question: Field = "",
    answer: Field = "",
    category: Field = "",
    from_unanswered: Field = "",
) -> HTMLResponse | RedirectResponse:
    """Create a back-office FAQ; the bot answers it from the next message on."""
    detail = {"category": category, "from_unanswered": bool(from_unanswered)}
    try:
        with audited(request, staff, "faq.create", "faq", None, detail) as unit:
            faq = editing.create_faq(
                unit.session, question, answer, category, staff.username, from_unanswered or None
            )
            faq_id = unit.target_id = faq.id
    except DomainError as exc:
        form = {
            "question": question,
            "answer": answer,
            "category": category,
            "from_unanswered": from_unanswered,
        }
        return _form_page(request, staff, None, form, exc.detail, exc.status_code)
    return RedirectResponse(f"{PREFIX}/faq/{faq_id}?created=1", status_code=303)


@router.get("/faq/{faq_id}", response_class=HTMLResponse)
def faq_page(request: Request, staff: StaffPage, faq_id: str) -> HTMLResponse:
    """One FAQ: its text, where it comes from, and the edit form for supervisors."""
    return _form_page(request, staff, faq_id)


@router.post("/faq/{faq_id}", response_model=None)
def update(
    request: Request,
    staff: CsrfStaff,
    _: Supervisor,
    faq_id: str,
    question: Field = "",
    answer: Field = "",
) -> HTMLResponse | RedirectResponse:
    """Save an FAQ's new question and answer; on refusal the form says why."""
    try:
        with audited(request, staff, "faq.update", "faq", faq_id) as unit:
            editing.update_faq(unit.session, faq_id, question, answer, staff.username)
    except DomainError as exc:
        form = {"question": question, "answer": answer}
        return _form_page(request, staff, faq_id, form, exc.detail, exc.status_code)
    return RedirectResponse(f"{PREFIX}/faq/{faq_id}?saved=1", status_code=303)
