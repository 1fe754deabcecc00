"""The answer to 「有没有进水、摔落或私自拆修过？」 becomes POL-WAR-013 exclusion keys."""

from __future__ import annotations

import pytest

from crm.tickets.warranty import EXCLUSIONS, parse_exclusions


@pytest.mark.parametrize(
    ("answer", "keys"),
    [
        ("没有", []),
        ("都没有", []),
        ("没", []),
        ("正常使用", []),
        ("好像没有吧", []),
        ("没有进水、摔落或拆修", []),
        ("没进水也没拆过", []),
        ("在你们店修过", []),
        ("摔过一次", ["drop"]),
        ("不小心摔了", ["drop"]),
        ("外壳摔裂了", ["drop"]),
        ("进水了 也拆过", ["water", "opened"]),
        ("没摔过 但是淋过雨", ["water"]),
        ("掉到水里了", ["water"]),
        ("进水没有，拆过", ["opened"]),
        ("在路边小店修过", ["opened"]),
        ("未经授权拆过", ["opened"]),
        ("没注意，好像摔过", ["drop"]),
    ],
)
def test_answers_are_read_with_their_negations(answer: str, keys: list[str]) -> None:
    assert parse_exclusions(answer) == keys


@pytest.mark.parametrize("answer", ["嗯", "啊？", "不知道", "不确定有没有进水", "有", ""])
def test_unclear_answers_give_none(answer: str) -> None:
    assert parse_exclusions(answer) is None


def test_labels_name_the_pol_war_013_cases() -> None:
    assert EXCLUSIONS == {
        "water": "进水/受潮",
        "drop": "摔落/撞击",
        "opened": "私自拆机或在非授权点维修",
    }
