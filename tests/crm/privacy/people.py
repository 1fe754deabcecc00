"""A person with data in every corner of the schema, and a scan of the whole database for them."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, String, Text, select
from sqlalchemy.orm import Session

from crm.config import get_settings
from crm.conversations import service as conversations
from crm.conversations.schemas import InboundMessage
from crm.coupons import service as coupons
from crm.customers.models import Customer, SubscriptionCredit
from crm.customers.service import resolve_identity
from crm.db import utcnow
from crm.handoff.models import Handoff
from crm.integration.models import IdempotencyRecord, IntegrationClient
from crm.models import Base
from crm.points import service as points
from crm.privacy.crypto import phone_digest
from crm.purchases.models import Purchase
from crm.tickets.lifecycle import today
from crm.tickets.models import RepairTicket, TicketEvent


@dataclass
class Person:
    """Ids of the person's rows and every readable trace that must disappear."""

    customer_id: int
    phone: str
    name: str
    openids: list[str]
    unionid: str
    texts: list[str]
    ticket_ids: list[int] = field(default_factory=list)

    def needles(self) -> list[str]:
        """What no column may hold after erasure (the phone's lookup hash included)."""
        digest = phone_digest(self.phone)
        assert digest is not None
        return [self.phone, digest, self.name, self.unionid, *self.openids, *self.texts]


def _phone() -> str:
    return f"139{secrets.randbelow(10**8):08d}"


def make_person(session: Session, ticket_state: str = "completed") -> Person:
    """A member on both channels who chatted, bought, earned, got a coupon and a repair."""
    tag = secrets.token_hex(4)
    phone, name = _phone(), f"隐私测试{tag}"
    oa, mp = get_settings().wechat_oa_appid, get_settings().wechat_mp_appid
    openids = [f"o-oa-{tag}{secrets.token_hex(6)}", f"o-mp-{tag}{secrets.token_hex(6)}"]
    unionid = f"u-{tag}{secrets.token_hex(6)}"
    said = f"我家住在幸福路{tag}号 电话{phone} 帮我看看电钻"
    complaint = f"电钻冒烟了{tag} 我叫{name}"
    first = resolve_identity(session, oa, openids[0], unionid)
    resolve_identity(session, mp, openids[1], unionid)  # the same person on the mini-program
    customer = first.customer
    customer.display_name, customer.phone, customer.birthday = name, phone, date(1990, 5, 4)
    session.add(SubscriptionCredit(identity_id=first.id, template_id="repair", remaining=2))
    inbound = conversations.record_inbound(
        session,
        InboundMessage(
            appid=oa,
            channel="oa",
            openid=openids[0],
            msg_type="text",
            content=said,
            dedup_key=f"{oa}:{openids[0]}:{tag}",
            wechat_msg_id=secrets.randbits(60),
            raw=f"<xml><FromUserName>{openids[0]}</FromUserName><Content>{said}</Content></xml>",
        ),
    )
    conversations.reply_through_api(session, inbound, f"好的{name}，已记下", first)
    customer_id = customer.id
    session.add(
        Handoff(
            conversation_id=inbound.conversation_id,
            customer_id=customer_id,
            reason="asked",
            state="queued",
            queued_at=utcnow(),
            note=f"客户{name}要求回电{phone}",
        )
    )
    for linked in (True, False):  # one linked to them, one only under their phone at the till
        session.add(
            Purchase(
                order_no=f"PV-{secrets.token_hex(6)}",
                source="pos",
                member_phone=phone,
                customer_id=customer_id if linked else None,
                sku="RG-DR-12",
                price_yuan=Decimal("59.00"),
                paid_at=datetime(2026, 3, 1, 2, tzinfo=UTC),
            )
        )
    points.adjust(session, customer_id, 800, "测试积分", "tester", f"pv-{tag}-in")
    points.adjust(session, customer_id, -300, "测试扣减", "tester", f"pv-{tag}-out")
    coupons.issue(session, customer_id, "CPN-XR", f"pv:{tag}", today())
    person = Person(customer_id, phone, name, openids, unionid, [said, complaint])
    for state in (ticket_state, "submitted"):
        ticket = RepairTicket(
            number=f"RPV{secrets.token_hex(5)}",
            idempotency_key=f"{oa}:{openids[0]}:{secrets.token_hex(3)}",
            customer_id=customer_id,
            sku="RG-DR-12",
            product_name="电钻",
            category="电钻",
            fault=complaint,
            proof_kind="serial",
            proof_ref=f"SN{tag}",
            warranty_reason="在保",
            contact_phone=phone,
            service_method="到店",
            state=state,
            diagnosis=f"{name}说摔过",
        )
        session.add(ticket)
        session.flush()
        session.add(TicketEvent(ticket_id=ticket.id, to_state=state, actor="system", note=said))
        person.ticket_ids.append(ticket.id)
    client = IntegrationClient(
        name=f"pv-{tag}", key_prefix=tag, key_hash="0" * 64, scopes=["points:redeem"]
    )
    session.add(client)
    session.flush()
    session.add(
        IdempotencyRecord(
            client_id=client.id,
            key=f"k-{tag}",
            request_hash="0" * 64,
            status_code=404,
            response={"error": "NotFound", "detail": f"no member with phone {phone}"},
        )
    )
    session.flush()
    return person


def raw_hits(session: Session, needles: list[str]) -> list[str]:
    """`table.column` of every stored text or JSON value holding a needle, as stored."""
    found: list[str] = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if _textual(c.type)]
        if not columns:
            continue
        for row in session.execute(select(*columns)):
            for column, value in zip(columns, row, strict=True):
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                found += [f"{table.name}.{column.name}" for n in needles if n in text]
    return found


def orm_hits(session: Session, needles: list[str]) -> list[str]:
    """The same through the models: encrypted columns are read decrypted."""
    found: list[str] = []
    for mapper in Base.registry.mappers:
        model = mapper.class_
        attributes = [c.key for c in mapper.column_attrs]
        for row in session.scalars(select(model)):
            for key in attributes:
                value: Any = getattr(row, key)
                if isinstance(value, str | dict | list):
                    text = (
                        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                    )
                    found += [f"{model.__name__}.{key}" for n in needles if n in text]
    return found


def _textual(kind: Any) -> bool:
    impl = getattr(kind, "impl", kind)
    return isinstance(kind, String | Text | JSON) or isinstance(impl, String | Text | JSON)


def other_customer(session: Session) -> tuple[int, str]:
    """A bystander: a member with a phone and a name."""
    other = Customer(display_name=f"旁人{secrets.token_hex(3)}", phone=_phone())
    session.add(other)
    session.flush()
    return other.id, other.phone or ""


def snapshot(session: Session, customer: Customer) -> tuple[Any, ...]:
    """What erasure may not change about a bystander."""
    session.refresh(customer)
    return (customer.display_name, customer.phone, customer.tier, customer.birthday)
