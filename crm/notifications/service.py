"""Choose how to reach a customer: customer-service message inside the 48-hour window, else a
template message (official account) or a subscribe message (mini-program, one acceptance each)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.customers import service as customers
from crm.customers.models import WechatIdentity
from crm.outbox import service as outbox
from crm.outbox.models import OutboxItem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notification:
    """Something to tell a customer; `key` makes sending it twice send it once."""

    key: str
    text: str  # customer-service text, used inside the window
    template_id: str | None = None  # OA template / subscription template id
    subscribe_template_id: str | None = None  # mini-program subscribe-message template id
    data: dict[str, str] = field(default_factory=dict)  # template fields, ≤ 20 chars each
    url: str | None = None
    page: str | None = None  # mini-program page path
    # Choices (id, text) shown as a tappable menu on the official account; a tap comes back
    # as a text message with that text. Elsewhere they are listed in the text.
    menu: tuple[tuple[str, str], ...] = ()


def notify(
    session: Session, customer_id: int, note: Notification, oa_appid: str, mp_appid: str
) -> OutboxItem | None:
    """Queue `note` on the best channel; None when no channel may reach the customer now."""
    identities = list(
        session.scalars(select(WechatIdentity).where(WechatIdentity.customer_id == customer_id))
    )
    oa = next((i for i in identities if i.appid == oa_appid and i.subscribed is not False), None)
    mp = next((i for i in identities if i.appid == mp_appid), None)
    for identity in (oa, mp):
        if identity is not None and customers.in_service_window(identity):
            fallback = _template(identity, note) if identity is oa else None
            payload = _custom(identity, note, menu=identity is oa)
            return _enqueue(session, identity, note, "custom", payload, fallback)
    template = _template(oa, note) if oa is not None else None
    if oa is not None and template is not None:
        return _enqueue(session, oa, note, "template", template["payload"])
    if (
        mp is not None
        and note.subscribe_template_id
        and customers.spend_subscription_credit(session, mp, note.subscribe_template_id)
    ):
        return _enqueue(session, mp, note, "subscribe", _subscribe(mp, note))
    log.warning("notification %s: no channel reaches customer %s", note.key, customer_id)
    return None


def _enqueue(
    session: Session,
    identity: WechatIdentity,
    note: Notification,
    kind: str,
    payload: dict[str, Any],
    fallback: dict[str, Any] | None = None,
) -> OutboxItem:
    return outbox.enqueue(
        session,
        appid=identity.appid,
        openid=identity.openid,
        kind=kind,
        payload=payload,
        idempotency_key=f"{note.key}:{identity.appid}",
        fallback=fallback,
    )


def _custom(identity: WechatIdentity, note: Notification, menu: bool) -> dict[str, Any]:
    if note.menu and menu:
        choices = [{"id": key, "content": text} for key, text in note.menu]
        return {
            "touser": identity.openid,
            "msgtype": "msgmenu",
            "msgmenu": {"head_content": note.text, "list": choices, "tail_content": ""},
        }
    text = note.text
    if note.menu:
        text += "\n" + "\n".join(choice for _, choice in note.menu)
    return {"touser": identity.openid, "msgtype": "text", "text": {"content": text}}


def _fields(note: Notification) -> dict[str, dict[str, str]]:
    # Template rules since 2023-05: plain values, no line breaks, at most 20 characters.
    return {k: {"value": v.replace("\n", " ")[:20]} for k, v in note.data.items()}


def _template(identity: WechatIdentity, note: Notification) -> dict[str, Any] | None:
    if not note.template_id:
        return None
    payload: dict[str, Any] = {
        "touser": identity.openid,
        "template_id": note.template_id,
        "client_msg_id": note.key[:64],
        "data": _fields(note),
    }
    if note.url:
        payload["url"] = note.url
    return {"kind": "template", "payload": payload}


def _subscribe(identity: WechatIdentity, note: Notification) -> dict[str, Any]:
    return {
        "touser": identity.openid,
        "template_id": note.subscribe_template_id,
        "page": note.page or "pages/index/index",
        "data": _fields(note),
        "miniprogram_state": "formal",
        "lang": "zh_CN",
    }
