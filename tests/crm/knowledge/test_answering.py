"""Ranking FAQs: the lexical retriever, fusion with the ResponseSelector, and the decision."""

from __future__ import annotations

from pathlib import Path

from actions.faq import picked
from crm.knowledge.answering import answers_from_faq, decide, fuse, selector_ranking
from crm.knowledge.loader import load_knowledge_base
from crm.knowledge.retriever import FaqRetriever, question_bank, tokens

KB = Path(__file__).resolve().parents[3] / "knowledge_base"


def test_retriever_finds_the_faq_of_a_paraphrase() -> None:
    kb = load_knowledge_base(KB)
    retriever = FaqRetriever(question_bank({f.id: f.question for f in kb.faqs}))
    assert retriever.rank("电池保修几个月")[0][0] == "faq-017"
    assert retriever.rank("") == []


def test_retriever_scores_are_rank_bm25s_own() -> None:
    """The precomputed postings give exactly what BM25Okapi.get_scores walks every phrasing
    for, a repeated word counted twice and an unknown one not at all."""
    kb = load_knowledge_base(KB)
    bank = question_bank({f.id: f.question for f in kb.faqs})
    retriever = FaqRetriever(bank)
    questions = [p for phrasings in bank.values() for p in phrasings][::25]
    questions += ["电池电池保修多久", "量子纠缠", "的"]
    for question in questions:
        query = tokens(question)
        assert retriever.scores(query).tolist() == retriever.bm25.get_scores(query).tolist()


def test_tokens_mix_words_and_character_bigrams() -> None:
    out = tokens("电池保修多久")
    assert "保修" in out and "电池" in out and "修多" in out


def test_agreement_answers_and_a_close_call_is_asked() -> None:
    selector = [("faq-017", 0.4), ("faq-012", 0.3)]
    assert decide(selector, [("faq-017", 9.0), ("faq-028", 5.0)]).kind == "answer"
    close = decide(selector, [("faq-012", 9.0), ("faq-017", 8.5)])
    assert close.kind == "clarify" and set(close.faq_ids) == {"faq-017", "faq-012"}
    assert decide([], []).kind == "unknown"


def test_fusion_rewards_both_rankers() -> None:
    fused = fuse([("a", 0.9), ("b", 0.1)], [("b", 5.0), ("a", 4.0), ("c", 1.0)])
    assert [f for f, _ in fused][:2] in (["a", "b"], ["b", "a"])
    assert fused[-1][0] == "c"


def test_selector_ranking_reads_rasa_parse_output() -> None:
    parse = {
        "response_selector": {
            "faq": {
                "ranking": [
                    {"intent_response_key": "faq/faq-017", "confidence": 0.6},
                    {"intent_response_key": "faq/faq-012", "confidence": 0.2},
                ]
            }
        }
    }
    assert selector_ranking(parse) == [("faq-017", 0.6), ("faq-012", 0.2)]
    assert selector_ranking({}) == []


def test_a_pick_by_number_ordinal_or_text() -> None:
    choices, questions = ["faq-017", "faq-012"], {"faq-017": "电池保修多久", "faq-012": "锐工保修"}
    assert picked("1", choices, questions) == "faq-017"
    assert picked("第二个", choices, questions) == "faq-012"
    assert picked("嗯 后面那个吧", choices, questions) == "faq-012"
    assert picked("我问的是锐工保修", choices, questions) == "faq-012"
    assert picked("3", choices, questions) is None


def test_an_unsure_intent_is_answered_only_when_both_rankers_agree() -> None:
    agreed = decide([("faq-009", 0.5)], [("faq-009", 12.0), ("faq-002", 3.0)])
    apart = decide([("faq-009", 0.5), ("faq-002", 0.1)], [("faq-002", 12.0), ("faq-009", 3.0)])
    assert agreed.agreed and not apart.agreed
    assert answers_from_faq("faq", apart)
    assert answers_from_faq("nlu_fallback", agreed)
    assert not answers_from_faq("nlu_fallback", apart)
    assert not answers_from_faq("out_of_scope", agreed)
    assert not answers_from_faq("greet", agreed)
