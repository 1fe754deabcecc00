"""The audit log over HTTP: replies, points adjustments, refusals, views and logins each leave
one entry naming the staff member, their address and the outcome; only admins browse it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.db import session_scope
from crm.staff import service as staff_service
from tests.api.conftest import CSRF_FIELD, LogIn, make_staff
from tests.api.test_backoffice_handoffs import page_token, queued_handoff
from tests.api.test_backoffice_members import form, member

LOCAL = "127.0.0.1"


def entries(username: str, action: str) -> list[AuditEntry]:
    """The audit entries of `username` for `action`, oldest first."""
    with session_scope() as session:
        stmt = select(AuditEntry).where(
            AuditEntry.staff_username == username, AuditEntry.action == action
        )
        return list(session.scalars(stmt.order_by(AuditEntry.id)))


def one(username: str, action: str, **expected: Any) -> AuditEntry:
    """The single entry of `username` for `action`, checked against `expected` columns."""
    found = entries(username, action)
    assert len(found) == 1, [(e.action, e.outcome) for e in found]
    entry = found[0]
    with session_scope() as session:
        user = staff_service.get_user(session, username)
        assert (entry.staff_id, entry.role, entry.ip) == (user.id, user.role, LOCAL)
    for column, value in expected.items():
        assert getattr(entry, column) == value, column
    return entry


def test_reply_and_stale_take_are_audited(api: str, login: LogIn) -> None:
    _, handoff_id = queued_handoff(api)
    first, second = make_staff(name="小王"), make_staff(name="小李")
    agent, late = login(first), login(second)
    path = f"/backoffice/handoffs/{handoff_id}"
    token, _, version = page_token(agent, path)
    late_token, _, _ = page_token(late, path)
    assert agent.post(f"{path}/take", data={"csrf_token": token, "version": version}).is_redirect
    stale = late.post(f"{path}/take", data={"csrf_token": late_token, "version": version})
    assert stale.status_code == 409
    reply = agent.post(f"{path}/reply", data={"csrf_token": token, "text": "收到，马上为您查询"})
    assert reply.status_code == 303
    target = {"target_type": "handoff", "target_id": str(handoff_id)}
    one(first, "handoff.take", outcome="ok", **target)
    refused = one(second, "handoff.take", outcome="refused", **target)
    assert refused.detail["error"] == "Conflict" and refused.detail["version"] == version
    one(first, "handoff.reply", outcome="ok", detail={"chars": 9}, **target)
    assert len(entries(first, "handoff.view")) == 1 and entries(first, "login.ok")


def test_member_view_and_points_adjustment_are_audited(login: LogIn) -> None:
    customer_id, phone = member("审计会员", "JX-HZ01")
    boss = make_staff(role="supervisor", name="陈主管")
    client = login(boss)
    path = f"/backoffice/members/{customer_id}"
    adjusted = client.post(f"{path}/points", data=form(client, customer_id, 300, "活动补发"))
    assert adjusted.status_code == 303
    target = {"target_type": "customer", "target_id": str(customer_id)}
    one(boss, "member.view", outcome="ok", detail={}, **target)
    entry = one(boss, "points.adjust", outcome="ok", **target)
    assert entry.detail == {"amount": "300", "reason": "活动补发"}
    assert phone not in str(entry.detail)


def test_failed_login_is_audited_with_the_name_tried(api: str, login: LogIn) -> None:
    username = make_staff()
    client = login(make_staff())  # any client: a fresh login form
    client.cookies.clear()
    token = CSRF_FIELD.search(client.get("/backoffice/login").text)
    assert token is not None
    data = {"username": username, "password": "wrong-password", "csrf_token": token.group(1)}
    assert client.post("/backoffice/login", data=data).status_code == 401
    [failed] = entries(username, "login.failed")
    assert (failed.staff_id, failed.ip, failed.outcome) == (None, LOCAL, "refused")


def test_only_admins_browse_and_filter_the_log(api: str, login: LogIn) -> None:
    agent_name = make_staff()
    agent = login(agent_name)
    assert agent.get("/backoffice/audit").status_code == 403
    assert 'href="/backoffice/audit"' not in agent.get("/backoffice").text
    admin = login(make_staff(role="admin", name="管理员"))
    page = admin.get("/backoffice/audit")
    assert page.status_code == 200 and 'href="/backoffice/audit"' in page.text
    mine = admin.get("/backoffice/audit", params={"username": agent_name})
    assert mine.status_code == 200 and agent_name in mine.text
    assert 'data-action="login.ok"' in mine.text and 'data-action="member.view"' not in mine.text
    assert "127.0.0.1" in mine.text
    refused = admin.get("/backoffice/audit", params={"username": agent_name, "outcome": "refused"})
    assert "没有符合条件的记录" in refused.text and "data-action=" not in refused.text
    bad = admin.get("/backoffice/audit", params={"start": "2026-02-30"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text
