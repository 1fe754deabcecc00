"""Binding a WeChat customer to a membership by phone (MEM-ENR-001/002/004).

One phone, one member, one WeChat: a phone nobody has is bound to the customer; a phone a till
registered (a member without a WeChat identity of the same app) takes the WeChat customer in;
a phone already bound to another WeChat of the same app is refused. Services flush only.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm.conversations.models import Conversation
from crm.coupons.models import Coupon
from crm.customers.models import Customer, WechatIdentity
from crm.customers.schemas import normalize_mobile
from crm.customers.service import bind_phone
from crm.db import SHANGHAI, utcnow
from crm.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    TooManyRequests,
    UpstreamUnavailable,
)
from crm.knowledge.rules import rule
from crm.kv import KeyValueStore
from crm.members import codes
from crm.members.errors import InvalidCode
from crm.members.sms import LogSmsSender, SmsSender, get_sms_sender
from crm.points.models import PointsEntry
from crm.privacy.crypto import phone_digest
from crm.purchases.models import Purchase
from crm.tickets.models import RepairTicket

__all__ = [
    "InvalidCode",
    "LogSmsSender",
    "SmsSender",
    "bind_verified_phone",
    "confirm_code",
    "get_sms_sender",
    "request_code",
    "unbind",
]

SMS_TEXT = "【匠心五金】验证码 {code}，5 分钟内有效，用于绑定会员。如非本人操作请忽略。"
ALREADY_YOURS = "该手机号已绑定您的会员账号，无需重复绑定。"
OTHER_WECHAT = "该手机号已绑定其他微信，如需换绑请先在原微信解绑或联系客服"
OTHER_MEMBER = "该手机号已注册其他会员账号，不能换绑到这个号码；如需合并两个会员账号请联系客服。"
NEEDS_STAFF = (
    "您当前的微信账号上已有积分或优惠券，与该手机号的会员账号合并需要人工核验，请联系客服。"
)


def request_code(
    session: Session, store: KeyValueStore, customer_id: int, phone: str, sender: SmsSender
) -> None:
    """Text a 6-digit code to `phone` for binding it to the customer (rate-limited)."""
    number = _mobile(phone)
    customer = _customer(session, customer_id)
    codes.reserve_send(store, customer_id, number)
    try:
        if customer.phone == number:
            raise Conflict(ALREADY_YOURS)
        _merge_target(session, customer, number)
    except DomainError:
        codes.release_phone(store, number)
        raise
    code = codes.issue(store, customer_id, number)
    try:
        sender.send(number, SMS_TEXT.format(code=code))
    except Exception as exc:  # whatever the provider raises, the code was not delivered
        codes.discard(store, customer_id, number)
        codes.release_phone(store, number)
        raise UpstreamUnavailable("验证码短信发送失败，请稍后再试。") from exc


def confirm_code(
    session: Session, store: KeyValueStore, customer_id: int, phone: str, code: str
) -> Customer:
    """Check the code sent to `phone` and bind; the member the WeChat customer now is."""
    number = _mobile(phone)
    _customer(session, customer_id)
    codes.verify(store, customer_id, number, code)
    return bind_verified_phone(session, customer_id, number)


def bind_verified_phone(session: Session, customer_id: int, phone: str) -> Customer:
    """Bind a phone the user has proved is theirs (SMS code, or WeChat's own phone check)."""
    number = _mobile(phone)
    customer = _customer(session, customer_id)
    if customer.phone == number:
        return customer
    member = _merge_target(session, customer, number, lock=True)
    if member is None:
        bind_phone(session, customer, number)
        customer.phone_bound_at = utcnow()
        session.flush()
        return customer
    _merge_into(session, customer, member)
    bind_phone(session, member, number)  # claims the till's orders not linked to anyone yet
    return member


def unbind(session: Session, customer_id: int) -> None:
    """Clear the customer's phone; purchases, points and coupons stay on their record."""
    customer = _customer(session, customer_id)
    if customer.phone is None:
        raise Conflict("您还没有绑定手机号。")
    customer.phone = None
    session.flush()


def _mobile(phone: str) -> str:
    try:
        return normalize_mobile(phone)
    except ValueError as exc:
        raise InvalidInput("请填写正确的 11 位手机号，比如 13812345678。") from exc


def _customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"没有编号为 {customer_id} 的客户")
    return customer


def _merge_target(
    session: Session, customer: Customer, number: str, lock: bool = False
) -> Customer | None:
    """The till-registered member to move into (None: a plain bind); refuses what breaks a rule."""
    _check_change_interval(session, customer)
    stmt = select(Customer).where(Customer.phone_hash == phone_digest(number))
    # Locked when binding: two WeChat users claiming one till member are taken one at a time.
    member = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if member is None or member.id == customer.id:
        return None
    if customer.phone is not None:
        raise Conflict(OTHER_MEMBER)  # MEM-ENR-004: the new phone must not be another member's
    apps = select(WechatIdentity.appid).where(WechatIdentity.customer_id == customer.id)
    taken = session.scalar(
        select(func.count())
        .select_from(WechatIdentity)
        .where(WechatIdentity.customer_id == member.id, WechatIdentity.appid.in_(apps))
    )
    if taken:
        raise Conflict(OTHER_WECHAT)
    if _holds_money_like_data(session, customer):
        raise Conflict(NEEDS_STAFF)  # MEM-ENR-005: merging two accounts is verified by staff
    return member


def _check_change_interval(session: Session, customer: Customer) -> None:
    # MEM-ENR-004: a new phone at most once per interval, counted from the last binding.
    if customer.phone_bound_at is None:
        return
    days = int(rule(session, "MEM-ENR-004")["phone_change_interval_days"])
    bound_at = customer.phone_bound_at
    if bound_at.tzinfo is None:  # SQLite returns naive UTC
        bound_at = bound_at.replace(tzinfo=utcnow().tzinfo)
    allowed_from = bound_at + timedelta(days=days)
    if utcnow() < allowed_from:
        day = allowed_from.astimezone(SHANGHAI)
        raise TooManyRequests(
            f"每 {days} 天只能更换 1 次手机号，请在 {day:%Y年%-m月%-d日 %H:%M} 之后再更换。"
        )


def _holds_money_like_data(session: Session, customer: Customer) -> bool:
    entries = select(PointsEntry.id).where(PointsEntry.customer_id == customer.id).limit(1)
    coupons = select(Coupon.id).where(Coupon.customer_id == customer.id).limit(1)
    return session.scalar(entries) is not None or session.scalar(coupons) is not None


def _merge_into(session: Session, customer: Customer, member: Customer) -> None:
    """Move the WeChat customer's identities, conversations, tickets and orders to the member."""
    # Like link_unionid: the same person's data is then seen together under the member.
    for model in (WechatIdentity, Conversation, RepairTicket, Purchase):
        session.execute(
            update(model)
            .where(model.customer_id == customer.id)
            .values(customer_id=member.id)
            .execution_options(synchronize_session="fetch")
        )
    member.display_name = member.display_name or customer.display_name
    member.birthday = member.birthday or customer.birthday
    member.phone_bound_at = utcnow()
    session.flush()
    session.expire_all()  # loaded identities and collections still point at the old record
