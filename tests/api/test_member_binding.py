"""Member binding through the real api: SMS codes via the sandbox, the mini-program's
getPhoneNumber binding, and the member's own account (/me, /me/points, /me/coupons)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from crm.coupons import service as coupons
from crm.customers.models import Customer
from crm.db import session_scope
from crm.kv import get_store
from crm.members.binding import OTHER_WECHAT, SMS_TEXT, LogSmsSender, confirm_code, request_code
from crm.points import service as points
from crm.points.rules import today
from crm.purchases.models import Purchase
from crm.purchases.service import purchases_of
from tests.crm.points.conftest import unique_phone
from tests.servers import SHARED_SANDBOX

Headers = dict[str, str]


def mp_user(api: str) -> Headers:
    """A mini-program user logged in through the sandbox's jscode2session."""
    code = "c-" + secrets.token_hex(6)
    openid = "mp-" + secrets.token_hex(6)
    httpx.post(f"{api}/sandbox/codes", json={"code": code, "openid": openid})
    login = httpx.post(f"{api}/api/mp/login", json={"code": code})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}


def me(api: str, headers: Headers) -> dict[str, Any]:
    response = httpx.get(f"{api}/api/mp/me", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def till_member(phone: str) -> int:
    """A member a store's till registered: purchases, points and a coupon, no WeChat."""
    with session_scope() as session:
        member = Customer(display_name="门店会员", phone=phone, tier="银卡")
        session.add(member)
        session.flush()
        paid = datetime.now(UTC)
        for yuan in ("2600", "180"):
            session.add(
                Purchase(
                    order_no=f"P-{secrets.token_hex(6).upper()}",
                    source="pos",
                    member_phone=phone,
                    customer_id=member.id if yuan == "2600" else None,
                    sku="RG-DR-12",
                    price_yuan=yuan,
                    paid_at=paid,
                    store_id="JX-HZ01",
                )
            )
        points.adjust(session, member.id, 1200, "开业活动", "测试员", f"t:{secrets.token_hex(6)}")
        coupons.issue(session, member.id, "CPN-WX", f"t:{secrets.token_hex(6)}", today())
        return member.id


def test_sms_code_read_from_the_sandbox_binds_the_member(api: str) -> None:
    headers, phone = mp_user(api), unique_phone()
    customer_id = me(api, headers)["customer_id"]
    with session_scope() as session:
        request_code(session, get_store(), customer_id, phone, LogSmsSender(f"{api}/sandbox"))
    sent = [m["text"] for m in httpx.get(f"{api}/sandbox/sms", params={"phone": phone}).json()]
    found = re.search(r"验证码 (\d{6})", sent[-1])
    assert found and sent == [SMS_TEXT.format(code=found.group(1))]
    with session_scope() as session:
        confirm_code(session, get_store(), customer_id, phone, found.group(1))

    body = me(api, headers)
    assert body["bound"] is True and body["customer_id"] == customer_id
    assert body["phone"] == f"{phone[:3]}****{phone[-4:]}"
    assert (body["tier"], body["points"], body["points_expiring"]) == ("普通会员", 0, [])
    assert body["progress"]["next_tier"] == "银卡"
    assert body["progress"]["message"] == "再消费 2000 元升级银卡"


def test_bind_phone_with_wechats_code_takes_in_the_till_member(api: str) -> None:
    phone = unique_phone()
    member_id = till_member(phone)
    headers = mp_user(api)
    response = httpx.post(
        f"{api}/api/mp/bind-phone", json={"code": f"phone-{phone}"}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["bound"], body["customer_id"], body["tier"]) == (True, member_id, "银卡")
    assert body["points"] == 1200 and body["progress"]["spend_12m_yuan"] == "2780.00"
    assert me(api, headers) == body

    ledger = httpx.get(f"{api}/api/mp/me/points", headers=headers).json()
    assert ledger["bound"] is True and ledger["total"] == 1
    assert [(e["amount"], e["reason"]) for e in ledger["items"]] == [(1200, "开业活动")]
    held = httpx.get(f"{api}/api/mp/me/coupons", headers=headers).json()
    assert held["bound"] is True and [c["name"] for c in held["items"]] == ["维修抵用券"]
    assert len(held["items"][0]["code"]) == 8  # what the till types or scans
    with session_scope() as session:
        member = session.get(Customer, member_id)
        assert member is not None
        assert {p.customer_id for p in purchases_of(session, member)} == {member_id}
        assert len(purchases_of(session, member)) == 2


def test_a_phone_bound_to_another_mini_program_user_is_refused(api: str) -> None:
    phone = unique_phone()
    first, second = mp_user(api), mp_user(api)
    code = {"code": f"phone-{phone}"}
    assert httpx.post(f"{api}/api/mp/bind-phone", json=code, headers=first).status_code == 200
    refused = httpx.post(f"{api}/api/mp/bind-phone", json=code, headers=second)
    assert refused.status_code == 409
    assert refused.json() == {"error": "Conflict", "detail": OTHER_WECHAT}
    assert me(api, second)["bound"] is False


def test_a_bad_phone_code_is_a_clear_error(api: str) -> None:
    headers = mp_user(api)
    response = httpx.post(f"{api}/api/mp/bind-phone", json={"code": "nope"}, headers=headers)
    assert response.status_code == 422
    assert response.json() == {
        "error": "InvalidCode",
        "detail": "手机号授权已失效，请重新点击「授权手机号」",
    }
    assert me(api, headers)["bound"] is False


def test_wechat_not_answering_is_503_and_binds_nothing(api: str) -> None:
    headers = mp_user(api)
    fault = {"path": "/wxa/business/getuserphonenumber", "errcode": -1}
    httpx.post(f"{api}/sandbox/faults", json=fault)
    code = {"code": f"phone-{unique_phone()}"}
    response = httpx.post(f"{api}/api/mp/bind-phone", json=code, headers=headers)
    assert (response.status_code, response.json()["error"]) == (503, "UpstreamUnavailable")
    assert me(api, headers)["bound"] is False


def test_an_unbound_user_sees_an_empty_membership(api: str) -> None:
    headers = mp_user(api)
    body = me(api, headers)
    assert {k: body[k] for k in ("bound", "phone", "tier", "points", "progress")} == {
        "bound": False,
        "phone": None,
        "tier": None,
        "points": 0,
        "progress": None,
    }
    ledger = httpx.get(f"{api}/api/mp/me/points", params={"page": 2, "size": 5}, headers=headers)
    assert ledger.json() == {"bound": False, "items": [], "page": 2, "size": 5, "total": 0}
    held = httpx.get(f"{api}/api/mp/me/coupons", headers=headers)
    assert held.json() == {"bound": False, "items": []}


def test_the_points_ledger_pages_newest_first(api: str) -> None:
    phone = unique_phone()
    member_id = till_member(phone)
    with session_scope() as session:
        points.adjust(session, member_id, 50, "评价奖励", "测试员", f"t:{secrets.token_hex(6)}")
    headers = mp_user(api)
    httpx.post(f"{api}/api/mp/bind-phone", json={"code": f"phone-{phone}"}, headers=headers)
    url = f"{api}/api/mp/me/points"
    first = httpx.get(url, params={"size": 1}, headers=headers).json()
    second = httpx.get(url, params={"page": 2, "size": 1}, headers=headers).json()
    assert [e["reason"] for e in first["items"] + second["items"]] == ["评价奖励", "开业活动"]
    assert first["total"] == 2
    too_big = httpx.get(url, params={"size": 101}, headers=headers)
    assert too_big.status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/mp/bind-phone"), ("GET", "/api/mp/me/points"), ("GET", "/api/mp/me/coupons")],
)
def test_the_member_routes_need_a_login(api: str, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = httpx.request(
            method, f"{api}{path}", json={"code": "phone-13812345678"}, headers=headers
        )
        assert (response.status_code, response.json()["error"]) == (401, "Unauthorized")


def test_the_sandbox_records_text_messages(api: str) -> None:
    phone = unique_phone()
    assert httpx.post(f"{api}/sandbox/sms/send", json={"phone": phone}).status_code == 422
    httpx.post(f"{api}/sandbox/sms/send", json={"phone": phone, "text": "你好"})
    assert [m["text"] for m in httpx.get(f"{api}/sandbox/sms", params={"phone": phone}).json()] == [
        "你好"
    ]
    assert any(m["phone"] == phone for m in SHARED_SANDBOX.sms)
