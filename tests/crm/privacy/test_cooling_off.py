"""An erasure asked for in chat waits out the 7-day cooling-off (POL-PRV-007): it can be
withdrawn meanwhile, and the daily run erases it on the day the customer was told."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.customers.models import Customer
from crm.db import SHANGHAI, as_utc, session_scope
from crm.jobs.daily import run_daily
from crm.privacy import cooling_off, erasure, replies
from crm.privacy.models import CANCELLED, DONE, PENDING, DataRequest
from crm.privacy.rights import is_erased
from tests.crm.privacy.people import make_person


def test_the_erasure_waits_for_the_day_the_customer_was_told(db: Session) -> None:
    person = make_person(db)
    request = cooling_off.schedule(db, person.customer_id, "chat", "customer")
    assert cooling_off.schedule(db, person.customer_id, "chat", "customer") is request  # once
    day = cooling_off.erases_on(request)
    # Days are China time: between 16:00 and 24:00 UTC it is already tomorrow in Shanghai.
    assert day - as_utc(request.created_at).astimezone(SHANGHAI).date() == timedelta(days=8)
    assert cooling_off.run_due(db, day - timedelta(days=1)).erased == 0
    assert not is_erased(db, person.customer_id) and request.status == PENDING
    done = cooling_off.run_due(db, day)
    assert done.erased == 1 and request.status == DONE
    assert is_erased(db, person.customer_id)
    assert sorted(done.senders) == sorted(
        f"{appid}:{openid}"
        for appid, openid in zip(
            (get_settings().wechat_oa_appid, get_settings().wechat_mp_appid),
            person.openids,
            strict=True,
        )
    )
    customer = db.get(Customer, person.customer_id)
    assert customer is not None and customer.phone is None


def test_saying_so_in_chat_withdraws_it(db: Session) -> None:
    person = make_person(db)
    customer = db.get(Customer, person.customer_id)
    assert customer is not None
    assert "冷静期" in replies.erase(db, customer)
    assert "冷静期中" in (replies.already_asked(db, customer, "我要注销") or "")
    assert replies.already_asked(db, customer, "撤销注销") == replies.WITHDRAWN
    assert cooling_off.pending(db, person.customer_id) is None
    assert replies.already_asked(db, customer, "撤销注销") is None  # nothing pending now
    assert replies.withdraw(db, customer) == replies.NOTHING_TO_WITHDRAW
    assert "冷静期" in replies.erase(db, customer)
    assert replies.withdraw(db, customer) == replies.WITHDRAWN
    requests = db.query(DataRequest).filter_by(customer_id=person.customer_id).all()
    assert [(r.status, r.decided_by) for r in requests] == [(CANCELLED, "customer")] * 2


def test_a_ticket_holding_the_tool_refuses_it(db: Session) -> None:
    person = make_person(db, ticket_state="repairing")
    with pytest.raises(erasure.ErasureBlocked, match="维修单"):
        cooling_off.schedule(db, person.customer_id, "chat", "customer")
    assert cooling_off.pending(db, person.customer_id) is None


def test_the_daily_run_erases_due_requests(engine: object) -> None:
    with session_scope() as session:
        person = make_person(session)
        request = cooling_off.schedule(session, person.customer_id, "chat", "customer")
        day = cooling_off.erases_on(request)
    report = run_daily(day)
    assert report.erasures_done >= 1 and "erasures_done" not in report.failed
    with session_scope() as session:
        assert is_erased(session, person.customer_id)
