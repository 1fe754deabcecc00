"""Repair tickets in chat: submit the form, cancel it, battery safety, where is my repair,
approve or decline a quote, rate the service."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.customers import customer_of
from actions.handoff import hand_over
from crm.conversations import service as conversations
from crm.customers.models import Customer
from crm.db import session_scope
from crm.errors import DomainError
from crm.tickets import flows, lifecycle, proof, service, states
from crm.tickets.models import RepairTicket
from crm.tickets.replies import summary, tracking
from crm.tickets.schemas import Proof, TicketCreate

log = logging.getLogger(__name__)
FORM_SLOTS = (
    "repair_product",
    "repair_fault",
    "repair_proof",
    "repair_exclusions",
    "repair_phone",
    "repair_method",
    "repair_store",
    "repair_priority",
    "repair_choices",
    "repair_key",
)
NO_CUSTOMER = "暂时查不到您的账号信息，请稍后再试，或回复「转人工」。"
EXCLUSION_KEYS = ("water", "drop", "opened")
# 「4分」「五星」「两颗星」: a number with its unit; a bare digit counts only on its own
# (「一下」「一般」「一直」 hold a numeral that is no score).
SCORE = re.compile(r"(?<![\d.])([1-5一二两三四五])\s*(?:分(?!钟)|颗星|颗|星)")
BARE_DIGIT = re.compile(r"(?<![\d.])([1-5])(?![\d.])")
SCORE_WORDS = {
    "非常不满意": 1, "很不满意": 1, "特别不满意": 1, "很差": 1, "太差": 1, "差评": 1,
    "不太满意": 2, "不满意": 2, "不怎么样": 2,
    "一般般": 3, "一般": 3, "还行": 3, "凑合": 3,
    "非常满意": 5, "很满意": 5, "特别满意": 5, "满分": 5,
    "满意": 4, "好评": 4, "不错": 4,
}  # fmt: skip
# Longer words first, so that 「非常不满意」 is never read as its tail 「满意」.
WORDS_LONGEST_FIRST = sorted(SCORE_WORDS.items(), key=lambda item: -len(item[0]))
CHINESE = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}


def clear_form() -> list[EventType]:
    """Forget everything the repair form collected."""
    return [SlotSet(slot, None) for slot in FORM_SLOTS]


def _submit(tracker: Tracker) -> str:
    with session_scope() as session:
        customer = customer_of(session, tracker)
        if customer is None:
            return NO_CUSTOMER
        sku = str(tracker.get_slot("repair_product"))
        kind, _, ref = str(tracker.get_slot("repair_proof") or "none:").partition(":")
        found = _proof(session, customer, sku, kind, ref)
        exclusions = str(tracker.get_slot("repair_exclusions") or "none")
        data = TicketCreate(
            customer_id=customer.id,
            sku=sku,
            fault=str(tracker.get_slot("repair_fault")),
            proof=Proof(kind=found.kind, ref=found.ref),  # type: ignore[arg-type]
            exclusions=[e for e in exclusions.split(",") if e in EXCLUSION_KEYS],
            contact_phone=str(tracker.get_slot("repair_phone")),
            service_method=str(tracker.get_slot("repair_method")),  # type: ignore[arg-type]
            store_id=tracker.get_slot("repair_store"),
            priority=bool(tracker.get_slot("repair_priority")),
            idempotency_key=str(tracker.get_slot("repair_key") or tracker.sender_id),
        )
        ticket = service.open_ticket(session, data, found)
        return summary(session, ticket)


def _proof(session: Session, customer: Customer, sku: str, kind: str, ref: str) -> proof.ProofFound:
    if kind == "purchase":
        purchase = proof.latest_purchase_of(session, customer, sku)
        if purchase is not None:
            return proof.from_purchase(purchase)
    if kind == "order":
        return proof.from_order_no(session, customer, sku, ref, None)
    if kind == "serial":
        return proof.from_serial(ref, lifecycle.rules_of(session))
    if kind == "photo":
        photo = conversations.latest_inbound(session, customer.id, "image")
        return proof.from_photo(photo.id if photo is not None else None)
    return proof.ProofFound("none", None, None)


class ActionSubmitRepair(Action):
    """`action_submit_repair`: open the ticket the form describes and read it back."""

    def name(self) -> str:
        return "action_submit_repair"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            text = await asyncio.to_thread(_submit, tracker)
        except DomainError as exc:
            log.info("repair not opened for %s: %s", tracker.sender_id, exc.detail)
            text = f"报修没有提交成功：{exc.detail}。"
        dispatcher.utter_message(response="utter_repair_summary", summary=text)
        return clear_form()


class ActionCancelRepair(Action):
    """`action_cancel_repair`: the customer stopped the form; nothing is kept."""

    def name(self) -> str:
        return "action_cancel_repair"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_repair_cancelled")
        return [ActiveLoop(None), *clear_form(), SlotSet("requested_slot", None)]


class ActionStartRepair(Action):
    """`action_start_repair`: a new repair starts blank (nothing left from an abandoned one)."""

    def name(self) -> str:
        return "action_start_repair"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return clear_form()


class ActionBatterySafety(Action):
    """`action_battery_safety`: safety instructions before anything else; the repair is urgent."""

    def name(self) -> str:
        return "action_battery_safety"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_battery_safety")
        return [*clear_form(), SlotSet("repair_priority", True)]


def _track(tracker: Tracker) -> str:
    with session_scope() as session:
        customer = customer_of(session, tracker)
        if customer is None:
            return NO_CUSTOMER
        number = re.search(r"RP\d{8}-\d{4}", str(tracker.latest_message.get("text") or ""), re.I)
        tickets = service.open_tickets_of(session, customer.id)
        if number:
            tickets = [t for t in service.list_tickets(session, customer_id=customer.id)]
            tickets = [t for t in tickets if t.number == number.group(0).upper()] or tickets
        return tracking(session, tickets)


class ActionTrackRepair(Action):
    """`action_track_repair`: the customer's open tickets with state, due date and next step."""

    def name(self) -> str:
        return "action_track_repair"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text=await asyncio.to_thread(_track, tracker))
        return []


