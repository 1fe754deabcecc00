"""What to do with a push: say a fixed text, ask the bot, or nothing; and its side effects."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot import replies
from bot.menu import click_text
from bot.wechat import Push
from crm.customers import service as customers
from crm.customers.models import WechatIdentity
from crm.knowledge.nearby import NO_STORE_NEARBY, nearest_store_text
from crm.outbox import service as outbox

# Pushes through which the user interacts, opening the customer-service window.
INTERACTIVE_EVENTS = {"subscribe", "scan", "click", "user_enter_tempsession"}
SILENT_EVENTS = {
    "unsubscribe",
    "view",
    "templatesendjobfinish",
    "location",
    "subscribe_msg_popup_event",
    "subscribe_msg_change_event",
    "subscribe_msg_sent_event",
}


@dataclass(frozen=True)
class Plan:
    """`say` a fixed text, or `ask` the bot with a text; neither means answer nothing.

    `intent` asks the bot with an intent instead of words (an image: the repair form may be
    waiting for a photo); `unavailable` is said instead when the bot cannot be reached."""

    say: str | None = None
    ask: str | None = None
    intent: str | None = None
    unavailable: str | None = None


def apply_effects(session: Session, identity: WechatIdentity, push: Push) -> None:
    """What a push changes besides the transcript: window, follow state, receipts, credits."""
    if push.msg_type != "event" or push.event in INTERACTIVE_EVENTS:
        customers.touch_interaction(identity)
    event = push.event if push.msg_type == "event" else ""
    if event == "subscribe":
        key = push.event_key
        customers.follow(identity, key.removeprefix("qrscene_") if key else None)
    elif event == "unsubscribe":
        customers.unfollow(identity)
        outbox.cancel_pending(session, identity.appid, identity.openid, "user unsubscribed")
    elif event == "scan":
        customers.record_source(identity, push.event_key)
    elif event == "user_enter_tempsession":
        customers.record_source(identity, push.get("SessionFrom"))
    elif event == "templatesendjobfinish":
        msgid = push.get("MsgID") or push.get("MsgId")
        if msgid.isdigit():
            outbox.record_receipt(session, int(msgid), push.get("Status"))
    elif event == "subscribe_msg_popup_event":
        for template_id in accepted_templates(push):
            customers.add_subscription_credit(session, identity, template_id)
    session.flush()


def accepted_templates(push: Push) -> list[str]:
    """Template ids the user accepted in a subscription pop-up (one or several items)."""
    container = push.fields.get("SubscribeMsgPopupEvent") or {}
    items = container.get("List") if isinstance(container, dict) else container
    if isinstance(items, dict):
        items = [items]
    return [
        str(item.get("TemplateId"))
        for item in items or []
        if isinstance(item, dict) and str(item.get("SubscribeStatusString")) == "accept"
    ]


def plan_for(session: Session, push: Push) -> Plan:
    """The answer a push deserves (computed after it is stored)."""
    kind = push.msg_type
    if kind in ("text", "voice"):
        text = push.text
        return Plan(ask=text) if text else Plan(say=replies.VOICE_UNRECOGNISED)
    if kind == "event":
        return _event_plan(push)
    if kind == "location":
        return _location_plan(session, push)
    if kind == "image":
        return Plan(intent="send_image", unavailable=replies.IMAGE_KEPT)
    fixed = {
        "video": replies.VIDEO_KEPT,
        "shortvideo": replies.VIDEO_KEPT,
        "link": replies.LINK_RECEIVED,
    }
    if kind in fixed:
        return Plan(say=fixed[kind])
    if kind == "miniprogrampage":
        return Plan(say=replies.PAGE_RECEIVED.format(title=push.get("Title") or "小程序页面"))
    return Plan()


def _event_plan(push: Push) -> Plan:
    if push.event == "subscribe":
        return Plan(say=replies.WELCOME)
    if push.event == "scan":
        return Plan(say=replies.WELCOME_BACK)
    if push.event == "click":
        text = click_text(push.event_key)
        return Plan(ask=text) if text else Plan()
    if push.event == "user_enter_tempsession":
        return Plan(say=replies.MP_GREETING)
    return Plan()


def _location_plan(session: Session, push: Push) -> Plan:
    """A location: the bot is asked (the repair form may be waiting for a store); without the
    bot, the nearest store is said."""
    try:
        lat, lng = float(push.get("Location_X")), float(push.get("Location_Y"))
    except ValueError:
        return Plan(say=NO_STORE_NEARBY)
    where = json.dumps({"latitude": lat, "longitude": lng})
    return Plan(intent=f"share_location{where}", unavailable=nearest_store_text(session, lat, lng))
