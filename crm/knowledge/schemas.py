"""The shape each knowledge-base entry must have; the loader validates every entry with these."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

FAQ_ID = re.compile(r"^faq-\d{3}$")
FAQ_CATEGORIES = {
    "product",
    "warranty",
    "repair",
    "returns",
    "membership",
    "points",
    "coupons",
    "orders_delivery",
    "stores",
    "account_privacy",
    "usage_tips",
}


class FaqEntry(BaseModel):
    """An entry of faq.yml."""

    model_config = ConfigDict(extra="forbid")

    id: str
    category: str
    question: str = Field(min_length=2)
    answer: str = Field(min_length=2)
    skus: list[str] = Field(default_factory=list)
    refs: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id_format(cls, value: str) -> str:
        if not FAQ_ID.match(value):
            raise ValueError("id must look like faq-001")
        return value

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in FAQ_CATEGORIES:
            raise ValueError(f"unknown category {value!r}")
        return value


class ProductEntry(BaseModel):
    """An entry of products.yml (extra keys such as specs are kept as they are)."""

    model_config = ConfigDict(extra="allow")

    sku: str = Field(pattern=r"^[A-Z]{2}-[A-Z0-9-]+$")
    name: str = Field(min_length=1)
    brand: str
    series: str
    category: str
    price_yuan: Decimal = Field(gt=0)
    warranty: dict[str, Any] = Field(default_factory=dict)

    def related_skus(self) -> list[str]:
        """Every SKU this entry points at (compatibility and recommendation lists)."""
        extra = self.model_extra or {}
        keys = (
            "compatible_batteries",
            "compatible_chargers",
            "compatible_accessories",
            "compatible_tools",
            "recommended_for",
        )
        return [sku for key in keys for sku in extra.get(key) or []]


class StoreEntry(BaseModel):
    """A store (or the repair centre) of stores.yml."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=r"^JX-[A-Z]{2}\d{2}$")
    name: str
    city: str
    address: str
    phone: str
    opening_hours: str | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class RuleEntry(BaseModel):
    """Any dict with an `id` and a `text` in policies.yml or membership.yml."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=r"^[A-Z]+(-[A-Z0-9]+)+$")
    text: str = Field(min_length=2)
