"""The back office's member directory: search, one member's page, staff points adjustments."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.customers.panel import customer_panel, home_store_of
from crm.customers.schemas import normalize_mobile
from crm.errors import Forbidden, InvalidInput, NotFound
from crm.handoff.service import Actor
from crm.points import service as points
from crm.points.ledger import balance_of
from crm.points.models import PointsEntry
from crm.points.schemas import LedgerPage
from crm.privacy.crypto import phone_digest, phone_last4_digest
from crm.privacy.masking import mask_name, mask_phone
from crm.staff.service import SUPERVISORS, can_see_store

BATCH = 200  # customers read per round while filtering matches by store
ID_DIGITS = 9  # longer numbers are no customer id (and would overflow the column)
ADJUST_LIMIT = 5000
REASON_MIN, REASON_MAX = 4, 200
KEY_PREFIX = "staff-adjust:"
LEDGER_SIZE = 20
OTHER_STORE = "这位会员属于其他门店，您无权查看或处理"
NOT_ALLOWED = "只有主管和管理员可以调整会员积分"


@dataclass(frozen=True)
class MemberRow:
    """A member as the directory lists them; the name and the phone are masked."""

    customer_id: int
    display_name: str | None
    phone: str | None
    tier: str
    points: int
    home_store: str | None


@dataclass(frozen=True)
class MemberPage:
    """One member's page: the row, the 360° panel, the latest ledger lines, the adjust form."""

    member: MemberRow
    panel: object
    ledger: LedgerPage
    may_adjust: bool
    adjust_key: str


def search_members(session: Session, query: str, viewer: Actor, limit: int = 50) -> list[MemberRow]:
    """Members matching a phone (11 digits or last 4), a name fragment or an id, newest first."""
    condition, wanted = _matching(query)
    if condition is None or limit < 1:
        return []
    rows: list[MemberRow] = []
    stmt = select(Customer).where(condition).order_by(Customer.id.desc()).limit(BATCH)
    while True:
        batch = list(session.scalars(stmt))
        for customer in batch:
            if not wanted(customer):
                continue
            store = home_store_of(session, customer.id)
            if can_see_store(viewer, store):
                rows.append(_row(session, customer, store))
                if len(rows) == limit:
                    return rows
        if len(batch) < BATCH:
            return rows
        stmt = stmt.where(Customer.id < batch[-1].id)


def _anyone(customer: Customer) -> bool:
    return True


def _matching(query: str) -> tuple[ColumnElement[bool] | None, Callable[[Customer], bool]]:
    """The customers a query names: «#12» an id, digits a phone or an id, else a name.

    Phones are found through their keyed hashes. Names are encrypted, so a name fragment is
    matched in Python over every named customer, newest first (a scan: no index can help).
    """
    text = query.strip()
    if not text:
        return None, _anyone
    try:
        return Customer.phone_hash == phone_digest(normalize_mobile(text)), _anyone
    except ValueError:
        pass
    digits = re.sub(r"[\s-]", "", text)
    if re.fullmatch(r"#?[0-9]+", digits):
        number = digits.removeprefix("#")
        by_id = Customer.id == int(number) if len(number) <= ID_DIGITS else false()
        if len(number) == 4 and not digits.startswith("#"):
            return or_(by_id, Customer.phone_last4_hash == phone_last4_digest(number)), _anyone
        return by_id, _anyone
    fragment = text.casefold()

    def named(customer: Customer) -> bool:
        return fragment in (customer.display_name or "").casefold()

    return Customer.display_name.is_not(None), named


def _row(session: Session, customer: Customer, store: str | None) -> MemberRow:
    return MemberRow(
        customer_id=customer.id,
        display_name=mask_name(customer.display_name),
        phone=mask_phone(customer.phone),
        tier=customer.tier,
        points=balance_of(session, customer.id),
        home_store=store,
    )


def visible_member(session: Session, customer_id: int, viewer: Actor) -> MemberRow:
    """The member's row; NotFound, or Forbidden for an agent of another store."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"没有编号为 {customer_id} 的会员")
    store = home_store_of(session, customer_id)
    if not can_see_store(viewer, store):
        raise Forbidden(OTHER_STORE)
    return _row(session, customer, store)


def may_adjust(viewer: Actor) -> bool:
    """Supervisors and admins may adjust points."""
    return viewer.role in SUPERVISORS


def new_adjust_key() -> str:
    """A fresh idempotency key for one adjust form (a double submit posts it twice)."""
    return f"{KEY_PREFIX}{uuid.uuid4()}"


def member_page(session: Session, customer_id: int, viewer: Actor) -> MemberPage:
    """What the member page shows the viewer."""
    member = visible_member(session, customer_id, viewer)
    return MemberPage(
        member=member,
        panel=customer_panel(session, customer_id),
        ledger=points.ledger_page(session, customer_id, size=LEDGER_SIZE),
        may_adjust=may_adjust(viewer),
        adjust_key=new_adjust_key(),
    )


def adjust_points(
    session: Session,
    customer_id: int,
    viewer: Actor,
    username: str,
    amount: int | str,
    reason: str,
    idempotency_key: str,
) -> PointsEntry:
    """A supervisor's or admin's correction, recorded under their username; once per key."""
    if not may_adjust(viewer):
        raise Forbidden(NOT_ALLOWED)
    visible_member(session, customer_id, viewer)
    key = idempotency_key.strip()
    if not key.startswith(KEY_PREFIX):
        raise InvalidInput("表单已失效，请刷新页面后重新提交")
    text = reason.strip()
    if not REASON_MIN <= len(text) <= REASON_MAX:
        raise InvalidInput(f"请写明调整原因（{REASON_MIN} 到 {REASON_MAX} 个字）")
    change = _amount(amount)
    # A debit beyond the balance is refused by the ledger itself (InsufficientPoints).
    return points.adjust(session, customer_id, change, text, f"staff:{username}", key)


def _amount(amount: int | str) -> int:
    """A non-zero whole number of points within ±ADJUST_LIMIT."""
    text = amount.strip() if isinstance(amount, str) else str(amount)
    if not re.fullmatch(r"[+-]?[0-9]{1,6}", text):
        raise InvalidInput("调整数量必须是整数，例如 200 或 -200")
    value = int(text)
    if value == 0 or abs(value) > ADJUST_LIMIT:
        raise InvalidInput(f"调整数量不能为 0，且在 ±{ADJUST_LIMIT} 积分以内")
    return value
