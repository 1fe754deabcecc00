"""Writing the ledger: lock the member's account, answer a repeated key, append one entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.db import rowcount, utcnow
from crm.errors import Conflict, InvalidInput, NotFound
from crm.points.errors import InsufficientPoints
from crm.points.fifo import Replay, replay
from crm.points.models import PointsAccount, PointsEntry

KEY_MAX = 128
T = TypeVar("T")


def require_customer(session: Session, customer_id: int) -> Customer:
    """The member, or NotFound."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"没有编号为 {customer_id} 的会员")
    return customer


def checked_key(key: str) -> str:
    """The idempotency key, stripped; InvalidInput when empty or too long."""
    key = key.strip()
    if not key or len(key) > KEY_MAX:
        raise InvalidInput(f"幂等键必须是 1 到 {KEY_MAX} 个字符")
    return key


def find(session: Session, key: str) -> PointsEntry | None:
    """The entry written under `key`, if any."""
    stmt = select(PointsEntry).where(PointsEntry.idempotency_key == key)
    return session.scalars(stmt).one_or_none()


def once(
    session: Session,
    customer_id: int,
    key: str,
    done: Callable[[], T | None],
    do: Callable[[PointsAccount], T],
) -> T:
    """`done()` if the key was used before, else `do(account)` under the account's row lock."""
    # Every change of a member's points holds their account row (SELECT … FOR UPDATE), so two
    # deliveries of one key run one after the other and the second finds the first's entry;
    # the conditional UPDATE in `post` and the balance >= 0 CHECK stand behind the lock.
    first = done()
    if first is not None:
        return first
    account = lock_account(session, customer_id)
    first = done()  # the lock waited for whoever wrote it meanwhile
    return first if first is not None else do(account)


def lock_account(session: Session, customer_id: int) -> PointsAccount:
    """The member's account row, locked until the unit of work ends; created at zero if new."""
    stmt = (
        select(PointsAccount)
        .where(PointsAccount.customer_id == customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    account = session.scalars(stmt).one_or_none()
    if account is None:
        try:
            with session.begin_nested():
                session.add(PointsAccount(customer_id=customer_id, balance=0, version=0))
        except IntegrityError:
            pass  # another unit of work created it first; its row is locked below
        account = session.scalars(stmt).one()
    return account


def post(
    session: Session,
    account: PointsAccount,
    entry: PointsEntry,
) -> PointsEntry:
    """Append `entry` and move the balance with it; InsufficientPoints below zero."""
    amount = entry.amount
    try:
        with session.begin_nested():
            moved = session.execute(
                update(PointsAccount)
                .where(
                    PointsAccount.customer_id == account.customer_id,
                    PointsAccount.balance + amount >= 0,
                )
                .values(
                    balance=PointsAccount.balance + amount,
                    version=PointsAccount.version + 1,
                    updated_at=utcnow(),
                )
            )
            if rowcount(moved) != 1:
                raise InsufficientPoints(account.balance, -amount)
            entry.customer_id = account.customer_id
            session.add(entry)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"幂等键 {entry.idempotency_key} 已被另一笔积分操作占用") from exc
    return entry


def same_operation(
    entry: PointsEntry, customer_id: int, kind: str, amount: int | None = None
) -> PointsEntry:
    """The first result of a repeated key; Conflict if the key was used for something else."""
    if entry.customer_id != customer_id or entry.kind != kind:
        raise Conflict(f"幂等键 {entry.idempotency_key} 已用于另一笔积分操作")
    if amount is not None and entry.amount != amount:
        raise Conflict(f"幂等键 {entry.idempotency_key} 已用于另一笔积分操作（数量不同）")
    return entry


def balance_of(session: Session, customer_id: int) -> int:
    """The cached balance (0 without an account)."""
    stmt = select(PointsAccount.balance).where(PointsAccount.customer_id == customer_id)
    return int(session.scalar(stmt) or 0)


def replay_of(session: Session, customer_id: int) -> Replay:
    """The member's ledger replayed, oldest points spent first."""
    stmt = select(PointsEntry.id, PointsEntry.amount, PointsEntry.expires_on).where(
        PointsEntry.customer_id == customer_id
    )
    return replay((row.id, row.amount, row.expires_on) for row in session.execute(stmt))


def new_entry(
    kind: str,
    amount: int,
    reason: str,
    ref: str | None,
    key: str,
    expires: date | None = None,
    yuan: Decimal | None = None,
    shortfall: int = 0,
) -> PointsEntry:
    """A new ledger line (its customer is set by `post`)."""
    return PointsEntry(
        kind=kind,
        amount=amount,
        reason=reason[:200],
        ref=ref[:64] if ref else None,
        idempotency_key=key,
        expires_on=expires if amount > 0 else None,
        yuan=yuan,
        shortfall=shortfall,
    )
