"""Placeholder until the customer panel lands: the customer's home store."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.purchases.models import Purchase
from crm.tickets.models import RepairTicket


def home_store_of(session: Session, customer_id: int) -> str | None:
    """The store of the latest purchase, else of the latest repair ticket, else None."""
    for model in (Purchase, RepairTicket):
        store = session.scalars(
            select(model.store_id)
            .where(model.customer_id == customer_id, model.store_id.is_not(None))
            .order_by(model.id.desc())
            .limit(1)
        ).first()
        if store:
            return store
    return None


def customer_panel(session: Session, customer_id: int) -> object:
    """Placeholder."""
    return None
