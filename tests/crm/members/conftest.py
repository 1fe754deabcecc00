"""WeChat customers, till-registered members and a recording SMS sender for the binding tests."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

import pytest
import redis
from sqlalchemy.orm import Session

from crm.config import Settings
from crm.conversations.models import Conversation
from crm.customers.models import Customer, WechatIdentity
from crm.db import utcnow
from crm.kv import RedisStore

SETTINGS = Settings()
MP = SETTINGS.wechat_mp_appid
OA = SETTINGS.wechat_oa_appid


class RecordingSender:
    """The SMS edge: keeps what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))

    def code(self, phone: str) -> str:
        """The code in the last message to `phone`."""
        text = [t for p, t in self.sent if p == phone][-1]
        found = re.search(r"验证码 (\d{6})", text)
        assert found, text
        return found.group(1)


@pytest.fixture
def store(redis_db: redis.Redis) -> RedisStore:
    """The real Redis test database (flushed around each test)."""
    return RedisStore(redis_db)


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


def wechat_user(db: Session, appid: str = MP, phone: str | None = None) -> Customer:
    """A customer who reached us through WeChat (an identity and a conversation)."""
    customer = Customer(display_name="微信用户", phone=phone)
    identity = WechatIdentity(customer=customer, appid=appid, openid="o-" + secrets.token_hex(8))
    db.add(identity)
    db.flush()
    channel = "mp" if appid == MP else "oa"
    db.add(Conversation(customer_id=customer.id, identity_id=identity.id, channel=channel))
    db.flush()
    return customer


def bound_days_ago(db: Session, customer: Customer, days: int) -> None:
    customer.phone_bound_at = utcnow() - timedelta(days=days)
    db.flush()


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"
