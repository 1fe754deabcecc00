"""The customer's answer to 「有没有进水、摔落或私自拆修过？」 read as POL-WAR-013 exclusions."""

from __future__ import annotations

import re

EXCLUSIONS: dict[str, str] = {
    "water": "进水/受潮",
    "drop": "摔落/撞击",
    "opened": "私自拆机或在非授权点维修",
}
_KEYWORDS = {
    "water": re.compile(
        r"进.{0,2}水|泡.{0,2}水|浸|掉.{0,3}水|落水|沾水|溅水|受潮|返潮|潮湿|淋|雨|湿"
    ),
    # 「掉到水里」 is water, 「掉电」 is a battery symptom: neither is a drop.
    "drop": re.compile(
        r"摔|跌|撞|砸|磕|挤压|压坏|坠|落地|外壳.{0,3}[裂破]|掉(?:到|在|下|地|了|过)(?!.{0,2}水|电)"
    ),
    "opened": re.compile(
        r"拆|开过壳|开壳|开盖|打开过|打开看"
        r"|(?:自己|自行|私自|外面|别处|别的地方|其他地方|路边|街边|小店|找人).{0,4}修"
        r"|修理(?:店|铺|部)|维修(?:店|铺|部)|修过"
    ),
}
# Repairs by the chain or a brand's own service are allowed (POL-WAR-013 ③).
_AUTHORISED = re.compile(r"你们|匠心|维修中心|授权|官方|售后")
# 「也」「还」 start a new statement: 「没进水也拆过」 negates only the first.
_CLAUSE = re.compile(r"[，,。.；;！!？?\s]+|但是|但|不过|可是|只是|而且|并且|也|还|又")
_NEGATION_BEFORE = re.compile(r"没|未(?!经)|不曾|不是|从不")  # not 「不」: 「不小心摔了」
_NEGATION_AFTER = re.compile(r"^[过了的]*[也都]?(?:没有|没|未)[过有]?[啊呀吧的哦]*$")
_UNSURE = re.compile(r"不知道|不清楚|不记得|忘了|不确定|记不清|说不准|不好说")
_NO = re.compile(r"没|无|否|不是|正常|都好|^不$|^no")


def parse_exclusions(text: str) -> list[str] | None:
    """Exclusion keys the answer admits ([] for a clear no); None when it cannot be read."""
    found: set[str] = set()
    denied = False
    for clause in _CLAUSE.split(text.strip().lower()):
        for key, pattern in _KEYWORDS.items():
            for match in pattern.finditer(clause):
                if _negated(clause, match.start(), match.end()) or _authorised(key, clause):
                    denied = True
                else:
                    found.add(key)
    if found:
        return [key for key in EXCLUSIONS if key in found]
    if _UNSURE.search(text):
        return None
    return [] if denied or _NO.search(text.strip().lower()) else None


def _negated(clause: str, start: int, end: int) -> bool:
    return bool(_NEGATION_BEFORE.search(clause[:start]) or _NEGATION_AFTER.match(clause[end:]))


def _authorised(key: str, clause: str) -> bool:
    return key == "opened" and "拆" not in clause and bool(_AUTHORISED.search(clause))
