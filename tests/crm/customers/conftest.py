"""Purchases and repair tickets of a customer, for the panel and the dashboard tests."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from crm.purchases.models import Purchase
from crm.tickets import proof, service
from crm.tickets.models import RepairTicket
from crm.tickets.schemas import Proof, TicketCreate


def bought(
    db: Session,
    customer_id: int,
    sku: str,
    paid_at: datetime,
    store: str | None,
    yuan: str = "299",
) -> Purchase:
    """A till order of the customer's (no store: a mall order)."""
    purchase = Purchase(
        order_no="PN" + secrets.token_hex(5).upper(),
        source="pos",
        customer_id=customer_id,
        sku=sku,
        price_yuan=Decimal(yuan),
        paid_at=paid_at,
        store_id=store,
    )
    db.add(purchase)
    db.flush()
    return purchase


def repair(db: Session, customer_id: int, sku: str, store: str | None) -> RepairTicket:
    """A repair opened through the service without proof of purchase."""
    data = TicketCreate(
        customer_id=customer_id,
        sku=sku,
        fault="开机没反应",
        proof=Proof(kind="none"),
        contact_phone="13500000000",
        service_method="到店",
        store_id=store,
        idempotency_key=secrets.token_hex(8),
    )
    return service.open_ticket(db, data, proof.ProofFound("none", None, None))
