"""Working days (Monday to Friday; POL-DEF-001) for due dates and the quote clock."""

from __future__ import annotations

from datetime import date, timedelta


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start` (public holidays are not modelled)."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    count, current = 0, start
    while current < end:
        current += timedelta(days=1)
        if current.weekday() < 5:
            count += 1
    return count
