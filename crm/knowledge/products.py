"""Product facts from products.yml: find the product a customer means (model code, or kind +
brand / size, words derived from the catalogue in crm/knowledge/vocabulary.py) and answer
price, warranty, package, specs or compatibility."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.knowledge.models import Product
from crm.knowledge.vocabulary import (
    ALIASES,
    REPAIR_WORDS,
    SPECS,
    Mention,
    brand_of,
    has_number,
    numbers_in,
    vocabulary,
)
from crm.knowledge.vocabulary import BRANDS as BRANDS
from crm.knowledge.vocabulary import aspect_of as aspect_of

# Catalogue word -> the words naming it, for callers without the catalogue (resolve() derives more).
KINDS = {word: [word, *aliases] for word, aliases in ALIASES.items()}
MAX_LISTED = 4  # more matches than this: too vague to list, the FAQ answers instead
DEFAULT_SPECS: tuple[str, ...] = ("voltage_v", "power_w", "motor", "max_torque_nm", "no_load_rpm")
DEFAULT_SPECS += ("impact_energy_j", "battery_ah", "weight_kg")
VALUE_NAMES = {"wood": "木材", "steel": "钢材", "brick": "砖", "concrete": "混凝土"}
VALUE_NAMES |= {"aluminium": "铝材", "deg90": "90°", "deg45": "45°"}
LINKS = [("compatible_tools", "适用工具"), ("compatible_batteries", "配套电池")]
LINKS += [("compatible_chargers", "配套充电器"), ("compatible_accessories", "可配附件")]
# Before a kind named as an accessory, not the subject: 「带电池的」「配哪款电池」.
_ACCESSORY_BEFORE = re.compile(
    r"(?:带|送|含|配|附|赠)(?:不带|没带)?[了个块只根把的几哪款什么啥]{0,2}$"
)
# After the subject, these bring in another thing: 「电池能装20V的机器」.
_OBJECT_VERB = re.compile(r"能装|装[到在上得进]|插|给|用|配|充|放[到在进上]|接|换")
_CODE_IN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9\-]*(?:\s+[0-9][A-Za-z0-9\-]*)?")


@dataclass(frozen=True)
class ProductAnswer:
    """The text to say and the products it is about."""

    text: str
    skus: tuple[str, ...]


def _alnum(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def codes(product: Product) -> set[str]:
    """How customers write this product's model: SKU, SKU without brand, model code in name."""
    found = {_alnum(product.sku)}
    suffix = _alnum(product.sku.split("-", 1)[1])
    candidates = [suffix, *(_alnum(m) for m in _CODE_IN_NAME.findall(product.name))]
    for code in candidates:
        if len(code) >= 5 and re.search("[A-Z]", code) and re.search("[0-9]", code):
            found.add(code)
    return found


def _mentions(text: str, table: dict[str, list[str]]) -> list[str]:
    """Keys of `table` mentioned in `text`, in the order they appear."""
    lowered = text.lower()
    found = []
    for key, words in table.items():
        positions = [lowered.find(w) for w in words if w in lowered]
        if positions:
            found.append((min(positions), key))
    return [key for _, key in sorted(found)]


def resolve(products: list[Product], text: str, brands: list[str] | None = None) -> list[Product]:
    """Products the text points at: by model code, else by the kind it names first, narrowed by
    brand, sizes and name words. `brands` restricts the search (a cross-brand question)."""
    return _resolve(products, text, brands)[0]


def _by_code(products: list[Product], text: str) -> list[Product]:
    """The products of the model code written first (the longest code there)."""
    written = _alnum(text)
    first: dict[str, tuple[int, int]] = {}
    for p in products:
        hits = [(written.find(c), -len(c)) for c in codes(p) if c in written]
        if hits:
            first[p.sku] = min(hits)
    best = min(first.values(), default=None)
    return [p for p in products if best is not None and first.get(p.sku) == best]


def _resolve(
    products: list[Product], text: str, brands: list[str] | None = None
) -> tuple[list[Product], bool]:
    """(products, whether the text names them closely enough to answer: a code, or a kind with
    a brand or size, or a brand with a size)."""
    allowed = [p for p in products if brands is None or brand_of(p) in brands]
    by_code = _by_code(allowed, text)
    if by_code:
        return by_code, True
    text = text.lower()
    mentions = vocabulary(products).mentions(text)
    kinds = [m for m in mentions if m.skus]
    subject = next((m for m in kinds if not _accessory(text, m)), None)
    start, end = _segment(mentions, subject, len(text))
    # Past a verb (「能装20v的机器」) or before another thing named (「用20V的快充」) brands, sizes
    # and words describe that other thing.
    verb = _OBJECT_VERB.search(text, subject.end, end) if subject else None
    if verb:
        end = verb.start()
    elif subject and end < len(text):
        end = subject.end
    named = {m.brand for m in mentions if m.brand and start <= m.start < end}
    found = [p for p in allowed if (not named or brand_of(p) in named)]
    if subject is not None:
        found = [p for p in found if p.sku in subject.skus]
    elif not named:
        return [], False
    found, sized = _by_numbers(products, found, text, start, end, subject)
    around = text[start : subject.start] + " " + text[subject.end : end] if subject else text[:end]
    found = _by_words(products, found, around)
    if subject is None:
        return (found, True) if sized == "unit" else ([], False)
    return found, sized != "wrong" and bool(named or sized)


