"""The back office's FAQ work: search, edit, and create (often from an unanswered question).

The bot reads FAQs from the database, so a change is answered at once by the lexical retriever;
Rasa's ResponseSelector is trained from faq.yml only and never learns back-office FAQs.
"""

from __future__ import annotations

import re

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.db import utcnow
from crm.errors import Conflict, InvalidInput
from crm.knowledge.models import Faq, ResolvedQuestion
from crm.knowledge.schemas import FAQ_CATEGORIES
from crm.knowledge.service import get_faq
from crm.knowledge.unanswered import question_key, resolved_faq

QUESTION_LENGTH = (4, 100)
# A WeChat text reply holds 2048 bytes: 600 Chinese characters stay well inside it.
ANSWER_LENGTH = (10, 600)
BACKOFFICE_ID = re.compile(r"^faq-bo-(\d+)$")
SEARCH_LIMIT = 200


def search_faqs(session: Session, text: str = "", category: str = "") -> list[Faq]:
    """FAQs whose id, question or answer contains `text`, of one category if given, by id."""
    stmt = select(Faq).order_by(Faq.id).limit(SEARCH_LIMIT)
    if text.strip():
        needle = text.strip()
        stmt = stmt.where(
            or_(
                Faq.id.icontains(needle, autoescape=True),
                Faq.question.icontains(needle, autoescape=True),
                Faq.answer.icontains(needle, autoescape=True),
            )
        )
    if category:
        stmt = stmt.where(Faq.category == category)
    return list(session.scalars(stmt))


def update_faq(
    session: Session, faq_id: str, question: str, answer: str, staff_username: str
) -> Faq:
    """Change an FAQ's question and answer (file FAQs too: a later load keeps the edit)."""
    faq = get_faq(session, faq_id)
    question, answer = _checked(question, answer)
    if (question, answer) == (faq.question, faq.answer):
        return faq  # nothing changed: a file FAQ stays the file's
    _check_new_question(session, question, faq_id)
    faq.question, faq.answer = question, answer
    faq.updated_by, faq.updated_at = staff_username, utcnow()
    session.flush()
    return faq


def create_faq(
    session: Session,
    question: str,
    answer: str,
    category: str,
    staff_username: str,
    from_unanswered: str | None = None,
) -> Faq:
    """A new back-office FAQ (faq-bo-001, ...); `from_unanswered` leaves the unanswered list."""
    question, answer = _checked(question, answer)
    if category not in FAQ_CATEGORIES:
        raise InvalidInput(f"没有「{category}」这个分类")
    _check_new_question(session, question, None)
    source = (from_unanswered or "").strip()
    if source and (done := resolved_faq(session, source)):
        raise Conflict(f"这个问题已经转为 FAQ {done}，请勿重复提交")
    faq = Faq(
        id=_next_id(session),
        category=category,
        question=question,
        answer=answer,
        skus=[],
        refs=[],
        origin="backoffice",
        updated_by=staff_username,
        updated_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(faq)
            if question_key(source):
                session.add(
                    ResolvedQuestion(
                        question_key=question_key(source),
                        question=source,
                        faq_id=faq.id,
                        created_by=staff_username,
                    )
                )
            session.flush()
    except IntegrityError as exc:
        raise Conflict("刚刚有人提交了同样的内容（或同时新建了 FAQ），请刷新后再试") from exc
    return faq


def _checked(question: str, answer: str) -> tuple[str, str]:
    question, answer = question.strip(), answer.strip()
    for label, value, (low, high) in (
        ("问题", question, QUESTION_LENGTH),
        ("答案", answer, ANSWER_LENGTH),
    ):
        if not low <= len(value) <= high:
            raise InvalidInput(f"{label}需要 {low} 到 {high} 个字，现在是 {len(value)} 个字")
    return question, answer


def _check_new_question(session: Session, question: str, faq_id: str | None) -> None:
    """Two FAQs with the same question would split the retriever's votes: refused."""
    key = question_key(question)
    for other_id, other in session.execute(select(Faq.id, Faq.question)):
        if other_id != faq_id and question_key(other) == key:
            raise Conflict(f"FAQ {other_id} 已经是这个问题了，请直接修改它")


def _next_id(session: Session) -> str:
    taken = session.scalars(select(Faq.id).where(Faq.id.startswith("faq-bo-")))
    numbers = [int(m.group(1)) for faq_id in taken if (m := BACKOFFICE_ID.match(faq_id))]
    return f"faq-bo-{max(numbers, default=0) + 1:03d}"
