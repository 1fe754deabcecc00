"""Proof of purchase → the warranty start date (POL-WAR-010 to 012)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.errors import DomainError, Forbidden, NotFound
from crm.purchases import service as purchases
from crm.purchases.models import Purchase
from crm.tickets import warranty

SERIAL = re.compile(r"\b([A-Z]{2}-\d{4}-\d{6})\b", re.IGNORECASE)
ORDER_NO = re.compile(r"\b([A-Z]{2,4}\d{8,}(?:-\d+)?)\b", re.IGNORECASE)


class InvalidProof(DomainError):
    """The proof of purchase cannot be used (malformed, future date, wrong product)."""

    status_code = 422


@dataclass(frozen=True)
class ProofFound:
    """What a proof established."""

    kind: str
    ref: str | None
    start: date | None
    purchase: Purchase | None = None


def latest_purchase_of(session: Session, customer: Customer, sku: str) -> Purchase | None:
    """The customer's most recent purchase of `sku`, if the member system has one."""
    return next((p for p in purchases.purchases_of(session, customer) if p.sku == sku), None)


def from_purchase(purchase: Purchase) -> ProofFound:
    """A purchase record: warranty from the purchase (store) or delivery (mall) date."""
    start = warranty.warranty_start(purchase.paid_at, purchase.delivered_at)
    return ProofFound("purchase", purchase.order_no, start, purchase)


def from_order_no(
    session: Session, customer: Customer, sku: str, order_no: str, contact_phone: str | None
) -> ProofFound:
    """An order number the customer typed: it must exist, be theirs and hold this product."""
    purchase = purchases.get_by_order_no(session, order_no.upper())
    if purchase is None:
        raise NotFound(f"没有查到订单号 {order_no.upper()}，请核对后再发一次")
    if not purchases.belongs_to(purchase, customer, contact_phone):
        raise Forbidden(f"订单 {purchase.order_no} 不在您的会员名下，无法作为您的购买凭证")
    if purchase.sku != sku:
        raise InvalidProof(f"订单 {purchase.order_no} 里没有这件商品（{sku}）")
    return ProofFound("order", purchase.order_no, from_purchase(purchase).start, purchase)


def from_serial(serial: str, rules: dict[str, dict[str, object]]) -> ProofFound:
    """A nameplate serial RG-YYMM-XXXXXX: production month + 3 months (POL-WAR-012)."""
    try:
        start = warranty.start_from_serial(serial.upper(), rules)
    except ValueError as exc:
        raise InvalidProof(str(exc)) from exc
    return ProofFound("serial", serial.upper(), start)


def from_photo(message_id: int | None) -> ProofFound:
    """An invoice or nameplate photo: staff read the date from it at intake."""
    return ProofFound("photo", str(message_id) if message_id else None, None)
