"""Stores: the nearest one to a location the customer sent."""

from __future__ import annotations

import asyncio

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from crm.db import session_scope
from crm.knowledge.nearby import NO_STORE_NEARBY, nearest_store_text


def location_of(tracker: Tracker) -> tuple[float, float] | None:
    """(latitude, longitude) of a location message (sent as the share_location intent)."""
    found = {e.get("entity"): e.get("value") for e in tracker.latest_message.get("entities", [])}
    try:
        return float(found["latitude"]), float(found["longitude"])
    except (KeyError, TypeError, ValueError):
        return None


def _text(where: tuple[float, float] | None) -> str:
    if where is None:
        return NO_STORE_NEARBY
    with session_scope() as session:
        return nearest_store_text(session, *where)


class ActionNearestStore(Action):
    """`action_nearest_store`: the store nearest to the location the customer sent."""

    def name(self) -> str:
        return "action_nearest_store"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text=await asyncio.to_thread(_text, location_of(tracker)))
        return []
