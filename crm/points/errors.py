"""Why a points operation was refused; each leaves the ledger as it was."""

from __future__ import annotations

from crm.errors import Conflict


class InsufficientPoints(Conflict):
    """The balance does not cover the debit."""

    def __init__(self, balance: int, wanted: int) -> None:
        super().__init__(f"积分不足：可用 {balance} 积分，需要 {wanted} 积分")
        self.balance = balance
        self.wanted = wanted
