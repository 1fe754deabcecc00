"""Back-office login: cookies, lockout, expiry, CSRF, roles, safe redirects, security headers."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, Form, Response
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select, update

from api.backoffice.web import (
    CSRF_MESSAGE,
    EXPIRED_MESSAGE,
    ROLE_MESSAGE,
    CsrfStaff,
    StaffContext,
    require_role,
    set_session_cookie,
)
from api.main import create_app
from crm.config import get_settings
from crm.db import session_scope, utcnow
from crm.staff import service
from crm.staff.models import StaffSession, StaffUser

PASSWORD = "workshop-pass-1"
ACCOUNT = "/backoffice/account"
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
Supervisor = Annotated[StaffContext, Depends(require_role("supervisor", "admin"))]
MakeUser = Callable[..., str]


@pytest.fixture
def calls() -> list[str]:
    """Who the test-only POST route acted for."""
    return []


@pytest.fixture
def client(engine: Engine, calls: list[str]) -> Iterator[TestClient]:
    """The real app (no lifespan: these pages need no WeChat context) plus two probe routes."""
    app = create_app(get_settings())

    @app.get("/backoffice/test-supervisors")
    async def supervisors_only(staff: Supervisor) -> dict[str, str]:
        return {"hello": staff.username}

    @app.post("/backoffice/test-action")
    async def action(staff: CsrfStaff, note: Annotated[str, Form()] = "") -> dict[str, str]:
        calls.append(staff.username)
        return {"done": staff.username, "note": note}

    test_client = TestClient(app, follow_redirects=False)
    yield test_client
    test_client.close()


@pytest.fixture
def make_user(engine: Engine) -> Iterator[MakeUser]:
    """Commit staff accounts with fresh usernames; they and their sessions go afterwards."""
    made: list[str] = []

    def make(role: str = "agent", store: str | None = "JX-HZ01", name: str = "小王") -> str:
        username = f"t{secrets.token_hex(5)}"
        with session_scope() as session:
            service.create_user(session, username, name, PASSWORD, role, store)
        made.append(username)
        return username

    yield make
    with session_scope() as session:
        ids = select(StaffUser.id).where(StaffUser.username.in_(made))
        session.execute(delete(StaffSession).where(StaffSession.user_id.in_(ids)))
        session.execute(delete(StaffUser).where(StaffUser.username.in_(made)))


def form_token(page: httpx.Response) -> str:
    found = TOKEN_FIELD.search(page.text)
    assert found, page.text
    return found.group(1)


def log_in(
    client: TestClient, username: str, password: str = PASSWORD, next: str = ACCOUNT
) -> httpx.Response:
    """Fill in the login form as a browser does."""
    token = form_token(client.get("/backoffice/login"))
    data = {"username": username, "password": password, "csrf_token": token, "next": next}
    response: httpx.Response = client.post("/backoffice/login", data=data)
    return response


def user_row(username: str) -> StaffUser:
    with session_scope() as session:
        found = session.scalars(select(StaffUser).where(StaffUser.username == username)).one()
        session.expunge(found)
        return found


def set_cookies(response: httpx.Response) -> str:
    return "\n".join(response.headers.get_list("set-cookie"))


def test_login_sets_a_safe_cookie_and_the_page_shows_who_is_in(
    client: TestClient, make_user: MakeUser
) -> None:
    username = make_user(name="小王")
    response = log_in(client, username)
    assert response.status_code == 303
    assert response.headers["location"] == ACCOUNT
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("jx_staff="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/backoffice" in cookie
    assert "Secure" not in cookie  # only in production

    page = client.get(ACCOUNT)
    assert page.status_code == 200
    assert "小王" in page.text and "客服" in page.text and "JX-HZ01" in page.text
    assert 'action="/backoffice/logout"' in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text


def test_wrong_password_or_user_is_refused_and_nothing_is_set(
    client: TestClient, make_user: MakeUser
) -> None:
    username = make_user()
    for name, password in ((username, "wrong-password"), ("nobody-here", PASSWORD)):
        response = log_in(client, name, password)
        assert response.status_code == 401
        assert "用户名或密码不正确" in response.text
        assert "jx_staff=" not in set_cookies(response)
    assert user_row(username).failed_logins == 1  # counted although the request failed
    assert client.get(ACCOUNT).status_code == 303


def test_five_failures_lock_the_account_until_the_time_has_passed(
    client: TestClient, make_user: MakeUser
) -> None:
    username = make_user()
    for _ in range(4):
        assert log_in(client, username, "wrong-password").status_code == 401
    locked = log_in(client, username, "wrong-password")
    assert locked.status_code == 423 and "后再试" in locked.text
    right = log_in(client, username)
    assert right.status_code == 423 and "jx_staff=" not in set_cookies(right)

    with session_scope() as session:  # move the clock: the 15 minutes are over
        session.execute(
            update(StaffUser)
            .where(StaffUser.username == username)
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    assert log_in(client, username).status_code == 303
    assert user_row(username).failed_logins == 0


def test_inactive_accounts_cannot_log_in(client: TestClient, make_user: MakeUser) -> None:
    username = make_user()
    with session_scope() as session:
        session.execute(
            update(StaffUser).where(StaffUser.username == username).values(active=False)
        )
    response = log_in(client, username)
    assert response.status_code == 403 and "停用" in response.text
    assert "jx_staff=" not in set_cookies(response)


def test_pages_redirect_to_the_login_and_come_back(client: TestClient, make_user: MakeUser) -> None:
    response = client.get(f"{ACCOUNT}?tab=1")
    assert response.status_code == 303
    assert (
        response.headers["location"] == "/backoffice/login?next=%2Fbackoffice%2Faccount%3Ftab%3D1"
    )
    page = client.get(response.headers["location"])
    assert 'value="/backoffice/account?tab=1"' in page.text
    assert EXPIRED_MESSAGE not in page.text
    assert log_in(client, make_user(), next="/backoffice/account?tab=1").headers["location"] == (
        "/backoffice/account?tab=1"
    )


def test_an_expired_session_says_so(client: TestClient, make_user: MakeUser) -> None:
    username = make_user()
    log_in(client, username)
    with session_scope() as session:
        user_id = select(StaffUser.id).where(StaffUser.username == username).scalar_subquery()
        session.execute(
            update(StaffSession)
            .where(StaffSession.user_id == user_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    api = client.get(ACCOUNT, headers={"Accept": "application/json"})
    assert api.status_code == 401 and api.json()["detail"] == EXPIRED_MESSAGE
    sse = client.get(ACCOUNT, headers={"Accept": "text/event-stream"})
    assert sse.status_code == 401

    response = client.get(ACCOUNT)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/backoffice/login?next=%2Fbackoffice%2Faccount")
    assert "expired=1" in response.headers["location"]
    assert EXPIRED_MESSAGE in client.get(response.headers["location"]).text


def test_posts_without_the_right_csrf_token_do_nothing(
    client: TestClient, make_user: MakeUser, calls: list[str]
) -> None:
    username = make_user()
    log_in(client, username)
    token = form_token(client.get(ACCOUNT))
    for data, headers in (
        ({}, {}),
        ({"csrf_token": "forged"}, {}),
        ({}, {"X-CSRF-Token": "forged"}),
        ({"csrf_token": token[:-1] + "字"}, {}),
    ):
        refused = client.post("/backoffice/test-action", data=data, headers=headers)
        assert refused.status_code == 403 and CSRF_MESSAGE in refused.text
        logout = client.post("/backoffice/logout", data=data, headers=headers)
        assert logout.status_code == 403 and CSRF_MESSAGE in logout.text
    assert calls == []
    assert client.get(ACCOUNT).status_code == 200  # still logged in

    done = client.post("/backoffice/test-action", data={"csrf_token": token, "note": "好"})
    assert done.json() == {"done": username, "note": "好"}  # the route still reads its form
    assert client.post("/backoffice/test-action", headers={"X-CSRF-Token": token}).is_success
    assert calls == [username, username]
    out = client.post("/backoffice/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/backoffice/login?logged_out=1"
    assert client.get(ACCOUNT).status_code == 303
    assert "expired=1" not in client.get(ACCOUNT).headers["location"]  # logged out, not expired


def test_a_post_after_logout_reuses_nothing(client: TestClient, make_user: MakeUser) -> None:
    log_in(client, make_user())
    stolen = client.cookies.get("jx_staff", path="/backoffice")
    token = form_token(client.get(ACCOUNT))
    client.post("/backoffice/logout", data={"csrf_token": token})
    client.cookies.set("jx_staff", stolen or "", path="/backoffice")
    again = client.post("/backoffice/test-action", data={"csrf_token": token})
    assert again.status_code == 303 and again.headers["location"].startswith("/backoffice/login")


def test_the_login_form_has_its_own_csrf_token(client: TestClient, make_user: MakeUser) -> None:
    username = make_user()
    data = {"username": username, "password": PASSWORD, "csrf_token": "guess"}
    forged = client.post("/backoffice/login", data=data)  # no form cookie: a foreign page
    assert forged.status_code == 403 and "jx_staff=" not in set_cookies(forged)
    form_token(client.get("/backoffice/login"))  # the cookie is set, but the field is wrong
    mismatched = client.post("/backoffice/login", data=data)
    assert mismatched.status_code == 403 and "jx_staff=" not in set_cookies(mismatched)
    assert user_row(username).failed_logins == 0


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/backoffice",
        "//evil.example/backoffice",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/backoffice/../evil",
        "/sandbox/messages",
        "/backofficeevil",
        "",
    ],
)
def test_next_never_leaves_the_back_office(
    client: TestClient, make_user: MakeUser, target: str
) -> None:
    assert log_in(client, make_user(), next=target).headers["location"] == "/backoffice"


def test_roles_are_checked(client: TestClient, make_user: MakeUser) -> None:
    log_in(client, make_user("agent"))
    refused = client.get("/backoffice/test-supervisors")
    assert refused.status_code == 403 and ROLE_MESSAGE in refused.text
    assert "小王" in refused.text  # the error page keeps the navigation
    json_refused = client.get(
        "/backoffice/test-supervisors", headers={"Accept": "application/json"}
    )
    assert json_refused.json() == {"error": "Forbidden", "detail": ROLE_MESSAGE}

    supervisor = make_user("supervisor", None, "陈主管")
    client.cookies.clear()  # another browser
    log_in(client, supervisor)
    assert client.get("/backoffice/test-supervisors").json() == {"hello": supervisor}


def test_passwords_are_never_stored_in_clear(client: TestClient, make_user: MakeUser) -> None:
    username = make_user()
    log_in(client, username)
    stored = user_row(username).password_hash
    assert stored.startswith("$argon2") and PASSWORD not in stored
    with session_scope() as session:
        tokens = list(session.scalars(select(StaffSession.token_hash)))
    assert client.cookies.get("jx_staff", path="/backoffice") not in tokens


def test_the_login_page_skips_ahead_when_already_logged_in(
    client: TestClient, make_user: MakeUser
) -> None:
    log_in(client, make_user())
    again = client.get("/backoffice/login?next=/backoffice/account")
    assert again.status_code == 303 and again.headers["location"] == ACCOUNT


def test_static_files_and_unknown_pages(client: TestClient) -> None:
    css = client.get("/backoffice/static/app.css")
    assert css.status_code == 200 and ".msg.agent" in css.text
    assert css.headers["x-content-type-options"] == "nosniff"
    missing = client.get("/backoffice/login/nothing-here")
    assert missing.status_code == 404 and "页面不存在" in missing.text
    assert client.get("/docs").headers.get("x-frame-options") is None  # back office only


def test_the_cookie_is_secure_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    production = SimpleNamespace(app_env="production")
    monkeypatch.setattr("api.backoffice.web.get_settings", lambda: production)
    response = Response()
    set_session_cookie(response, "token")
    assert "Secure" in response.headers["set-cookie"]
