"""The member pages through the real api over HTTP: search, a member's page, points adjustment
once per form by supervisors only; every refusal leaves the ledger as it was."""

from __future__ import annotations

import random
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from crm.customers.models import Customer
from crm.db import session_scope
from crm.points.ledger import balance_of
from crm.points.models import PointsEntry
from crm.purchases.models import Purchase
from crm.staff import service as staff
from tests.api.conftest import CSRF_FIELD, STAFF_PASSWORD, LogIn

TOKEN = CSRF_FIELD
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def tag() -> str:
    """A name fragment no other test uses (with a letter: digits alone are a number query)."""
    return f"k{secrets.token_hex(4)}"


def user(role: str = "agent", store: str | None = None) -> str:
    username = f"m{secrets.token_hex(5)}"
    with session_scope() as session:
        staff.create_user(session, username, "同事", STAFF_PASSWORD, role, store)
    return username


def member(name: str, store: str | None = None) -> tuple[int, str]:
    """A committed member (with a home store through a purchase there) and their phone."""
    phone = f"135{random.randrange(10**8):08d}"
    with session_scope() as session:
        person = Customer(display_name=name, phone=phone)
        session.add(person)
        session.flush()
        if store:
            session.add(
                Purchase(
                    order_no=f"M-{secrets.token_hex(6)}",
                    source="pos",
                    customer_id=person.id,
                    sku="RG-DR-12",
                    price_yuan=Decimal("59.00"),
                    paid_at=datetime(2026, 3, 1, 2, tzinfo=UTC),
                    store_id=store,
                )
            )
        return person.id, phone


def ledger(customer_id: int) -> tuple[list[tuple[int, str, str | None]], int]:
    """(amount, reason, ref) of the member's entries, oldest first, and the balance."""
    with session_scope() as session:
        rows = session.scalars(
            select(PointsEntry)
            .where(PointsEntry.customer_id == customer_id)
            .order_by(PointsEntry.id)
        )
        return [(r.amount, r.reason, r.ref) for r in rows], balance_of(session, customer_id)


def form(client: httpx.Client, customer_id: int, amount: object, reason: str) -> dict[str, str]:
    """The adjust form of the member's page, filled in."""
    page = client.get(f"/backoffice/members/{customer_id}").text
    token, key = TOKEN.search(page), KEY.search(page)
    assert token is not None and key is not None, page
    return {
        "csrf_token": token.group(1),
        "idempotency_key": key.group(1),
        "amount": str(amount),
        "reason": reason,
    }


def test_search_lists_members_with_masked_phones(login: LogIn) -> None:
    token = tag()
    customer_id, phone = member(f"搜索{token}", "JX-HZ01")
    client = login(user("supervisor"))
    assert "搜索" in client.get("/backoffice/members").text
    for query in (phone, phone[-4:], token, f"#{customer_id}"):
        page = client.get("/backoffice/members", params={"q": query})
        assert page.status_code == 200
        assert f'href="/backoffice/members/{customer_id}"' in page.text, query
        assert f"{phone[:3]}****{phone[-4:]}" in page.text
        assert page.text.count(phone) == (query == phone)  # only in the search box it was typed in
    nobody = client.get("/backoffice/members", params={"q": f"无此人{token}"})
    assert "没有找到" in nobody.text


def test_view_and_adjust_once_per_form(login: LogIn) -> None:
    customer_id, phone = member("调整会员", "JX-HZ01")
    username = user("supervisor", "JX-HZ02")
    client = login(username)
    path = f"/backoffice/members/{customer_id}"
    page = client.get(path)
    assert page.status_code == 200 and "调***" in page.text and "还没有积分记录" in page.text
    assert phone not in page.text and "客户信息" in page.text  # the 360° panel
    data = form(client, customer_id, 300, "门店活动补发")
    first = client.post(f"{path}/points", data=data)
    assert first.status_code == 303 and first.headers["location"] == f"{path}?done=1"
    again = client.post(f"{path}/points", data=data)  # the same form submitted twice
    assert again.status_code == 303
    assert ledger(customer_id) == ([(300, "门店活动补发", f"staff:{username}")], 300)
    shown = client.get(first.headers["location"]).text
    assert "积分已调整" in shown and "门店活动补发" in shown and "+300" in shown
    debit = client.post(f"{path}/points", data=form(client, customer_id, -100, "误发部分收回"))
    assert debit.status_code == 303
    assert ledger(customer_id)[1] == 200


