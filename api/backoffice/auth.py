"""Back-office login and logout pages, and the staff member's own account page."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.backoffice.audit import who
from api.backoffice.web import (
    COOKIE,
    CSRF_MESSAGE,
    EXPIRED_MESSAGE,
    LOGIN_PATH,
    PREFIX,
    CsrfStaff,
    StaffPage,
    clear_session_cookie,
    client_ip,
    lookup_staff,
    render,
    set_session_cookie,
)
from api.limits import TOO_FAST, count_login_failure, login_blocked
from crm.audit import service as audit_log
from crm.config import get_settings
from crm.db import session_scope
from crm.errors import DomainError, Forbidden, Locked, Unauthorized
from crm.staff import service

# The login form's own CSRF token (double submit: this cookie and a hidden field must match).
LOGIN_COOKIE = "jx_login"
LOGIN_COOKIE_SECONDS = 3600
MAX_FIELD = 256

router = APIRouter(prefix=PREFIX, tags=["back office: login"])


def safe_next(value: str | None) -> str:
    """`value` if it is a back-office path of this site, else the back office's start page."""
    if not value or len(value) > 2000 or any(c in value for c in "\\\r\n\t") or ".." in value:
        return PREFIX
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith("//"):
        return PREFIX
    if parts.path != PREFIX and not parts.path.startswith(f"{PREFIX}/"):
        return PREFIX
    return value


def log_in(username: str, password: str, ip: str | None, old_token: str | None) -> str:
    """A new session's token; a failed attempt is committed (and audited) before it is raised."""
    failure: DomainError | None = None
    token = ""
    with session_scope() as session:
        try:
            user = service.authenticate(session, username, password, ip)
        except (Unauthorized, Forbidden, Locked) as exc:
            failure = exc  # leave the scope normally: the failure counter must be committed
            action = "login.locked" if isinstance(exc, Locked) else "login.failed"
            tried = audit_log.Who(None, username, None, ip)
            detail = {"error": type(exc).__name__}
            audit_log.record(session, tried, action, "staff", username, detail, "refused")
        else:
            service.close_session(session, old_token)
            token, _ = service.open_session(session, user, ip)
            me = audit_log.Who(user.id, user.username, user.role, ip)
            audit_log.record(session, me, "login.ok", "staff", user.username)
    if failure is not None:
        raise failure
    return token


def log_out(token: str | None, me: audit_log.Who) -> None:
    """Close the browser's session."""
    with session_scope() as session:
        service.close_session(session, token)
        audit_log.record(session, me, "logout", "staff", me.username)


def login_form(
    request: Request,
    target: str,
    status_code: int = 200,
    message: str | None = None,
    flash: str = "error",
    username: str = "",
) -> HTMLResponse:
    """The login page with a fresh form token (cookie and hidden field)."""
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        None,
        status_code,
        csrf_token=token,
        next=target,
        message=message,
        flash=flash,
        username=username,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=LOGIN_COOKIE_SECONDS,
        path=LOGIN_PATH,
        httponly=True,
        samesite="strict",
        secure=get_settings().app_env == "production",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, next: str | None = None, expired: bool = False, logged_out: bool = False
) -> Response:
    """The login form; already logged in: straight on to `next`."""
    target = safe_next(next)
    token = request.cookies.get(COOKIE)
    if token and await asyncio.to_thread(lookup_staff, token) is not None:
        return RedirectResponse(target, status_code=303)
    if expired:
        return login_form(request, target, message=EXPIRED_MESSAGE)
    if logged_out:
        return login_form(request, target, message="您已退出登录", flash="ok")
    return login_form(request, target)


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    password: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the password; on success a session cookie and a redirect to `next`."""
    target = safe_next(next)
    ip_check = await asyncio.to_thread(login_blocked, request)  # before any password check
    if not ip_check.allowed:
        message = TOO_FAST.format(seconds=ip_check.retry_after)
        refused = login_form(request, target, 429, message, username=username)
        refused.headers["Retry-After"] = str(ip_check.retry_after)
        return refused
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf_token.encode(), expected.encode()):
        return login_form(request, target, 403, CSRF_MESSAGE, username=username)
    if not username.strip() or not password:
        return login_form(request, target, 401, "请输入用户名和密码", username=username)
    old = request.cookies.get(COOKIE)
    try:
        token = await asyncio.to_thread(log_in, username, password, client_ip(request), old)
    except (Unauthorized, Forbidden, Locked) as exc:
        await asyncio.to_thread(count_login_failure, request)
        return login_form(request, target, exc.status_code, exc.detail, username=username)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, token)
    response.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
    return response


@router.post("/logout")
async def logout(request: Request, staff: CsrfStaff) -> Response:
    """End the session and go back to the login page."""
    await asyncio.to_thread(log_out, request.cookies.get(COOKIE), who(request, staff))
    response = RedirectResponse(f"{LOGIN_PATH}?logged_out=1", status_code=303)
    clear_session_cookie(response)
    return response


@router.get("/account", response_class=HTMLResponse)
async def account(request: Request, staff: StaffPage) -> HTMLResponse:
    """Who is logged in: name, role and store."""
    return render(request, "account.html", staff)
