"""Inbound messages are stored once, with their sender resolved to a customer."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.conversations.models import Message
from crm.conversations.schemas import InboundMessage
from crm.conversations.service import (
    DuplicateDelivery,
    list_messages,
    record_inbound,
    record_outbound,
)
from crm.customers.models import Customer
from crm.customers.service import resolve_identity

BIG_MSG_ID = 9_223_372_036_854_775_807  # largest 64-bit MsgId: beyond float precision


def _inbound(openid: str, key: str, msg_id: int | None = None) -> InboundMessage:
    return InboundMessage(
        appid="wx_test",
        channel="oa",
        openid=openid,
        msg_type="text",
        content="电池保修多久",
        dedup_key=key,
        wechat_msg_id=msg_id,
    )


def test_first_message_creates_customer_identity_and_conversation(db: Session) -> None:
    openid = "o" + secrets.token_hex(8)
    message = record_inbound(db, _inbound(openid, f"wx_test:{openid}:{BIG_MSG_ID}", BIG_MSG_ID))
    db.expire_all()
    stored = db.get(Message, message.id)
    assert stored is not None and stored.wechat_msg_id == BIG_MSG_ID
    assert stored.conversation.channel == "oa"
    reply = record_outbound(db, stored, "6 个月", "passive", "sent")
    assert [m.direction for m in list_messages(db, stored.conversation_id)] == ["in", "out"]
    assert reply.reply_to_id == stored.id


def test_duplicate_delivery_is_refused_and_writes_nothing(db: Session) -> None:
    openid = "o" + secrets.token_hex(8)
    record_inbound(db, _inbound(openid, f"wx_test:{openid}:42424242"))
    before = db.scalar(select(func.count()).select_from(Message))
    with pytest.raises(DuplicateDelivery):
        record_inbound(db, _inbound(openid, f"wx_test:{openid}:42424242"))
    assert db.scalar(select(func.count()).select_from(Message)) == before


def test_unionid_links_identities_of_one_person(db: Session) -> None:
    oa = resolve_identity(db, "wx_oa", "o-oa-" + secrets.token_hex(4), unionid="u-1")
    mp = resolve_identity(db, "wx_mp", "o-mp-" + secrets.token_hex(4), unionid="u-1")
    assert oa.customer_id == mp.customer_id
    assert (
        db.scalar(select(func.count()).select_from(Customer).where(Customer.id == oa.customer_id))
        == 1
    )
