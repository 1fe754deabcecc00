"""The coupon pages through the real api over HTTP: figures per campaign, issuing to a segment
once per form by supervisors only; every refusal issues nothing."""

from __future__ import annotations

import random
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from crm.coupons import service
from crm.coupons.models import Coupon
from crm.coupons.segments import Tier, members_of
from crm.customers.models import Customer
from crm.db import session_scope
from crm.tickets.lifecycle import today
from tests.api.conftest import CSRF_FIELD, LogIn, make_staff

TOKEN = CSRF_FIELD
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')
MJ = "/backoffice/coupons/CPN-MJ"


def user(role: str) -> str:
    return make_staff(role, None, "同事")


def members(tier: str, count: int) -> list[int]:
    """Committed members of `tier`."""
    with session_scope() as session:
        made = [
            Customer(display_name="发券会员", phone=f"137{random.randrange(10**8):08d}", tier=tier)
            for _ in range(count)
        ]
        session.add_all(made)
        session.flush()
        return [m.id for m in made]


def issued_with(form_key: str) -> list[tuple[int, str, Decimal | None]]:
    """(member, type, face) of the coupons a form issued, by member."""
    with session_scope() as session:
        rows = session.scalars(
            select(Coupon)
            .where(Coupon.idempotency_key.startswith(f"{form_key}:"))
            .order_by(Coupon.customer_id)
        )
        return [(c.customer_id, c.type_id, c.face_value_yuan) for c in rows]


def form(client: httpx.Client, segment: str, threshold: str = "800") -> dict[str, str]:
    """The issue form of the 满减券 page, filled in."""
    page = client.get(MJ).text
    token, key = TOKEN.search(page), KEY.search(page)
    assert token is not None and key is not None, page
    data = {"csrf_token": token.group(1), "idempotency_key": key.group(1), "segment": segment}
    return {**data, "threshold": threshold}


def cells(page: str, type_id: str) -> dict[str, str]:
    """The figures of one campaign's row of the list page, by column."""
    row = re.search(rf'<tr data-campaign="{type_id}">(.*?)</tr>', page, re.S)
    assert row is not None, page
    return dict(re.findall(r'<td class="(\w+)">([^<]*)</td>', row.group(1)))


def test_everyone_reads_the_figures(login: LogIn) -> None:
    customer, june = members("普通会员", 1)[0], date(2012, 6, 1)
    with session_scope() as session:
        used = service.issue(session, customer, "CPN-WX", f"t:{secrets.token_hex(6)}", june)
        service.issue(session, customer, "CPN-WX", f"t:{secrets.token_hex(6)}", june)
        service.issue(session, customer, "CPN-ZK", f"t:{secrets.token_hex(6)}", date(2012, 7, 1))
        service.redeem(session, used.code, customer, "RP-COUPON-1", Decimal("15"), june)
    agent = login(user("agent"))
    window = {"start": "2012-06-01", "end": "2012-06-30"}
    page = agent.get("/backoffice/coupons", params=window)
    assert page.status_code == 200 and "维修抵用券" in page.text
    assert cells(page.text, "CPN-WX") == {
        "issued": "2",
        "redeemed": "1",
        "expired": "1",  # 90 days after June 2012 is long past
        "valid": "0",
        "void": "0",
        "rate": "50.0%",
        "value": "15.00",
    }
    assert cells(page.text, "CPN-ZK")["issued"] == "0"  # issued in July
    detail = agent.get("/backoffice/coupons/CPN-WX", params=window)
    assert detail.status_code == 200
    assert '<div class="value" id="issued">2</div>' in detail.text
    assert '<div class="value" id="rate">50.0%</div>' in detail.text
    assert "自动发放" in detail.text and "确认发放" not in detail.text  # a rule-issued type
    bad = agent.get("/backoffice/coupons", params={"start": "2012-07-01", "end": "2012-06-01"})
    assert bad.status_code == 422 and "不能晚于" in bad.text
    assert agent.get("/backoffice/coupons/CPN-NOPE").status_code == 404


