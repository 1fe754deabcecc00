"""Repairs end to end: signed, encrypted WeChat messages open tickets through the real Rasa
form, staff walk the states through the back-office API, and every notice reaches the sandbox."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crm.config import DEV_STAFF_TOKEN
from crm.conversations.models import Message
from crm.customers import service as customers
from crm.customers.models import Customer
from crm.db import session_scope, utcnow
from crm.purchases.service import import_purchases
from crm.tickets.models import RepairTicket
from tests.api.conftest import identity_of
from tests.conversations.conftest import Chat, msg_id

pytestmark = pytest.mark.e2e
STAFF = {"Authorization": f"Bearer {DEV_STAFF_TOKEN}"}


def _member_with_purchase(openid: str, sku: str, days_ago: int) -> str:
    """Bind a phone to this WeChat user and import a store purchase under it (as the POS does)."""
    phone = f"136{secrets.randbelow(10**8):08d}"
    with session_scope() as session:
        identity = customers.get_identity(session, identity_of(openid).appid, openid)
        assert identity is not None
        customers.bind_phone(session, identity.customer, phone)
    paid = (utcnow() - timedelta(days=days_ago)).isoformat()
    row = {"order_no": "POS" + secrets.token_hex(5).upper(), "source": "pos", "sku": sku}
    row |= {"member_phone": phone, "price_yuan": "699", "paid_at": paid, "store": "JX-HZ02"}
    with session_scope() as session:
        import_purchases(session, [row])
    return phone


def _ticket(openid: str) -> RepairTicket:
    with session_scope() as session:
        customer_id = identity_of(openid).customer_id
        found = session.scalars(
            select(RepairTicket).where(RepairTicket.customer_id == customer_id)
        ).one()
        session.expunge(found)
        return found


def _staff(url: str, number: str, action: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/api/backoffice/tickets/{number}/{action}", json=body, headers=STAFF
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_in_warranty_repair_from_the_purchase_record_walked_to_a_rating(api_url: str) -> None:
    chat = Chat(api_url)
    chat.say("你好")
    phone = _member_with_purchase(chat.sim.openid, "RG-DR-20BL", days_ago=90)
    assert "故障" in chat.say("我的锂电钻坏了，想报修")  # the drill they bought is recognised
    assert "进过水" in chat.say("开机没反应 按开关一点动静都没有")
    assert "送修" in chat.say("没有")  # phone known from the membership: not asked
    assert "哪家门店" in chat.say("到店")
    here = chat.sim.push(  # a location message near the 滨江 store picks that store
        "location", Location_X=30.21, Location_Y=120.21, Scale=15, Label="江南大道", MsgId=msg_id()
    )
    summary = chat.sim.open_reply(chat.sim.post(here)) or ""
    ticket = _ticket(chat.sim.openid)
    assert ticket.number in summary and "在保修期内" in summary and "滨江店" in summary
    assert (ticket.sku, ticket.in_warranty, ticket.contact_phone) == ("RG-DR-20BL", True, phone)
    assert ticket.proof_kind == "purchase" and ticket.store_id == "JX-HZ02"

    for state in ("accepted", "diagnosing", "repairing", "ready_for_pickup"):
        assert _staff(api_url, ticket.number, "transition", to=state)["state"] == state
    assert "维修中心已收件" in chat.notices(4)[0]
    assert "已完成待取件" in chat.say("我的维修到哪了")
    _staff(api_url, ticket.number, "transition", to="completed", note="顾客已取件")
    assert "打分" in chat.notices(1)[0]
    assert "5 分" in chat.say("5分 非常满意")
    assert _ticket(chat.sim.openid).rating == 5


def test_out_of_warranty_repair_by_serial_with_a_quote_approved_in_chat(api_url: str) -> None:
    chat = Chat(api_url)
    listed = chat.say("角磨机冒火花了 帮我报修一下")
    assert "RG-AG-100" in listed  # which angle grinder? the candidates are listed
    assert "故障" in chat.say("1")  # picked by its number
    assert "凭证" in chat.say("碳刷那里一直冒火花，还有焦味")
    assert "进过水" in chat.say("序列号是 RG-2301-004512")
    assert "手机号" in chat.say("都没有")
    assert "送修" in chat.say("13812345678")
    corrected = chat.say("号码写错了 应该是13812345679")  # corrected, then asked again
    assert "送修" in corrected and "请回复「到店」或「寄修」" not in corrected
    summary = chat.say("寄修吧")
    ticket = _ticket(chat.sim.openid)
    assert ticket.number in summary and "不在免费保修范围" in summary and "检测费" in summary
    assert (ticket.in_warranty, ticket.proof_kind, ticket.service_method) == (
        False,
        "serial",
        "寄修",
    )

    assert (ticket.sku, ticket.contact_phone) == ("RG-AG-100", "13812345679")
    _staff(api_url, ticket.number, "transition", to="accepted")
    _staff(api_url, ticket.number, "transition", to="diagnosing")
    _staff(api_url, ticket.number, "diagnosis", diagnosis="碳刷磨损、开关烧蚀", quote_yuan="97")
    _staff(api_url, ticket.number, "transition", to="awaiting_approval")
    assert "97" in chat.notices(3)[-1]
    assert "已确认报价" in chat.say("同意维修")
    assert _ticket(chat.sim.openid).state == "repairing"
    assert _ticket(chat.sim.openid).quote_yuan == Decimal("97.00")
    _staff(api_url, ticket.number, "transition", to="shipped_back")
    _staff(api_url, ticket.number, "transition", to="completed")
    assert "打分" in chat.notices(4)[-1]
    assert "4 分" in chat.say("4")  # a bare number answers the rating question
    assert _ticket(chat.sim.openid).rating == 4


def test_a_question_mid_form_is_answered_and_the_form_goes_on_then_cancel(api_url: str) -> None:
    chat = Chat(api_url)
    chat.say("我要报修")
    chat.say("RG-RH-800")
    answer = chat.say("电池保修多久啊？", expect=2)
    assert "6 个月" in answer and "故障" in answer  # answered, then asked again
    assert "已取消" in chat.say("算了不修了")
    with session_scope() as session:
        customer_id = identity_of(chat.sim.openid).customer_id
        assert session.get(Customer, customer_id) is not None
        found = session.scalars(
            select(RepairTicket).where(RepairTicket.customer_id == customer_id)
        ).all()
        assert found == []


def test_a_swollen_battery_gets_safety_advice_first_and_a_priority_ticket(api_url: str) -> None:
    chat = Chat(api_url)
    first = chat.say("我的电池鼓包了还有点冒烟", expect=2)
    assert first.index("停止使用") < first.index("哪一款")  # then: which battery?
    chat.say("RG-BP-20-40")
    assert "凭证" in chat.say("充电的时候鼓起来了")
    photo = chat.sim.push("image", PicUrl="http://x/invoice.jpg", MediaId="m-inv", MsgId=msg_id())
    assert "进过水" in (chat.sim.open_reply(chat.sim.post(photo)) or "")  # the invoice photo
    chat.say("没有")
    chat.say("13912345678")
    summary = chat.say("寄修")
    ticket = _ticket(chat.sim.openid)
    assert ticket.priority and ticket.sku == "RG-BP-20-40" and "优先处理" in summary
    assert (ticket.proof_kind, ticket.in_warranty) == ("photo", None) and "待核实" in summary
    with session_scope() as session:  # the photo kept as the proof is the one the customer sent
        kept = session.get(Message, int(ticket.proof_ref or 0))
        assert kept is not None and kept.media_id == "m-inv"
