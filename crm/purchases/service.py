"""Importing orders (all rows valid or nothing written) and finding a customer's purchases."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from crm.customers.models import Customer
from crm.customers.schemas import normalize_mobile
from crm.errors import Conflict, InvalidImport
from crm.knowledge.models import Product, Store
from crm.privacy.crypto import phone_digest
from crm.purchases.models import Purchase
from crm.purchases.schemas import ImportReport, PurchaseIn, problems

PROGRESS_EVERY = 500
_CHUNK = 1000  # values per IN (...) lookup

Progress = Callable[[int, int], None]


@dataclass
class _Known:
    """What the database already holds about the rows' references."""

    skus: set[str]
    stores: set[str]
    member_ids: set[int]
    phone_owner: dict[str, int]
    purchases: dict[str, Purchase]


@dataclass
class _Plan:
    """The import's report so far and the purchases it will add."""

    report: ImportReport = field(default_factory=ImportReport)
    new: list[Purchase] = field(default_factory=list)


def check_purchases(
    session: Session, rows: Sequence[Mapping[str, Any]], progress: Progress | None = None
) -> ImportReport:
    """What importing `rows` would do, with every row's problems; writes nothing (dry run)."""
    return _plan(session, rows, progress).report


def import_purchases(
    session: Session, rows: Sequence[Mapping[str, Any]], progress: Progress | None = None
) -> ImportReport:
    """Add the new orders; identical re-imports are unchanged. InvalidImport if any row is bad."""
    return import_new_purchases(session, rows, progress)[0]


def import_new_purchases(
    session: Session, rows: Sequence[Mapping[str, Any]], progress: Progress | None = None
) -> tuple[ImportReport, list[Purchase]]:
    """`import_purchases`, also giving the purchases this import added (not the unchanged)."""
    plan = _plan(session, rows, progress)
    if plan.report.errors:
        raise InvalidImport(plan.report.errors)
    try:
        with session.begin_nested():
            session.add_all(plan.new)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("another import wrote some of these orders meanwhile; import again") from exc
    return plan.report, plan.new


def _plan(session: Session, rows: Sequence[Mapping[str, Any]], progress: Progress | None) -> _Plan:
    plan = _Plan()
    errors: list[tuple[int, str]] = []
    parsed: list[PurchaseIn | None] = []
    for number, raw in enumerate(rows, start=1):
        try:
            parsed.append(PurchaseIn.model_validate(raw))
        except ValidationError as exc:
            parsed.append(None)
            errors.append((number, f"row {number} ({_order_no_of(raw)}): {problems(exc)}"))
    known = _lookup(session, [row for row in parsed if row is not None])
    first_seen: dict[str, tuple[int, PurchaseIn]] = {}
    for number, row in enumerate(parsed, start=1):
        if row is not None and (problem := _classify(row, number, known, first_seen, plan)):
            errors.append((number, f"row {number} ({row.order_no}): {problem}"))
        if progress is not None and (number % PROGRESS_EVERY == 0 or number == len(parsed)):
            progress(number, len(parsed))
    plan.report.errors = [text for _, text in sorted(errors)]
    return plan


def _order_no_of(raw: Any) -> str:
    order_no = raw.get("order_no") if isinstance(raw, Mapping) else None
    return str(order_no).strip() if order_no else "no order_no"


def _classify(
    row: PurchaseIn,
    number: int,
    known: _Known,
    first_seen: dict[str, tuple[int, PurchaseIn]],
    plan: _Plan,
) -> str | None:
    """Count the row as created or unchanged, or say what is wrong with it."""
    if row.order_no in first_seen:
        first_number, first = first_seen[row.order_no]
        if first.model_dump() != row.model_dump():
            return f"repeats row {first_number} with different content"
        plan.report.unchanged += 1
        return None
    first_seen[row.order_no] = (number, row)
    faults = _reference_faults(row, known)
    if faults:
        return "; ".join(faults)
    customer_id = row.member_id or known.phone_owner.get(row.member_phone or "")
    existing = known.purchases.get(row.order_no)
    if existing is not None:
        if not _same(existing, row):
            return "already imported with different content; nothing was overwritten"
        plan.report.unchanged += 1
        return None
    plan.new.append(
        Purchase(
            order_no=row.order_no,
            source=row.source,
            member_phone=row.member_phone,
            customer_id=customer_id,
            sku=row.sku,
            price_yuan=row.price_yuan,
            paid_at=_utc(row.paid_at),
            delivered_at=_utc(row.delivered_at) if row.delivered_at else None,
            store_id=row.store,
        )
    )
    plan.report.created += 1
    return None


