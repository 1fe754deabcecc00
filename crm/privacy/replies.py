"""What the bot tells a customer about their data: the summary, the export, the erasure."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.errors import DomainError
from crm.privacy import cooling_off, erasure, export, rights
from crm.privacy.cooling_off import COOLING_OFF
from crm.tickets import states
from crm.tickets.models import RepairTicket

CHAT, CUSTOMER = "chat", "customer"
ASK_TO_CONFIRM = "确认删除请回复「确认删除」；不删除请回复「取消」。"
CANCELLED = "好的，已取消删除，您的信息没有任何改动。需要时回复「删除我的信息」即可。"
SCHEDULED = (
    "已收到您的注销申请。按照隐私政策有 7 天冷静期：{day}之前在小程序重新登录，或在这里回复"
    "「撤销注销」，即可撤销申请。冷静期结束后，我们会删除或匿名化您的个人信息，积分、优惠券和"
    "会员等级全部作废且无法恢复；之后再给我们发消息，会作为新客户重新开始。"
)
PENDING_TEXT = "您的注销申请正在冷静期中，将于 {day}执行。想保留账号请回复「撤销注销」。"
WITHDRAWN = "已撤销您的注销申请，您的账号、积分和信息都保持不变。"
NOTHING_TO_WITHDRAW = "您目前没有待处理的注销申请，账号和信息一切如常。"
# Said while an erasure is pending: the customer takes it back.
WITHDRAW = re.compile(r"撤销|撤回|不注销|不删|取消注销|取消删除|保留")


def summary(session: Session, customer: Customer, today: date) -> str:
    """「查询我的个人信息」: what we hold, counted, and how to get a copy or have it erased."""
    return rights.summary_text(rights.holdings(session, customer, today))


def export_requested(session: Session, customer: Customer) -> str:
    """「导出我的信息」: file the request; what happens next."""
    try:
        request = export.request_export(session, customer.id, CHAT, CUSTOMER)
    except DomainError as exc:
        return exc.detail
    return (
        f"已为您提交个人信息导出申请（编号 {request.id}）。管理员审核通过后，客服会把完整副本"
        "（JSON 文件）交给您，一般在 15 个工作日内完成。"
    )


def blocked(session: Session, customer: Customer) -> str | None:
    """Why erasure cannot go ahead now (a ticket holds the tool), or None."""
    numbers = erasure.blocking_tickets(session, customer.id)
    return erasure.ErasureBlocked(numbers).detail if numbers else None


def consequences(session: Session, customer: Customer, today: date) -> str:
    """The confirmation question: what erasure deletes, what it forfeits, what it keeps."""
    found = rights.holdings(session, customer, today)
    not_sent = select(func.count(RepairTicket.id)).where(
        RepairTicket.customer_id == customer.id, RepairTicket.state == states.SUBMITTED
    )
    waiting = int(session.scalar(not_sent) or 0)
    days = COOLING_OFF.days
    lines = [f"提交后有 {days} 天冷静期，期间可以撤销；冷静期结束后删除，无法恢复。请您确认："]
    if found.points or found.coupons or found.phone:
        lines.append(
            f"· 会员身份注销：{found.points} 积分作废，{found.coupons} 张未使用的优惠券失效，"
            "会员等级清零；"
        )
    lines.append("· 手机号、姓名、生日、聊天记录，以及维修单里的联系方式和故障描述都会被删除；")
    if waiting:
        lines.append(f"· {waiting} 张还没送修的维修单会被取消；")
    lines.append("· 为了财务对账，订单金额和积分流水会匿名保留，不再和您本人关联；")
    lines.append("· 删除后再给我们发消息，会作为新客户重新开始。")
    lines.append(ASK_TO_CONFIRM)
    return "\n".join(lines)


def erase(session: Session, customer: Customer) -> str:
    """The customer confirmed: file the erasure, done when the cooling-off ends."""
    try:
        request = cooling_off.schedule(session, customer.id, CHAT, CUSTOMER)
    except DomainError as exc:
        return exc.detail
    return SCHEDULED.format(day=_day(cooling_off.erases_on(request)))


def already_asked(session: Session, customer: Customer, text: str) -> str | None:
    """A customer with an erasure pending speaks of it again: withdrawn when they say so
    (「撤销注销」「不注销了」), else when it will happen. None without a pending erasure."""
    request = cooling_off.pending(session, customer.id)
    if request is None:
        return None
    if WITHDRAW.search(text):
        cooling_off.withdraw(session, customer.id, CUSTOMER)
        return WITHDRAWN
    return PENDING_TEXT.format(day=_day(cooling_off.erases_on(request)))


def withdraw(session: Session, customer: Customer) -> str:
    """「撤销注销」: the pending erasure taken back, or that there is none."""
    if cooling_off.withdraw(session, customer.id, CUSTOMER):
        return WITHDRAWN
    return NOTHING_TO_WITHDRAW


def _day(day: date) -> str:
    return f"{day.month} 月 {day.day} 日"
