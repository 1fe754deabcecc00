"""/api/integration/v1 over HTTP: client keys and scopes, Idempotency-Key, the till's writes."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from crm.coupons import service as coupons
from crm.customers.models import Customer
from crm.db import session_scope
from crm.integration.models import IdempotencyRecord
from crm.integration.service import create_client, revoke
from crm.points import rules
from crm.points.models import PointsEntry
from crm.purchases.service import get_by_order_no
from tests.crm.integration.conftest import SCOPES, client_name, recent_order, unique_phone
from tests.crm.purchases.conftest import unique_order_no

V1 = "/api/integration/v1"
Send = Callable[..., httpx.Response]


def _client(scopes: tuple[str, ...] | list[str] = SCOPES, revoked: bool = False) -> str:
    """A committed client's key."""
    with session_scope() as session:
        client, key = create_client(session, client_name("api"), scopes)
        if revoked:
            revoke(session, client.name)
    return key


def _member() -> tuple[int, str]:
    with session_scope() as session:
        customer = Customer(display_name="收银测试会员", phone=unique_phone(), tier="普通会员")
        session.add(customer)
        session.flush()
        return customer.id, str(customer.phone)


def _ledger(member_id: int) -> tuple[int, int]:
    """(entries, sum) of the member's points."""
    with session_scope() as session:
        mine = PointsEntry.customer_id == member_id
        count = session.scalar(select(func.count()).select_from(PointsEntry).where(mine))
        total = session.scalar(select(func.coalesce(func.sum(PointsEntry.amount), 0)).where(mine))
        return int(count or 0), int(total or 0)


def _stored(order_no: str) -> bool:
    with session_scope() as session:
        return get_by_order_no(session, order_no) is not None


def _key() -> str:
    return f"test-{secrets.token_hex(8)}"


@pytest.fixture
def send(api: str) -> Send:
    """POST to the integration API as a client with every scope (or `key`), under `idem`."""
    default = _client()

    def post(
        path: str, body: Any, idem: str | None = None, key: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or default}"}
        if idem is not None:
            headers["Idempotency-Key"] = idem
        return httpx.post(f"{api}{V1}{path}", json=body, headers=headers, timeout=30)

    return post


def test_without_a_valid_key_nothing_is_done_and_the_body_is_not_looked_at(api: str) -> None:
    revoked = _client(revoked=True)
    row = recent_order()
    for headers in (
        {},
        {"Authorization": "Bearer jx_wrong-key"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {_client()}"},
        {"Authorization": f"Bearer {revoked}"},
    ):
        for body in ({"orders": [row]}, {"x": 1}):
            response = httpx.post(
                f"{api}{V1}/purchases", json=body, headers={**headers, "Idempotency-Key": _key()}
            )
            assert response.status_code == 401, headers
            assert response.json()["error"] == "Unauthorized"
    assert not _stored(row["order_no"])


def test_a_client_without_the_scope_is_403(send: Send) -> None:
    till_only = _client(["coupons:redeem"])
    row = recent_order()
    response = send("/purchases", {"orders": [row]}, _key(), key=till_only)
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden"
    assert "purchases:write" in response.json()["detail"]
    assert not _stored(row["order_no"])


def test_a_write_without_an_idempotency_key_is_400(send: Send) -> None:
    row = recent_order()
    for idem in (None, "", "has space"):
        response = send("/purchases", {"orders": [row]}, idem)
        assert response.status_code == 400
        assert response.json()["error"] == "IdempotencyKeyRequired"
    assert not _stored(row["order_no"])


def test_orders_earn_points_once_and_a_retry_gets_the_identical_response(send: Send) -> None:
    member_id, phone = _member()
    rows = [recent_order(member_phone=phone, price_yuan="1000.00"), recent_order(member_id=None)]
    idem = _key()
    first = send("/purchases", {"orders": rows}, idem)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["created"], body["unchanged"], body["points_credited"]) == (2, 0, 1000)
    assert body["credits"] == [
        {"order_no": rows[0]["order_no"], "member_id": member_id, "points": 1000}
    ]
    assert _ledger(member_id) == (1, 1000)
    retry = send("/purchases", {"orders": rows}, idem)
    assert (retry.status_code, retry.content) == (200, first.content)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    # The same orders again under a new key: imported before, so no second credit.
    fresh = send("/purchases", {"orders": rows}, _key())
    assert fresh.json() == {
        "created": 0,
        "unchanged": 2,
        "errors": [],
        "credits": [],
        "points_credited": 0,
    }
    assert _ledger(member_id) == (1, 1000)


