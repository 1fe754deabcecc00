"""Storing the validated knowledge base and reading answers from it."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm.errors import NotFound
from crm.knowledge.loader import KnowledgeBase
from crm.knowledge.models import Faq, Product, Rule, Store
from crm.knowledge.schemas import FaqEntry, ProductEntry


@dataclass(frozen=True)
class LoadSummary:
    """How many entries of each kind a load wrote, and what became of back-office FAQ work."""

    faqs: int
    products: int
    stores: int
    rules: int
    backoffice_kept: int = 0  # FAQs created in the back office, left as they are
    edits_kept: tuple[str, ...] = ()  # file FAQs whose back-office text was kept
    edits_replaced: tuple[str, ...] = ()  # back-office edits the file's new text replaced


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
    """Replace the stored knowledge base with `kb` (FAQs merged, see merge_faqs); flush only."""
    for model in (Product, Store, Rule):
        session.execute(delete(model))
    faqs = merge_faqs(session, kb.faqs)
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
    return replace(faqs, products=len(kb.products), stores=len(kb.stores), rules=len(kb.rules))


def merge_faqs(session: Session, entries: list[FaqEntry]) -> LoadSummary:
    """Bring the stored FAQs to faq.yml without losing back-office work.

    The file's id, category, SKUs and rule refs always win. Back-office FAQs are kept. A
    back-office edit of a file FAQ keeps its question and answer unless the file's own text
    changed since the last load; then the file wins and the id is reported. A file FAQ the file
    no longer has is deleted (reported too if it had been edited).
    """
    stored = {faq.id: faq for faq in session.scalars(select(Faq))}
    wanted = {entry.id for entry in entries}
    gone = [faq for faq in stored.values() if faq.origin == "file" and faq.id not in wanted]
    replaced = [faq.id for faq in gone if faq.updated_by is not None]
    kept: list[str] = []
    for old in gone:
        session.delete(old)  # its resolved-question links go with it (ON DELETE CASCADE)
    for entry in entries:
        faq = stored.get(entry.id)
        if faq is None:
            faq = Faq(id=entry.id)
            session.add(faq)
        if faq.updated_by is None:
            faq.question, faq.answer = entry.question, entry.answer
        elif (faq.file_question, faq.file_answer) == (entry.question, entry.answer):
            kept.append(faq.id)
        else:
            replaced.append(faq.id)
            faq.question, faq.answer = entry.question, entry.answer
            faq.updated_by, faq.updated_at = None, None
        faq.category, faq.skus, faq.refs = entry.category, entry.skus, entry.refs
        faq.origin, faq.file_question, faq.file_answer = "file", entry.question, entry.answer
    session.flush()
    backoffice = sum(faq.origin == "backoffice" for faq in stored.values())
    return LoadSummary(len(entries), 0, 0, 0, backoffice, tuple(kept), tuple(sorted(replaced)))


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
    return {faq_id: question for faq_id, question in session.execute(select(Faq.id, Faq.question))}
