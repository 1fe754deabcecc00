"""What recomputing a tier and asking for tier progress give."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel


class TierChange(BaseModel):
    """The outcome of one recompute: the tier before and after, and why."""

    before: str
    after: str
    since: date | None  # start of the tier's validity (MEM-TIER-004)
    reason: str

    @property
    def changed(self) -> bool:
        """True when the tier moved."""
        return self.before != self.after


class TierProgress(BaseModel):
    """Where the member stands: spend, the next tier and what it still takes, benefits."""

    tier: str
    spend_12m_yuan: Decimal
    valid_until: date | None  # the last day of the tier's validity; None for the base tier
    pending_upgrade: str | None  # a tier already reached, applied by the nightly recompute
    next_tier: str | None
    to_next_yuan: Decimal | None
    message: str  # 「再消费 X 元升级金卡」
    benefits: list[str]
