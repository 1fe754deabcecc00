"""The shape of an imported order and of an import's outcome."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crm.customers.schemas import normalize_mobile
from crm.db import SHANGHAI, utcnow

# POS and mall exports write local time without an offset; the stores are all in China.
# A till clock a little ahead of ours is not an order from the future.
CLOCK_SKEW = timedelta(minutes=5)


class PurchaseIn(BaseModel):
    """One order line from the POS (`pos`) or the mini-program mall (`mall`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    order_no: str = Field(min_length=1, max_length=40)
    source: Literal["pos", "mall"]
    member_phone: str | None = None
    member_id: int | None = Field(default=None, gt=0)
    sku: str = Field(min_length=1, max_length=32)
    price_yuan: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    paid_at: datetime
    delivered_at: datetime | None = None
    store: str | None = Field(default=None, pattern=r"^JX-[A-Z]{2}\d{2}$")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_missing(cls, data: Any) -> Any:
        # Empty CSV cells (and "" in JSON) mean "not given".
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @field_validator("member_phone")
    @classmethod
    def _mobile(cls, value: str | None) -> str | None:
        return normalize_mobile(value) if value is not None else None

    @field_validator("sku")
    @classmethod
    def _upper_sku(cls, value: str) -> str:
        return value.upper()

    @field_validator("paid_at", "delivered_at")
    @classmethod
    def _aware_and_past(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=SHANGHAI)
        if value > utcnow() + CLOCK_SKEW:
            raise ValueError(f"{value.isoformat()} is in the future")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PurchaseIn:
        faults = []
        if self.member_phone is None and self.member_id is None:
            faults.append("member_phone or member_id is required")
        if self.source == "pos" and self.store is None:
            faults.append("store is required for a pos order")
        if self.delivered_at is not None and self.source == "pos":
            faults.append("delivered_at applies to mall orders only")
        if self.delivered_at is not None and self.delivered_at < self.paid_at:
            faults.append("delivered_at is before paid_at")
        if faults:
            raise ValueError("; ".join(faults))
        return self


class ImportReport(BaseModel):
    """What an import did (or, in a dry run, would do); errors are "row N (order_no): problem"."""

    created: int = 0
    unchanged: int = 0
    errors: list[str] = Field(default_factory=list)


def problems(exc: ValidationError) -> str:
    """A ValidationError as one line: `field: message; …`."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
