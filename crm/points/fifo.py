"""Which credits each debit used: the ledger replayed, the points expiring first spent first."""

# PTS-USE-003 spends the earliest points first. Rather than keep a remaining amount on each
# credit (the ledger stays append-only), a member's ledger is replayed in entry order: a credit
# opens a lot, a debit (redeem, reverse, expire, negative adjust) consumes the open lots that
# expire first, then the older entry. Credits of a year share one expiry date, so "expiring
# first" is "earned first"; points returned by a refund keep their old date and go first. The
# replay is exact for any order of entries, so expiry, "expiring soon" and refunds of spent
# points all read from it, and the open lots always sum to the balance.

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

Allocation = list[tuple[date | None, int]]  # (expiry of the lot used, points taken from it)


@dataclass
class Lot:
    """What is left of one credit."""

    entry_id: int
    expires_on: date | None
    remaining: int


@dataclass
class Replay:
    """The open lots after the last entry, and what every debit took from which expiry."""

    lots: list[Lot] = field(default_factory=list)
    used: dict[int, Allocation] = field(default_factory=dict)

    def open_by_expiry(self) -> dict[date | None, int]:
        """Points still open, by expiry date."""
        totals: dict[date | None, int] = {}
        for lot in self.lots:
            totals[lot.expires_on] = totals.get(lot.expires_on, 0) + lot.remaining
        return totals


def replay(entries: Iterable[tuple[int, int, date | None]]) -> Replay:
    """Replay (entry id, amount, expires_on) in id order; RuntimeError if debits outrun credits."""
    heap: list[tuple[date, int, Lot]] = []
    result = Replay()
    for entry_id, amount, expires_on in sorted(entries, key=lambda e: e[0]):
        if amount > 0:
            lot = Lot(entry_id, expires_on, amount)
            heapq.heappush(heap, (expires_on or date.max, entry_id, lot))
        elif amount < 0:
            result.used[entry_id] = _consume(heap, -amount, entry_id)
    result.lots = sorted((item[2] for item in heap), key=lambda lot: lot.entry_id)
    return result


def _consume(heap: list[tuple[date, int, Lot]], wanted: int, entry_id: int) -> Allocation:
    taken: Allocation = []
    while wanted:
        if not heap:
            raise RuntimeError(f"points entry {entry_id} debits more than the open credits")
        lot = heap[0][2]
        take = min(wanted, lot.remaining)
        taken.append((lot.expires_on, take))
        lot.remaining -= take
        wanted -= take
        if not lot.remaining:
            heapq.heappop(heap)
    return taken
