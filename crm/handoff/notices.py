"""An agent's answer outside the 48-hour window: a service notice (template or subscription)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm.config import Settings
from crm.errors import Conflict, InvalidInput
from crm.handoff import service as handoffs
from crm.handoff.service import Actor
from crm.notifications.service import Notification, notify
from crm.outbox.models import OutboxItem

NOTICE_CHARS = 20  # WeChat caps each template field


def notify_customer(
    session: Session, handoff_id: int, actor: Actor, text: str, settings: Settings
) -> OutboxItem:
    """Send the agent's answer as a notice; only when a message can no longer reach them."""
    handoff = handoffs.get(session, handoff_id, actor, lock=True)
    text = text.strip()
    if not text:
        raise InvalidInput("通知内容不能为空")
    if handoffs.window_open(session, handoff):
        raise Conflict("客户还在 48 小时窗口内，请直接回复消息")
    handoff.version += 1
    note = Notification(
        key=f"handoff:{handoff.id}:notice:{handoff.version}",
        text=text,
        template_id=settings.service_notice_template_id,
        subscribe_template_id=settings.service_notice_subscribe_template_id,
        data={"thing1": "客服回复", "thing2": text[:NOTICE_CHARS]},
        page="pages/service/index",
    )
    item = notify(
        session, handoff.customer_id, note, settings.wechat_oa_appid, settings.wechat_mp_appid
    )
    if item is None:
        raise Conflict("客户已取消关注且没有可用的订阅消息，暂时无法通知；可以请门店电话联系")
    return item
