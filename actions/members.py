"""Members in chat: 「我有多少积分」, 「我的券」, and binding WeChat to a membership by phone and
a one-time code (the bind form)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.customers import customer_of, phone_of
from actions.turns import confident_intent, text_of
from crm.config import get_settings
from crm.db import session_scope
from crm.errors import DomainError
from crm.kv import get_store
from crm.members import binding
from crm.members.replies import NOT_BOUND, coupons_summary, points_summary
from crm.privacy.masking import mask_phone
from crm.tickets import intake
from crm.tickets.lifecycle import today

CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
ALREADY = "already"
LEAVING = {"stop", "request_human"}


def _leaving(tracker: Tracker) -> bool:
    """「算了」「转人工」: fill nothing, so the rules end the form."""
    return confident_intent(tracker) in LEAVING


def _summary(tracker: Tracker, which: str) -> str:
    with session_scope() as session:
        customer = customer_of(session, tracker)
        if customer is None:
            return NOT_BOUND
        make = points_summary if which == "points" else coupons_summary
        return make(session, customer, today())


class ActionCheckPoints(Action):
    """`action_check_points`: balance, points expiring soon, tier and the way to the next."""

    def name(self) -> str:
        return "action_check_points"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text=await asyncio.to_thread(_summary, tracker, "points"))
        return []


class ActionMyCoupons(Action):
    """`action_my_coupons`: the member's valid coupons with expiry and till codes."""

    def name(self) -> str:
        return "action_my_coupons"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text=await asyncio.to_thread(_summary, tracker, "coupons"))
        return []


def _send_code(tracker: Tracker, phone: str) -> str | None:
    """Send a code to `phone`; the reason when it could not be sent."""
    with session_scope() as session:
        customer = customer_of(session, tracker)
        if customer is None:
            return NOT_BOUND
        sender = binding.get_sms_sender(get_settings())
        try:
            binding.request_code(session, get_store(), customer.id, phone, sender)
        except DomainError as exc:
            return exc.detail
        return None


def _confirm(tracker: Tracker, phone: str, code: str) -> str | None:
    """Bind with the code; the reason when it failed."""
    with session_scope() as session:
        customer = customer_of(session, tracker)
        if customer is None:
            return NOT_BOUND
        try:
            binding.confirm_code(session, get_store(), customer.id, phone, code)
        except DomainError as exc:
            return exc.detail
        return None


class ValidateBindForm(FormValidationAction):
    """`validate_bind_form`: a phone number gets a code by SMS; the code binds the member."""

    def name(self) -> str:
        return "validate_bind_form"

    async def extract_bind_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        asked = tracker.get_slot("requested_slot") == "bind_phone"
        if tracker.get_slot("requested_slot") is None and not tracker.get_slot("bind_phone"):
            bound = await asyncio.to_thread(phone_of, tracker)
            if bound:  # nothing to do: say so and finish
                dispatcher.utter_message(
                    text=f"您的微信已绑定会员（手机号 {mask_phone(bound)}）。"
                    "回复「我的积分」查看积分和等级；需要换绑请回复「转人工」。"
                )
                return {"bind_phone": ALREADY, "bind_code": ALREADY}
        phone = intake.phone_in(text_of(tracker))
        if phone and phone != tracker.get_slot("bind_phone"):
            problem = await asyncio.to_thread(_send_code, tracker, phone)
            if problem:
                dispatcher.utter_message(text=problem)
                return {"bind_phone": None}
            dispatcher.utter_message(text=f"验证码已发送到 {mask_phone(phone)}。")
            return {"bind_phone": phone, "bind_code": None}
        if asked and not _leaving(tracker):
            dispatcher.utter_message(text="请发 11 位手机号，比如 13812345678。")
            return {"bind_phone": None}
        return {}

    async def extract_bind_code(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        phone = tracker.get_slot("bind_phone")
        if tracker.get_slot("requested_slot") != "bind_code" or not phone or phone == ALREADY:
            return {}
        match = CODE.search(text_of(tracker))
        if not match and _leaving(tracker):
            return {}
        if not match:
            dispatcher.utter_message(text="请回复短信里的 6 位数字验证码。")
            return {"bind_code": None}
        problem = await asyncio.to_thread(_confirm, tracker, str(phone), match.group(1))
        if problem:
            dispatcher.utter_message(text=problem)
            return {"bind_code": None}
        return {"bind_code": "ok"}


class ActionBindDone(Action):
    """`action_bind_done`: bound — show what the membership holds now."""

    def name(self) -> str:
        return "action_bind_done"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("bind_code") == "ok":
            summary = await asyncio.to_thread(_summary, tracker, "points")
            dispatcher.utter_message(text=f"绑定成功！\n{summary}")
        return [SlotSet("bind_phone", None), SlotSet("bind_code", None)]


class ActionCancelBind(Action):
    """`action_cancel_bind`: the customer stopped binding; nothing changed."""

    def name(self) -> str:
        return "action_cancel_bind"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text="好的，先不绑定了。需要时回复「绑定会员」即可。")
        return [
            ActiveLoop(None),
            SlotSet("bind_phone", None),
            SlotSet("bind_code", None),
            SlotSet("requested_slot", None),
        ]
