"""The customer's words for a repair rating: a low rating must never be read as a good one."""

from __future__ import annotations

import pytest

from actions.tickets import score_in


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("5分 非常满意", 5),
        ("4", 4),
        ("给个三星吧", 3),
        ("一般般吧 两星", 2),
        ("评价一下 修得不错 给4星", 4),  # the 一 of 一下 is no score
        ("非常不满意", 1),  # not the 满意 at its end
        ("不太满意 修得太慢了", 2),
        ("一般", 3),
        ("满分", 5),
        ("差评", 1),
        ("很满意", 5),
    ],
)
def test_scores(text: str, score: int) -> None:
    assert score_in(text) == score


@pytest.mark.parametrize("text", ["等了五分钟", "10分", "RP20261118-0042 修好了吗", "3.5", "好的"])
def test_no_score(text: str) -> None:
    assert score_in(text) is None
