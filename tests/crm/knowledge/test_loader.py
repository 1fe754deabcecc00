"""The knowledge-base loader accepts the shipped data and names the fault in broken files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.errors import KnowledgeBaseError, NotFound
from crm.knowledge.loader import load_knowledge_base
from crm.knowledge.models import Faq, Product
from crm.knowledge.service import get_faq, replace_all

KB = Path(__file__).resolve().parents[3] / "knowledge_base"


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(KB, target)
    return target


def _edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_shipped_knowledge_base_is_complete() -> None:
    kb = load_knowledge_base(KB)
    assert (len(kb.faqs), len(kb.products), len(kb.stores)) == (90, 40, 7)
    assert {f.id for f in kb.faqs} == {f"faq-{n:03d}" for n in range(1, 91)}
    assert any(r.entry.id == "POL-WAR-004" for r in kb.rules)


def test_missing_field_names_file_and_entry(kb_copy: Path) -> None:
    _edit(kb_copy / "faq.yml", lambda d: d["faqs"][4].pop("answer"))
    with pytest.raises(KnowledgeBaseError) as err:
        load_knowledge_base(kb_copy)
    assert err.value.file == "faq.yml"
    assert "faq-005" in err.value.entry
    assert "answer" in err.value.problem


def test_unknown_sku_reference_is_refused(kb_copy: Path) -> None:
    _edit(kb_copy / "faq.yml", lambda d: d["faqs"][0]["skus"].append("RG-NOPE-1"))
    with pytest.raises(KnowledgeBaseError, match=r"faq.yml: faq-001: unknown SKU RG-NOPE-1"):
        load_knowledge_base(kb_copy)


def test_duplicate_id_is_refused(kb_copy: Path) -> None:
    _edit(kb_copy / "faq.yml", lambda d: d["faqs"][1].update(id="faq-001"))
    with pytest.raises(KnowledgeBaseError, match="duplicate id"):
        load_knowledge_base(kb_copy)


def test_negative_price_is_refused(kb_copy: Path) -> None:
    _edit(kb_copy / "products.yml", lambda d: d["products"][0].update(price_yuan=-1))
    with pytest.raises(KnowledgeBaseError, match=r"products.yml: products\[0\] \(RG-DR-12\)"):
        load_knowledge_base(kb_copy)


def test_broken_yaml_and_missing_file(kb_copy: Path) -> None:
    (kb_copy / "stores.yml").write_text("stores: [unclosed", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="not valid UTF-8 YAML"):
        load_knowledge_base(kb_copy)
    (kb_copy / "stores.yml").unlink()
    with pytest.raises(KnowledgeBaseError, match="file is missing"):
        load_knowledge_base(kb_copy)


def test_replace_all_is_repeatable(db: Session) -> None:
    kb = load_knowledge_base(KB)
    replace_all(db, kb)
    replace_all(db, kb)
    assert db.scalar(select(func.count()).select_from(Faq)) == 90
    assert db.scalar(select(func.count()).select_from(Product)) == 40
    assert "6 个月" in get_faq(db, "faq-017").answer


def test_unknown_faq_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound):
        get_faq(db, "faq-999")
