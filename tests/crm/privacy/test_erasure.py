"""Erasure leaves nothing of the person readable anywhere (scanned generically over every table,
raw and decrypted), keeps the ledger balanced, spares everyone else, and can run twice."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.coupons.models import Coupon
from crm.customers.models import Customer
from crm.customers.service import resolve_identity
from crm.handoff.models import Handoff
from crm.outbox.models import OutboxItem
from crm.points.models import PointsAccount, PointsEntry
from crm.privacy import erasure
from crm.privacy.models import DataRequest
from crm.tickets.models import RepairTicket
from tests.crm.privacy.people import make_person, orm_hits, other_customer, raw_hits, snapshot


def ledger(db: Session, customer_id: int) -> tuple[list[int], int]:
    amounts = db.scalars(
        select(PointsEntry.amount)
        .where(PointsEntry.customer_id == customer_id)
        .order_by(PointsEntry.id)
    )
    account = db.get(PointsAccount, customer_id)
    return list(amounts), account.balance if account else 0


def test_nothing_of_the_person_remains_readable(db: Session) -> None:
    person = make_person(db)
    assert raw_hits(db, person.needles()) and orm_hits(db, person.needles())  # the scan sees them
    done = erasure.erase(db, person.customer_id, "backoffice", "admin1")
    db.expire_all()
    assert raw_hits(db, person.needles()) == []
    assert orm_hits(db, person.needles()) == []
    assert done.counts["messages"] == 2 and done.counts["identities"] == 2
    customer = db.get(Customer, person.customer_id)
    assert customer is not None and customer.phone is None and customer.phone_hash is None


def test_the_ledger_still_balances_and_money_like_rows_stay(db: Session) -> None:
    person = make_person(db)
    before, balance = ledger(db, person.customer_id)
    assert balance == 500
    erasure.erase(db, person.customer_id, "chat", "customer")
    after, left = ledger(db, person.customer_id)
    assert after[: len(before)] == before  # no ledger line was changed or removed
    assert after[len(before) :] == [-500]  # the balance was written off by one line
    assert left == 0 == sum(after)
    statuses = db.scalars(select(Coupon.status).where(Coupon.customer_id == person.customer_id))
    assert set(statuses) == {"void"}
    tickets = {
        t.id: t.state
        for t in db.scalars(
            select(RepairTicket).where(RepairTicket.customer_id == person.customer_id)
        )
    }
    assert tickets == {person.ticket_ids[0]: "completed", person.ticket_ids[1]: "cancelled"}
    handoff = db.scalars(select(Handoff).where(Handoff.customer_id == person.customer_id)).one()
    assert handoff.state == "resolved" and handoff.resolution == "erased"
    pending = db.scalar(
        select(func.count(OutboxItem.id)).where(
            OutboxItem.openid == "erased", OutboxItem.status == "pending"
        )
    )
    assert pending == 0  # nothing more is sent to them


def test_other_customers_are_untouched(db: Session) -> None:
    other_id, other_phone = other_customer(db)
    other = db.get(Customer, other_id)
    assert other is not None
    before = snapshot(db, other)
    neighbour = make_person(db)
    person = make_person(db)
    erasure.erase(db, person.customer_id, "backoffice", "admin1")
    db.expire_all()
    assert snapshot(db, other) == before and other.phone == other_phone
    assert len(raw_hits(db, neighbour.needles())) > 0  # the neighbour's data is all there
    assert set(orm_hits(db, neighbour.needles())) >= {"Customer.phone", "Message.content"}


def test_erasing_twice_is_harmless(db: Session) -> None:
    person = make_person(db)
    first = erasure.erase(db, person.customer_id, "chat", "customer")
    entries = ledger(db, person.customer_id)
    again = erasure.erase(db, person.customer_id, "backoffice", "admin1")
    assert not first.already and again.already
    assert ledger(db, person.customer_id) == entries
    requests = db.scalars(
        select(DataRequest).where(
            DataRequest.customer_id == person.customer_id, DataRequest.kind == "erasure"
        )
    )
    assert len(list(requests)) == 1


@pytest.mark.parametrize("state", ["accepted", "repairing", "shipped_back"])
def test_a_ticket_holding_the_tool_refuses_and_changes_nothing(db: Session, state: str) -> None:
    person = make_person(db, ticket_state=state)
    with pytest.raises(erasure.ErasureBlocked) as refused:
        erasure.erase(db, person.customer_id, "chat", "customer")
    assert "维修单" in refused.value.detail
    db.expire_all()
    customer = db.get(Customer, person.customer_id)
    assert customer is not None and customer.phone == person.phone
    assert ledger(db, person.customer_id)[1] == 500


def test_the_next_message_starts_a_new_customer(db: Session) -> None:
    person = make_person(db)
    erasure.erase(db, person.customer_id, "chat", "customer")
    identity = resolve_identity(db, get_settings().wechat_oa_appid, person.openids[0])
    assert identity.customer_id != person.customer_id
    assert identity.customer.phone is None and identity.unionid is None
