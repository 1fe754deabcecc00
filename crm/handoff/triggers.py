"""Signs that the bot should step aside: an explicit request for a human, or anger."""

from __future__ import annotations

import re

# Words that on their own mean the customer has had enough (a threat to escalate elsewhere).
STRONG = ("骗子", "黑店", "12315", "消协", "曝光你们", "忍无可忍", "欺骗消费者", "投诉到", "工商局")
# Words that signal anger when two of them come together (or with «！！»).
WEAK = (
    "垃圾",
    "太差",
    "差劲",
    "气死",
    "坑人",
    "坑爹",
    "无语",
    "恶心",
    "退钱",
    "再也不",
    "什么破",
    "破玩意",
    "烂",
    "骗人",
    "愤怒",
    "气愤",
    "忽悠",
    "耍我",
    "搞什么",
    "太过分",
)
# Unmistakable requests for a person, whatever else the message says (paraphrases such as
# «叫你们经理来» are the NLU model's job).
ASK_HUMAN = re.compile(r"转人工|人工客服|真人客服|找真人|人工服务|接人工|转接人工")
COMPLAINT_WORDS = ("投诉", "举报", "差评")
EXCLAIMS = re.compile(r"[!！]{2,}|[?？]{3,}")


def angry(text: str) -> bool:
    """True when `text` reads as an angry complaint (lexicon based; false negatives are fine,
    the customer can still ask for a human, but a false positive would hand over a calm one)."""
    if any(word in text for word in STRONG):
        return True
    hits = sum(1 for word in WEAK if word in text) + (1 if EXCLAIMS.search(text) else 0)
    return hits >= 2


def asks_for_human(text: str) -> bool:
    """True when `text` plainly asks for a person («转人工，电钻保修的问题»)."""
    return ASK_HUMAN.search(text) is not None
