"""bot.normalize under fuzzing: any text a push can carry is normalised without error, and
normalising twice changes nothing (checked over many thousand inputs before being asserted)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.normalize import STEPS, normalize
from tests.fuzz.conftest import budget, fuzzed

# What customers type: domain words, their nicknames and typos, SKUs, emoji, full-width
# forms, traditional characters, mixed with anything else Unicode has (but lone surrogates,
# which no parsed push can hold: bot.wechat refuses them).
WORDS = [
    "电池",
    "电瓶",
    "电池块",
    "保修",
    "保休",
    "积份",
    "发漂",
    "手枪钻",
    "優惠卷",
    "冲电",
    "几分钟",
]
FORMS = [
    "ＲＧ－ＤＲ－２０ＢＬ",
    "rg dr 20bl",
    "RG_DR_20",
    "😭",
    "👍🏻",
    "？？？",
    "!!",
    "～～",
    "\u3000",
]
ODD = ["電池保修多久", "İ", "ǅ", "ﬁ", "\ufe0f", "\u200b", "\x00", "\r\n", "\ufffe"]
PIECES = st.sampled_from([*WORDS, *FORMS, *ODD])
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
TEXT = st.lists(PIECES | st.text(CJK, max_size=4) | st.text(max_size=6), max_size=10).map("".join)


@budget(300)
@given(text=TEXT, steps=st.sets(st.sampled_from(STEPS)))
def test_normalise_never_raises_and_is_idempotent(text: str, steps: set[str]) -> None:
    fuzzed("normalize")
    once = normalize(text, steps)
    assert isinstance(once, str)
    assert normalize(once, steps) == once
