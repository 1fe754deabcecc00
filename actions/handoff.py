"""`action_handoff` and the other ways an action hands the customer to a human."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.turns import text_of
from crm.handoff.triggers import COMPLAINT_WORDS


def hand_over(dispatcher: CollectingDispatcher, reason: str) -> list[EventType]:
    """Ask the gateway for a human (it queues and tells the customer) and pause the bot."""
    dispatcher.utter_message(json_message={"handoff": reason})
    return [ConversationPaused()]


class ActionHandoff(Action):
    """`action_handoff`: the customer asked for a human, or complained."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        text = text_of(tracker)
        return hand_over(
            dispatcher, "complaint" if any(w in text for w in COMPLAINT_WORDS) else "asked"
        )
