"""Editing and creating FAQs in the back office, and what a later load of faq.yml keeps of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.errors import Conflict, InvalidInput, NotFound
from crm.knowledge.answering import rank_question
from crm.knowledge.editing import create_faq, search_faqs, update_faq
from crm.knowledge.loader import KnowledgeBase, load_knowledge_base
from crm.knowledge.models import Faq, ResolvedQuestion
from crm.knowledge.retriever import FaqRetriever, question_bank
from crm.knowledge.service import get_faq, list_questions, replace_all
from crm.knowledge.unanswered import resolved_faq

KB = Path(__file__).resolve().parents[3] / "knowledge_base"
NEW_ANSWER = "电池保修 12 个月，自购买之日起计算；凭小票或电子发票到任一门店办理即可。"
DRILL_Q = "电钻可以在瓷砖上打孔吗？"
DRILL_A = "可以。请换用瓷砖专用钻头，关闭冲击功能、低速起钻，并用胶带贴住打孔位置防止打滑。"


def file_kb(answers: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> KnowledgeBase:
    """faq.yml as shipped, with some answers changed and some FAQs dropped."""
    kb = load_knowledge_base(KB)
    answers = answers or {}
    kb.faqs = [
        f.model_copy(update={"answer": answers[f.id]} if f.id in answers else {})
        for f in kb.faqs
        if f.id not in drop
    ]
    return kb


def test_update_changes_the_answer_the_bot_reads(db: Session) -> None:
    before = get_faq(db, "faq-017")
    file_answer = before.answer
    update_faq(db, "faq-017", f"  {before.question} ", f"{NEW_ANSWER}\n", "chen")
    faq = get_faq(db, "faq-017")
    assert (faq.answer, faq.updated_by, faq.origin) == (NEW_ANSWER, "chen", "file")
    assert faq.updated_at is not None and faq.file_answer == file_answer


def test_saving_the_same_text_is_not_an_edit(db: Session) -> None:
    faq = get_faq(db, "faq-003")
    update_faq(db, "faq-003", faq.question, faq.answer, "chen")
    assert (faq.updated_by, faq.updated_at) == (None, None)


def test_update_refusals_change_nothing(db: Session) -> None:
    faq = get_faq(db, "faq-017")
    question, answer = faq.question, faq.answer
    with pytest.raises(InvalidInput, match="答案需要 10 到 600 个字，现在是 3 个字"):
        update_faq(db, "faq-017", question, "6个月", "chen")
    with pytest.raises(InvalidInput, match="问题需要 4 到 100 个字"):
        update_faq(db, "faq-017", "   ", answer, "chen")
    with pytest.raises(InvalidInput, match="现在是 601 个字"):
        update_faq(db, "faq-017", question, "长" * 601, "chen")
    with pytest.raises(Conflict, match="FAQ faq-001 已经是这个问题了"):
        update_faq(db, "faq-017", get_faq(db, "faq-001").question + " ", answer, "chen")
    with pytest.raises(NotFound):
        update_faq(db, "faq-999", question, answer, "chen")
    db.expire_all()
    faq = get_faq(db, "faq-017")
    assert (faq.question, faq.answer, faq.updated_by) == (question, answer, None)


def test_created_faqs_get_numbered_ids_and_are_answered_at_once(db: Session) -> None:
    first = create_faq(db, DRILL_Q, DRILL_A, "usage_tips", "chen", None)
    second = create_faq(db, "门店可以代客安装吊扇吗", DRILL_A + "（安装另计）", "stores", "li")
    assert (first.id, second.id) == ("faq-bo-001", "faq-bo-002")
    assert (first.origin, first.updated_by, first.skus, first.refs) == (
        "backoffice",
        "chen",
        [],
        [],
    )
    assert list_questions(db)["faq-bo-001"] == DRILL_Q
    retriever = FaqRetriever(question_bank(list_questions(db)))
    assert retriever.rank("电钻能在瓷砖上打孔吗")[0][0] == "faq-bo-001"
    _, decision = rank_question(retriever, "电钻能在瓷砖上打孔吗", {})
    assert decision.faq_ids[0] == "faq-bo-001"


def test_create_refusals(db: Session) -> None:
    with pytest.raises(InvalidInput, match="没有「paint」这个分类"):
        create_faq(db, DRILL_Q, DRILL_A, "paint", "chen", None)
    with pytest.raises(InvalidInput, match="答案需要"):
        create_faq(db, DRILL_Q, "", "usage_tips", "chen", None)
    with pytest.raises(Conflict, match="faq-017"):
        create_faq(db, get_faq(db, "faq-017").question, DRILL_A, "warranty", "chen", None)
    assert db.scalars(select(Faq).where(Faq.origin == "backoffice")).all() == []


def test_an_unanswered_question_is_turned_into_one_faq_only(db: Session) -> None:
    faq = create_faq(db, DRILL_Q, DRILL_A, "usage_tips", "chen", "电钻 能打瓷砖吗？？")
    link = db.scalars(select(ResolvedQuestion)).one()
    assert (link.question_key, link.question, link.faq_id) == (
        "电钻能打瓷砖吗",
        "电钻 能打瓷砖吗？？",
        faq.id,
    )
    assert resolved_faq(db, "电钻能打瓷砖吗") == faq.id
    with pytest.raises(Conflict, match=f"已经转为 FAQ {faq.id}"):
        create_faq(db, "瓷砖能用电钻打孔吗", DRILL_A, "usage_tips", "li", "电钻能打瓷砖吗!")
    assert len(search_faqs(db, "瓷砖", "usage_tips")) == 1


def test_search_by_text_id_and_category(db: Session) -> None:
    assert len(search_faqs(db)) == 90
    assert len(search_faqs(db, category="points")) == 9
    assert [f.id for f in search_faqs(db, "faq-017")] == ["faq-017"]
    percent = search_faqs(db, "%")  # a literal %, not a LIKE wildcard
    assert 0 < len(percent) < 90
    assert all("%" in f.question + f.answer for f in percent)


def test_a_load_keeps_backoffice_faqs_and_unchallenged_edits(db: Session) -> None:
    created = create_faq(db, DRILL_Q, DRILL_A, "usage_tips", "chen", "电钻能打瓷砖吗")
    update_faq(db, "faq-017", get_faq(db, "faq-017").question, NEW_ANSWER, "chen")
    summary = replace_all(db, file_kb())
    assert (summary.faqs, summary.backoffice_kept) == (90, 1)
    assert (summary.edits_kept, summary.edits_replaced) == (("faq-017",), ())
    assert get_faq(db, "faq-017").answer == NEW_ANSWER
    assert get_faq(db, created.id).answer == DRILL_A
    assert resolved_faq(db, "电钻能打瓷砖吗") == created.id


def test_a_load_with_new_file_text_replaces_the_edit_and_says_so(db: Session) -> None:
    update_faq(db, "faq-017", get_faq(db, "faq-017").question, NEW_ANSWER, "chen")
    update_faq(db, "faq-020", get_faq(db, "faq-020").question, NEW_ANSWER + "（二）", "chen")
    changed = "文件中的新答案：电池保修 18 个月，凭购买凭证到任一门店办理。"
    summary = replace_all(db, file_kb({"faq-017": changed, "faq-005": changed}, drop=("faq-020",)))
    assert (summary.faqs, summary.edits_kept, summary.edits_replaced) == (
        89,
        (),
        ("faq-017", "faq-020"),
    )
    faq = get_faq(db, "faq-017")
    assert (faq.answer, faq.file_answer, faq.updated_by, faq.updated_at) == (
        changed,
        changed,
        None,
        None,
    )
    assert get_faq(db, "faq-005").answer == changed  # never edited: simply the file's
    with pytest.raises(NotFound):
        get_faq(db, "faq-020")
