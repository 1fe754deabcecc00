"""A lexical FAQ retriever: BM25 over jieba words plus character bigrams, one document per
known phrasing of each FAQ (its canonical question and the training paraphrases)."""

from __future__ import annotations

import itertools
import logging
from functools import lru_cache
from pathlib import Path

import jieba
import numpy as np
import yaml
from rank_bm25 import BM25Okapi

ROOT = Path(__file__).resolve().parents[2]
STOP = set("的了吗呢啊吧呀么嘛哦噢我你您们是在有和就都也还要想请问下个这那怎么什么")


@lru_cache
def domain_tokenizer() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    for file in sorted((ROOT / "dicts").glob("*.txt")):
        tokenizer.load_userdict(str(file))
    return tokenizer


def tokens(text: str) -> list[str]:
    """Words (jieba, domain dictionary) and character bigrams, without filler characters."""
    words = [w for w in domain_tokenizer().lcut(text.lower()) if w.strip() and w not in STOP]
    chars = [c for c in text.lower() if c.strip() and c not in STOP and c.isalnum()]
    return words + [a + b for a, b in itertools.pairwise(chars)]


def question_bank(
    questions: dict[str, str], nlu_dir: Path = ROOT / "nlu_data" / "nlu"
) -> dict[str, list[str]]:
    """faq id -> its phrasings: the canonical question plus every `faq/<id>` training example."""
    bank = {faq_id: [question] for faq_id, question in questions.items()}
    for file in sorted(nlu_dir.glob("*.yml")):
        for block in yaml.safe_load(file.read_text(encoding="utf-8")).get("nlu", []):
            intent = str(block.get("intent", ""))
            if intent.startswith("faq/") and intent[4:] in bank:
                examples = str(block.get("examples", ""))
                bank[intent[4:]] += [
                    line.strip()[2:].strip()
                    for line in examples.splitlines()
                    if line.strip().startswith("- ")
                ]
    return bank


class FaqRetriever:
    """Ranks FAQs for a question by their best-matching phrasing.

    rank_bm25 fits the model (idf with its floor, document lengths); its `get_scores` then walks
    every phrasing in Python for each word of the question: 8 ms a question on the bench's
    machine, in the action server's turn, for 2,149 phrasings. The same terms are kept here per
    word instead, computed once: the phrasings holding it and what it adds to their score, so a
    question costs one small numpy addition per word, with the same scores."""

    def __init__(self, bank: dict[str, list[str]]) -> None:
        self.owner: list[str] = []
        documents: list[list[str]] = []
        for faq_id, phrasings in bank.items():
            for phrasing in phrasings:
                self.owner.append(faq_id)
                documents.append(tokens(phrasing))
        self.bm25 = BM25Okapi(documents, k1=1.2, b=0.75)
        self._postings = _postings(self.bm25)

    def scores(self, query: list[str]) -> np.ndarray:
        """BM25Okapi.get_scores(query) of every phrasing, from the postings."""
        score = np.zeros(self.bm25.corpus_size)
        for word in query:
            posting = self._postings.get(word)
            if posting is not None:
                score[posting[0]] += posting[1]
        return score

    def rank(self, text: str, top: int = 10) -> list[tuple[str, float]]:
        """(faq id, score) best first; score is BM25 of the FAQ's best phrasing."""
        query = tokens(text)
        if not query:
            return []
        scores = self.scores(query)
        best: dict[str, float] = {}
        for index in np.flatnonzero(scores > 0):  # in order: ties keep their order
            owner, score = self.owner[index], float(scores[index])
            if score > best.get(owner, 0.0):
                best[owner] = score
        return sorted(best.items(), key=lambda item: -item[1])[:top]


def _postings(bm25: BM25Okapi) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """word -> (the phrasings holding it, its BM25Okapi term in each), by rank_bm25's formula."""
    found: dict[str, tuple[list[int], list[float]]] = {}
    for index, frequencies in enumerate(bm25.doc_freqs):
        norm = bm25.k1 * (1 - bm25.b + bm25.b * bm25.doc_len[index] / bm25.avgdl)
        for word, tf in frequencies.items():
            term = (bm25.idf.get(word) or 0) * (tf * (bm25.k1 + 1) / (tf + norm))
            docs, terms = found.setdefault(word, ([], []))
            docs.append(index)
            terms.append(term)
    return {w: (np.array(d, dtype=np.intp), np.array(t)) for w, (d, t) in found.items()}