def _answer_quote(tracker: Tracker, approve: bool) -> str:
    with session_scope() as session:
        customer = customer_of(session, tracker)
        if customer is None:
            return NO_CUSTOMER
        change = flows.approve_quote if approve else flows.decline_quote
        ticket = change(session, customer.id)
        if ticket is None:
            return "您目前没有待确认的维修报价。查看维修进度请回复「我的维修」。"
        if approve:
            return (
                f"好的，维修单 {ticket.number} 已确认报价 {ticket.quote_yuan} 元，"
                "马上安排维修，修好后通知您。"
            )
        where = "寄回给您" if ticket.state == states.SHIPPED_BACK else "在门店等您取回"
        return f"好的，维修单 {ticket.number} 不维修了，工具会原样{where}（检测费按政策收取）。"


class ActionApproveQuote(Action):
    """`action_approve_quote`: 「同意维修」 — the quoted ticket goes to repair."""

    def name(self) -> str:
        return "action_approve_quote"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text=await asyncio.to_thread(_answer_quote, tracker, True))
        return []


class ActionDeclineQuote(Action):
    """`action_decline_quote`: 「不修了」 — the quoted ticket goes back unrepaired."""

    def name(self) -> str:
        return "action_decline_quote"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text=await asyncio.to_thread(_answer_quote, tracker, False))
        return []


def score_in(text: str) -> int | None:
    """1–5 from 「4分」「五星」「非常满意」「4」, or None."""
    match = SCORE.search(text)
    if match:
        value = match.group(1)
        return int(value) if value.isdigit() else CHINESE[value]
    for word, value in WORDS_LONGEST_FIRST:
        if word in text:
            return value
    match = BARE_DIGIT.search(text)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Rating:
    """A recorded rating: the thank-you text; a low one goes on to a human."""

    text: str
    low: bool


def rate_pending(tracker: Tracker) -> Rating | None:
    """Record a rating if one is pending for this customer, else None."""
    score = score_in(str(tracker.latest_message.get("text") or ""))
    if score is None:
        return None
    with session_scope() as session:
        customer = customer_of(session, tracker)
        ticket: RepairTicket | None = (
            service.rate(session, customer.id, score) if customer else None
        )
        if ticket is None:
            return None
        if score <= service.LOW_RATING:
            return Rating(f"收到您的 {score} 分评价，很抱歉这次没让您满意。", low=True)
        return Rating(f"收到您的 {score} 分评价，谢谢您的支持！", low=False)


def say_rating(dispatcher: CollectingDispatcher, rating: Rating) -> list[EventType]:
    """Thank the customer; after a low rating, a human takes over to hear what went wrong."""
    dispatcher.utter_message(text=rating.text)
    return hand_over(dispatcher, "low_rating") if rating.low else []


class ActionRateService(Action):
    """`action_rate_service`: a 1–5 rating after a completed repair."""

    def name(self) -> str:
        return "action_rate_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        rating = await asyncio.to_thread(rate_pending, tracker)
        if rating is not None:
            return say_rating(dispatcher, rating)
        dispatcher.utter_message(text="谢谢您的评价！目前没有待评价的维修单；有其他问题随时问我。")
        return []
