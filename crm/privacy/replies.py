"""What the bot tells a customer about their data: the summary, the export, the erasure."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.errors import DomainError
from crm.privacy import erasure, export, rights
from crm.tickets import states
from crm.tickets.models import RepairTicket

CHAT, CUSTOMER = "chat", "customer"
ASK_TO_CONFIRM = "确认删除请回复「确认删除」；不删除请回复「取消」。"
CANCELLED = "好的，已取消删除，您的信息没有任何改动。需要时回复「删除我的信息」即可。"
ERASED = (
    "您的个人信息已删除：手机号、生日、聊天记录、维修单里的联系方式和故障描述都已清除，"
    "积分和优惠券已作废。以后再给我们发消息，会作为新客户重新开始。感谢您一直以来的支持！"
)


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
    lines = ["删除后无法恢复，请您确认："]
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
    """Erase the customer who confirmed in chat; what to tell them."""
    try:
        erasure.erase(session, customer.id, CHAT, CUSTOMER)
    except DomainError as exc:
        return exc.detail
    return ERASED
