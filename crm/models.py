"""Imports every model module so that Base.metadata is complete (Alembic, tests)."""

from crm.conversations.models import Conversation, Message
from crm.customers.models import Customer, SubscriptionCredit, WechatIdentity
from crm.db import Base
from crm.knowledge.models import Faq, Product, Rule, Store
from crm.outbox.models import OutboxItem
from crm.purchases.models import Purchase
from crm.tickets.models import RepairTicket, TicketEvent, TicketFollowUp

__all__ = [
    "Base",
    "Conversation",
    "Customer",
    "Faq",
    "Message",
    "OutboxItem",
    "Product",
    "Purchase",
    "RepairTicket",
    "Rule",
    "Store",
    "SubscriptionCredit",
    "TicketEvent",
    "TicketFollowUp",
    "WechatIdentity",
]