def _reference_faults(row: PurchaseIn, known: _Known) -> list[str]:
    faults = []
    if row.sku not in known.skus:
        faults.append(f"unknown SKU {row.sku}")
    if row.store is not None and row.store not in known.stores:
        faults.append(f"unknown store {row.store}")
    if row.member_id is not None and row.member_id not in known.member_ids:
        faults.append(f"no member with member_id {row.member_id}")
    owner = known.phone_owner.get(row.member_phone or "")
    if row.member_id is not None and owner is not None and owner != row.member_id:
        faults.append(f"member_phone belongs to member {owner}, not to member_id {row.member_id}")
    return faults


def _same(existing: Purchase, row: PurchaseIn) -> bool:
    """The stored order says what the row says (a customer linked since then is no change)."""
    return (
        existing.source == row.source
        and existing.member_phone == row.member_phone
        and (row.member_id is None or existing.customer_id == row.member_id)
        and existing.sku == row.sku
        and existing.price_yuan == row.price_yuan
        and _aware(existing.paid_at) == row.paid_at
        and _aware(existing.delivered_at) == row.delivered_at
        and existing.store_id == row.store
    )


def _utc(value: datetime) -> datetime:
    # SQLite keeps the wall-clock time without its offset: store UTC, as every other column does.
    return value.astimezone(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite returns naive UTC datetimes
        return value.replace(tzinfo=UTC)
    return value


def _lookup(session: Session, rows: list[PurchaseIn]) -> _Known:
    def existing(column: InstrumentedAttribute[Any], values: Iterable[Any]) -> set[Any]:
        return {
            value
            for chunk in _chunks(values)
            for value in session.scalars(select(column).where(column.in_(chunk)))
        }

    digests = {phone_digest(r.member_phone) for r in rows if r.member_phone}
    owners = (
        session.execute(select(Customer.phone, Customer.id).where(Customer.phone_hash.in_(chunk)))
        for chunk in _chunks(digests)
    )
    purchases = (
        session.scalars(select(Purchase).where(Purchase.order_no.in_(chunk)))
        for chunk in _chunks({r.order_no for r in rows})
    )
    return _Known(
        skus=existing(Product.sku, {r.sku for r in rows}),
        stores=existing(Store.id, {r.store for r in rows if r.store}),
        member_ids=existing(Customer.id, {r.member_id for r in rows if r.member_id}),
        phone_owner={str(phone): owner for result in owners for phone, owner in result},
        purchases={p.order_no: p for result in purchases for p in result},
    )


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    """`values` sorted, in slices small enough for one IN (...)."""
    wanted = sorted(values)
    for start in range(0, len(wanted), _CHUNK):
        yield wanted[start : start + _CHUNK]


def get_by_order_no(session: Session, order_no: str) -> Purchase | None:
    """The purchase with this order number, if imported."""
    stmt = select(Purchase).where(Purchase.order_no == order_no.strip())
    return session.scalars(stmt).one_or_none()


def _owned_by(customer: Customer) -> ColumnElement[bool]:
    mine = Purchase.customer_id == customer.id
    if not customer.phone:
        return mine
    # Under their phone and not linked to anybody yet (a linked purchase has its owner).
    unlinked = Purchase.customer_id.is_(None)
    return or_(mine, and_(unlinked, Purchase.member_phone_hash == phone_digest(customer.phone)))


def purchases_of(session: Session, customer: Customer) -> list[Purchase]:
    """The customer's purchases, newest first: linked to them or recorded under their phone."""
    stmt = (
        select(Purchase)
        .where(_owned_by(customer))
        .order_by(Purchase.paid_at.desc(), Purchase.id.desc())
    )
    return list(session.scalars(stmt))


def belongs_to(purchase: Purchase, customer: Customer, contact_phone: str | None) -> bool:
    """True when the purchase is the customer's: linked to them, or made under their phone or
    the contact phone they gave, and not linked to somebody else."""
    if purchase.customer_id is not None:
        return purchase.customer_id == customer.id
    phones = {customer.phone, _mobile_or_none(contact_phone)} - {None}
    return purchase.member_phone in phones


def _mobile_or_none(raw: str | None) -> str | None:
    try:
        return normalize_mobile(raw) if raw else None
    except ValueError:
        return None
