"""Clients, members and orders for the integration tests."""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta
from typing import Any

from crm.integration.models import SCOPES
from crm.purchases.schemas import SHANGHAI
from tests.crm.purchases.conftest import order

__all__ = ["SCOPES", "client_name", "recent_order", "unique_phone"]


def client_name(prefix: str = "test") -> str:
    """A client name no other test uses."""
    return f"{prefix}-{secrets.token_hex(4)}"


def unique_phone() -> str:
    """A mobile number no other test uses (the 135 range)."""
    return f"135{random.randrange(10**8):08d}"


def recent_order(**fields: Any) -> dict[str, Any]:
    """A POS order paid an hour ago (inside the tier window), with `fields` changed."""
    paid = datetime.now(SHANGHAI) - timedelta(hours=1)
    return order(paid_at=paid.strftime("%Y-%m-%d %H:%M:%S"), **fields)
