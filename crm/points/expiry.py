"""The expiry job (PTS-EXP-001): open points whose last day has passed lapse."""

# What is open comes from the FIFO replay (fifo.py): spending always used the points expiring
# first, so what is left of a lot after its last day is exactly what lapses. One `expire` debit
# per member and expiry date; a second run finds nothing open. Until the job has run, points
# past their day can still be spent (in the member's favour): run it just after midnight.

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.points.ledger import find, lock_account, new_entry, post, replay_of
from crm.points.models import PointsAccount, PointsEntry
from crm.points.schemas import ExpiryReport


def expire_due(session: Session, today: date) -> ExpiryReport:
    """Expire every member's open points whose expiry date is before `today`."""
    candidates = session.scalars(
        select(PointsEntry.customer_id)
        .join(PointsAccount, PointsAccount.customer_id == PointsEntry.customer_id)
        .where(PointsEntry.amount > 0, PointsEntry.expires_on < today, PointsAccount.balance > 0)
        .distinct()
        .order_by(PointsEntry.customer_id)
    ).all()
    report = ExpiryReport(customers=0, points=0)
    for customer_id in candidates:
        lapsed = expire_customer(session, customer_id, today)
        if lapsed:
            report.customers += 1
            report.points += lapsed
    return report


def expire_customer(session: Session, customer_id: int, today: date) -> int:
    """Expire one member's open points dated before `today`; the points that lapsed."""
    account = lock_account(session, customer_id)
    open_points = replay_of(session, customer_id).open_by_expiry()
    lapsed = 0
    for expires, points in sorted((d, p) for d, p in open_points.items() if d is not None):
        key = f"expire:{customer_id}:{expires.isoformat()}:{today.isoformat()}"
        if expires >= today or find(session, key) is not None:
            continue
        reason = f"积分过期（有效期至 {expires.isoformat()}）"
        post(session, account, new_entry("expire", -points, reason, None, key))
        lapsed += points
    return lapsed