def test_a_supervisor_issues_to_exactly_the_segment_once_per_form(login: LogIn) -> None:
    diamonds = members("钻石", 3)
    gold = members("金卡", 1)
    client = login(user("supervisor"))
    page = client.get(MJ).text
    with session_scope() as session:
        expected = members_of(session, Tier("钻石"), today())
    assert f"钻石会员（{len(expected)} 人）" in page  # the preview count
    data = form(client, "tier:钻石")
    done = client.post(f"{MJ}/issue", data=data)
    assert done.status_code == 303
    assert done.headers["location"].startswith(f"{MJ}?issued={len(expected)}&")
    coupons_issued = issued_with(data["idempotency_key"])
    assert [c[0] for c in coupons_issued] == expected and set(diamonds) <= set(expected)
    assert {c[1:] for c in coupons_issued} == {("CPN-MJ", Decimal("100.00"))}
    assert gold[0] not in expected
    shown = client.get(done.headers["location"]).text
    assert f"已向「钻石会员」发放 {len(expected)} 张满减券" in shown
    again = client.post(f"{MJ}/issue", data=data)  # the same form submitted twice
    assert again.status_code == 303 and again.headers["location"] == done.headers["location"]
    assert issued_with(data["idempotency_key"]) == coupons_issued


def test_a_form_posted_twice_at_once_issues_once(login: LogIn) -> None:
    members("银卡", 2)
    client = login(user("admin"))
    data = form(client, "tier:银卡", "300")
    with ThreadPoolExecutor(max_workers=4) as pool:
        posts = list(pool.map(lambda _: client.post(f"{MJ}/issue", data=data), range(4)))
    assert [p.status_code for p in posts] == [303] * 4
    with session_scope() as session:
        expected = members_of(session, Tier("银卡"), today())
    assert [c[0] for c in issued_with(data["idempotency_key"])] == expected


def test_agents_may_look_but_not_issue(login: LogIn) -> None:
    members("钻石", 1)
    agent = login(user("agent"))
    page = agent.get(MJ)
    assert page.status_code == 200 and "确认发放" not in page.text and "只有主管" in page.text
    token = TOKEN.search(page.text)
    assert token is not None
    key = f"bo-issue:{'0' * 8}-0000-4000-8000-{'0' * 12}"
    data = {"csrf_token": token.group(1), "idempotency_key": key, "segment": "tier:钻石"}
    refused = agent.post(f"{MJ}/issue", data={**data, "threshold": "300"})
    assert refused.status_code == 403 and "只有主管和管理员可以发放优惠券" in refused.text
    assert 'class="flash error"' in refused.text
    assert issued_with(key) == []


def test_missing_csrf_token_is_refused(login: LogIn) -> None:
    members("钻石", 1)
    client = login(user("admin"))
    data = form(client, "tier:钻石")
    del data["csrf_token"]
    refused = client.post(f"{MJ}/issue", data=data)
    assert refused.status_code == 403 and "表单已失效" in refused.text
    data["csrf_token"] = "not-the-token"
    assert client.post(f"{MJ}/issue", data=data).status_code == 403
    assert issued_with(data["idempotency_key"]) == []


@pytest.mark.parametrize(
    ("path", "changes", "status", "message"),
    [
        (MJ, {"segment": "tier:黑卡"}, 422, "请从列表中选择发放对象"),
        (MJ, {"threshold": "500"}, 422, "300、800、2000"),
        (MJ, {"idempotency_key": "birthday:2026"}, 422, "表单已失效"),
        ("/backoffice/coupons/CPN-SR", {}, 409, "自动发放"),
    ],
)
def test_bad_forms_say_why_and_issue_nothing(
    login: LogIn, path: str, changes: dict[str, str], status: int, message: str
) -> None:
    members("钻石", 1)
    client = login(user("supervisor"))
    data = {**form(client, "tier:钻石"), **changes}
    refused = client.post(f"{path}/issue", data=data)
    assert refused.status_code == status and message in refused.text
    assert 'class="flash error"' in refused.text
    assert issued_with(data["idempotency_key"]) == []
