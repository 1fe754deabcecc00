"""The repair form: which tool, what is wrong, proof of purchase, exclusions, phone, how to send
it and where. Any answer may also correct an earlier one (a phone number, 「改成寄修」);
a question that fills nothing is answered by the rules and the form asks again."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.customers import customer_of, phone_of
from actions.faq import ActionAnswerFaq
from actions.stores import location_of
from actions.tickets import ActionTrackRepair
from actions.turns import confident_intent, text_of
from crm.db import session_scope
from crm.errors import DomainError
from crm.knowledge.nearby import nearest_store
from crm.tickets import intake, lifecycle, proof, warranty

# Intents that leave the form: it fills nothing, so the rules cancel it or hand over.
STEP_ASIDE = {"request_human", "stop", "decline_quote"}
# Questions the form answers itself before asking its question again.
QUESTIONS = {"faq", "track_repair"}
QUESTION_WORDS = ("吗", "?", "？", "呢", "多久", "多少", "怎么", "能不能", "是不是", "哪里")
NO_PROOF_WORDS = ("没有", "没", "找不到", "丢了")


def _asked(tracker: Tracker, slot: str) -> bool:
    return bool(tracker.get_slot("requested_slot") == slot)


def _picked(tracker: Tracker) -> str | None:
    """The listed choice the customer picked by number (「1」「第二个」), if any."""
    choices = list(tracker.get_slot("repair_choices") or [])
    index = intake.picked_index(text_of(tracker))
    return choices[index] if index is not None and index < len(choices) else None


def _steps_aside(tracker: Tracker) -> bool:
    return confident_intent(tracker) in STEP_ASIDE


def _question(tracker: Tracker) -> bool:
    """A question about something else (answered, then the form asks again)."""
    text = text_of(tracker)
    return confident_intent(tracker) in QUESTIONS and any(word in text for word in QUESTION_WORDS)


def _unrecognised(
    dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, hint: str
) -> dict[str, Any]:
    """The requested slot's answer was not understood: explain, unless it was a question (the
    form answers it) or the customer wants out (nothing filled: the rules cancel the form)."""
    if _steps_aside(tracker):
        return {}
    if not _question(tracker):
        dispatcher.utter_message(text=hint, hint=True)
    return {slot: None}


def _corrected_another(events: list[EventType], requested: str | None) -> bool:
    """The answer changed a slot other than the one asked (a correction, 「号码写错了…」)."""
    own = {requested, "requested_slot", "repair_choices", "repair_key"}
    return any(e.get("name") not in own and e.get("value") is not None for e in events)


class ValidateRepairForm(FormValidationAction):
    """`validate_repair_form`: reads every answer, asks only what is still needed."""

    def name(self) -> str:
        return "validate_repair_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        slots = list(domain_slots)
        if tracker.get_slot("repair_method") != "到店":
            slots.remove("repair_store")
        if str(tracker.get_slot("repair_proof") or "").startswith("none"):
            slots.remove("repair_exclusions")  # no proof: out of warranty whatever happened
        return slots

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        bookkeeping = self._bookkeeping(dispatcher, tracker)
        tracker.add_slots(bookkeeping)
        extracted: list[EventType] = await self.get_extraction_events(dispatcher, tracker, domain)
        tracker.add_slots(extracted)
        validated: list[EventType] = await self._extract_validation_events(
            dispatcher, tracker, domain
        )
        # rasa_sdk keeps only the form's own slots; the numbered choices must reach the tracker.
        choices = [e for e in extracted if e.get("name") == "repair_choices"]
        requested = tracker.get_slot("requested_slot")
        if _corrected_another(validated, requested):  # then the form simply asks again
            dispatcher.messages[:] = [m for m in dispatcher.messages if not m.get("hint")]
        for message in dispatcher.messages:
            message.pop("hint", None)  # our own marker, not part of Rasa's message format
        if requested and _question(tracker) and tracker.get_slot(requested) is None:
            await _answer(dispatcher, tracker, domain)
        return bookkeeping + choices + validated

    def _bookkeeping(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """The form's idempotency key, and priority (with safety advice) for a hazard."""
        events: list[EventType] = []
        if not tracker.get_slot("repair_key"):
            # One key per form: the same form submitted twice opens one ticket.
            started = tracker.latest_message.get("message_id") or len(tracker.events)
            events.append(SlotSet("repair_key", f"{tracker.sender_id}:{started}"))
        if intake.is_battery_hazard(text_of(tracker)) and not tracker.get_slot("repair_priority"):
            dispatcher.utter_message(response="utter_battery_safety")
            events.append(SlotSet("repair_priority", True))
        return events

    async def extract_repair_product(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await asyncio.to_thread(self._product, dispatcher, tracker)

    def _product(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        text, asked = text_of(tracker), _asked(tracker, "repair_product")
        if asked and (choice := _picked(tracker)):
            return {"repair_product": choice, "repair_choices": None}
        with session_scope() as session:
            if not asked and tracker.get_slot("repair_product"):
                named = intake.named_by_code(session, text)  # a correction names the model
                if named is not None and named.sku != tracker.get_slot("repair_product"):
                    return {"repair_product": named.sku, "repair_choices": None}
                return {}
            found = intake.identify_product(session, customer_of(session, tracker), text)
            if found.product is not None:
                if found.product.sku != tracker.get_slot("repair_product"):
                    return {"repair_product": found.product.sku, "repair_choices": None}
                return {}
            if found.candidates and (asked or not tracker.get_slot("repair_product")):
                lines = "\n".join(
                    f"{n}. {p.name}（{p.sku}）" for n, p in enumerate(found.candidates, 1)
                )
                dispatcher.utter_message(text=f"您说的是哪一款？回复序号或型号：\n{lines}")
                return {"repair_choices": [p.sku for p in found.candidates]}
        if asked:
            hint = "没认出是哪件工具。请发型号（如 RG-DR-20BL）或名称（如「锐工 20V 冲击钻」）。"
            return _unrecognised(dispatcher, tracker, "repair_product", hint)
        return {}

    async def extract_repair_proof(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not tracker.get_slot("repair_product"):
            return {}
        return await asyncio.to_thread(self._proof, dispatcher, tracker)

    def _proof(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        text, asked = text_of(tracker), _asked(tracker, "repair_proof")
        sku = str(tracker.get_slot("repair_product"))
        if confident_intent(tracker) == "send_image":  # an invoice or nameplate photo
            return (
                {"repair_proof": "photo"} if asked or not tracker.get_slot("repair_proof") else {}
            )
        with session_scope() as session:
            customer = customer_of(session, tracker)
            try:
                found = _typed_proof(session, customer, sku, text, tracker)
            except DomainError as exc:
                dispatcher.utter_message(text=f"{exc.detail}。")
                return {"repair_proof": None}
            if found is None and not tracker.get_slot("repair_proof") and customer is not None:
                purchase = proof.latest_purchase_of(session, customer, sku)
                if purchase is not None:
                    return {"repair_proof": f"purchase:{purchase.order_no}"}
        if found is not None:
            return {"repair_proof": f"{found.kind}:{found.ref}"}
        if asked and not _steps_aside(tracker) and any(w in text for w in NO_PROOF_WORDS):
            return {"repair_proof": "none:"}
        if asked:
            hint = (
                "没认出凭证。可以发订单号、机身序列号（如 RG-2405-012345），或直接发发票/铭牌照片。"
            )
            return _unrecognised(dispatcher, tracker, "repair_proof", hint)
        return {}

    async def extract_repair_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        phone = intake.phone_in(text_of(tracker))
        if phone and phone != tracker.get_slot("repair_phone"):
            return {"repair_phone": phone}
        if _asked(tracker, "repair_phone"):
            hint = "手机号好像不对，请发 11 位手机号。"
            return _unrecognised(dispatcher, tracker, "repair_phone", hint)
        if not tracker.get_slot("repair_phone"):
            known = await asyncio.to_thread(phone_of, tracker)
            return {"repair_phone": known} if known else {}
        return {}

    async def extract_repair_method(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not tracker.get_slot("repair_product"):
            return {}
        method = intake.method_in(text_of(tracker))
        asked = _asked(tracker, "repair_method")
        if method == "上门取件" and await asyncio.to_thread(_tier, tracker) != "钻石":
            dispatcher.utter_message(
                text="上门取件是钻石会员的专属服务，您可以选「到店」或「寄修」。"
            )
            return {"repair_method": None} if asked else {}
        if method and method != tracker.get_slot("repair_method"):
            return {"repair_method": method}
        if asked and not method:
            return _unrecognised(dispatcher, tracker, "repair_method", "请回复「到店」或「寄修」。")
        return {}

    async def extract_repair_store(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("repair_method") != "到店":
            return {}
        return await asyncio.to_thread(self._store, dispatcher, tracker)

    def _store(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        text, asked = text_of(tracker), _asked(tracker, "repair_store")
        if asked and (choice := _picked(tracker)):
            return {"repair_store": choice, "repair_choices": None}
        with session_scope() as session:
            where = location_of(tracker)
            if where is not None:  # a location message: the nearest store
                near = nearest_store(session, *where)
                if near is not None:
                    return {"repair_store": near[0].id, "repair_choices": None}
            stores = intake.stores_for(session, text)
            if len(stores) == 1:
                return {"repair_store": stores[0].id, "repair_choices": None}
            if stores and asked:
                lines = "\n".join(f"{n}. {s.name}（{s.address}）" for n, s in enumerate(stores, 1))
                dispatcher.utter_message(text=f"送到哪家店？回复序号：\n{lines}")
                return {"repair_choices": [s.id for s in stores]}
        if asked:
            hint = (
                "没找到这家店。请回复门店名或所在区，比如「滨江店」「鄞州」，也可以发个位置给我。"
            )
            return _unrecognised(dispatcher, tracker, "repair_store", hint)
        return {}

    async def validate_repair_fault(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        text = str(slot_value or "").strip()
        if _question(tracker):
            return {"repair_fault": None}  # answered in run(), then asked again
        if len(text) < 2:
            dispatcher.utter_message(text="请多说一点故障现象，方便维修中心提前准备。")
            return {"repair_fault": None}
        return {"repair_fault": text[:500]}

    async def validate_repair_exclusions(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        found = warranty.parse_exclusions(str(slot_value or ""))
        if found is None:
            dispatcher.utter_message(
                text="没太明白。有进水、摔落或拆修过吗？都没有请回复「没有」。"
            )
            return {"repair_exclusions": None}
        return {"repair_exclusions": ",".join(found) or "none"}


async def _answer(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> None:
    """Answer the customer's question as outside the form (FAQ, product fact, my repairs)."""
    if confident_intent(tracker) == "track_repair":
        await ActionTrackRepair().run(dispatcher, tracker, domain)
    else:
        await ActionAnswerFaq().run(dispatcher, tracker, domain)


def _typed_proof(
    session: Any, customer: Any, sku: str, text: str, tracker: Tracker
) -> proof.ProofFound | None:
    """An order number or a serial the customer typed (checked), else None."""
    serial = proof.SERIAL.search(text)
    if serial:
        return proof.from_serial(serial.group(1), lifecycle.rules_of(session))
    order = proof.ORDER_NO.search(text)
    if order and customer is not None:
        phone = tracker.get_slot("repair_phone")
        return proof.from_order_no(session, customer, sku, order.group(1), phone)
    return None


def _tier(tracker: Tracker) -> str:
    with session_scope() as session:
        customer = customer_of(session, tracker)
        return customer.tier if customer is not None else "普通会员"


class ActionAskRepairProduct(Action):
    """`action_ask_repair_product`: ask which tool, listing what the customer bought from us."""

    def name(self) -> str:
        return "action_ask_repair_product"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("repair_choices"):
            return []  # the candidates were just listed
        owned = await asyncio.to_thread(_owned, tracker)
        if not owned:
            dispatcher.utter_message(
                text="好的，帮您登记报修。是哪件工具坏了？请发型号（如 RG-DR-20BL）或名称。"
            )
            return []
        lines = "\n".join(f"{n}. {name}（{sku}）" for n, (sku, name) in enumerate(owned, 1))
        dispatcher.utter_message(
            text=f"好的，帮您登记报修。是哪件工具坏了？您在匠心五金买过：\n{lines}\n"
            "回复序号，或发其他工具的型号、名称。"
        )
        return [SlotSet("repair_choices", [sku for sku, _ in owned])]


def _owned(tracker: Tracker) -> list[tuple[str, str]]:
    with session_scope() as session:
        customer = customer_of(session, tracker)
        if customer is None:
            return []
        return [(p.sku, p.name) for p in intake.owned_products(session, customer)]


class ActionAskRepairProof(Action):
    """`action_ask_repair_proof`: ask for proof when the member system has no purchase."""

    def name(self) -> str:
        return "action_ask_repair_proof"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(
            text="会员系统里没查到这件工具的购买记录。请提供任一凭证：订单号、发票或小票照片"
            "（直接发图片）、机身铭牌上的序列号（如 RG-2405-012345）。都没有的话回复「没有」，"
            "按保修期外受理。"
        )
        return []


class ActionAskRepairStore(Action):
    """`action_ask_repair_store`: which store the customer will bring the tool to."""

    def name(self) -> str:
        return "action_ask_repair_store"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("repair_choices"):
            return []
        names = await asyncio.to_thread(_store_names)
        dispatcher.utter_message(text=f"送到哪家门店？{names}。回复门店名或所在区即可。")
        return []


def _store_names() -> str:
    with session_scope() as session:
        return intake.store_names(session)