def test_the_same_key_with_another_body_or_endpoint_is_409(send: Send) -> None:
    member_id, phone = _member()
    idem = _key()
    assert send("/purchases", {"orders": [recent_order(member_phone=phone)]}, idem).is_success
    other = recent_order(member_phone=phone)
    for path, body in (
        ("/purchases", {"orders": [other]}),
        ("/refunds", {"order_no": "X", "refunded_yuan": "1"}),
    ):
        response = send(path, body, idem)
        assert response.status_code == 409
        assert response.json() == {
            "error": "IdempotencyKeyReused",
            "detail": "Idempotency-Key 已用于另一个请求",
        }
    assert not _stored(other["order_no"])
    assert _ledger(member_id) == (1, 299)


def test_invalid_orders_are_422_and_the_key_can_be_used_for_the_corrected_request(
    send: Send,
) -> None:
    idem = _key()
    good, bad = recent_order(), recent_order(sku="XX-NOPE-1")
    refused = send("/purchases", {"orders": [good, bad]}, idem)
    assert refused.status_code == 422 and refused.json()["error"] == "InvalidImport"
    assert refused.json()["errors"] == [f"row 2 ({bad['order_no']}): unknown SKU XX-NOPE-1"]
    assert not _stored(good["order_no"])
    assert send("/purchases", {"orders": [good]}, idem).json()["created"] == 1
    empty = send("/purchases", {"orders": []}, _key())
    assert empty.status_code == 422


def test_a_replayed_refund_takes_the_points_back_once(send: Send) -> None:
    member_id, phone = _member()
    row = recent_order(member_phone=phone, price_yuan="500.00")
    assert send("/purchases", {"orders": [row]}, _key()).json()["points_credited"] == 500
    idem = _key()
    refund = {"order_no": row["order_no"], "refunded_yuan": "200.00"}
    first = send("/refunds", refund, idem)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "order_no": row["order_no"],
        "reversed_points": 200,
        "returned_points": 0,
        "shortfall_points": 0,
        "deduct_from_refund_yuan": "0.00",
        "member_id": member_id,
        "tier": "普通会员",
    }
    retry = send("/refunds", refund, idem)
    assert (retry.content, retry.headers["Idempotent-Replayed"]) == (first.content, "true")
    assert _ledger(member_id) == (2, 300)
    too_much = send("/refunds", {**refund, "refunded_yuan": "400.00"}, _key())
    assert too_much.status_code == 422 and "已退 200.00 元" in too_much.json()["detail"]
    assert _ledger(member_id) == (2, 300)
    unknown = send("/refunds", {**refund, "order_no": "NO-SUCH-ORDER"}, _key())
    assert unknown.status_code == 404


def _coupon(member_id: int, days_ago: int = 0) -> str:
    with session_scope() as session:
        issued_on = rules.today() - timedelta(days=days_ago)
        return coupons.issue(session, member_id, "CPN-TJ", _key(), issued_on).code


