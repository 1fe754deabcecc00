"""Export: requested, approved by an admin, then downloadable (with everything we hold) for a
week; refused or unapproved requests give nothing; erasure cancels what is still open."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.db import utcnow
from crm.errors import Conflict
from crm.privacy import erasure, export, replies, rights
from crm.tickets.lifecycle import today
from tests.crm.privacy.people import make_person


def test_an_approved_export_holds_everything_and_counts_downloads(db: Session) -> None:
    person = make_person(db)
    filed = export.request_export(db, person.customer_id, "chat", "customer")
    assert export.request_export(db, person.customer_id, "chat", "customer").id == filed.id
    with pytest.raises(Conflict):
        export.download(db, filed.id)  # not approved yet
    export.decide(db, filed.id, approve=True, by="admin1")
    data = export.download(db, filed.id)
    assert data["customer"]["phone"] == person.phone and data["customer"]["display_name"]
    assert {i["openid"] for i in data["wechat_identities"]} == set(person.openids)
    contents = [m["content"] for c in data["conversations"] for m in c["messages"]]
    assert person.texts[0] in contents
    assert data["points"]["balance"] == 500 and len(data["points"]["ledger"]) == 2
    assert len(data["purchases"]) == 2 and len(data["repair_tickets"]) == 2
    assert export.get_request(db, filed.id).downloads == 1
    with pytest.raises(Conflict):
        export.decide(db, filed.id, approve=False, by="admin2")  # decided once


def test_refused_or_expired_exports_give_nothing(db: Session) -> None:
    person = make_person(db)
    refused = export.request_export(db, person.customer_id, "backoffice", "admin1")
    export.decide(db, refused.id, approve=False, by="admin1")
    with pytest.raises(Conflict):
        export.download(db, refused.id)
    late = export.request_export(db, person.customer_id, "backoffice", "admin1")
    export.decide(db, late.id, approve=True, by="admin1")
    late.available_until = utcnow() - timedelta(minutes=1)
    with pytest.raises(Conflict):
        export.download(db, late.id)


def test_erasure_cancels_open_exports_and_refuses_new_ones(db: Session) -> None:
    person = make_person(db)
    filed = export.request_export(db, person.customer_id, "chat", "customer")
    erasure.erase(db, person.customer_id, "chat", "customer")
    assert export.get_request(db, filed.id).status == "cancelled"
    with pytest.raises(Conflict):
        export.request_export(db, person.customer_id, "backoffice", "admin1")


def test_the_chat_summary_names_what_we_hold_masked(db: Session) -> None:
    person = make_person(db)
    customer = db.get(Customer, person.customer_id)
    assert customer is not None
    text = replies.summary(db, customer, today())
    assert f"{person.phone[:3]}****{person.phone[-4:]}" in text and person.phone not in text
    assert "积分余额：500" in text and "2 个（公众号、小程序）" in text
    assert "维修单：2 张（其中 1 张处理中）" in text and "导出我的信息" in text
    found = rights.find_customer(db, person.openids[1])
    assert found.id == person.customer_id == rights.find_customer(db, person.phone).id
    asked = replies.consequences(db, customer, today())
    assert "500 积分作废" in asked and "1 张还没送修的维修单会被取消" in asked
