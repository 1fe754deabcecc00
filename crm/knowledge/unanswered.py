"""The questions the bot could not answer: customer texts its reply said it did not understand."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session, aliased

from crm.conversations.models import Message
from crm.db import as_utc
from crm.errors import KnowledgeBaseError
from crm.knowledge.models import ResolvedQuestion

CORE_DOMAIN = Path(__file__).resolve().parents[2] / "domain" / "core.yml"
NOT_UNDERSTOOD = ("utter_faq_unknown", "utter_default", "utter_out_of_scope")
KEY_LENGTH = 200  # the length of ResolvedQuestion.question_key
DROPPED = "PZSC"  # Unicode classes left out of a key: punctuation, spaces, symbols, controls


@dataclass(frozen=True)
class UnansweredQuestion:
    """One question with its repeats: the latest wording, how often, when last asked."""

    key: str
    text: str
    count: int
    last_asked_at: datetime


@lru_cache(maxsize=1)
def not_understood_texts(path: Path = CORE_DOMAIN) -> frozenset[str]:
    """Every text of the «not understood» responses of the Rasa domain, as the bot sends them."""
    responses = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {}
    texts: set[str] = set()
    for name in NOT_UNDERSTOOD:
        variants = responses.get(name)
        if not variants:
            raise KnowledgeBaseError(path.name, name, "response is missing")
        texts.update(str(variant.get("text", "")).strip() for variant in variants)
    return frozenset(texts - {""})


def question_key(text: str) -> str:
    """The text compared for repeats: width-folded, lower-case, no punctuation or spaces."""
    folded = unicodedata.normalize("NFKC", text).lower()
    kept = (c for c in folded if unicodedata.category(c)[0] not in DROPPED)
    return "".join(kept)[:KEY_LENGTH]


def top_unanswered(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    conversations: Select[int] | None = None,
) -> list[UnansweredQuestion]:
    """Questions asked in [since, until) the bot did not understand, not yet turned into an FAQ;
    the most frequent first, then the most recent (only in `conversations`, when given)."""
    reply = aliased(Message)
    failed = exists().where(
        reply.reply_to_id == Message.id,
        reply.direction == "out",
        reply.staff_id.is_(None),
        reply.content.in_(not_understood_texts()),
    )
    stmt = select(Message.content, Message.created_at).where(
        Message.direction == "in", Message.msg_type == "text", failed
    )
    if since is not None:
        stmt = stmt.where(Message.created_at >= since)
    if until is not None:
        stmt = stmt.where(Message.created_at < until)
    if conversations is not None:
        stmt = stmt.where(Message.conversation_id.in_(conversations))
    resolved = set(session.scalars(select(ResolvedQuestion.question_key)))
    groups: dict[str, UnansweredQuestion] = {}
    rows = session.execute(stmt.order_by(Message.created_at, Message.id))
    for content, created_at in rows:
        key = question_key(content)
        if not key or key in resolved:
            continue
        seen = groups.get(key)
        count = seen.count + 1 if seen else 1
        groups[key] = UnansweredQuestion(key, content.strip(), count, as_utc(created_at))
    ranked = sorted(groups.values(), key=lambda q: (-q.count, -q.last_asked_at.timestamp()))
    return ranked[:limit]


def resolved_faq(session: Session, question: str) -> str | None:
    """The FAQ id an unanswered question was turned into, if it was."""
    return session.scalar(
        select(ResolvedQuestion.faq_id).where(
            ResolvedQuestion.question_key == question_key(question)
        )
    )
