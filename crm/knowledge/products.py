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
    "compatibility": [
        "能装",
        "兼容",
        "通用",
        "能用在",
        "能用到",
        "装到",
        "配什么电池",
        "用什么电池",
        "用哪个充电器",
        "哪些工具",
        "能充",
    ],
    "price": ["多少钱", "价格", "售价", "几块", "多钱", "贵不贵", "价钱", "卖多少"],
    "warranty": ["保修", "质保", "保多久", "包修"],
    "package": [
        "带不带",
        "含不含",
        "包含",
        "有没有电池",
        "送电池",
        "带电池",
        "配电池",
        "单机",
        "套装",
        "清单",
        "配件",
        "里面有什么",
    ],
    "specs": [
        "参数",
        "功率",
        "扭力",
        "转速",
        "多重",
        "重量",
        "电压",
        "冲击能量",
        "规格",
        "几伏",
        "多少瓦",
        "容量",
        "重不重",
        "重吗",
        "沉不沉",
    ],
}
MAX_LISTED = 4  # more matches than this: too vague to list, the FAQ answers instead
_VOLTAGE = re.compile(r"(\d{2})\s*(?:v|伏)", re.IGNORECASE)


@dataclass(frozen=True)
class ProductAnswer:
    """The text to say and the products it is about."""

    text: str
    skus: tuple[str, ...]


def aspect_of(text: str) -> str | None:
    """What the customer wants to know about a product, if it is one of the known aspects."""
    return next((name for name, words in ASPECTS.items() if any(w in text for w in words)), None)


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
    """Products the text points at: by SKU or model code, else by brand, voltage and kind."""
    upper = text.upper()
    by_sku = [p for p in products if p.sku in upper]
    if not by_sku:
        by_sku = [
            p
            for p in products
            if len(p.sku.split("-", 1)[1]) >= 5 and p.sku.split("-", 1)[1] in upper
        ]
    if by_sku:
        return sorted(by_sku, key=lambda p: -len(p.sku))[:2]
    brands = _mentions(text, BRANDS) if brands is None else brands
    kinds = _mentions(text, KINDS)
    voltage = _VOLTAGE.search(text)
    if not kinds or not (brands or voltage):
        return []
    return [
        p
        for p in products
        if p.category in kinds
        and (not brands or any(p.brand.startswith(b) for b in brands))
        and (not voltage or p.data.get("specs", {}).get("voltage_v") == int(voltage.group(1)))
    ]


def answer_product_question(session: Session, text: str) -> ProductAnswer | None:
    """A product fact for `text`, or None when it is not about a few identifiable products."""
    aspect = aspect_of(text)
    if aspect is None:
        return None
    products = list(session.scalars(select(Product)))
    brands = _mentions(text, BRANDS)
    if aspect == "compatibility" and len(brands) >= 2:
        # 「牧田18v电池能装博世吗」: the first brand is the product, the second the other platform.
        found = resolve(products, text, brands[:1])
        if 1 <= len(found) <= MAX_LISTED:
            return ProductAnswer(_cross_brand(found, brands[1]), tuple(p.sku for p in found))
    found = resolve(products, text)
    if not 1 <= len(found) <= MAX_LISTED:
        return None
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
