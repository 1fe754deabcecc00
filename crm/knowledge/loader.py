"""Reads and validates the knowledge-base files; each error names the file, entry and fault."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from crm.errors import KnowledgeBaseError
from crm.knowledge.schemas import FaqEntry, ProductEntry, RuleEntry, StoreEntry

M = TypeVar("M", bound=BaseModel)

LOCATIONS = "store_locations.yml"
FILES = ("faq.yml", "products.yml", "policies.yml", "membership.yml", "stores.yml")


@dataclass
class RuleRecord:
    """A validated rule with where it was found."""

    entry: RuleEntry
    source: str
    section: str


@dataclass
class KnowledgeBase:
    """Every validated entry of the knowledge base."""

    faqs: list[FaqEntry] = field(default_factory=list)
    products: list[ProductEntry] = field(default_factory=list)
    stores: list[StoreEntry] = field(default_factory=list)
    rules: list[RuleRecord] = field(default_factory=list)


def load_knowledge_base(directory: str | Path) -> KnowledgeBase:
    """Read all five files in `directory`, validate each entry and the references between them."""
    root = Path(directory)
    docs = {name: _read_yaml(root / name) for name in FILES}
    kb = KnowledgeBase(
        faqs=_entries(docs["faq.yml"], "faq.yml", "faqs", FaqEntry, "id"),
        products=_entries(docs["products.yml"], "products.yml", "products", ProductEntry, "sku"),
        stores=_with_locations(_stores(docs["stores.yml"]), root),
        rules=_rules(docs["policies.yml"], "policies.yml")
        + _rules(docs["membership.yml"], "membership.yml"),
    )
    _check_unique("faq.yml", [f.id for f in kb.faqs])
    _check_unique("products.yml", [p.sku for p in kb.products])
    _check_unique("policies.yml / membership.yml", [r.entry.id for r in kb.rules])
    _check_references(kb)
    return kb


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise KnowledgeBaseError(str(path), "(file)", "file is missing")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise KnowledgeBaseError(str(path), "(file)", f"not valid UTF-8 YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise KnowledgeBaseError(str(path), "(file)", "top level must be a mapping")
    return data


def _validate(model: type[M], raw: Any, file: str, entry: str) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}"
            for err in exc.errors()
        )
        raise KnowledgeBaseError(file, entry, problems) from exc


def _entries(doc: dict[str, Any], file: str, key: str, model: type[M], id_key: str) -> list[M]:
    raw_list = doc.get(key)
    if not isinstance(raw_list, list) or not raw_list:
        raise KnowledgeBaseError(file, key, "must be a non-empty list")
    out = []
    for index, raw in enumerate(raw_list):
        name = raw.get(id_key) if isinstance(raw, dict) else None
        out.append(_validate(model, raw, file, f"{key}[{index}] ({name or 'no ' + id_key})"))
    return out


def _stores(doc: dict[str, Any]) -> list[StoreEntry]:
    stores = _entries(doc, "stores.yml", "stores", StoreEntry, "id")
    centre = doc.get("repair_centre")
    if centre is not None:
        stores.append(_validate(StoreEntry, centre, "stores.yml", "repair_centre"))
    return stores


def _with_locations(stores: list[StoreEntry], root: Path) -> list[StoreEntry]:
    """Add the coordinates of store_locations.yml (optional file) to the stores."""
    path = root / LOCATIONS
    if not path.exists():
        return stores
    locations = _read_yaml(path).get("locations") or {}
    known = {s.id for s in stores}
    for store_id in locations:
        if store_id not in known:
            raise KnowledgeBaseError(LOCATIONS, str(store_id), "no such store in stores.yml")
    return [
        _validate(StoreEntry, {**s.model_dump(), **locations[s.id]}, LOCATIONS, s.id)
        if s.id in locations
        else s
        for s in stores
    ]


def _walk(node: Any, path: list[str]) -> Iterator[tuple[list[str], dict[str, Any]]]:
    if isinstance(node, dict):
        if "id" in node:
            yield path, node
            return
        for key, value in node.items():
            yield from _walk(value, [*path, str(key)])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, [*path, str(index)])


def _rules(doc: dict[str, Any], file: str) -> list[RuleRecord]:
    records = []
    for path, raw in _walk(doc, []):
        section = "/".join(p for p in path if not p.isdigit())
        if section == "tiers":
            # Tiers carry numbers, not a customer-facing text: their name stands in.
            raw = {"text": raw.get("name", ""), **raw}
        entry = _validate(RuleEntry, raw, file, f"{'/'.join(path)} ({raw.get('id')})")
        records.append(RuleRecord(entry=entry, source=file.removesuffix(".yml"), section=section))
    if not records:
        raise KnowledgeBaseError(file, "(file)", "contains no rule with an id and a text")
    return records


def _check_unique(file: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise KnowledgeBaseError(file, item, "duplicate id")
        seen.add(item)


def _check_references(kb: KnowledgeBase) -> None:
    skus = {p.sku for p in kb.products}
    rule_ids = {r.entry.id for r in kb.rules}
    for faq in kb.faqs:
        for sku in faq.skus:
            if sku not in skus:
                raise KnowledgeBaseError("faq.yml", faq.id, f"unknown SKU {sku}")
        for ref in faq.refs:
            if ref not in rule_ids:
                raise KnowledgeBaseError("faq.yml", faq.id, f"unknown rule id {ref}")
    for product in kb.products:
        for sku in product.related_skus():
            if sku not in skus:
                raise KnowledgeBaseError("products.yml", product.sku, f"unknown SKU {sku}")