def test_the_till_redeems_a_coupon_once_and_says_why_it_cannot(send: Send) -> None:
    member_id, phone = _member()
    code = _coupon(member_id)
    redeem = {
        "code": code,
        "member_phone": phone,
        "order_no": unique_order_no(),
        "order_amount": "350.00",
    }
    idem = _key()
    first = send("/coupons/redeem", redeem, idem)
    assert first.status_code == 200, first.text
    assert first.json()["discount_yuan"] == "30.00"
    assert first.json()["coupon"]["status"] == "redeemed"
    assert send("/coupons/redeem", redeem, idem).content == first.content
    used = send("/coupons/redeem", {**redeem, "order_no": unique_order_no()}, _key())
    assert (used.status_code, used.json()["error"]) == (409, "CouponAlreadyUsed")
    expired = {**redeem, "code": _coupon(member_id, days_ago=90), "order_no": unique_order_no()}
    response = send("/coupons/redeem", expired, _key())
    assert (response.status_code, response.json()["error"]) == (409, "CouponExpired")
    stranger_id, _ = _member()
    theirs = {**redeem, "code": _coupon(stranger_id), "order_no": unique_order_no()}
    response = send("/coupons/redeem", theirs, _key())
    assert (response.status_code, response.json()["error"]) == (403, "NotYourCoupon")
    nobody = send("/coupons/redeem", {**redeem, "member_phone": unique_phone()}, _key())
    assert nobody.status_code == 404 and "没有绑定手机号" in nobody.json()["detail"]
    both = send("/coupons/redeem", {**redeem, "member_id": member_id}, _key())
    assert both.status_code == 422


def test_points_beyond_the_balance_are_refused_and_the_ledger_is_unchanged(send: Send) -> None:
    member_id, phone = _member()
    send("/purchases", {"orders": [recent_order(member_phone=phone, price_yuan="1000.00")]}, _key())
    pay = {"member_id": member_id, "points": 1100, "order_no": "T-P1", "order_yuan": "9000.00"}
    refused = send("/points/redeem", pay, _key())
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "InsufficientPoints",
        "detail": "积分不足：可用 1000 积分，需要 1100 积分",
    }
    assert _ledger(member_id) == (1, 1000)
    idem = _key()
    spent = send("/points/redeem", {**pay, "points": 500}, idem)
    assert spent.json() == {
        "member_id": member_id,
        "order_no": "T-P1",
        "points": 500,
        "yuan": "5.00",
        "balance": 500,
    }
    assert send("/points/redeem", {**pay, "points": 500}, idem).content == spent.content
    assert _ledger(member_id) == (2, 500)
    with session_scope() as session:
        remembered = session.scalar(
            select(func.count()).select_from(IdempotencyRecord).where(IdempotencyRecord.key == idem)
        )
    assert remembered == 1


def test_openapi_documents_the_integration_api(api: str) -> None:
    spec = httpx.get(f"{api}/openapi.json").json()
    paths = {p for p in spec["paths"] if p.startswith(V1)}
    assert paths == {
        f"{V1}/purchases",
        f"{V1}/refunds",
        f"{V1}/coupons/redeem",
        f"{V1}/points/redeem",
        f"{V1}/reviews",
        f"{V1}/referrals",
    }
    assert "/api/purchases/import" not in spec["paths"]
    for path in paths:
        post = spec["paths"][path]["post"]
        assert post["tags"] == ["integration"] and post["summary"] and post["description"]
        assert {"Idempotency-Key"} <= {p["name"] for p in post["parameters"]}
        assert post["security"] == [{"IntegrationKey": []}]
        assert {"200", "400", "401", "403", "409", "422"} <= set(post["responses"])
        assert "$ref" in post["responses"]["200"]["content"]["application/json"]["schema"]
    assert spec["components"]["securitySchemes"]["IntegrationKey"]["scheme"] == "bearer"


def test_a_body_json_cannot_echo_back_is_still_a_clear_422(api: str) -> None:
    # Python's parser accepts NaN, which the 422's echo of the input cannot carry as JSON.
    headers = {
        "Authorization": f"Bearer {_client()}",
        "Idempotency-Key": _key(),
        "Content-Type": "application/json",
    }
    refused = httpx.post(
        f"{api}{V1}/referrals", content=b'[[NaN, "event"]]', headers=headers, timeout=30
    )
    assert refused.status_code == 422 and refused.json()["detail"][0]["input"] == [["nan", "event"]]
