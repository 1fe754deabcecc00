"""Product facts from products.yml: find the product a customer means (SKU, model, brand +
voltage + kind, nickname) and answer price, warranty, package, specs or compatibility."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.knowledge.models import Product

BRANDS = {
    "锐工": ["锐工", "ruigong"],
    "博世": ["博世", "bosch"],
    "牧田": ["牧田", "makita"],
    "得伟": ["得伟", "dewalt"],
    "东成": ["东成"],
    "史丹利": ["史丹利", "stanley"],
}
KINDS = {
    "电钻": ["手电钻", "锂电钻", "电钻"],
    "冲击钻": ["冲击钻"],
    "电锤": ["电锤"],
    "角磨机": ["角磨机"],
    "电圆锯": ["电圆锯"],
    "曲线锯": ["曲线锯"],
    "高压清洗机": ["高压清洗机"],
    "园艺工具": ["绿篱机"],
    "锂电池包": ["电池"],
    "充电器": ["充电器"],
}
ASPECTS = {
    "price": [
        "多少钱",
        "价格",
        "售价",
        "几块钱",
        "多钱",
        "贵不贵",
        "价钱",
        "卖多少",
        "啥价",
        "什么价",
        "卖几多",
        "几多钱",
        "报价",
    ],
    "warranty": ["保修", "质保", "保多久", "保几", "保多长", "包修", "保几年"],
    "package": [
        "带不带",
        "含不含",
        "包含",
        "有没有电池",
        "送电池",
        "带电池",
        "配电池",
        "单机",
        "清单",
        "配件",
        "里面有什么",
        "送不送",
        "附带",
        "给几块",
        "配几块",
        "几根",
        "带几",
        "带什么",
        "有什么东西",
    ],
    "specs": [
        "参数",
        "功率",
        "扭力",
        "扭距",
        "转速",
        "多重",
        "重量",
        "电压",
        "冲击能量",
        "规格",
        "几伏",
        "多少伏",
        "多少瓦",
        "容量",
        "重不重",
        "重吗",
        "沉不沉",
        "安时",
        "几安",
        "多少安",
        "几焦",
    ],
    "compatibility": [
        "能装",
        "兼容",
        "通用",
        "能用",
        "装到",
        "配什么电池",
        "用什么电池",
        "用哪",
        "用啥",
        "哪些工具",
        "能充",
        "插得上",
        "能不能上",
        "行不行",
        "能给",
        "装在",
        "适配",
        "配套",
    ],
}
_CODE_IN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9\-]*(?:\s+[0-9][A-Za-z0-9\-]*)?")
_WATTS = re.compile(r"(\d{3,4})\s*(?:w|瓦)", re.IGNORECASE)
_AMP_HOURS = re.compile(r"(\d\.\d)\s*(?:ah|安)?", re.IGNORECASE)
MAX_LISTED = 4  # more matches than this: too vague to list, the FAQ answers instead
_VOLTAGE = re.compile(r"(\d{2})\s*(?:v|伏)", re.IGNORECASE)


@dataclass(frozen=True)
class ProductAnswer:
    """The text to say and the products it is about."""

    text: str
    skus: tuple[str, ...]


def aspect_of(text: str) -> str | None:
    """What the customer wants to know: the aspect whose wording comes last (Chinese puts the
    question at the end: 「不带电池多重」 asks the weight)."""
    best: tuple[int, str] | None = None
    for name, words in ASPECTS.items():
        for word in words:
            at = text.rfind(word)
            if at >= 0 and (best is None or at + len(word) > best[0]):
                best = (at + len(word), name)
    return best[1] if best else None


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
    """Products the text points at: by model code, else by brand, kind, voltage, power and
    capacity. `brands` restricts the search (the first brand of a cross-brand question)."""
    only = _mentions(text, BRANDS) if brands is None else brands
    allowed = [p for p in products if brands is None or any(p.brand.startswith(b) for b in only)]
    written = _alnum(text)
    by_code = [p for p in allowed if any(code in written for code in codes(p))]
    if by_code:
        longest = max(len(c) for p in by_code for c in codes(p) if c in written)
        return [p for p in by_code if any(len(c) == longest and c in written for c in codes(p))]
    kinds = _mentions(text, KINDS)[:1]  # the first thing named is the subject
    voltage = _VOLTAGE.search(text)
    if not kinds or not (only or voltage):
        return []
    found = [
        p
        for p in allowed
        if p.category in kinds
        and (not only or any(p.brand.startswith(b) for b in only))
        and (not voltage or p.data.get("specs", {}).get("voltage_v") == int(voltage.group(1)))
    ]
    return _narrow(found, text)


def _narrow(found: list[Product], text: str) -> list[Product]:
    """Keep the products whose power or battery capacity the text also gives, if any does."""
    for pattern, key in ((_WATTS, "power_w"), (_AMP_HOURS, "battery_ah")):
        match = pattern.search(text)
        if match:
            value = float(match.group(1))
            narrowed = [p for p in found if p.data.get("specs", {}).get(key) == value]
            found = narrowed or found
    return found


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
    brands = _mentions(text, BRANDS)
    if aspect == "compatibility" and len(brands) >= 2:
        # 「牧田18v电池能装博世吗」: the first brand is the product, the second the other platform.
        found = resolve(products, text, brands[:1])
        if 1 <= len(found) <= MAX_LISTED:
            return ProductAnswer(_cross_brand(found, brands[1]), tuple(p.sku for p in found))
    found = resolve(products, text)
    if not 1 <= len(found) <= MAX_LISTED:
        return None
    others = [b for b in brands if not found[0].brand.startswith(b)]
    if aspect == "compatibility" and len(found) == 1 and others:
        return ProductAnswer(_cross_brand(found, others[0]), (found[0].sku,))
    compose: dict[str, Callable[[Product], str]] = {
        "price": _price,
        "warranty": _warranty,
        "package": _package,
        "specs": _specs,
        "compatibility": lambda p: _compatibility(p, products),
    }
    return ProductAnswer("\n".join(compose[aspect](p) for p in found), tuple(p.sku for p in found))


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
    return f"{p.name}（{p.sku}）包装内容：{p.data.get('package', '以实物为准')}。"


SPEC_LABELS = [
    ("voltage_v", "电压 {}V"),
    ("power_w", "功率 {}W"),
    ("motor", "{}电机"),
    ("max_torque_nm", "最大扭力 {} N·m"),
    ("no_load_rpm", "空载转速 {} rpm"),
    ("impact_energy_j", "冲击能量 {} J"),
    ("battery_ah", "容量 {}Ah"),
    ("weight_kg", "重量 {} kg"),
]


def _specs(p: Product) -> str:
    specs = p.data.get("specs") or {}
    parts = [label.format(specs[key]) for key, label in SPEC_LABELS if key in specs]
    if "weight_note" in specs and "weight_kg" in specs:
        parts[-1] += f"（{specs['weight_note']}）"
    return f"{p.name}（{p.sku}）主要参数：{'，'.join(parts) or '详见商品页'}。"


def _names(skus: list[str], products: list[Product]) -> str:
    by_sku = {p.sku: p for p in products}
    return "、".join(f"{by_sku[s].name}（{s}）" for s in skus if s in by_sku) or "暂无"


def _compatibility(p: Product, products: list[Product]) -> str:
    if p.category in ("锂电池包", "充电器"):
        return (
            f"{p.name}（{p.sku}）适用于：{_names(p.data.get('compatible_tools') or [], products)}。"
        )
    batteries = _names(p.data.get("compatible_batteries") or [], products)
    chargers = _names(p.data.get("compatible_chargers") or [], products)
    return f"{p.name}（{p.sku}）可用电池：{batteries}；充电器：{chargers}。"


def _cross_brand(found: list[Product], brand: str) -> str:
    names = "、".join(f"{p.name}（{p.sku}）" for p in found)
    return (
        f"不能通用。{names}属于{found[0].brand.split()[0]}的电池平台，和{brand}的卡口与保护电路"
        "都不一样，各品牌电池平台互不通用；使用转接头或非原装电池造成的损坏不在保修范围。"
    )
