"""FAQ answers: the ResponseSelector and the lexical retriever decide together; a close call is
asked back (「您是想问：」) and the customer's pick answered. Answers are read from the database."""

from __future__ import annotations

import asyncio
import logging
import re
from functools import lru_cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.tickets import rate_pending, say_rating
from crm.db import session_scope
from crm.errors import DomainError
from crm.knowledge.answering import answers_from_faq, rank_question
from crm.knowledge.models import Faq
from crm.knowledge.products import answer_product_question
from crm.knowledge.retriever import FaqRetriever, question_bank
from crm.knowledge.service import get_faq, list_questions

log = logging.getLogger(__name__)
ORDINALS = {
    "1": 0,
    "一": 0,
    "第一": 0,
    "前": 0,
    "上": 0,
    "2": 1,
    "二": 1,
    "第二": 1,
    "后": 1,
    "下": 1,
}


@lru_cache(maxsize=1)
def _retriever(questions: tuple[tuple[str, str], ...]) -> FaqRetriever:
    return FaqRetriever(question_bank(dict(questions)))


def product_fact(text: str) -> str | None:
    """The product answer for `text`, if it asks a fact about a few identifiable products."""
    with session_scope() as session:
        found = answer_product_question(session, text)
        return found.text if found else None


def _decide(text: str, parse: dict[str, Any]) -> tuple[str, list[Faq]]:
    """What the FAQ says to this message: `answer`, `clarify` or `unknown`, and the FAQs."""
    with session_scope() as session:
        questions = tuple(sorted(list_questions(session).items()))
        _, decision = rank_question(_retriever(questions), text, parse)
        if not answers_from_faq(str(parse.get("intent", {}).get("name")), decision):
            return "unknown", []
        faqs = [get_faq(session, faq_id) for faq_id in decision.faq_ids]
        session.expunge_all()
        return decision.kind, faqs


def faq_reply(
    dispatcher: CollectingDispatcher, text: str, parse: dict[str, Any]
) -> list[Any] | None:
    """Answer from the FAQ, or ask which of two was meant; None when the FAQ has no answer."""
    try:
        kind, faqs = _decide(text, parse)
    except DomainError as exc:
        log.warning("FAQ not answerable: %s", exc)
        return None
    if kind == "answer":
        dispatcher.utter_message(response="utter_faq_answer", answer=faqs[0].answer)
        return [SlotSet("faq_choices", None)]
    if kind == "clarify":
        options = "\n".join(f"{n}. {faq.question}" for n, faq in enumerate(faqs, start=1))
        dispatcher.utter_message(response="utter_faq_clarify", options=options)
        return [SlotSet("faq_choices", [faq.id for faq in faqs])]
    return None


def _answer(faq_id: str) -> str:
    with session_scope() as session:
        return get_faq(session, faq_id).answer


class ActionAnswerFaq(Action):
    """`action_answer_faq`: answer the FAQ both rankers point at, or ask between two."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        text = str(tracker.latest_message.get("text") or "")
        fact = await asyncio.to_thread(product_fact, text)
        if fact:
            dispatcher.utter_message(response="utter_product_answer", answer=fact)
            return [SlotSet("faq_choices", None)]
        events = await asyncio.to_thread(faq_reply, dispatcher, text, tracker.latest_message)
        if events is None:
            dispatcher.utter_message(response="utter_faq_unknown")
            return []
        return events


def picked(text: str, choices: list[str], questions: dict[str, str]) -> str | None:
    """The FAQ id the customer picked: «1», «第二个», «后面那个», or the question's text."""
    stripped = re.sub(r"[\s，。！？,.!?吧呀嗯对是我问想的个条号选那]", "", text)
    for faq_id in choices:
        if questions.get(faq_id) and questions[faq_id] in text:
            return faq_id
    for word, index in sorted(ORDINALS.items(), key=lambda item: -len(item[0])):
        if stripped.startswith(word) and index < len(choices):
            return choices[index]
    return None


class ActionPickFaq(Action):
    """`action_pick_faq`: the customer answered 「您是想问：」 with a number or a question."""

    def name(self) -> str:
        return "action_pick_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        choices = list(tracker.get_slot("faq_choices") or [])
        text = str(tracker.latest_message.get("text") or "")
        questions = await asyncio.to_thread(_questions)
        faq_id = picked(text, choices, questions) if choices else None
        if faq_id is None:
            # A bare «5» may answer the rating question of a completed repair.
            rating = None if choices else await asyncio.to_thread(rate_pending, tracker)
            if rating is not None:
                return say_rating(dispatcher, rating)
            dispatcher.utter_message(response="utter_default")
            return []
        dispatcher.utter_message(
            response="utter_faq_answer", answer=await asyncio.to_thread(_answer, faq_id)
        )
        return [SlotSet("faq_choices", None)]


def _questions() -> dict[str, str]:
    with session_scope() as session:
        return list_questions(session)
