"""Deciding which FAQ answers a question: Rasa's ResponseSelector and the lexical retriever
ranked together (reciprocal-rank fusion), then answer, ask which one, or admit we don't know."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm.knowledge.retriever import FaqRetriever

RRF_K = 5  # small k: the first places of each ranking matter most
CLARIFY_RATIO = 0.8  # the second is this close to the first: ask which one was meant


@dataclass(frozen=True)
class FaqDecision:
    """`answer` one FAQ, `clarify` between two, or `unknown`."""

    kind: str
    faq_ids: tuple[str, ...]
    score: float
    agreed: bool = False  # both rankers put the same FAQ first


def selector_ranking(parse: dict[str, Any]) -> list[tuple[str, float]]:
    """(faq id, confidence) from a Rasa parse result's `response_selector.faq.ranking`."""
    ranking = parse.get("response_selector", {}).get("faq", {}).get("ranking", [])
    out = []
    for item in ranking:
        key = str(item.get("intent_response_key", ""))
        if key.startswith("faq/"):
            out.append((key[4:], float(item.get("confidence", 0.0))))
    return out


def fuse(*rankings: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion of several rankings, best first."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, (faq_id, _) in enumerate(ranking[:10]):
            scores[faq_id] = scores.get(faq_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(scores.items(), key=lambda item: -item[1])


def decide(selector: list[tuple[str, float]], lexical: list[tuple[str, float]]) -> FaqDecision:
    """Answer when the two rankers agree or one FAQ clearly leads; else ask between two."""
    fused = fuse(selector, lexical)
    if not fused:
        return FaqDecision("unknown", (), 0.0)
    top_id, top_score = fused[0]
    agree = bool(selector and lexical and selector[0][0] == lexical[0][0])
    if agree or len(fused) == 1 or fused[1][1] < CLARIFY_RATIO * top_score:
        return FaqDecision("answer", (top_id,), top_score, agree)
    return FaqDecision("clarify", (top_id, fused[1][0]), top_score)


def answers_from_faq(intent: str, decision: FaqDecision) -> bool:
    """Whether the FAQ answers: the classifier said `faq`, or it was unsure (`nlu_fallback`, not
    `out_of_scope`) while the ResponseSelector and the lexical retriever agree on one FAQ."""
    return intent == "faq" or (intent == "nlu_fallback" and decision.agreed)


def rank_question(
    retriever: FaqRetriever, text: str, parse: dict[str, Any]
) -> tuple[list[tuple[str, float]], FaqDecision]:
    """The fused ranking and the decision for one parsed message."""
    selector = selector_ranking(parse)
    lexical = retriever.rank(text)
    return fuse(selector, lexical), decide(selector, lexical)
