"""Named cross-feature flows of a repair ticket: every customer-visible change is notified
(customer-service message in the window, else template or subscribe message, via the outbox);
completion asks for a rating; a low rating opens a supervisor follow-up (in service.rate)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.notifications.service import Notification, notify
from crm.outbox.models import OutboxItem
from crm.points import service as points
from crm.tickets import lifecycle, service, states
from crm.tickets.models import RepairTicket

RATING_MENU = (
    ("5", "5分 非常满意"),
    ("4", "4分 满意"),
    ("3", "3分 一般"),
    ("2", "2分 不满意"),
    ("1", "1分 非常不满意"),
)


def change_state(
    session: Session, ticket: RepairTicket, target: str, actor: str, note: str | None = None
) -> RepairTicket:
    """Transition the ticket and tell the customer (ticket completed → ask for a rating;
    repaired late → compensation points)."""
    late = lifecycle.is_overdue(ticket)
    lifecycle.transition(session, ticket, target, actor, note)
    if late and target in (states.READY_FOR_PICKUP, states.SHIPPED_BACK):
        compensate_overdue(session, ticket)
    if states.STATES[target].notify:
        notify_customer(session, ticket)
    return ticket


def compensate_overdue(session: Session, ticket: RepairTicket) -> int:
    """Points for a repair finished after its due date (POL-TAT-006), once per ticket."""
    rule = lifecycle.rules_of(session).get("POL-TAT-006", {})
    amount = int(rule.get("overdue_compensation_points", 0))
    if amount <= 0:
        return 0
    reason = f"维修超时补偿（维修单 {ticket.number}）"
    points.adjust(session, ticket.customer_id, amount, reason, "system", f"overdue:{ticket.number}")
    return amount


def expire_quotes(session: Session, today: date) -> int:
    """Quotes unanswered for longer than POL-FEE-006 allows count as declined: the tool goes
    back unrepaired. How many tickets that was."""
    days = int(lifecycle.rules_of(session).get("POL-FEE-006", {}).get("confirm_within_days", 7))
    expired = 0
    for ticket in service.list_tickets(session, state=states.AWAITING_APPROVAL, limit=10_000):
        quoted = lifecycle.changed_on(session, ticket)
        if (today - quoted).days > days:
            back = (
                states.SHIPPED_BACK if ticket.service_method != "到店" else states.READY_FOR_PICKUP
            )
            note = f"报价 {days} 天未确认，视为放弃维修，原样退回"
            change_state(session, ticket, back, "system", note)
            expired += 1
    return expired


def notify_customer(session: Session, ticket: RepairTicket) -> OutboxItem | None:
    """Queue the notice of the ticket's current state (once per state: idempotent)."""
    settings = get_settings()
    note = Notification(
        key=f"ticket:{ticket.number}:{ticket.state}",  # the lifecycle has no cycles
        text=status_text(ticket),
        template_id=settings.repair_status_template_id,
        subscribe_template_id=settings.repair_status_subscribe_template_id,
        data={
            "character_string1": ticket.number,
            "thing2": ticket.product_name,
            "phrase3": states.label(ticket.state),
            "thing4": states.STATES[ticket.state].next_step,
        },
        page=f"pages/repair/detail?number={ticket.number}",
        menu=RATING_MENU if ticket.state == states.COMPLETED else (),
    )
    return notify(
        session, ticket.customer_id, note, settings.wechat_oa_appid, settings.wechat_mp_appid
    )


def status_text(ticket: RepairTicket) -> str:
    """The customer-service message for the ticket's current state."""
    head = f"您的维修单 {ticket.number}（{ticket.product_name}）"
    due = f"，预计 {ticket.due_on:%Y年%-m月%-d日} 前完成" if ticket.due_on else ""
    texts = {
        states.ACCEPTED: f"{head}维修中心已收件，1 个工作日内完成检测{due}。",
        states.DIAGNOSING: f"{head}正在检测中。",
        states.AWAITING_APPROVAL: (
            f"{head}检测结果：{ticket.diagnosis or '见维修单'}。维修报价 {ticket.quote_yuan} 元。"
            "回复「同意维修」开始维修，回复「不修了」原样退回；7 天内未确认视为放弃维修。"
        ),
        states.REPAIRING: f"{head}开始维修{due}。",
        states.READY_FOR_PICKUP: f"{head}已处理完毕，请凭维修单号到门店取件，免费保管 30 天。",
        states.SHIPPED_BACK: f"{head}已寄回，请留意快递。",
        states.COMPLETED: f"{head}已完成。请为本次服务打分（5 分最满意），直接回复分数即可：",
        states.CANCELLED: f"{head}已取消。如需再次报修，回复「报修」即可。",
    }
    return texts.get(ticket.state, f"{head}当前状态：{states.label(ticket.state)}。")


def approve_quote(session: Session, customer_id: int) -> RepairTicket | None:
    """The customer said 「同意维修」: the oldest quoted ticket goes to repair."""
    ticket = service.awaiting_approval_of(session, customer_id)
    if ticket is not None:
        change_state(session, ticket, states.REPAIRING, f"customer:{customer_id}", "顾客同意报价")
    return ticket


def decline_quote(session: Session, customer_id: int) -> RepairTicket | None:
    """The customer said 「不修了」: the tool goes back unrepaired (POL-FEE-006)."""
    ticket = service.awaiting_approval_of(session, customer_id)
    if ticket is not None:
        back = states.SHIPPED_BACK if ticket.service_method != "到店" else states.READY_FOR_PICKUP
        change_state(session, ticket, back, f"customer:{customer_id}", "顾客放弃维修，原样退回")
    return ticket
