"""Members end to end: an unbound WeChat user is guided to bind, binds by phone and SMS code
(a member registered at the till), then sees the real balance, tier and coupons."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

import httpx
import pytest

from crm.coupons import service as coupons
from crm.customers.models import Customer
from crm.db import session_scope, utcnow
from crm.points import service as points
from crm.purchases.service import get_by_order_no, import_purchases
from crm.tickets.lifecycle import today
from tests.api.conftest import identity_of
from tests.conversations.conftest import Chat

pytestmark = pytest.mark.e2e


def _till_member() -> tuple[str, int, str]:
    """A member registered at a till with one purchase (points credited) and a coupon."""
    phone = f"135{secrets.randbelow(10**8):08d}"
    order_no = "POS" + secrets.token_hex(5).upper()
    with session_scope() as session:
        member = Customer(display_name="门店会员", phone=phone, tier="普通会员")
        session.add(member)
        session.flush()
        paid = (utcnow() - timedelta(days=20)).isoformat()
        row = {"order_no": order_no, "source": "pos", "sku": "RG-RH-800", "store": "JX-HZ01"}
        import_purchases(
            session, [row | {"member_phone": phone, "price_yuan": "459", "paid_at": paid}]
        )
        purchase = get_by_order_no(session, order_no)
        assert purchase is not None
        earned = points.earn_for_purchase(session, purchase, today()).amount
        coupon = coupons.issue(session, member.id, "CPN-XR", f"t:{order_no}", today())
        return phone, earned, coupon.code


def _code_sent_to(url: str, phone: str) -> str:
    sent = httpx.get(f"{url}/sandbox/sms", params={"phone": phone}).json()
    assert sent, "no SMS reached the sandbox"
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", sent[-1]["text"])
    assert match
    return match.group(1)


def test_an_unbound_user_binds_by_sms_code_and_sees_points_and_coupons(api_url: str) -> None:
    chat = Chat(api_url)
    assert "绑定会员" in chat.say("我有多少积分啊")  # guided to bind first
    phone, earned, code = _till_member()
    assert "手机号" in chat.say("我想绑定一下会员")
    sent = chat.say(f"手机号是{phone}", expect=2)
    assert f"验证码已发送到 {phone[:3]}****{phone[-4:]}" in sent and "6 位数字验证码" in sent
    wrong = "000000" if _code_sent_to(api_url, phone) != "000000" else "111111"
    refused = chat.say(wrong, expect=2)  # refused, asked again
    assert "验证码不正确" in refused and "6 位数字验证码" in refused
    done = chat.say(_code_sent_to(api_url, phone))
    assert "绑定成功" in done and f"{earned} 积分" in done
    with session_scope() as session:  # this WeChat user is now the till member
        member = session.get(Customer, identity_of(chat.sim.openid).customer_id)
        assert member is not None and member.phone == phone
    assert f"{earned} 积分" in chat.say("查下我的积分")
    assert code in chat.say("我有哪些优惠券")