def test_a_form_posted_twice_at_once_credits_once(login: LogIn) -> None:
    customer_id, _ = member("并发会员")
    username = user("admin")
    client = login(username)
    data = form(client, customer_id, 500, "并发重复提交")
    path = f"/backoffice/members/{customer_id}/points"
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda _: client.post(path, data=data).status_code, range(4)))
    assert statuses == [303] * 4
    assert ledger(customer_id)[0] == [(500, "并发重复提交", f"staff:{username}")]
    assert ledger(customer_id)[1] == 500


def test_agents_may_look_but_not_adjust(login: LogIn) -> None:
    customer_id, _ = member("只看会员", "JX-HZ01")
    agent = login(user("agent", "JX-HZ01"))
    path = f"/backoffice/members/{customer_id}"
    page = agent.get(path)
    assert page.status_code == 200 and "调整积分" not in page.text
    token = TOKEN.search(page.text)
    assert token is not None
    data = {
        "csrf_token": token.group(1),
        "idempotency_key": "staff-adjust:forged",
        "amount": "100",
        "reason": "自己给自己加",
    }
    refused = agent.post(f"{path}/points", data=data)
    assert refused.status_code == 403 and "无权" in refused.text
    assert ledger(customer_id) == ([], 0)


def test_missing_csrf_token_is_refused(login: LogIn) -> None:
    customer_id, _ = member("防伪会员")
    client = login(user("admin"))
    data = form(client, customer_id, 100, "活动补发积分")
    del data["csrf_token"]
    refused = client.post(f"/backoffice/members/{customer_id}/points", data=data)
    assert refused.status_code == 403 and "表单已失效" in refused.text
    data["csrf_token"] = "not-the-token"
    assert client.post(f"/backoffice/members/{customer_id}/points", data=data).status_code == 403
    assert ledger(customer_id) == ([], 0)


@pytest.mark.parametrize(
    ("amount", "reason", "status", "message"),
    [
        ("0", "活动补发积分", 422, "不能为 0"),
        ("5001", "活动补发积分", 422, "±5000"),
        ("十", "活动补发积分", 422, "必须是整数"),
        ("100", "补发", 422, "请写明调整原因"),
        ("-1", "误发收回积分", 409, "积分不足"),
    ],
)
def test_bad_adjustments_say_why_and_write_nothing(
    login: LogIn, amount: str, reason: str, status: int, message: str
) -> None:
    customer_id, _ = member("校验会员")
    client = login(user("admin"))
    data = form(client, customer_id, amount, reason)
    refused = client.post(f"/backoffice/members/{customer_id}/points", data=data)
    assert refused.status_code == status and message in refused.text
    assert 'class="flash error"' in refused.text and f'value="{reason}"' in refused.text
    assert ledger(customer_id) == ([], 0)


def test_another_stores_member_is_out_of_an_agents_reach(login: LogIn) -> None:
    token = tag()
    customer_id, phone = member(f"外店{token}", "JX-HZ01")
    outsider = login(user("agent", "JX-HZ02"))
    refused = outsider.get(f"/backoffice/members/{customer_id}")
    assert refused.status_code == 403 and "这位会员属于其他门店" in refused.text
    for query in (phone, token):
        listed = outsider.get("/backoffice/members", params={"q": query}).text
        assert f"/backoffice/members/{customer_id}" not in listed
    assert login(user("agent", "JX-HZ01")).get(f"/backoffice/members/{customer_id}").is_success
