"""Who answers a stored push: the bot, or the human who owns the conversation."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from bot.normalize import normalize
from bot.plans import Plan
from bot.wechat import Push
from crm.conversations import service as conversations
from crm.conversations.models import Conversation
from crm.errors import NotFound
from crm.handoff import service as handoffs
from crm.handoff.replies import CANCEL_WORDS
from crm.handoff.triggers import COMPLAINT_WORDS, angry, asks_for_human

# Punctuation a customer may wrap a short «返回» in.
_TRIM = " \t\r\n。.!！~～,，"


def route(session: Session, conversation: Conversation, push: Push, plan: Plan) -> tuple[Plan, str]:
    """The plan for this push and the back-office event it causes ("" for none)."""
    text = push.text or ""
    if conversation.state in handoffs.OPEN:
        if conversation.state == "queued" and text.strip(_TRIM) in CANCEL_WORDS:
            said = handoffs.cancel_by_customer(session, conversation)
            return Plan(say=said), "cancelled"
        # The human answers: the bot neither replies nor hears it (fixed texts of events stay).
        return replace(plan, ask=None, intent=None), "message"
    # Normalised once here; the bot is asked with the same text.
    words = normalize(text) if text else ""
    reason = straight_to_human(words) if words else None
    if reason:
        _, said = handoffs.open_handoff(session, conversation, reason)
        return Plan(say=said), "queued"
    return for_the_bot(plan, words if plan.ask == text else None), ""


def for_the_bot(plan: Plan, words: str | None = None) -> Plan:
    """`plan` with its question normalised as the bot is asked it (`words`: already done)."""
    if not plan.ask:
        return plan
    return replace(plan, ask=(words or normalize(plan.ask)) or plan.ask)


def straight_to_human(text: str) -> str | None:
    """Why this message goes straight to a human without asking the bot, if it does."""
    if angry(text):
        return "anger"
    if asks_for_human(text):
        return "complaint" if any(word in text for word in COMPLAINT_WORDS) else "asked"
    return None


def open_for(session: Session, appid: str, openid: str, reason: str) -> str:
    """An action asked for a human for this user: queue them; what to tell them."""
    conversation = conversations.conversation_of(session, appid, openid)
    if conversation is None:
        raise NotFound(f"{openid} has no conversation")
    _, said = handoffs.open_handoff(session, conversation, reason)
    return said


def resumed(session: Session, appid: str, openid: str) -> None:
    """Rasa was resumed for this user's conversation."""
    conversation = conversations.conversation_of(session, appid, openid)
    if conversation is not None:
        conversation.bot_paused = False
