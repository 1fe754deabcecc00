"""Why a points operation was refused; each leaves the ledger as it was."""

from __future__ import annotations

from crm.errors import Conflict, InvalidInput


class InsufficientPoints(Conflict):
    """The balance does not cover the debit."""

    def __init__(self, balance: int, wanted: int) -> None:
        super().__init__(f"积分不足：可用 {balance} 积分，需要 {wanted} 积分")
        self.balance = balance
        self.wanted = wanted


class ReviewNotEligible(InvalidInput):
    """The review earns no points: another member's order, out of its window, or too short."""


class ReferralNotEligible(InvalidInput):
    """The friend's first order does not (yet) meet PTS-EARN-004."""


class ReferralCapReached(Conflict):
    """The referrer has been rewarded for the most friends this calendar month allows."""
