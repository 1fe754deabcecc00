"""Reading the customer's latest message the same way in every form."""

from __future__ import annotations

from rasa_sdk import Tracker

CONFIDENT = 0.6  # below this the classifier's intent is not acted on


def text_of(tracker: Tracker) -> str:
    """What the customer just wrote (normalised by the channel)."""
    return str(tracker.latest_message.get("text") or "")


def confident_intent(tracker: Tracker) -> str:
    """The latest message's intent, or '' when the classifier is not sure enough."""
    intent = tracker.latest_message.get("intent") or {}
    if float(intent.get("confidence") or 0) < CONFIDENT:
        return ""
    return str(intent.get("name") or "")
