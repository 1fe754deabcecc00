"""The back office's WeChat simulator: the real callback protocol, polling, CSRF, sandbox only."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import Engine, delete, select

from api.backoffice import simulator
from bot import replies
from crm.config import Settings
from crm.db import session_scope
from crm.staff import service
from crm.staff.models import StaffSession, StaffUser
from tests.api.conftest import CLOSED_PORT_URL, inbound
from tests.servers import serve_api

PAGE = "/backoffice/simulator"
SEND = f"{PAGE}/send"
MESSAGES = f"{PAGE}/messages"
PASSWORD = "simulator-pass-1"
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGE_TOKEN = re.compile(r'data-csrf="([^"]+)"')
JSON = {"Accept": "application/json"}
LoggedIn = Callable[[str], tuple[httpx.Client, str]]


@pytest.fixture
def api(engine: Engine, redis_db: redis.Redis) -> Iterator[str]:
    with serve_api(rasa_url=CLOSED_PORT_URL) as url:
        yield url


@pytest.fixture
def staff_user(engine: Engine) -> Iterator[str]:
    """A committed agent account; it and its sessions are deleted afterwards."""
    username = f"sim{secrets.token_hex(4)}"
    with session_scope() as session:
        service.create_user(session, username, "实习客服", PASSWORD, "agent", None)
    yield username
    with session_scope() as session:
        ids = select(StaffUser.id).where(StaffUser.username == username)
        session.execute(delete(StaffSession).where(StaffSession.user_id.in_(ids)))
        session.execute(delete(StaffUser).where(StaffUser.username == username))


@pytest.fixture
def logged_in(staff_user: str) -> Iterator[LoggedIn]:
    """Log in to the server at a URL through the login form; (client, the page's CSRF token)."""
    clients: list[httpx.Client] = []

    def log_in(url: str) -> tuple[httpx.Client, str]:
        client = httpx.Client(base_url=url, follow_redirects=False, timeout=20)
        clients.append(client)
        form = client.get("/backoffice/login")
        found = FORM_TOKEN.search(form.text)
        assert found, form.text
        data = {"username": staff_user, "password": PASSWORD, "csrf_token": found.group(1)}
        assert client.post("/backoffice/login", data={**data, "next": PAGE}).status_code == 303
        page = client.get(PAGE)
        token = PAGE_TOKEN.search(page.text)
        return client, token.group(1) if token else ""

    yield log_in
    for client in clients:
        client.close()


def post(client: httpx.Client, token: str | None, **body: Any) -> httpx.Response:
    headers = {**JSON, **({"X-CSRF-Token": token} if token is not None else {})}
    return client.post(SEND, json=body, headers=headers)


def new_openid() -> str:
    return "osim" + secrets.token_hex(12)


def cs_send(url: str, openid: str, text: str) -> None:
    """Send a customer-service text to `openid` through the sandbox, as an agent's reply would."""
    s = Settings()
    token = httpx.get(
        f"{url}/sandbox/cgi-bin/token",
        params={"appid": s.wechat_oa_appid, "secret": s.wechat_oa_secret},
    ).json()["access_token"]
    sent = httpx.post(
        f"{url}/sandbox/cgi-bin/message/custom/send",
        params={"access_token": token},
        json={"touser": openid, "msgtype": "text", "text": {"content": text}},
    )
    assert sent.json()["errcode"] == 0


def test_page_is_a_phone_with_external_script_only(api: str, logged_in: LoggedIn) -> None:
    client, token = logged_in(api)
    page = client.get(PAGE, params={"openid": "o_demo_customer"})
    assert page.status_code == 200
    assert token and 'class="phone"' in page.text and 'data-openid="o_demo_customer"' in page.text
    assert '<script src="/backoffice/static/simulator.js" defer></script>' in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # the CSP forbids inline scripts
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/backoffice/static/simulator.js").status_code == 200
    fresh = client.get(PAGE, params={"openid": "<x-evil>"}).text
    assert "x-evil" not in fresh and re.search(r'data-openid="osim[\w-]{24}"', fresh)


def test_send_goes_through_the_real_callback_and_returns_the_passive_reply(
    api: str, logged_in: LoggedIn
) -> None:
    client, token = logged_in(api)
    openid = new_openid()
    response = post(client, token, openid=openid, text="电池保修多久")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["openid"] == openid and body["reply"] == replies.BUSY  # Rasa is down here
    assert [m.content for m in inbound(openid)] == ["电池保修多久"]

    plain = post(client, token, openid=openid, text="还在吗", safe_mode=False)
    assert plain.json()["reply"] == replies.BUSY
    assert [m.content for m in inbound(openid)] == ["电池保修多久", "还在吗"]


def test_subscribe_event_gets_the_welcome(api: str, logged_in: LoggedIn) -> None:
    client, token = logged_in(api)
    response = post(client, token, openid=new_openid(), event="subscribe")
    assert response.status_code == 200, response.text
    assert response.json()["reply"] == replies.WELCOME


@pytest.mark.parametrize(
    "body",
    [
        {"openid": "bad id!", "text": "你好"},
        {"openid": "osim_ok_customer"},
        {"openid": "osim_ok_customer", "text": "   "},
        {"openid": "osim_ok_customer", "text": "你好", "event": "subscribe"},
        {"openid": "osim_ok_customer", "event": "CLICK", "key": "NO_SUCH_KEY"},
        {"openid": "osim_ok_customer", "text": "长" * 1001},
    ],
)
def test_invalid_pushes_are_refused(api: str, logged_in: LoggedIn, body: dict[str, Any]) -> None:
    client, token = logged_in(api)
    response = post(client, token, **body)
    assert response.status_code == 422
    assert not inbound("osim_ok_customer")


def test_late_replies_are_polled_from_the_sandbox(api: str, logged_in: LoggedIn) -> None:
    client, _ = logged_in(api)
    openid, other = new_openid(), new_openid()
    first = client.get(MESSAGES, params={"openid": openid}, headers=JSON).json()
    assert first["messages"] == [] and first["typing"] is None

    cs_send(api, other, "别人的消息")
    cs_send(api, openid, "您好，我是客服小王")
    got = client.get(MESSAGES, params={"openid": openid, "after": first["last"]}).json()
    assert [(m["kind"], m["text"]) for m in got["messages"]] == [("custom", "您好，我是客服小王")]
    assert got["last"] == got["messages"][0]["seq"] > first["last"]

    again = client.get(MESSAGES, params={"openid": openid, "after": got["last"]}).json()
    assert again["messages"] == [] and again["last"] == got["last"]
    # After a restart the sandbox starts again from nothing: a page that saw more starts over.
    restarted = client.get(MESSAGES, params={"openid": openid, "after": 10**9}).json()
    assert [m["text"] for m in restarted["messages"]] == ["您好，我是客服小王"]


def test_sandbox_records_become_bubbles() -> None:
    menu = {
        "seq": 3,
        "kind": "custom",
        "msgtype": "msgmenu",
        "msgmenu": {"head_content": "满意吗？", "list": [{"id": "1", "content": "满意"}]},
    }
    notice = {"seq": 4, "kind": "template", "data": {"thing1": {"value": "维修完成"}}}
    typing = {"seq": 5, "kind": "typing", "command": "Typing"}
    answer = simulator.listing([menu, notice, typing], last=9)
    assert [(m["text"], m["options"]) for m in answer["messages"]] == [
        ("满意吗？", ["满意"]),
        ("【服务通知】维修完成", []),
    ]
    assert (answer["last"], answer["typing"]) == (9, True)
    assert simulator.listing([], last=7) == {"messages": [], "last": 7, "typing": None}


def test_send_without_csrf_token_is_refused(api: str, logged_in: LoggedIn) -> None:
    client, token = logged_in(api)
    openid = new_openid()
    assert post(client, None, openid=openid, text="你好").status_code == 403
    assert post(client, "forged" + token, openid=openid, text="你好").status_code == 403
    assert not inbound(openid)


def test_not_logged_in_gets_401_or_the_login_page(api: str) -> None:
    with httpx.Client(base_url=api, follow_redirects=False) as client:
        page = client.get(PAGE)
        assert page.status_code == 303 and page.headers["location"].startswith("/backoffice/login")
        openid = new_openid()
        assert post(client, "x", openid=openid, text="你好").status_code == 401
        assert client.get(MESSAGES, params={"openid": openid}, headers=JSON).status_code == 401
        assert not inbound(openid)


def test_everything_is_404_when_real_wechat_is_configured(
    engine: Engine, redis_db: redis.Redis, logged_in: LoggedIn
) -> None:
    with serve_api(rasa_url=CLOSED_PORT_URL, wechat_api_base="http://127.0.0.1:9") as url:
        client, _ = logged_in(url)
        openid = new_openid()
        assert client.get(PAGE).status_code == 404
        token = client.cookies.get("jx_staff") or ""  # a CSRF token cannot be had: any will do
        assert post(client, token, openid=openid, text="你好").status_code == 404
        assert client.get(MESSAGES, params={"openid": openid}, headers=JSON).status_code == 404
        assert client.get("/sandbox/messages").status_code == 404
        assert not inbound(openid)
