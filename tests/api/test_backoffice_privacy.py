"""The data-rights pages over HTTP: admins find, see, export (approve → JSON download) and erase a
person, each step audited; anyone else is refused (audited too) and nothing changes."""

from __future__ import annotations

import json
import re

import httpx
from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.customers.models import Customer
from crm.db import session_scope
from crm.privacy.models import DataRequest
from tests.api.conftest import CSRF_FIELD, LogIn, make_staff
from tests.crm.privacy.people import Person, make_person, orm_hits, raw_hits


def _person() -> Person:
    with session_scope() as session:
        return make_person(session)


def _csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    token = CSRF_FIELD.search(page.text)
    assert token is not None
    return token.group(1)


def _actions(username: str) -> list[tuple[str, str]]:
    with session_scope() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.staff_username == username).order_by(AuditEntry.id)
        )
        return [(r.action, r.outcome) for r in rows if r.action.startswith("privacy.")]


def test_an_admin_finds_exports_and_erases_a_person(login: LogIn) -> None:
    person = _person()
    admin = make_staff("admin")
    client = login(admin)
    found = client.get("/backoffice/privacy", params={"q": person.openids[0]})
    page_path = f"/backoffice/privacy/customers/{person.customer_id}"
    assert found.status_code == 303 and found.headers["location"] == page_path
    assert client.get("/backoffice/privacy", params={"q": person.phone}).status_code == 303
    token = _csrf(client, page_path)
    assert client.post(f"{page_path}/export", data={"csrf_token": token}).status_code == 303
    with session_scope() as session:
        filed = session.scalars(
            select(DataRequest).where(DataRequest.customer_id == person.customer_id)
        ).one()
        request_id = filed.id
    download = f"/backoffice/privacy/requests/{request_id}/download"
    assert client.get(download).status_code == 409  # not approved yet
    approve = f"/backoffice/privacy/requests/{request_id}/approve"
    assert client.post(approve, data={"csrf_token": token}).status_code == 303
    got = client.get(download)
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    assert json.loads(got.text)["customer"]["phone"] == person.phone
    wrong = client.post(f"{page_path}/erase", data={"csrf_token": token, "confirm": "好"})
    assert wrong.status_code == 422
    erased = client.post(f"{page_path}/erase", data={"csrf_token": token, "confirm": "删除"})
    assert erased.status_code == 303
    assert "已删除" in client.get(page_path).text
    with session_scope() as session:
        assert raw_hits(session, person.needles()) == []
        assert orm_hits(session, person.needles()) == []  # the audit log named none of it
    assert _actions(admin) == [
        ("privacy.lookup", "ok"),
        ("privacy.lookup", "ok"),
        ("privacy.view", "ok"),
        ("privacy.export_request", "ok"),
        ("privacy.export_download", "refused"),
        ("privacy.export_approve", "ok"),
        ("privacy.export_download", "ok"),
        ("privacy.erase", "refused"),
        ("privacy.view", "ok"),
        ("privacy.erase", "ok"),
        ("privacy.view", "ok"),
    ]


def test_non_admins_are_refused_and_nothing_changes(login: LogIn) -> None:
    person = _person()
    admin = login(make_staff("admin"))
    token_page = f"/backoffice/privacy/customers/{person.customer_id}"
    assert admin.get(token_page).status_code == 200
    for role in ("agent", "supervisor"):
        username = make_staff(role)
        client = login(username)
        assert client.get("/backoffice/privacy").status_code == 403
        assert client.get(token_page).status_code == 403
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/backoffice").text)
        data = {"csrf_token": token.group(1) if token else "", "confirm": "删除"}
        assert client.post(f"{token_page}/erase", data=data).status_code == 403
        assert client.post(f"{token_page}/export", data=data).status_code == 403
        assert _actions(username) == [("privacy.denied", "refused")] * 4
    with session_scope() as session:
        customer = session.get(Customer, person.customer_id)
        assert customer is not None and customer.phone == person.phone
        requests = session.scalars(
            select(DataRequest).where(DataRequest.customer_id == person.customer_id)
        )
        assert list(requests) == []


def test_a_form_without_its_csrf_token_is_refused(login: LogIn) -> None:
    person = _person()
    client = login(make_staff("admin"))
    path = f"/backoffice/privacy/customers/{person.customer_id}/erase"
    assert client.post(path, data={"confirm": "删除"}).status_code == 403
    with session_scope() as session:
        customer = session.get(Customer, person.customer_id)
        assert customer is not None and customer.phone == person.phone