def _accessory(text: str, mention: Mention) -> bool:
    """A kind named as something included or fitted: 「带电池的」「有充电器吗」「配哪款电池」."""
    if _ACCESSORY_BEFORE.search(text[: mention.start]):
        return True
    asked = text[mention.end : mention.end + 1] in ("吗", "不", "么", "没", "")  # 有电池吗
    return text[: mention.start].endswith("有") and asked


def _segment(mentions: list[Mention], subject: Mention | None, length: int) -> tuple[int, int]:
    """The part of the text about the subject: from the kind named before it to the next kind
    or the next other brand (「锐工12V电池用20V的快充」 「牧田18v电池能装博世」)."""
    kinds = [m for m in mentions if m.skus]
    pivot = subject.start if subject else 0
    start = max((m.end for m in kinds if m.end <= pivot), default=0)
    after = subject.end if subject else start
    seen: set[str] = set()
    for m in mentions:
        if m.start < start:
            continue
        if m.start >= after and ((m.skus and m is not subject) or (m.brand and seen - {m.brand})):
            return start, m.start
        if m.brand:
            seen.add(m.brand)
    return start, length


def _by_numbers(
    products: list[Product],
    found: list[Product],
    text: str,
    start: int,
    end: int,
    subject: Mention | None,
) -> tuple[list[Product], str]:
    """Keep the products with the sizes the text gives (any of several: 「4.0的和2.0的」). Says
    whether a size with a unit or a bare one matched, or a voltage none of them has ("wrong")."""
    numbers = vocabulary(products).numbers
    sized = ""
    by_unit: dict[str | None, list[tuple[str | None, float]]] = {}
    for at, until, unit, digits in numbers_in(text):
        # A bare whole number only when written onto the kind: 「185电圆锯」, not 「满800减100」.
        glued = subject is not None and (until == subject.start or at == subject.end)
        if start <= at < end and (unit or "." in digits or glued):
            by_unit.setdefault(unit, []).append((unit, float(digits)))
    for unit, values in by_unit.items():
        kept = [p for p in found if any(has_number(numbers[p.sku], u, v) for u, v in values)]
        if kept:
            sized, found = ("unit" if unit else sized or "bare"), kept
        elif unit == "V":
            return found, "wrong"
    return found, sized


def _by_words(products: list[Product], found: list[Product], text: str) -> list[Product]:
    """Keep the products with the most of the name words the text uses (无刷, 套装, 木工)."""
    words = vocabulary(products).words
    score = {p.sku: sum(p.sku in skus for w, skus in words.items() if w in text) for p in found}
    best = max(score.values(), default=0)
    return [p for p in found if score[p.sku] == best] if best else found


def answer_product_question(session: Session, text: str) -> ProductAnswer | None:
    """A product fact for `text`, or None when it is not about a few identifiable products."""
    if aspect_of(text) is None:
        return None
    return answer_from(list(session.scalars(select(Product))), text)


def answer_from(products: list[Product], text: str) -> ProductAnswer | None:
    """answer_product_question over a given catalogue (the evaluation uses the files)."""
    aspect = aspect_of(text)
    if aspect is None:
        return None
    vocab = vocabulary(products)
    brands = list(dict.fromkeys(m.brand for m in vocab.mentions(text.lower()) if m.brand))
    if aspect == "compatibility" and len(brands) >= 2:
        # 「牧田18v电池能装博世吗」: the first brand is the product, the second the other platform.
        found, specific = _resolve(products, text, brands[:1])
        if specific and 1 <= len(found) <= MAX_LISTED and all(map(_on_platform, found)):
            return ProductAnswer(_cross_brand(found, brands[1]), tuple(p.sku for p in found))
    found, specific = _resolve(products, text)
    listed = specific and 1 <= len(found) <= MAX_LISTED
    if not listed or _other_question(aspect, text, found, products):
        return None
    others = [b for b in brands if b != brand_of(found[0])]
    if aspect == "compatibility" and len(found) == 1 and others and _on_platform(found[0]):
        return ProductAnswer(_cross_brand(found, others[0]), (found[0].sku,))
    compose: dict[str, Callable[[Product], str]] = {
        "price": _price,
        "warranty": _warranty,
        "package": _package,
        "specs": lambda p: _specs(p, text),
        "compatibility": lambda p: _compatibility(p, products),
    }
    return ProductAnswer("\n".join(compose[aspect](p) for p in found), tuple(p.sku for p in found))


