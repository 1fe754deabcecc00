"""Answers an FAQ with the knowledge base's current answer, read from the database."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from crm.db import session_scope
from crm.errors import DomainError
from crm.knowledge.service import get_faq

log = logging.getLogger(__name__)


def selected_faq_id(tracker: Tracker) -> str | None:
    """The FAQ id (faq-001) the ResponseSelector picked for the latest message."""
    selector = tracker.latest_message.get("response_selector", {}).get("faq", {})
    key = selector.get("response", {}).get("intent_response_key") or ""
    prefix, _, faq_id = key.partition("/")
    return faq_id if prefix == "faq" and faq_id else None


def _answer(faq_id: str) -> str:
    with session_scope() as session:
        return get_faq(session, faq_id).answer


class ActionAnswerFaq(Action):
    """`action_answer_faq`: utter the answer of the FAQ the model selected."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        faq_id = selected_faq_id(tracker)
        if faq_id is None:
            dispatcher.utter_message(response="utter_faq_unknown")
            return []
        try:
            answer = await asyncio.to_thread(_answer, faq_id)
        except DomainError as exc:
            log.warning("FAQ %s not answerable: %s", faq_id, exc)
            dispatcher.utter_message(response="utter_faq_unknown")
            return []
        dispatcher.utter_message(response="utter_faq_answer", answer=answer)
        return []
