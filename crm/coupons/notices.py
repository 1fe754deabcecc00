"""Telling a member about a coupon they received (once per coupon, through the outbox)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.coupons.models import Coupon
from crm.notifications.service import Notification, notify
from crm.outbox.models import OutboxItem


def announce_issued(session: Session, coupon: Coupon) -> OutboxItem | None:
    """Queue the "you received a coupon" notice; None when no channel reaches the member."""
    settings = get_settings()
    note = Notification(
        key=f"coupon:{coupon.code}:issued",
        text=issued_text(coupon),
        template_id=settings.coupon_issued_template_id,
        subscribe_template_id=settings.coupon_issued_subscribe_template_id,
        data={
            "thing1": coupon.name,
            "thing2": value_text(coupon),
            "character_string3": coupon.code,
            "time4": f"{coupon.valid_until:%Y-%m-%d}",
        },
        page=f"pages/coupons/detail?code={coupon.code}",
    )
    return notify(
        session, coupon.customer_id, note, settings.wechat_oa_appid, settings.wechat_mp_appid
    )


def value_text(coupon: Coupon) -> str:
    """满 99 减 30 / 9 折最多减 100 元 / 20 元无门槛."""
    if coupon.discount_rate is not None:
        rate = f"{coupon.discount_rate * 10:.1f}".rstrip("0").rstrip(".")
        cap = coupon.max_discount_yuan
        return f"{rate} 折" + (f"，最多减 {_yuan(cap)} 元" if cap is not None else "")
    face = _yuan(coupon.face_value_yuan)
    if coupon.threshold_yuan > 0:
        return f"满 {_yuan(coupon.threshold_yuan)} 减 {face}"
    return f"{face} 元无门槛"


def issued_text(coupon: Coupon) -> str:
    """The customer-service message announcing the coupon."""
    return (
        f"您获得 1 张{coupon.name}（{value_text(coupon)}），券码 {coupon.code}，"
        f"{coupon.valid_from:%Y年%-m月%-d日}至{coupon.valid_until:%Y年%-m月%-d日}有效。"
        "可在小程序「我的-优惠券」查看；门店消费出示会员码或报券码即可使用。"
    )


def _yuan(amount: object) -> str:
    text = f"{amount}"
    return text.rstrip("0").rstrip(".") if "." in text else text
