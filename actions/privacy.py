"""The customer's rights in chat: 「查询我的个人信息」, 「导出我的信息」 and 「删除我的信息」 (the
erasure form asks for an explicit 「确认删除」 first)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.customers import customer_of
from actions.turns import confident_intent, text_of
from crm.customers.models import Customer
from crm.db import session_scope
from crm.privacy import replies
from crm.tickets.lifecycle import today

log = logging.getLogger(__name__)

YES, NO, BLOCKED = "yes", "no", "blocked"
# 「确认删除」「确定注销」「确认」: an explicit yes; anything with a no in it is not one.
CONFIRM = re.compile(
    r"^(是的?|对|好的?)?[，,\s]*(确认|确定)要?(删除|注销)?(我的)?(个人)?(信息|资料|数据|账号)?"
    r"(吧|了)?[。.!！]*$"
)
REFUSE = re.compile(r"不|别|取消|算了|再想想|先不|撤销|撤回")
NOT_KNOWN = "我们这里还没有您的任何信息。"


def _with_customer(tracker: Tracker, step: Callable[[Session, Customer], str]) -> str:
    with session_scope() as session:
        customer = customer_of(session, tracker)
        return NOT_KNOWN if customer is None else step(session, customer)


def _already_asked(tracker: Tracker) -> str | None:
    with session_scope() as session:
        customer = customer_of(session, tracker)
        return replies.already_asked(session, customer, text_of(tracker)) if customer else None


def _blocked(tracker: Tracker) -> str | None:
    with session_scope() as session:
        customer = customer_of(session, tracker)
        return None if customer is None else replies.blocked(session, customer)


class ActionMyData(Action):
    """`action_my_data`: what we hold about this customer, and how to get a copy or erase it."""

    def name(self) -> str:
        return "action_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = await asyncio.to_thread(
            _with_customer, tracker, lambda s, c: replies.summary(s, c, today())
        )
        dispatcher.utter_message(text=text)
        return []


class ActionRequestExport(Action):
    """`action_request_export`: file an export request for an admin to approve."""

    def name(self) -> str:
        return "action_request_export"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = await asyncio.to_thread(_with_customer, tracker, replies.export_requested)
        dispatcher.utter_message(text=text)
        return []


class ValidateErasureForm(FormValidationAction):
    """`validate_erasure_form`: a ticket holding their tool stops it; else an explicit yes."""

    def name(self) -> str:
        return "validate_erasure_form"

    async def extract_erase_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        asked = tracker.get_slot("requested_slot") == "erase_confirm"
        if not asked:
            if tracker.get_slot("erase_confirm") is not None:
                return {}
            said = await asyncio.to_thread(_already_asked, tracker)
            said = said or await asyncio.to_thread(_blocked, tracker)
            if said:  # withdrawn or still pending; or a ticket holds their tool
                dispatcher.utter_message(text=said)
                return {"erase_confirm": BLOCKED}
            return {}
        if confident_intent(tracker) in ("stop", "request_human"):
            return {}  # the rules end the form
        text = text_of(tracker).strip()
        if REFUSE.search(text):
            return {"erase_confirm": NO}
        if CONFIRM.match(text):
            return {"erase_confirm": YES}
        return {"erase_confirm": None}  # asked again, with the consequences


class ActionAskEraseConfirm(Action):
    """`action_ask_erase_confirm`: the consequences for this customer, then 「确认删除」?"""

    def name(self) -> str:
        return "action_ask_erase_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = await asyncio.to_thread(
            _with_customer, tracker, lambda s, c: replies.consequences(s, c, today())
        )
        dispatcher.utter_message(text=text)
        return []


class ActionEraseMyData(Action):
    """`action_erase_my_data`: erase once confirmed; the next message starts a new customer."""

    def name(self) -> str:
        return "action_erase_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        answer = tracker.get_slot("erase_confirm")
        if answer == NO:
            dispatcher.utter_message(text=replies.CANCELLED)
        elif answer == YES:  # filed: erased when the cooling-off ends (crm.privacy.cooling_off)
            text = await asyncio.to_thread(_with_customer, tracker, replies.erase)
            dispatcher.utter_message(text=text)
        return [SlotSet("erase_confirm", None)]


class ActionCancelErasure(Action):
    """`action_cancel_erasure`: the customer stopped; nothing was deleted."""

    def name(self) -> str:
        return "action_cancel_erasure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text=replies.CANCELLED)
        return [ActiveLoop(None), SlotSet("erase_confirm", None), SlotSet("requested_slot", None)]


class ActionWithdrawErasure(Action):
    """`action_withdraw_erasure`: 「撤销注销」 takes back an erasure still in its cooling-off."""

    def name(self) -> str:
        return "action_withdraw_erasure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = await asyncio.to_thread(_with_customer, tracker, replies.withdraw)
        dispatcher.utter_message(text=text)
        return []