def _on_platform(p: Product) -> bool:
    """A battery, charger or cordless tool: one brand's battery platform (drill bits are not)."""
    voltage = (p.data.get("specs") or {}).get("voltage_v") or 0
    return bool(p.data.get("compatible_batteries") or p.data.get("compatible_chargers")) or (
        0 < voltage < 100
    )


def _other_question(aspect: str, text: str, found: list[Product], products: list[Product]) -> bool:
    """Left to the FAQ: a repair (「坏了修要多少钱」) unless it asks the warranty; a fit that
    names no second thing nor asks which (「这券买锐工电锤能用吗」); whether platforms mix
    (「12V和20V电池通用吗」, 「20v电池能装绿篱机吗」 finding several brands)."""
    if aspect != "warranty" and any(w in text for w in REPAIR_WORDS):
        return True
    if aspect != "compatibility":
        return False
    mentions = vocabulary(products).mentions(text)
    written = _alnum(text)
    things = sum(bool(m.skus) for m in mentions) + sum(
        any(c in written for c in codes(p)) for p in products
    )
    brands = {m.brand for m in mentions if m.brand}
    if things < 2 and len(brands) < 2 and not re.search("哪|什么|啥", text):
        return True
    voltages = {(p.data.get("specs") or {}).get("voltage_v") for p in found}
    written_voltage = any(unit == "V" for _, _, unit, _ in numbers_in(text.lower()))
    return len({brand_of(p) for p in found}) > 1 or (written_voltage and len(voltages) > 1)


def _price(p: Product) -> str:
    return (
        f"{p.name}（{p.sku}）售价 {_yuan(p)} 元，门店和小程序同价；会员折扣、优惠券和积分抵扣另计。"
    )


def _yuan(p: Product) -> str:
    return f"{p.price_yuan:.0f}" if p.price_yuan == int(p.price_yuan) else f"{p.price_yuan:.2f}"


def _warranty(p: Product) -> str:
    w = p.data.get("warranty") or {}
    if w.get("consumables"):
        return f"{p.name}（{p.sku}）属于易损耗材，不在保修范围内。"
    parts = []
    if w.get("whole_unit_months"):
        parts.append(f"整机保修 {w['whole_unit_months']} 个月")
    if w.get("motor_months"):
        parts.append(f"电机保修 {w['motor_months']} 个月")
    if w.get("battery_months"):
        parts.append(f"电池和充电器保修 {w['battery_months']} 个月")
    note = f"（{w['note']}）" if w.get("note") else ""
    return f"{p.name}（{p.sku}）{'，'.join(parts) or '保修以购买凭证为准'}{note}。"


def _package(p: Product) -> str:
    return f"{p.name}（{p.sku}）包装内容：{p.data.get('package') or '以实物为准'}。"


def _specs(p: Product, text: str) -> str:
    """The specs the text asks for first, then the main ones (all there are, if few)."""
    specs = p.data.get("specs") or {}
    labels = {key: label for key, label, _ in SPECS}
    asked = [key for key, _, words in SPECS if any(w in text for w in words)]
    keys = [k for k in dict.fromkeys([*asked, *DEFAULT_SPECS]) if k in specs]
    keys += [k for k in labels if k in specs and k not in keys] if len(keys) < 3 else []
    parts = [labels[k].format(_value(specs[k])) for k in keys]
    if "weight_note" in specs and "weight_kg" in keys:
        parts[keys.index("weight_kg")] += f"（{specs['weight_note']}）"
    return f"{p.name}（{p.sku}）主要参数：{'，'.join(parts) or '详见商品页'}。"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "支持" if value else "不支持"
    if isinstance(value, dict):
        return "／".join(f"{VALUE_NAMES.get(k, k)} {v}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def _names(skus: list[str], products: list[Product]) -> str:
    by_sku = {p.sku: p for p in products}
    return "、".join(f"{by_sku[s].name}（{s}）" for s in skus if s in by_sku) or "暂无"


def _compatibility(p: Product, products: list[Product]) -> str:
    parts = [f"{label}：{_names(p.data[k], products)}" for k, label in LINKS if p.data.get(k)]
    return f"{p.name}（{p.sku}）{'；'.join(parts) or '不用电池和充电器，没有专门配套的型号'}。"


def _cross_brand(found: list[Product], brand: str) -> str:
    names = "、".join(f"{p.name}（{p.sku}）" for p in found)
    return (
        f"不能通用。{names}属于{found[0].brand.split()[0]}的电池平台，和{brand}的卡口与保护电路"
        "都不一样，各品牌电池平台互不通用；使用转接头或非原装电池造成的损坏不在保修范围。"
    )
