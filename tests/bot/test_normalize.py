"""Normalisation turns what customers type into what the model knows, and breaks nothing."""

from __future__ import annotations

import pytest

from bot.normalize import normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("電池保修多久？？？", "电池保修多久?"),  # traditional, repeated punctuation
        ("ＲＧ－ＤＲ－２０ＢＬ多少钱", "RG-DR-20BL多少钱"),  # full-width
        ("rg dr 20bl 多少钱", "RG-DR-20BL 多少钱"),  # SKU written loosely
        ("我的冲击转坏了保休吗😭😭", "我的冲击钻坏了保修吗"),  # emoji, homophones
        ("发漂怎么开", "发票怎么开"),
        ("积份怎么查", "积分怎么查"),
        ("優惠卷在哪", "优惠券在哪"),
        ("手枪钻多钱", "手电钻多钱"),  # nickname
        ("冲电要多久", "充电要多久"),
    ],
)
def test_customer_wording_is_normalised(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "text", ["我要报修", "电池保修多久", "几分钟能到", "点击这里", "维修抵用券", "电池包坏了"]
)
def test_correct_text_is_left_alone(text: str) -> None:
    """Sound-alikes are fixed only where they do not cut a real word or clash with one."""
    assert normalize(text) == text


def test_steps_can_be_switched_off() -> None:
    assert normalize("電池保休", steps=()) == "電池保休"
    assert normalize("電池保休", steps=("t2s",)) == "电池保休"
