"""Who is talking: the Rasa sender id is `appid:openid` (see bot.runtime)."""

from __future__ import annotations

from rasa_sdk import Tracker
from sqlalchemy.orm import Session

from crm.customers import service as customers
from crm.customers.models import Customer
from crm.db import session_scope


def customer_of(session: Session, tracker: Tracker) -> Customer | None:
    """The customer behind this conversation, if the channel has seen them."""
    appid, _, openid = str(tracker.sender_id).partition(":")
    identity = customers.get_identity(session, appid, openid) if openid else None
    return identity.customer if identity is not None else None


def phone_of(tracker: Tracker) -> str | None:
    """The bound phone of the customer behind this conversation (own unit of work)."""
    with session_scope() as session:
        customer = customer_of(session, tracker)
        return customer.phone if customer is not None else None
