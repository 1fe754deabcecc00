"""Product facts: the product is found by SKU, model code, brand + voltage + kind, nickname."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from bot.normalize import normalize
from crm.knowledge.products import answer_product_question


@pytest.mark.parametrize(
    ("question", "skus", "fragment"),
    [
        ("RG-DR-20BL 多少钱", ("RG-DR-20BL",), "售价 499 元"),
        ("rg dr 20bl 多少钱", ("RG-DR-20BL",), "售价 499 元"),
        ("那个20V的角磨机保修多久", ("RG-AG-20BL",), "电机保修 24 个月"),
        ("牧田18v电池能装博世吗", ("MK-BL1850B",), "不能通用"),
        ("DHP485重不重", ("MK-DHP485",), "重量 1.4 kg"),
        ("RG-DR-12 里面有什么", ("RG-DR-12",), "RG-BP-12-20"),
        ("锐工电锤多少钱", ("RG-RH-20BL", "RG-RH-800"), "359 元"),
    ],
)
def test_product_questions_are_answered_from_products_yml(
    db: Session, question: str, skus: tuple[str, ...], fragment: str
) -> None:
    answer = answer_product_question(db, normalize(question))
    assert answer is not None and set(answer.skus) == set(skus)
    assert fragment in answer.text


@pytest.mark.parametrize(
    "question", ["电池保修多久", "无刷电机有什么好处", "冲击钻和电锤有什么区别", "今天天气怎么样"]
)
def test_general_questions_are_left_to_the_faq(db: Session, question: str) -> None:
    assert answer_product_question(db, normalize(question)) is None


def test_a_price_change_takes_effect_without_retraining(db: Session) -> None:
    from crm.knowledge.models import Product

    product = db.get(Product, "RG-DR-20BL")
    assert product is not None
    product.price_yuan = 459  # type: ignore[assignment]
    db.flush()
    answer = answer_product_question(db, "RG-DR-20BL 多少钱")
    assert answer is not None and "售价 459 元" in answer.text
