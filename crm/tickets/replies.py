"""What the bot tells a customer about their tickets: the read-back after opening one, and
「我的维修到哪了」."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm.knowledge.models import Rule, Store
from crm.tickets import states
from crm.tickets.models import RepairTicket

EXCLUSION_LABELS = {"water": "进水受潮", "drop": "摔落撞击", "opened": "私自拆修"}


def _date(ticket: RepairTicket) -> str:
    return f"{ticket.due_on:%Y年%-m月%-d日}" if ticket.due_on else "收件后通知"


def summary(session: Session, ticket: RepairTicket) -> str:
    """The read-back after the form: number, tool, warranty decision, fee, where to send it."""
    if ticket.in_warranty is None:
        verdict = "待核实"
    else:
        verdict = "在保修期内" if ticket.in_warranty else "不在免费保修范围"
    lines = [
        f"已为您提交维修单 {ticket.number}" + ("（优先处理）" if ticket.priority else "") + "：",
        f"工具：{ticket.product_name}（{ticket.sku}）",
        f"故障：{ticket.fault}",
        f"保修：{verdict}。{ticket.warranty_reason}",
    ]
    if ticket.exclusions:
        lines.append("说明：" + "、".join(EXCLUSION_LABELS.get(e, e) for e in ticket.exclusions))
    if ticket.fee_estimate.get("text"):
        lines.append(f"费用：{ticket.fee_estimate['text']}")
    lines.append(f"送修：{ticket.service_method}，{_where(session, ticket)}")
    lines.append(f"预计完成：{_date(ticket)}（以维修中心收件为准）")
    lines.append("每到一个节点都会通知您；回复「我的维修」随时查看进度。")
    return "\n".join(lines)


def _where(session: Session, ticket: RepairTicket) -> str:
    if ticket.service_method == "到店" and ticket.store_id:
        store = session.get(Store, ticket.store_id)
        if store is not None:
            return f"请把工具送到{store.name}（{store.address}，电话 {store.phone}），只带主机即可"
    if ticket.service_method == "寄修":
        rule = session.get(Rule, "POL-MAIL-003")
        address = rule.text if rule is not None else "杭州维修中心"
        return f"{address} 箱内请放一张写有维修单号和手机号的纸条"
    return "我们会联系您预约次日 09:00-18:00 上门取件"


def tracking(session: Session, tickets: list[RepairTicket]) -> str:
    """「我的维修到哪了」: each open ticket with its state, due date and next step."""
    if not tickets:
        how = session.get(Rule, "POL-REP-003")
        return (
            "没有查到您进行中的维修单。"
            + (how.text if how is not None else "")
            + ("门店受理、没有登记手机号的维修单，请发维修单号给我查询；需要报修请回复「报修」。")
        )
    lines = [f"您有 {len(tickets)} 张维修单：" if len(tickets) > 1 else "您的维修单："]
    for ticket in tickets:
        state = states.STATES[ticket.state]
        lines.append(
            f"· {ticket.number} {ticket.product_name}：{state.label}，预计 {_date(ticket)}；"
            f"下一步：{state.next_step}"
            + (
                f"（报价 {ticket.quote_yuan} 元）"
                if ticket.state == states.AWAITING_APPROVAL
                else ""
            )
        )
    return "\n".join(lines)
