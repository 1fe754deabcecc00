"""The daily run. Every step is idempotent (a second run the same day changes nothing) and
commits on its own, so one failing step does not undo the others."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.coupons import service as coupons
from crm.customers.models import Customer
from crm.db import session_scope
from crm.integration.service import purge_idempotency_records
from crm.members.service import recompute_tier
from crm.points.expiry import expire_due as expire_points
from crm.privacy import cooling_off
from crm.rasa import forget
from crm.tickets.flows import expire_quotes

log = logging.getLogger(__name__)


@dataclass
class DailyReport:
    """What one daily run did, step by step (a failed step is named in `failed`)."""

    points_expired: int = 0
    coupons_expired: int = 0
    birthday_coupons: int = 0
    tiers_changed: int = 0
    quotes_expired: int = 0
    idempotency_records_purged: int = 0
    erasures_done: int = 0
    failed: list[str] = field(default_factory=list)


def rerate_members(session: Session, today: date) -> int:
    """Re-rate every member (upgrades missed by a purchase, downgrades when validity ends)."""
    members = session.scalars(select(Customer).where(Customer.phone.is_not(None)))
    return sum(recompute_tier(session, member, today).changed for member in members)


def run_daily(today: date) -> DailyReport:
    """Run every daily step for `today`; the report says what each did."""
    report = DailyReport()
    forgotten: list[str] = []  # Rasa senders of those erased, forgotten once committed
    steps: dict[str, Callable[[Session], int]] = {
        "points_expired": lambda s: expire_points(s, today).points,
        "coupons_expired": lambda s: coupons.expire_due(s, today),
        "birthday_coupons": lambda s: coupons.issue_birthday_coupons(s, today),
        "tiers_changed": lambda s: rerate_members(s, today),
        "quotes_expired": lambda s: expire_quotes(s, today),
        "idempotency_records_purged": purge_idempotency_records,
        "erasures_done": lambda s: _erase_due(s, today, forgotten),
    }
    for name, step in steps.items():
        try:
            with session_scope() as session:
                setattr(report, name, step(session))
        except Exception:  # the other steps still run; the next run retries this one
            log.exception("daily job step %s failed", name)
            report.failed.append(name)
    forget(forgotten)
    return report


def _erase_due(session: Session, today: date, senders: list[str]) -> int:
    """Erasures whose cooling-off has ended (crm.privacy.cooling_off)."""
    done = cooling_off.run_due(session, today)
    senders += done.senders
    return done.erased
