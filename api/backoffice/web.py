"""The back office's page shell: templates, staff sessions from the cookie, CSRF, roles, headers."""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm.config import get_settings
from crm.db import session_scope
from crm.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    Locked,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from crm.staff import service
from crm.staff.models import ROLES

PREFIX = "/backoffice"
STATIC_PREFIX = f"{PREFIX}/static"
LOGIN_PATH = f"{PREFIX}/login"
COOKIE = "jx_staff"
EXPIRED_MESSAGE = "登录已过期，请重新登录"
ROLE_MESSAGE = "您的角色无权进行此操作"
CSRF_MESSAGE = "表单已失效：页面可能已过期或请求不是从本系统发出的，请刷新页面后重试。"
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # No inline scripts or styles anywhere: JavaScript and CSS live in /backoffice/static.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
}
# Errors of the back office's HTML pages that get a page instead of JSON.
PAGE_ERRORS: tuple[type[DomainError], ...] = (
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    InvalidInput,
    Locked,
    TooManyRequests,
)

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["role_labels"] = service.ROLE_LABELS


@dataclass
class StaffContext:
    """The logged-in staff member of a request, as plain values (usable outside a DB session)."""

    user_id: int
    username: str
    display_name: str
    role: str
    store_id: str | None
    csrf_token: str


class LoginRequired(Unauthorized):
    """No live staff session: pages redirect to the login, JSON and SSE answer 401."""

    def __init__(self, expired: bool) -> None:
        super().__init__(EXPIRED_MESSAGE if expired else "请先登录")
        self.expired = expired


def is_backoffice(path: str) -> bool:
    """True for the back office's own paths (not /api/backoffice)."""
    return path == PREFIX or path.startswith(f"{PREFIX}/")


def wants_json(request: Request) -> bool:
    """True for API, fetch-for-JSON and SSE requests: they get JSON errors, never redirects."""
    accept = request.headers.get("accept", "")
    return (
        request.url.path.startswith(f"{PREFIX}/api/")
        or "application/json" in accept
        or "text/event-stream" in accept
    )


def client_ip(request: Request) -> str | None:
    """The caller's address (uvicorn's --proxy-headers makes it the real one behind a proxy)."""
    return request.client.host if request.client else None


def set_session_cookie(response: Response, token: str) -> None:
    """Give the browser its session cookie."""
    response.set_cookie(
        COOKIE,
        token,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=get_settings().app_env == "production",
    )


def clear_session_cookie(response: Response) -> None:
    """Make the browser forget its session cookie."""
    response.delete_cookie(
        COOKIE,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=get_settings().app_env == "production",
    )


def lookup_staff(token: str) -> StaffContext | None:
    """The staff member of a live session token (extending it), or None."""
    with session_scope() as session:
        found = service.session_for(session, token)
        if found is None:
            return None
        user = found.user
        return StaffContext(
            user.id, user.username, user.display_name, user.role, user.store_id, found.csrf_token
        )


async def staff_page(request: Request) -> StaffContext:
    """The logged-in staff member (a dependency); LoginRequired without a live session."""
    token = request.cookies.get(COOKIE)
    staff = await asyncio.to_thread(lookup_staff, token) if token else None
    if staff is None:
        raise LoginRequired(expired=bool(token))
    request.state.staff = staff  # error pages show the navigation too
    return staff


StaffPage = Annotated[StaffContext, Depends(staff_page)]


def require_role(*roles: str) -> Callable[[StaffContext], Awaitable[StaffContext]]:
    """A dependency: the staff member if their role is one of `roles`, else a 403 page."""
    if not roles or not set(roles) <= set(ROLES):
        raise ValueError(f"roles must be some of {ROLES}, got {roles}")

    async def role_checked(staff: StaffPage) -> StaffContext:
        if staff.role not in roles:
            raise Forbidden(ROLE_MESSAGE)
        return staff

    return role_checked


async def csrf_checked(request: Request, staff: StaffPage) -> StaffContext:
    """The staff member if the form field csrf_token or X-CSRF-Token matches their session."""
    sent = request.headers.get("x-csrf-token")
    content_type = request.headers.get("content-type", "")
    if sent is None and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not secrets.compare_digest(sent.encode(), staff.csrf_token.encode()):
        raise Forbidden(CSRF_MESSAGE)
    return staff


CsrfStaff = Annotated[StaffContext, Depends(csrf_checked)]


def render(
    request: Request,
    name: str,
    staff: StaffContext | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A template of templates/ with staff, csrf_token, current_path and status_code added."""
    values = {
        "staff": staff,
        "csrf_token": staff.csrf_token if staff else "",
        "current_path": request.url.path,
        "status_code": status_code,
        **context,
    }
    return templates.TemplateResponse(request, name, values, status_code=status_code)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if wants_json(request):
        return JSONResponse(exc.body(), status_code=exc.status_code)
    # A form posted after expiry cannot be replayed: go back to the start page instead.
    back = str(request.url.path) if request.method == "GET" else PREFIX
    if request.method == "GET" and request.url.query:
        back += f"?{request.url.query}"
    query = {"next": back, **({"expired": "1"} if exc.expired else {})}
    response = RedirectResponse(f"{LOGIN_PATH}?{urlencode(query)}", status_code=303)
    if exc.expired:
        clear_session_cookie(response)
    return response


async def _error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if wants_json(request) or not is_backoffice(request.url.path):
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers())
    staff = getattr(request.state, "staff", None)
    page = render(request, "error.html", staff, exc.status_code, message=exc.detail)
    page.headers.update(exc.headers())
    return page


async def _http_error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if wants_json(request) or not is_backoffice(request.url.path) or exc.status_code < 400:
        return await http_exception_handler(request, exc)
    message = "页面不存在" if exc.status_code == 404 else str(exc.detail)
    staff = getattr(request.state, "staff", None)
    return render(request, "error.html", staff, exc.status_code, message=message)


async def _invalid_form_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if wants_json(request) or not is_backoffice(request.url.path):
        # FastAPI's own handler echoes the input and fails on a body that is not UTF-8, and
        # JSON cannot carry the NaN or Infinity that Python's parser accepts in a body.
        readable: dict[Any, Callable[[Any], Any]] = {
            bytes: lambda raw: raw.decode(errors="replace"),
            float: lambda number: number if math.isfinite(number) else str(number),
        }
        errors = jsonable_encoder(exc.errors(), custom_encoder=readable)
        return JSONResponse({"detail": errors}, status_code=422)
    staff = getattr(request.state, "staff", None)
    return render(
        request, "error.html", staff, 422, message="提交的内容不完整或格式不对，请返回重试。"
    )


class SecurityHeaders:
    """ASGI middleware: security headers (and no caching of pages) on /backoffice responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to the response start of back-office requests."""
        if scope["type"] != "http" or not is_backoffice(scope["path"]):
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(f"{STATIC_PREFIX}/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    """Mount the static files, the login routes, the error pages and the security headers."""
    from api.backoffice import auth  # auth builds on this module

    app.mount(
        STATIC_PREFIX,
        StaticFiles(directory=str(Path(__file__).parent / "static")),
        name="backoffice-static",
    )
    app.include_router(auth.router)
    app.add_exception_handler(LoginRequired, _login_required)
    for error in PAGE_ERRORS:
        app.add_exception_handler(error, _error_page)
    app.add_exception_handler(StarletteHTTPException, _http_error_page)
    app.add_exception_handler(RequestValidationError, _invalid_form_page)
    app.add_middleware(SecurityHeaders)
