"""The real knowledge base, shaped as the database stores it (Rule.data, Product.data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crm.knowledge.loader import load_knowledge_base

KB = Path(__file__).resolve().parents[3] / "knowledge_base"


@pytest.fixture(scope="session")
def rules() -> dict[str, dict[str, Any]]:
    """Rule id → the full YAML entry, as in `Rule.data`."""
    kb = load_knowledge_base(KB)
    return {r.entry.id: r.entry.model_dump(mode="json") for r in kb.rules}


@pytest.fixture(scope="session")
def products() -> dict[str, dict[str, Any]]:
    """SKU → the full products.yml entry, as in `Product.data`."""
    kb = load_knowledge_base(KB)
    return {p.sku: p.model_dump(mode="json") for p in kb.products}
