"""Text normalisation before understanding: what customers type -> what the model knows.

Steps, each switchable so `make eval` can measure what it gains:
  t2s       traditional -> simplified characters (OpenCC)
  width     full-width -> half-width (NFKC), lower-case Latin letters
  noise     emoji and symbols removed, repeated punctuation and spaces collapsed
  synonyms  nicknames and regional words -> the knowledge base's word (dicts/synonyms.yml)
  pinyin    homophone typos of domain words fixed by (fuzzy) pinyin: 保休 -> 保修
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import jieba
import opencc
import yaml
from pypinyin import Style, lazy_pinyin

DICTS = Path(__file__).resolve().parent.parent / "dicts"
STEPS = ("t2s", "width", "noise", "synonyms", "pinyin")

_REPEATED_PUNCT = re.compile(r"([!?,.~。！？，、…~\-])\1+")
_SPACES = re.compile(r"\s+")
_SKU = re.compile(
    r"(?<![a-z0-9])([a-z]{2})[\s\-_]?([a-z]{2})[\s\-_]?(\d{2,4}[a-z]{0,2})(?:[\s\-_]?(\d{2}))?"
    r"(?![a-z0-9])"
)
# Fuzzy initials and finals that customers (and voice input) confuse.
_FUZZY = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("ang", "an"), ("eng", "en"), ("ing", "in"))


@lru_cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache
def _synonyms() -> list[tuple[str, str]]:
    data = yaml.safe_load((DICTS / "synonyms.yml").read_text(encoding="utf-8"))["synonyms"]
    pairs = [(alias, canonical) for canonical, aliases in data.items() for alias in aliases]
    return sorted(pairs, key=lambda pair: -len(pair[0]))


def _fuzzy_key(text: str) -> tuple[str, ...]:
    keys = []
    for syllable in lazy_pinyin(text, style=Style.NORMAL, errors="default"):
        for a, b in _FUZZY:
            syllable = syllable.replace(a, b)
        keys.append(syllable)
    return tuple(keys)


@lru_cache
def _domain_words() -> frozenset[str]:
    """Words of the jieba user dictionary and the synonym targets (two characters or more)."""
    words = {
        line.split(" ")[0].strip()
        for file in DICTS.glob("*.txt")
        for line in file.read_text(encoding="utf-8").splitlines()
    }
    words.update(canonical for _, canonical in _synonyms())
    return frozenset(w for w in words if len(w) >= 2)


@lru_cache
def _vocabulary() -> dict[int, dict[tuple[str, ...], list[str]]]:
    """The Chinese domain words by length and fuzzy pinyin."""
    by_length: dict[int, dict[tuple[str, ...], list[str]]] = {}
    for word in sorted(_domain_words()):
        if all("\u4e00" <= ch <= "\u9fff" for ch in word):
            by_length.setdefault(len(word), {}).setdefault(_fuzzy_key(word), []).append(word)
    return by_length


def fix_homophones(text: str) -> str:
    """Replace a span that sounds like a domain word and shares a character with it.

    Exact domain words win over sound-alikes at the same position (电池保修 stays as it is).
    """
    vocab = _vocabulary()
    lengths = sorted(vocab, reverse=True)
    edges = _token_edges(text)
    out, i = [], 0
    while i < len(text):
        exact = next((n for n in lengths if text[i : i + n] in _domain_words()), 0)
        if exact:
            out.append(text[i : i + exact])
            i += exact
            continue
        for n in lengths:
            span = text[i : i + n]
            if len(span) < n or not all("\u4e00" <= ch <= "\u9fff" for ch in span):
                continue
            if i not in edges or i + n not in edges:
                continue  # would cut a real word: 几分钟 is not 积分钟
            word = _closest(span, vocab[n].get(_fuzzy_key(span), []))
            if word:
                out.append(word)
                i += n
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@lru_cache
def _general_tokenizer() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    return jieba.Tokenizer()  # jieba's own dictionary only: what counts as an ordinary word


def _token_edges(text: str) -> set[int]:
    edges, position = {0}, 0
    for token in _general_tokenizer().lcut(text, HMM=False):
        position += len(token)
        edges.add(position)
    return edges


def _closest(span: str, candidates: list[str]) -> str | None:
    """The sound-alike sharing the most characters with `span` (at least one; a tie: none)."""
    scored = sorted(((len(set(w) & set(span)), w) for w in candidates), reverse=True)
    if not scored or scored[0][0] == 0 or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return scored[0][1]


def _canonical_sku(match: re.Match[str]) -> str:
    parts = [match.group(1), match.group(2), match.group(3)] + (
        [match.group(4)] if match.group(4) else []
    )
    return "-".join(p.upper() for p in parts)


def _simplified(text: str) -> str:
    """Traditional -> simplified, to a fixed point: OpenCC maps a few rare characters in
    chains (苧 -> 苎 takes two passes)."""
    for _ in range(3):
        converted = _t2s().convert(text)
        if converted == text:
            break
        text = converted
    return text


def normalize(text: str, steps: Iterable[str] = STEPS) -> str:
    """`text` after the given normalisation steps, in their fixed order."""
    enabled = set(steps)
    if "t2s" in enabled:
        text = _simplified(text)
    if "width" in enabled:
        text = unicodedata.normalize("NFKC", text).lower()
    if "noise" in enabled:
        text = "".join(
            ch for ch in text if unicodedata.category(ch) not in ("So", "Sk", "Cs", "Co")
        )
        text = text.replace("\ufe0f", "")
        text = _REPEATED_PUNCT.sub(r"\1", text)
        text = _SPACES.sub(" ", text).strip()
    if "synonyms" in enabled:
        for alias, canonical in _synonyms():
            if alias in text and canonical not in text:
                text = text.replace(alias, canonical)
    if "pinyin" in enabled:
        text = fix_homophones(text)
    if "width" in enabled:  # last: on the text as it ends up, so a second pass finds the same
        text = _SKU.sub(_canonical_sku, text)
    return text
