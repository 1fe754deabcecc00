"""Not understood or out of scope: say so politely; the second time in a row, a human takes over."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import faq_reply, product_fact
from actions.handoff import hand_over
from actions.tickets import rate_pending, say_rating

# What the bot says when it did not understand; said twice in a row, a human takes over.
FALLBACK_REPLIES = {"utter_default", "utter_out_of_scope", "utter_faq_unknown"}


def previous_reply_was_fallback(tracker: Tracker) -> bool:
    """Whether the bot's last reply before the current message said it did not understand."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return False
            seen_user = True
        elif seen_user and event.get("event") == "bot":
            return (event.get("metadata") or {}).get("utter_action") in FALLBACK_REPLIES
    return False


class ActionFallback(Action):
    """`action_fallback`: the out-of-scope or not-understood answer, escalating on repeat."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
        # A bare «4» the classifier could not place may answer a pending rating question.
        rating = await asyncio.to_thread(rate_pending, tracker) if len(text) <= 8 else None
        if rating is not None:
            return say_rating(dispatcher, rating)
        fact = await asyncio.to_thread(product_fact, text)
        if fact:  # a product question the intent classifier did not recognise
            dispatcher.utter_message(response="utter_product_answer", answer=fact)
            return []
        # Unsure of the intent, but both FAQ rankers agree: that FAQ answers.
        answered = await asyncio.to_thread(faq_reply, dispatcher, text, tracker.latest_message)
        if answered is not None:
            return answered
        if previous_reply_was_fallback(tracker):
            return hand_over(dispatcher, "fallback")
        elif tracker.latest_message.get("intent", {}).get("name") == "out_of_scope":
            dispatcher.utter_message(response="utter_out_of_scope")
        else:
            dispatcher.utter_message(response="utter_default")
        return []
