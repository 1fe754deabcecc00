"""The audit log: entries are recorded and found by every filter; the database refuses changes."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from crm.audit import service as audit_log
from crm.audit.models import AuditEntry
from crm.coupons.report import Window
from crm.errors import InvalidInput


def staff() -> audit_log.Who:
    return audit_log.Who(7, f"a{secrets.token_hex(5)}", "agent", "10.0.0.8")


def test_record_keeps_who_what_and_masks_phones(db: Session) -> None:
    me = staff()
    detail = {"amount": 300, "reason": "客户 13812345678 补发"}
    entry = audit_log.record(db, me, "points.adjust", "customer", 42, detail)
    assert entry.id is not None and entry.at.tzinfo is not None
    assert (entry.staff_id, entry.staff_username, entry.role, entry.ip) == (
        7,
        me.username,
        "agent",
        "10.0.0.8",
    )
    assert (entry.action, entry.target_type, entry.target_id, entry.outcome) == (
        "points.adjust",
        "customer",
        "42",
        "ok",
    )
    assert entry.detail == {"amount": 300, "reason": "客户 138****5678 补发"}
    with pytest.raises(ValueError):
        audit_log.record(db, me, "points.adjust", outcome="maybe")


def test_search_filters_newest_first(db: Session) -> None:
    me, other = staff(), staff()
    take = audit_log.record(db, me, "handoff.take", "handoff", 5, outcome="refused")
    reply = audit_log.record(db, me, "handoff.reply", "handoff", 5, {"chars": 4})
    view = audit_log.record(db, me, "member.view", "customer", 9)
    audit_log.record(db, other, "handoff.reply", "handoff", 5)

    def ids(**typed: str) -> list[int]:
        wanted = audit_log.filter_of(**typed)
        return [e.id for e in audit_log.search(db, wanted).entries]

    assert ids(username=me.username) == [view.id, reply.id, take.id]
    assert ids(username=me.username, action="handoff") == [reply.id, take.id]
    assert ids(username=me.username, action="handoff.reply") == [reply.id]
    assert ids(username=me.username, action="handoff.re%") == []  # a prefix, not a pattern
    assert ids(username=me.username, target="handoff:5") == [reply.id, take.id]
    assert ids(username=me.username, target="customer") == [view.id]
    assert ids(username=me.username, target="9") == [view.id]
    assert ids(username=me.username, outcome="refused") == [take.id]
    with pytest.raises(InvalidInput):
        audit_log.filter_of(outcome="maybe")
    with pytest.raises(InvalidInput):
        audit_log.filter_of(start="2026-13-01")


def test_search_by_shanghai_days_and_pages(db: Session) -> None:
    me = staff()
    # 2026-03-01 23:30 and 2026-03-02 00:30 in Shanghai.
    late = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
    early = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    for moment in (late, early):
        db.add(
            AuditEntry(at=moment, staff_username=me.username, action="member.view", outcome="ok")
        )
    db.flush()
    first_day = audit_log.AuditFilter(
        me.username, window=Window(date(2026, 3, 1), date(2026, 3, 1))
    )
    found = audit_log.search(db, first_day)
    assert [e.at for e in found.entries] == [late] and found.total == 1
    from_second = audit_log.AuditFilter(me.username, window=Window(date(2026, 3, 2)))
    assert [e.at for e in audit_log.search(db, from_second).entries] == [early]

    for n in range(audit_log.PAGE_SIZE):
        audit_log.record(db, me, "faq.update", "faq", n)
    last = audit_log.search(db, audit_log.AuditFilter(me.username), page=99)
    assert (last.page, last.pages, last.total) == (2, 2, audit_log.PAGE_SIZE + 2)
    assert [e.at for e in last.entries] == [early, late]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET outcome = 'ok', detail = '{}' WHERE id = :id",
        "DELETE FROM audit_entries WHERE id = :id",
        "TRUNCATE audit_entries",
    ],
)
def test_the_database_refuses_to_change_entries(db: Session, statement: str) -> None:
    entry = audit_log.record(db, staff(), "login.failed", "staff", "x", outcome="refused")
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text(statement), {"id": entry.id})
    db.expire_all()
    kept = db.get(AuditEntry, entry.id)
    assert kept is not None and kept.outcome == "refused"
