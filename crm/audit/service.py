"""Record staff actions and let admins search them; there is no update or delete."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from crm.audit.models import OUTCOMES, AuditEntry
from crm.coupons.report import Window, parse_window
from crm.db import SHANGHAI
from crm.errors import InvalidInput
from crm.privacy.masking import mask_phone

PAGE_SIZE = 50
# A mainland mobile number anywhere in a detail's text (e.g. a refusal's message) is masked.
PHONE = re.compile(r"(?<!\d)1\d{10}(?!\d)")


@dataclass(frozen=True)
class Who:
    """Who acted and from where (a failed login: the username tried, no id or role)."""

    staff_id: int | None
    username: str
    role: str | None
    ip: str | None


@dataclass(frozen=True)
class AuditFilter:
    """What an admin searches for; blank fields match everything."""

    username: str = ""
    action: str = ""  # a prefix: "handoff" matches handoff.take, handoff.reply, ...
    target: str = ""  # "type:id", a type alone, or an id alone
    window: Window = field(default_factory=Window)
    outcome: str = ""


@dataclass(frozen=True)
class AuditPage:
    """One page of entries, newest first, and where it sits among all matching."""

    entries: list[AuditEntry]
    page: int
    pages: int
    total: int


def record(
    session: Session,
    who: Who,
    action: str,
    target_type: str | None = None,
    target_id: object = None,
    detail: dict[str, Any] | None = None,
    outcome: str = "ok",
) -> AuditEntry:
    """Append one entry (flushed, committed by the caller's unit of work)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    entry = AuditEntry(
        staff_id=who.staff_id,
        staff_username=who.username[:64],
        role=who.role,
        ip=who.ip,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id)[:64],
        detail={key: _scrubbed(value) for key, value in (detail or {}).items()},
        outcome=outcome,
    )
    session.add(entry)
    session.flush()
    return entry


def filter_of(
    username: str = "",
    action: str = "",
    target: str = "",
    start: str = "",
    end: str = "",
    outcome: str = "",
) -> AuditFilter:
    """The filter as typed in the form; InvalidInput for a bad date or outcome."""
    if outcome.strip() and outcome.strip() not in OUTCOMES:
        raise InvalidInput(f"结果须为 {', '.join(OUTCOMES)} 之一")
    return AuditFilter(
        username.strip(), action.strip(), target.strip(), parse_window(start, end), outcome.strip()
    )


def search(session: Session, wanted: AuditFilter, page: int = 1) -> AuditPage:
    """The entries matching `wanted`, newest first, PAGE_SIZE a page (page 1 is the newest)."""
    stmt = select(AuditEntry).where(*_conditions(wanted))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    newest_first = stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    entries = newest_first.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    return AuditPage(list(session.scalars(entries)), page, pages, total)


def _conditions(wanted: AuditFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if wanted.username:
        found.append(AuditEntry.staff_username == wanted.username)
    if wanted.action:
        found.append(AuditEntry.action.startswith(wanted.action, autoescape=True))
    if wanted.outcome:
        found.append(AuditEntry.outcome == wanted.outcome)
    if wanted.target:
        kind, _, ident = wanted.target.partition(":")
        if ident:
            found += [AuditEntry.target_type == kind, AuditEntry.target_id == ident]
        else:
            found.append(or_(AuditEntry.target_type == kind, AuditEntry.target_id == kind))
    if wanted.window.start:
        found.append(AuditEntry.at >= _midnight(wanted.window.start))
    if wanted.window.end:
        found.append(AuditEntry.at < _midnight(wanted.window.end + timedelta(days=1)))
    return found


def _midnight(day: date) -> datetime:
    """The start of a Shanghai business day."""
    return datetime.combine(day, time(), SHANGHAI)


def _scrubbed(value: Any) -> Any:
    return (
        PHONE.sub(lambda m: mask_phone(m.group()) or "", value) if isinstance(value, str) else value
    )
