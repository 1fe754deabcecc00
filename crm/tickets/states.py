"""The repair ticket's states, the legal moves between them, and what each means to a customer."""

from __future__ import annotations

from dataclasses import dataclass

from crm.errors import Conflict


class IllegalTransition(Conflict):
    """A state change the ticket's lifecycle does not allow."""


@dataclass(frozen=True)
class State:
    """One state: its label for customers (policies.yml POL-REP-004 wording) and what comes next."""

    label: str
    next_step: str
    notify: bool = True  # customer-visible: the customer hears about it


SUBMITTED = "submitted"
ACCEPTED = "accepted"
DIAGNOSING = "diagnosing"
AWAITING_APPROVAL = "awaiting_approval"
REPAIRING = "repairing"
READY_FOR_PICKUP = "ready_for_pickup"
SHIPPED_BACK = "shipped_back"
COMPLETED = "completed"
CLOSED = "closed"
CANCELLED = "cancelled"

STATES: dict[str, State] = {
    SUBMITTED: State("已受理", "请按所选方式把工具送到门店或寄到维修中心", notify=False),
    ACCEPTED: State("已收件", "维修中心收件后 1 个工作日内完成检测"),
    DIAGNOSING: State("检测中", "检测完成后会告诉您结果，保修期外的会先报价"),
    AWAITING_APPROVAL: State("待确认报价", "回复「同意维修」开始维修，回复「不修了」原样退回"),
    REPAIRING: State("维修中", "修好后会通知您取件或为您寄回"),
    READY_FOR_PICKUP: State("已完成待取件", "请凭维修单号到门店取件，免费保管 30 天"),
    SHIPPED_BACK: State("已寄回", "工具已寄回，请留意快递"),
    COMPLETED: State("已完成", "欢迎为本次服务打分"),
    CLOSED: State("已关闭", "维修单已结束", notify=False),
    CANCELLED: State("已取消", "维修单已取消"),
}

TRANSITIONS: dict[str, frozenset[str]] = {
    SUBMITTED: frozenset({ACCEPTED, CANCELLED}),
    ACCEPTED: frozenset({DIAGNOSING, CANCELLED}),
    # In warranty goes straight to repair; an unrepairable tool is returned as it came.
    DIAGNOSING: frozenset({AWAITING_APPROVAL, REPAIRING, READY_FOR_PICKUP, SHIPPED_BACK}),
    # Approved → repairing; declined → returned unrepaired (POL-FEE-006).
    AWAITING_APPROVAL: frozenset({REPAIRING, READY_FOR_PICKUP, SHIPPED_BACK}),
    REPAIRING: frozenset({READY_FOR_PICKUP, SHIPPED_BACK}),
    READY_FOR_PICKUP: frozenset({COMPLETED}),
    SHIPPED_BACK: frozenset({COMPLETED}),
    COMPLETED: frozenset({CLOSED}),
    CLOSED: frozenset(),
    CANCELLED: frozenset(),
}

OPEN_STATES = frozenset(s for s in STATES if s not in {COMPLETED, CLOSED, CANCELLED})
# States during which the repair centre is working against the due date.
CLOCK_STATES = frozenset({ACCEPTED, DIAGNOSING, REPAIRING})


def check(current: str, target: str) -> None:
    """Raise IllegalTransition unless the lifecycle allows `current` → `target`."""
    if target not in STATES:
        raise IllegalTransition(f"未知的维修单状态：{target}")
    if target not in TRANSITIONS[current]:
        allowed = "、".join(STATES[s].label for s in sorted(TRANSITIONS[current])) or "无"
        raise IllegalTransition(
            f"维修单当前为「{STATES[current].label}」，不能改为「{STATES[target].label}」"
            f"（可改为：{allowed}）"
        )


def label(state: str) -> str:
    """The customer-facing name of `state`."""
    return STATES[state].label
