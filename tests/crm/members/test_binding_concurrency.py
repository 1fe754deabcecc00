"""Two WeChat users claiming one till member's phone at the same moment: one wins, one is told."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, select

from crm.customers.models import Customer, WechatIdentity
from crm.db import session_scope
from crm.errors import Conflict
from crm.members.binding import OTHER_WECHAT, bind_verified_phone
from tests.crm.members.conftest import wechat_user
from tests.crm.points.conftest import unique_phone


def test_one_till_member_takes_in_only_one_mini_program_user(engine: Engine) -> None:
    phone = unique_phone()
    with session_scope() as session:
        till = Customer(display_name="门店会员", phone=phone)
        session.add(till)
        session.flush()
        users = [wechat_user(session).id for _ in range(4)]
    start = threading.Barrier(len(users))
    outcomes: list[str] = []

    def claim(user_id: int) -> None:
        start.wait()
        try:
            with session_scope() as session:
                bind_verified_phone(session, user_id, phone)
            outcomes.append("bound")
        except Conflict as exc:
            outcomes.append(exc.detail)

    threads = [threading.Thread(target=claim, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["bound"] + [OTHER_WECHAT] * 3
    with session_scope() as session:
        moved = session.scalars(select(WechatIdentity).where(WechatIdentity.customer_id == till.id))
        assert len(list(moved)) == 1
