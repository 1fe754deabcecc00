"""Notifications pick the channel WeChat allows now: window, template, or one-time subscribe."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy.orm import Session

from crm.customers import service as customers
from crm.db import utcnow
from crm.notifications.service import Notification, notify

OA, MP = "wx_oa_test", "wx_mp_test"
NOTE = Notification(
    key="ticket-1-accepted",
    text="您的维修工单已受理",
    template_id="tpl-oa",
    subscribe_template_id="tpl-mp",
    data={"thing1": "锐工电钻维修\n工单"},
)


def _person(db: Session, oa_days_ago: float | None, mp: bool = False):  # type: ignore[no-untyped-def]
    unionid = "u-" + secrets.token_hex(6)
    oa = customers.resolve_identity(db, OA, "o-oa-" + secrets.token_hex(6), unionid)
    customers.follow(oa, None)
    if oa_days_ago is not None:
        oa.last_interaction_at = utcnow() - timedelta(days=oa_days_ago)
    mp_identity = (
        customers.resolve_identity(db, MP, "o-mp-" + secrets.token_hex(6), unionid) if mp else None
    )
    db.flush()
    return oa, mp_identity


def test_inside_the_window_a_customer_service_message_with_template_fallback(db: Session) -> None:
    oa, _ = _person(db, oa_days_ago=0.5)
    item = notify(db, oa.customer_id, NOTE, OA, MP)
    assert item is not None and (item.kind, item.openid) == ("custom", oa.openid)
    assert item.payload["text"]["content"] == NOTE.text
    assert item.fallback is not None and item.fallback["kind"] == "template"


def test_outside_the_window_a_template_with_client_msg_id(db: Session) -> None:
    oa, _ = _person(db, oa_days_ago=3)
    item = notify(db, oa.customer_id, NOTE, OA, MP)
    assert item is not None and item.kind == "template"
    assert item.payload["client_msg_id"] == NOTE.key
    assert item.payload["data"]["thing1"]["value"] == "锐工电钻维修 工单"  # no line breaks
    assert notify(db, oa.customer_id, NOTE, OA, MP).id == item.id  # type: ignore[union-attr]


def test_mini_program_spends_one_acceptance_per_send(db: Session) -> None:
    oa, mp = _person(db, oa_days_ago=None, mp=True)
    customers.unfollow(oa)
    customers.add_subscription_credit(db, mp, "tpl-mp")
    item = notify(db, oa.customer_id, NOTE, OA, MP)
    assert item is not None and (item.kind, item.openid) == ("subscribe", mp.openid)
    second = Notification(key="ticket-1-done", text="已修好", subscribe_template_id="tpl-mp")
    assert notify(db, oa.customer_id, second, OA, MP) is None  # no acceptance left
