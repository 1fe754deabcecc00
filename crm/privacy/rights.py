"""Finding a person and summing up what we hold about them (PIPL Art. 45, the right to know)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.conversations.models import Conversation, Message
from crm.coupons.models import ISSUED, Coupon
from crm.customers.models import Customer, WechatIdentity
from crm.customers.schemas import normalize_mobile
from crm.errors import InvalidInput, NotFound
from crm.points.ledger import balance_of
from crm.privacy.crypto import phone_digest
from crm.privacy.masking import mask_phone
from crm.privacy.models import DONE, ERASURE, DataRequest
from crm.purchases.models import Purchase
from crm.tickets.models import RepairTicket
from crm.tickets.states import OPEN_STATES


@dataclass(frozen=True)
class Holdings:
    """How much of each kind of personal data we keep about one customer."""

    customer_id: int
    display_name: str | None
    phone: str | None  # masked: 138****5678
    birthday_known: bool
    identities: int
    channels: list[str]  # 公众号 / 小程序
    tier: str
    points: int
    conversations: int
    messages: int
    purchases: int
    tickets: int
    open_tickets: int
    coupons: int  # issued, not yet used or expired
    erased: bool


def find_customer(session: Session, query: str, appids: dict[str, str] | None = None) -> Customer:
    """The customer with this mobile number, openid or «#id»; NotFound, or InvalidInput if blank."""
    text = query.strip()
    if not text:
        raise InvalidInput("请输入手机号、openid 或 #客户编号")
    found: Customer | None = None
    if text.startswith("#") and text[1:].isdigit():
        found = session.get(Customer, int(text[1:]))
    else:
        try:
            phone = normalize_mobile(text)
        except ValueError:
            stmt = select(WechatIdentity).where(WechatIdentity.openid == text).limit(1)
            identity = session.scalars(stmt).first()
            found = identity.customer if identity is not None else None
        else:
            digest = phone_digest(phone)
            found = session.scalars(select(Customer).where(Customer.phone_hash == digest)).first()
    if found is None:
        raise NotFound("没有找到这位客户（手机号、openid 或编号都没有匹配）")
    return found


def is_erased(session: Session, customer_id: int) -> bool:
    """True once this customer's personal data was erased."""
    stmt = select(DataRequest.id).where(
        DataRequest.customer_id == customer_id,
        DataRequest.kind == ERASURE,
        DataRequest.status == DONE,
    )
    return session.scalars(stmt.limit(1)).first() is not None


def purchases_of(customer: Customer) -> ColumnElement[bool]:
    """The condition for this customer's purchases: linked to them, or made under their phone."""
    mine = Purchase.customer_id == customer.id
    if not customer.phone:
        return mine
    return or_(mine, Purchase.member_phone_hash == phone_digest(customer.phone))


def holdings(session: Session, customer: Customer, today: date) -> Holdings:
    """What we hold about `customer`, counted."""
    cid = customer.id
    conversation_ids = select(Conversation.id).where(Conversation.customer_id == cid)
    tickets = list(
        session.scalars(select(RepairTicket.state).where(RepairTicket.customer_id == cid))
    )
    coupons = select(func.count(Coupon.id)).where(
        Coupon.customer_id == cid, Coupon.status == ISSUED, Coupon.valid_until >= today
    )
    return Holdings(
        customer_id=cid,
        display_name=customer.display_name,
        phone=mask_phone(customer.phone),
        birthday_known=customer.birthday is not None,
        identities=len(customer.identities),
        channels=sorted({_channel(i) for i in customer.identities}),
        tier=customer.tier,
        points=balance_of(session, cid),
        conversations=_count(
            session, select(func.count()).select_from(conversation_ids.subquery())
        ),
        messages=_count(
            session,
            select(func.count(Message.id)).where(Message.conversation_id.in_(conversation_ids)),
        ),
        purchases=_count(
            session,
            select(func.count(Purchase.id)).where(purchases_of(customer)),
        ),
        tickets=len(tickets),
        open_tickets=sum(1 for state in tickets if state in OPEN_STATES),
        coupons=_count(session, coupons),
        erased=is_erased(session, cid),
    )


def _count(session: Session, stmt: Select[int]) -> int:
    return int(session.scalar(stmt) or 0)


def _channel(identity: WechatIdentity) -> str:
    return "小程序" if identity.appid == get_settings().wechat_mp_appid else "公众号"


def summary_text(found: Holdings) -> str:
    """What the bot answers to 「查询我的个人信息」."""
    lines = ["我们目前保存的您的个人信息如下："]
    lines.append(f"· 微信身份：{found.identities} 个（{'、'.join(found.channels) or '公众号'}）")
    lines.append(f"· 手机号：{found.phone or '未绑定'}")
    if found.display_name:
        lines.append(f"· 姓名/昵称：{found.display_name}")
    if found.birthday_known:
        lines.append("· 生日：已登记（用于生日月双倍积分和生日券）")
    if found.phone:
        lines.append(f"· 会员等级：{found.tier}，积分余额：{found.points}")
    lines.append(f"· 聊天记录：{found.conversations} 个会话，共 {found.messages} 条消息")
    lines.append(f"· 购买记录：{found.purchases} 笔")
    open_part = f"（其中 {found.open_tickets} 张处理中）" if found.open_tickets else ""
    lines.append(f"· 维修单：{found.tickets} 张{open_part}")
    lines.append(f"· 可用优惠券：{found.coupons} 张")
    lines.append(
        "如需完整的个人信息副本，请回复「导出我的信息」，审核通过后由客服交给您；"
        "如需删除全部个人信息，请回复「删除我的信息」。"
    )
    return "\n".join(lines)
