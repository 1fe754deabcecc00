"""Inbound messages are stored once, with their sender resolved to a customer."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.conversations.models import Message
from crm.conversations.schemas import InboundMessage
from crm.conversations.service import (
    DuplicateDelivery,
    Received,
    list_messages,
    open_conversation,
    record_inbound,
    record_outbound,
    reply_through_api,
    settle,
)
from crm.customers.models import Customer, WechatIdentity
from crm.customers.service import resolve_identity
from crm.db import utcnow
from crm.outbox.models import OutboxItem

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


def test_a_known_sender_keeps_their_conversation_and_is_seen_again(db: Session) -> None:
    openid = "o" + secrets.token_hex(8)
    first = record_inbound(db, _inbound(openid, f"wx_test:{openid}:1"))
    second = record_inbound(db, _inbound(openid, f"wx_test:{openid}:2"), status="pending")
    identity, conversation = open_conversation(db, _inbound(openid, f"wx_test:{openid}:3"))
    assert second.conversation_id == first.conversation_id == conversation.id
    assert (first.status, second.status) == (None, "pending")  # written by the INSERT
    assert identity.id == conversation.identity_id
    assert identity.last_seen_at == conversation.last_message_at


@pytest.mark.parametrize(("seconds_ago", "written"), [(10, False), (120, True)])
def test_last_seen_times_are_kept_to_the_minute(
    db: Session, seconds_ago: int, written: bool
) -> None:
    """A sender seen less than a minute ago costs no UPDATE; an older time moves to now."""
    openid = "o" + secrets.token_hex(8)
    identity, conversation = open_conversation(db, _inbound(openid, f"wx_test:{openid}:1"))
    earlier = utcnow() - timedelta(seconds=seconds_ago)
    identity.last_seen_at = conversation.last_message_at = earlier
    db.flush()
    identity, conversation = open_conversation(db, _inbound(openid, f"wx_test:{openid}:2"))
    assert (identity.last_seen_at != earlier) is written
    assert (conversation.last_message_at != earlier) is written
    assert (identity in db.dirty) is written


def test_settle_changes_only_a_message_the_bot_still_owes(db: Session) -> None:
    openid = "o" + secrets.token_hex(8)
    owed = record_inbound(db, _inbound(openid, f"wx_test:{openid}:1"), status="pending")
    not_owed = record_inbound(db, _inbound(openid, f"wx_test:{openid}:2"))
    settle(db, owed.id, "answered")
    settle(db, owed.id, "retry")  # settled already: stays answered
    settle(db, not_owed.id, "answered")
    db.expire_all()
    assert (owed.status, not_owed.status) == ("answered", None)


def test_replies_to_a_received_message_load_nothing_again(db: Session) -> None:
    openid = "o" + secrets.token_hex(8)
    inbound = record_inbound(db, _inbound(openid, f"wx_test:{openid}:1"), status="pending")
    identity = db.get(WechatIdentity, inbound.conversation.identity_id)
    assert identity is not None
    received = Received(inbound.id, inbound.conversation_id, identity.id)
    passive = record_outbound(db, received, "6 个月", "passive", "sent")
    later = reply_through_api(db, received, "还有别的吗？", identity)
    assert (passive.reply_to_id, later.reply_to_id) == (inbound.id, inbound.id)
    queued = db.scalars(select(OutboxItem).where(OutboxItem.message_id == later.id)).one()
    assert (queued.appid, queued.openid, queued.kind) == ("wx_test", openid, "custom")
