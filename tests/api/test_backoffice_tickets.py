"""The staff API for repair tickets: the staff token, filters, legal moves only, notices sent."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from crm.config import DEV_STAFF_TOKEN
from crm.customers import service as customers
from crm.db import session_scope
from crm.tickets import proof, service
from crm.tickets.schemas import Proof, TicketCreate
from tests.api.conftest import sent_to

STAFF = {"Authorization": f"Bearer {DEV_STAFF_TOKEN}"}
OA = "wx0000000000000001"


def _ticket(sku: str = "RG-RH-800") -> tuple[str, str]:
    """A fresh customer (inside the 48-hour window) with a submitted ticket: (number, openid)."""
    openid = "o-staff-" + secrets.token_hex(6)
    with session_scope() as session:
        identity = customers.resolve_identity(session, OA, openid, None)
        customers.follow(identity, None)
        customers.touch_interaction(identity)
        data = TicketCreate(
            customer_id=identity.customer_id,
            sku=sku,
            fault="冲击功能没有了",
            proof=Proof(kind="none"),
            contact_phone="13912345678",
            service_method="寄修",
            idempotency_key=secrets.token_hex(8),
        )
        ticket = service.open_ticket(session, data, proof.ProofFound("none", None, None))
        return ticket.number, openid


def _post(api: str, number: str, action: str, **body: Any) -> httpx.Response:
    return httpx.post(
        f"{api}/api/backoffice/tickets/{number}/{action}", json=body, headers=STAFF, timeout=10
    )


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}])
def test_without_a_staff_token_nothing_is_read_or_changed(
    api: str, headers: dict[str, str]
) -> None:
    number, _ = _ticket()
    url = f"{api}/api/backoffice/tickets/{number}"
    assert httpx.get(url, headers=headers).status_code == 401
    assert (
        httpx.post(f"{url}/transition", json={"to": "accepted"}, headers=headers).status_code == 401
    )
    assert httpx.get(url, headers=STAFF).json()["state"] == "submitted"


def test_staff_walk_a_ticket_and_the_customer_hears_about_each_step(api: str) -> None:
    number, openid = _ticket()
    assert _post(api, number, "transition", to="accepted", note="顺丰已签收").status_code == 200
    assert _post(api, number, "assign", store_id="JX-HZ03").json()["store_id"] == "JX-HZ03"
    _post(api, number, "transition", to="diagnosing")
    refused = _post(api, number, "transition", to="awaiting_approval")
    assert refused.status_code == 409 and "报价" in refused.json()["detail"]
    body = _post(api, number, "diagnosis", diagnosis="冲击块磨损", quote_yuan="126").json()
    assert body["quote_yuan"] == "126.00"
    assert _post(api, number, "transition", to="awaiting_approval").json()["state_label"] == (
        "待确认报价"
    )
    notices = [m["text"]["content"] for m in sent_to(api, openid, count=3)]
    assert len(notices) == 3 and "126" in notices[-1] and "同意维修" in notices[-1]
    ticket = httpx.get(f"{api}/api/backoffice/tickets/{number}", headers=STAFF).json()
    assert [e["to_state"] for e in ticket["events"]][:2] == ["submitted", "accepted"]
    assert ticket["events"][1]["actor"] == "staff:演示店员"
    assert ticket["events"][1]["note"] == "顺丰已签收"


def test_an_illegal_move_is_refused_with_the_allowed_ones_and_changes_nothing(api: str) -> None:
    number, openid = _ticket()
    response = _post(api, number, "transition", to="completed")
    assert response.status_code == 409
    assert response.json()["error"] == "IllegalTransition"
    assert "已收件" in response.json()["detail"]  # the allowed moves are named
    assert _post(api, number, "assign", store_id="JX-XX99").status_code == 404
    ticket = httpx.get(f"{api}/api/backoffice/tickets/{number}", headers=STAFF).json()
    assert ticket["state"] == "submitted" and len(ticket["events"]) == 1
    assert sent_to(api, openid, wait=0.5) == []


def test_list_filters_by_state(api: str) -> None:
    number, _ = _ticket()
    _post(api, number, "transition", to="cancelled", note="顾客来电取消")
    listed = httpx.get(
        f"{api}/api/backoffice/tickets", params={"state": "cancelled"}, headers=STAFF
    ).json()
    assert number in [t["number"] for t in listed]
    assert all(t["state"] == "cancelled" for t in listed)
    unknown = httpx.get(f"{api}/api/backoffice/tickets/RP19990101-0001", headers=STAFF)
    assert unknown.status_code == 404


def test_a_nul_byte_in_a_filter_is_a_clear_422(api: str) -> None:
    """PostgreSQL cannot hold NUL in text: the caller hears so (422), not a server error."""
    response = httpx.get(
        f"{api}/api/backoffice/tickets", params={"store_id": "JX\x00HZ"}, headers=STAFF
    )
    assert response.status_code == 422
