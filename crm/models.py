"""Imports every model module so that Base.metadata is complete (Alembic, tests)."""

from crm.audit.models import AuditEntry
from crm.conversations.models import Conversation, Message
from crm.coupons.models import Coupon
from crm.customers.models import Customer, SubscriptionCredit, WechatIdentity
from crm.db import Base
from crm.handoff.models import Handoff
from crm.integration.models import IdempotencyRecord, IntegrationClient
from crm.knowledge.models import Faq, Product, ResolvedQuestion, Rule, Store
from crm.outbox.models import OutboxItem
from crm.points.models import PointsAccount, PointsEntry
from crm.privacy.models import DataRequest
from crm.purchases.models import Purchase
from crm.staff.models import StaffSession, StaffUser
from crm.tickets.models import RepairTicket, TicketEvent, TicketFollowUp

__all__ = [
    "AuditEntry",
    "Base",
    "Conversation",
    "Coupon",
    "Customer",
    "DataRequest",
    "Faq",
    "Handoff",
    "IdempotencyRecord",
    "IntegrationClient",
    "Message",
    "OutboxItem",
    "PointsAccount",
    "PointsEntry",
    "Product",
    "Purchase",
    "RepairTicket",
    "ResolvedQuestion",
    "Rule",
    "StaffSession",
    "StaffUser",
    "Store",
    "SubscriptionCredit",
    "TicketEvent",
    "TicketFollowUp",
    "WechatIdentity",
]
