"""The repair-ticket pages over HTTP against the real api: store scoping, legal moves only,
CSRF, and a ticket opened from a handoff conversation for that conversation's customer."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from decimal import Decimal

import httpx
from sqlalchemy import func, select

from api.backoffice.web import templates
from crm.customers.models import Customer
from crm.db import session_scope, utcnow
from crm.handoff import tickets as staff_tickets
from crm.handoff.models import Handoff
from crm.handoff.service import Actor
from crm.purchases.models import Purchase
from crm.tickets import proof, service
from crm.tickets.models import RepairTicket, TicketEvent
from crm.tickets.schemas import Proof, TicketCreate
from tests.api.conftest import CSRF_FIELD, LogIn, make_staff, sent_to, texts
from tests.api.test_backoffice_handoffs import page_token, queued_handoff

SKU = "RG-DR-20BL"
FIELD = re.compile(r'name="([a-z_]+)"')


def ticket(store: str | None = None, sku: str = "RG-RH-800") -> str:
    """A committed submitted ticket of a fresh customer (到店 at `store`, else 寄修); its number."""
    with session_scope() as session:
        person = Customer(display_name="张师傅", phone=f"136{secrets.randbelow(10**8):08d}")
        session.add(person)
        session.flush()
        data = TicketCreate(
            customer_id=person.id,
            sku=sku,
            fault="冲击功能没有了",
            proof=Proof(kind="none"),
            contact_phone="13912345678",
            service_method="到店" if store else "寄修",
            store_id=store,
            idempotency_key=secrets.token_hex(8),
        )
        return service.open_ticket(session, data, proof.ProofFound("none", None, None)).number


def state_and_events(number: str) -> tuple[str, list[tuple[str, str | None]]]:
    with session_scope() as session:
        found = service.get_ticket(session, number)
        return found.state, [(e.actor, e.note) for e in found.events]


def token_of(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    token = CSRF_FIELD.search(page.text)
    assert token is not None
    return token.group(1)


def test_an_agent_lists_and_opens_only_their_stores_tickets(login: LogIn) -> None:
    mine, theirs, mailed = ticket("JX-HZ01"), ticket("JX-HZ02"), ticket()
    agent = login(make_staff(store="JX-HZ01", name="本店"))
    listed = agent.get("/backoffice/tickets").text
    assert mine in listed and mailed in listed and theirs not in listed
    assert "已受理" in listed
    assert mine not in agent.get("/backoffice/tickets", params={"state": "accepted"}).text
    assert mine not in agent.get("/backoffice/tickets", params={"overdue": "1"}).text
    page = agent.get(f"/backoffice/tickets/{mine}")
    assert page.status_code == 200 and "136****" in page.text and "13912345678" not in page.text
    refused = agent.get(f"/backoffice/tickets/{theirs}")
    assert refused.status_code == 403 and "其他门店" in refused.text
    supervisor = login(make_staff(role="supervisor", store="JX-HZ01", name="主管"))
    assert theirs in supervisor.get("/backoffice/tickets").text


def test_legal_moves_and_a_quote_are_recorded_as_the_staff_member(api: str, login: LogIn) -> None:
    number = ticket("JX-HZ01")
    username = make_staff(store="JX-HZ01")
    agent = login(username)
    path = f"/backoffice/tickets/{number}"
    page = agent.get(path).text
    assert 'value="accepted"' in page and 'value="completed"' not in page
    moved = agent.post(
        f"{path}/transition",
        data={"csrf_token": token_of(agent, path), "to": "accepted", "note": "门店已收件"},
    )
    assert moved.status_code == 303 and moved.headers["location"] == f"{path}?done=1"
    state, history = state_and_events(number)
    assert state == "accepted" and history[-1] == (f"staff:{username}", "门店已收件")
    agent.post(f"{path}/transition", data={"csrf_token": token_of(agent, path), "to": "diagnosing"})
    quoted = agent.post(
        f"{path}/diagnosis",
        data={"csrf_token": token_of(agent, path), "diagnosis": "冲击块磨损", "quote_yuan": "126"},
    )
    assert quoted.status_code == 303
    agent.post(
        f"{path}/transition", data={"csrf_token": token_of(agent, path), "to": "awaiting_approval"}
    )
    state, history = state_and_events(number)
    assert state == "awaiting_approval" and "报价 126 元" in (history[-2][1] or "")
    page = agent.get(path).text
    assert "待确认报价" in page and "冲击块磨损" in page and f"staff:{username}" in page


def test_refusals_say_why_and_change_nothing(api: str, login: LogIn) -> None:
    number = ticket("JX-HZ01")
    path = f"/backoffice/tickets/{number}"
    before = state_and_events(number)
    agent = login(make_staff(store="JX-HZ01"))
    illegal = agent.post(
        f"{path}/transition", data={"csrf_token": token_of(agent, path), "to": "completed"}
    )
    assert illegal.status_code == 409
    assert 'class="flash error"' in illegal.text and "不能改为「已完成」" in illegal.text
    early = agent.post(
        f"{path}/diagnosis", data={"csrf_token": token_of(agent, path), "diagnosis": "电机烧了"}
    )
    assert early.status_code == 409 and "不能再填写检测结果" in early.text
    forged = agent.post(f"{path}/transition", data={"to": "accepted"})
    assert forged.status_code == 403
    outsider = login(make_staff(store="JX-HZ02"))
    token = token_of(outsider, "/backoffice/tickets")
    other = outsider.post(f"{path}/transition", data={"csrf_token": token, "to": "accepted"})
    assert other.status_code == 403 and "其他门店" in other.text
    assert state_and_events(number) == before


def test_an_agent_opens_a_ticket_from_their_conversation(api: str, login: LogIn) -> None:
    sim, handoff_id = queued_handoff(api)
    with session_scope() as session:
        handoff = session.get(Handoff, handoff_id)
        assert handoff is not None
        customer_id = handoff.customer_id
        session.add(
            Purchase(
                order_no=f"T-{secrets.token_hex(6)}",
                source="pos",
                customer_id=customer_id,
                sku=SKU,
                price_yuan=Decimal("399.00"),
                paid_at=utcnow() - timedelta(days=30),
                store_id="JX-HZ01",
            )
        )
    username = make_staff(name="小李")
    agent = login(username)
    conversation = f"/backoffice/handoffs/{handoff_id}"
    token, _, version = page_token(agent, conversation)
    taken = agent.post(f"{conversation}/take", data={"csrf_token": token, "version": version})
    assert taken.status_code == 303
    fields = _fragment_fields(handoff_id, username)
    form = {
        "csrf_token": token,
        "idempotency_key": fields["idempotency_key"],
        "sku": fields["sku"],
        "sku_other": "",
        "fault": "开机没反应，电池是好的",
        "service_method": "寄修",
        "store_id": "",
        "phone": "13812345678",
    }
    bystander = login(make_staff(name="旁人"))
    stranger = bystander.post(
        f"{conversation}/ticket", data={**form, "csrf_token": token_of(bystander, "/backoffice")}
    )
    assert stranger.status_code == 403 and _tickets_of(customer_id) == []
    unknown = agent.post(f"{conversation}/ticket", data={**form, "sku_other": "XX-NOPE"})
    assert unknown.status_code == 404 and "没有找到商品 XX-NOPE" in unknown.text
    walk_in = agent.post(f"{conversation}/ticket", data={**form, "service_method": "到店"})
    assert walk_in.status_code == 422 and "请选择顾客送修的门店" in walk_in.text
    assert _tickets_of(customer_id) == []
    opened = agent.post(f"{conversation}/ticket", data=form)
    assert opened.status_code == 303, opened.text
    [made] = _tickets_of(customer_id)
    assert opened.headers["location"] == f"/backoffice/tickets/{made.number}"
    assert (made.sku, made.proof_kind, made.service_method) == (SKU, "purchase", "寄修")
    again = agent.post(f"{conversation}/ticket", data=form)  # the same form twice: one ticket
    assert again.headers["location"] == opened.headers["location"]
    assert len(_tickets_of(customer_id)) == 1
    _, history = state_and_events(made.number)
    assert (f"staff:{username}", f"客服在会话 #{handoff_id} 中代顾客登记") in history
    assert made.number in texts(sent_to(api, sim.openid, count=2))[-1]
    assert made.number in agent.get(opened.headers["location"]).text


def _fragment_fields(handoff_id: int, username: str) -> dict[str, str]:
    """The fragment as the conversation page will render it: its fields and their values."""
    with session_scope() as session:
        handoff = session.get(Handoff, handoff_id)
        assert handoff is not None
        viewer = Actor(1, username, "agent", None)
        form = staff_tickets.chat_form(session, handoff, viewer)
        html = templates.get_template("_ticket_from_chat.html").render(
            handoff=handoff, csrf_token="t", ticket_form=form
        )
    assert set(FIELD.findall(html)) == {
        "csrf_token",
        "idempotency_key",
        "sku",
        "sku_other",
        "fault",
        "service_method",
        "store_id",
        "phone",
    }
    assert f'<option value="{SKU}">' in html and "寄修" in html and "上门取件" in html
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert key is not None
    return {"idempotency_key": key.group(1), "sku": SKU}


def _tickets_of(customer_id: int) -> list[RepairTicket]:
    with session_scope() as session:
        return service.list_tickets(session, customer_id=customer_id)


def test_ticket_events_count_is_unchanged_by_a_missing_csrf_token(login: LogIn) -> None:
    number = ticket()
    agent = login(make_staff())
    forged = agent.post(f"/backoffice/tickets/{number}/diagnosis", data={"diagnosis": "电机烧了"})
    assert forged.status_code == 403
    with session_scope() as session:
        count = session.scalar(
            select(func.count(TicketEvent.id))
            .join(RepairTicket)
            .where(RepairTicket.number == number)
        )
    assert count == 1
