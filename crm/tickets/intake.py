"""Reading a repair request from what the customer types: which tool, how to send it, where,
a phone number, a dangerous battery."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.customers.models import Customer
from crm.knowledge.models import Product, Store
from crm.knowledge.products import BRANDS, KINDS, _mentions, codes, resolve
from crm.purchases import service as purchases

PHONE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
HAZARD_WORDS = (
    "鼓包",
    "冒烟",
    "起火",
    "着火",
    "烧焦",
    "焦味",
    "爆炸",
    "漏液",
    "发胀",
    "自燃",
    "融化",
)
METHODS = {
    "上门取件": ("上门", "取件", "来拿", "来取"),
    "寄修": ("寄修", "快递", "寄过去", "寄到", "邮寄", "寄回", "寄"),
    "到店": ("到店", "门店", "店里", "送店", "送到店", "自己送", "拿过去", "送过去"),
}
ORDINAL = re.compile(r"^\s*(?:第)?([1-9一二三四五六七八九])\s*(?:个|款|台|家|号)?\s*$")
CHINESE_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九", start=1)}
NOT_A_STORE = "JX-RC01"  # the repair centre takes mail-in repairs, not walk-ins


@dataclass(frozen=True)
class Identified:
    """A product the text names, or the candidates to ask between."""

    product: Product | None
    candidates: list[Product]


def phone_in(text: str) -> str | None:
    """A mainland mobile number written in the text."""
    match = PHONE_IN_TEXT.search(re.sub(r"[\s-]", "", text))
    return match.group(1) if match else None


BATTERY_WORDS = ("电池", "充电", "电瓶", "电芯")


def is_battery_hazard(text: str) -> bool:
    """A swollen, smoking, burning or leaking battery (or charger): safety comes first."""
    return any(w in text for w in HAZARD_WORDS) and any(w in text for w in BATTERY_WORDS)


def method_in(text: str) -> str | None:
    """到店 / 寄修 / 上门取件 as the customer puts it."""
    for method, words in METHODS.items():
        if any(word in text for word in words):
            return method
    return None


def picked_index(text: str) -> int | None:
    """«1», «第二个», «3号» → a 0-based index into a numbered list."""
    match = ORDINAL.match(text)
    if not match:
        return None
    value = match.group(1)
    return (int(value) if value.isdigit() else CHINESE_DIGITS[value]) - 1


def identify_product(session: Session, customer: Customer | None, text: str) -> Identified:
    """The product the customer names: by model code or name; by kind, preferring what the
    customer bought from us; several candidates when the text does not decide."""
    catalogue = list(session.scalars(select(Product)))
    found = resolve(catalogue, text)
    if len(found) == 1:
        return Identified(found[0], [])
    kinds = _mentions(text, KINDS)[:1]
    brands = _mentions(text, BRANDS)
    if not found and kinds:
        found = [
            p
            for p in catalogue
            if p.category in kinds and (not brands or any(p.brand.startswith(b) for b in brands))
        ]
    if customer is not None and found:
        owned = {p.sku for p in purchases.purchases_of(session, customer)}
        mine = [p for p in found if p.sku in owned]
        if len(mine) == 1:
            return Identified(mine[0], [])
        found = mine or found
    if len(found) == 1:
        return Identified(found[0], [])
    return Identified(None, found[:6])


def named_by_code(session: Session, text: str) -> Product | None:
    """The one product whose model code the text contains (SKU or model number)."""
    written = re.sub(r"[^A-Z0-9]", "", text.upper())
    hits = [p for p in session.scalars(select(Product)) if any(c in written for c in codes(p))]
    return hits[0] if len(hits) == 1 else None


def owned_products(session: Session, customer: Customer) -> list[Product]:
    """The distinct products the customer bought from us, most recent first."""
    seen: dict[str, Product] = {}
    for purchase in purchases.purchases_of(session, customer):
        product = session.get(Product, purchase.sku)
        if product is not None and purchase.sku not in seen:
            seen[purchase.sku] = product
    return list(seen.values())[:6]


def stores_for(session: Session, text: str) -> list[Store]:
    """Stores the text points at: by name or district (one), by city (several)."""
    stores = [s for s in session.scalars(select(Store).order_by(Store.id)) if s.id != NOT_A_STORE]
    by_name = [s for s in stores if _short_name(s) in text or s.id.lower() in text.lower()]
    if by_name:
        return by_name
    by_district = [s for s in stores if str(s.data.get("district", "-"))[:2] in text]
    if by_district:
        return by_district
    return [s for s in stores if s.city in text]


def _short_name(store: Store) -> str:
    """匠心五金·杭州拱墅旗舰店 → 拱墅旗舰店 / 滨江店: how customers name a store."""
    return store.name.split("·")[-1].removeprefix(store.city)


def store_names(session: Session) -> str:
    """「杭州：拱墅旗舰店、滨江店；宁波：鄞州店、江北店」 from the stores table."""
    by_city: dict[str, list[str]] = {}
    for store in session.scalars(select(Store).order_by(Store.id)):
        if store.id != NOT_A_STORE:
            by_city.setdefault(store.city, []).append(_short_name(store))
    return "；".join(f"{city}：{'、'.join(names)}" for city, names in by_city.items())
