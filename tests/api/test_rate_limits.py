"""Abuse limits: per openid on the callbacks, per IP on signatures, /api/mp, the POS API, logins."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
import redis
from fastapi import Request
from sqlalchemy import Engine, select

from api.limits import client_address
from bot import replies
from bot.simulator import sign
from crm.config import Settings
from crm.conversations.models import Message
from crm.db import session_scope
from crm.staff.models import StaffUser
from tests.api.conftest import (
    CLOSED_PORT_URL,
    CSRF_FIELD,
    STAFF_PASSWORD,
    inbound,
    make_sim,
    make_staff,
)
from tests.api.test_wechat_conformance import post
from tests.servers import serve_api

SMALL_LIMITS = {
    "openid_messages_per_minute": 3,
    "signature_failures_per_ip_per_minute": 3,
    "mp_api_requests_per_ip_per_minute": 3,
    "integration_requests_per_ip_per_minute": 2,
    "login_failures_per_ip_per_minute": 2,
}
WAIT = re.compile(r"^请求过于频繁，请 (\d+) 秒后再试$")


@pytest.fixture
def api(engine: Engine, redis_db: redis.Redis) -> Iterator[str]:
    with serve_api(rasa_url=CLOSED_PORT_URL, **SMALL_LIMITS) as url:
        yield url


def _answered(message_ids: list[int]) -> int:
    with session_scope() as session:
        replies_to = select(Message.reply_to_id).where(Message.direction == "out")
        found = session.scalars(replies_to.where(Message.reply_to_id.in_(message_ids)))
        return len(set(found))


def test_a_flood_is_kept_but_only_the_first_messages_reach_the_bot(api: str) -> None:
    sim = make_sim(api)
    first = sim.text_xml("电池保修多久")
    answers = [sim.open_reply(post(sim, first)), sim.open_reply(post(sim, first))]  # a retry
    answers += [sim.open_reply(post(sim, sim.text_xml(f"第{n}条"))) for n in range(2, 7)]
    assert answers[1] is None  # the retry was a duplicate: it does not count
    bot_answers = [answers[0], *answers[2:4]]
    assert all(a and a != replies.SLOW_DOWN for a in bot_answers)
    assert answers[4:] == [replies.SLOW_DOWN, None, None]  # told once, then `success`
    stored = inbound(sim.openid)
    assert len(stored) == 6  # nothing the customer sent is lost
    assert _answered([m.id for m in stored]) == 4  # three bot answers and one slow-down


def test_forged_signatures_from_one_ip_are_refused_outright_after_the_limit(api: str) -> None:
    sim = make_sim(api)
    forged = [post(sim, sim.text_xml("伪造"), msg_signature="0" * 40) for _ in range(3)]
    assert [r.status_code for r in forged] == [403, 403, 403]
    genuine = post(sim, sim.text_xml("真的消息"))  # this IP is refused before any crypto
    assert genuine.status_code == 403
    assert inbound(sim.openid) == []
    token = Settings().wechat_mp_token
    signed = {"signature": sign(token, "1", "2"), "timestamp": "1", "nonce": "2", "echostr": "e"}
    assert httpx.get(f"{api}/wechat/mp", params=signed).status_code == 403  # any callback


def _assert_too_many(response: httpx.Response) -> None:
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "TooManyRequests"
    wait = WAIT.match(body["detail"])
    assert wait is not None
    assert response.headers["Retry-After"] == wait.group(1)
    assert 1 <= int(wait.group(1)) <= 60


def test_the_mini_program_api_answers_429_after_the_limit(api: str) -> None:
    statuses = [httpx.get(f"{api}/api/mp/me").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]  # counted before the token is even looked at
    _assert_too_many(httpx.get(f"{api}/api/mp/me"))
    _assert_too_many(httpx.post(f"{api}/api/mp/login", json={"code": "c"}))


def test_the_integration_api_answers_429_after_the_limit(api: str) -> None:
    url = f"{api}/api/integration/v1/purchases"
    assert [httpx.post(url, json={}).status_code for _ in range(2)] == [401, 401]
    _assert_too_many(httpx.post(url, json={}))


def _login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    token = CSRF_FIELD.search(client.get("/backoffice/login").text)
    assert token is not None
    data = {"username": username, "password": password, "csrf_token": token.group(1)}
    return client.post("/backoffice/login", data=data)


def test_logins_from_an_ip_that_failed_too_often_are_not_even_checked(api: str) -> None:
    username = make_staff()
    with httpx.Client(base_url=api, follow_redirects=False) as browser:
        assert _login(browser, username, STAFF_PASSWORD).status_code == 303  # successes are free
    with httpx.Client(base_url=api, follow_redirects=False) as client:
        assert [_login(client, "nobody", "wrong-pass").status_code for _ in range(2)] == [401, 401]
        refused = _login(client, username, STAFF_PASSWORD)
    assert refused.status_code == 429
    assert "请求过于频繁" in refused.text and "jx_staff" not in refused.headers.get(
        "set-cookie", ""
    )
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    with session_scope() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.username == username)).one()
        assert user.failed_logins == 0


def _request(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    spoofed = _request("203.0.113.9", "198.51.100.1")
    assert client_address(spoofed, []) == "203.0.113.9"
    assert client_address(spoofed, ["10.0.0.2"]) == "203.0.113.9"
    proxied = _request("10.0.0.2", "198.51.100.1, 192.0.2.7")  # the client lied about one hop
    assert client_address(proxied, ["10.0.0.2"]) == "192.0.2.7"
