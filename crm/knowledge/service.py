"""Storing the validated knowledge base and reading answers from it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm.errors import NotFound
from crm.knowledge.loader import KnowledgeBase
from crm.knowledge.models import Faq, Product, Rule, Store
from crm.knowledge.schemas import ProductEntry


@dataclass(frozen=True)
class LoadSummary:
    """How many entries of each kind a load wrote."""

    faqs: int
    products: int
    stores: int
    rules: int


def product_row(entry: ProductEntry) -> Product:
    """The stored form of a products.yml entry (the full entry is kept in `data`)."""
    return Product(
        sku=entry.sku,
        name=entry.name,
        brand=entry.brand,
        series=entry.series,
        category=entry.category,
        price_yuan=entry.price_yuan,
        data=entry.model_dump(mode="json"),
    )


def replace_all(session: Session, kb: KnowledgeBase) -> LoadSummary:
    """Replace the stored knowledge base with `kb` in the caller's unit of work."""
    for model in (Faq, Product, Store, Rule):
        session.execute(delete(model))
    session.add_all(
        Faq(
            id=f.id,
            category=f.category,
            question=f.question,
            answer=f.answer,
            skus=f.skus,
            refs=f.refs,
        )
        for f in kb.faqs
    )
    session.add_all(product_row(p) for p in kb.products)
    session.add_all(
        Store(
            id=s.id,
            name=s.name,
            city=s.city,
            address=s.address,
            phone=s.phone,
            latitude=s.latitude,
            longitude=s.longitude,
            data=s.model_dump(mode="json"),
        )
        for s in kb.stores
    )
    session.add_all(
        Rule(
            id=r.entry.id,
            source=r.source,
            section=r.section,
            text=r.entry.text,
            data=r.entry.model_dump(mode="json"),
        )
        for r in kb.rules
    )
    session.flush()
    return LoadSummary(len(kb.faqs), len(kb.products), len(kb.stores), len(kb.rules))


def get_faq(session: Session, faq_id: str) -> Faq:
    """One FAQ by id (faq-001)."""
    faq = session.get(Faq, faq_id)
    if faq is None:
        raise NotFound(f"FAQ {faq_id} is not in the knowledge base")
    return faq


def count_faqs(session: Session) -> int:
    """How many FAQs are loaded (0 means the knowledge base was never loaded)."""
    return session.scalar(select(func.count()).select_from(Faq)) or 0


def nearest_stores(
    session: Session, latitude: float, longitude: float
) -> list[tuple[Store, float]]:
    """Stores with coordinates, nearest first, with the distance in kilometres."""
    stores = session.scalars(select(Store).where(Store.latitude.is_not(None))).all()
    ranked = [
        (store, haversine_km(latitude, longitude, store.latitude or 0.0, store.longitude or 0.0))
        for store in stores
    ]
    return sorted(ranked, key=lambda pair: pair[1])


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def list_questions(session: Session) -> dict[str, str]:
    """faq id -> canonical question, for every loaded FAQ."""
    return dict(session.execute(select(Faq.id, Faq.question)).tuples().all())
