"""What opening, changing and reading a repair ticket takes and gives."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PHONE = re.compile(r"^1[3-9]\d{9}$")
SERVICE_METHODS = ("到店", "寄修", "上门取件")


class Proof(BaseModel):
    """Proof of purchase: a purchase record, an order number, an invoice photo or a serial."""

    kind: Literal["purchase", "order", "photo", "serial", "none"]
    ref: str | None = None  # purchase id, order number, inbound message id, serial


class TicketCreate(BaseModel):
    """A repair the customer asked for (the repair form, or staff at a counter)."""

    customer_id: int
    sku: str
    fault: str = Field(min_length=2, max_length=500)
    proof: Proof
    exclusions: list[str] = Field(default_factory=list)
    contact_phone: str
    service_method: Literal["到店", "寄修", "上门取件"]
    store_id: str | None = None
    priority: bool = False
    idempotency_key: str = Field(min_length=8, max_length=128)

    @field_validator("contact_phone")
    @classmethod
    def _mobile(cls, value: str) -> str:
        if not PHONE.match(value):
            raise ValueError("请填写 11 位手机号")
        return value


class TransitionIn(BaseModel):
    """Move a ticket to another state."""

    to: str
    note: str | None = Field(default=None, max_length=500)


class DiagnosisIn(BaseModel):
    """The repair centre's finding and, out of warranty, the quote."""

    diagnosis: str = Field(min_length=2, max_length=1000)
    quote_yuan: Decimal | None = Field(default=None, ge=0, le=100000)


class AssignIn(BaseModel):
    """Which store handles the ticket."""

    store_id: str


class TicketEventRead(BaseModel):
    """One recorded change."""

    model_config = ConfigDict(from_attributes=True)

    from_state: str | None
    to_state: str
    actor: str
    note: str | None
    at: datetime


class TicketRead(BaseModel):
    """A ticket as the back office sees it."""

    model_config = ConfigDict(from_attributes=True)

    number: str
    customer_id: int
    sku: str
    product_name: str
    category: str
    fault: str
    priority: bool
    proof_kind: str
    proof_ref: str | None
    in_warranty: bool | None
    warranty_reason: str
    exclusions: list[str]
    contact_phone: str
    service_method: str
    store_id: str | None
    state: str
    state_label: str
    due_on: date | None
    overdue: bool
    diagnosis: str | None
    quote_yuan: Decimal | None
    rating: int | None
    created_at: datetime
    events: list[TicketEventRead] = Field(default_factory=list)
