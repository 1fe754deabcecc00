"""The questions the bot could not answer: found from the bot's «not understood» replies,
grouped by their normalised text, counted, and gone once turned into an FAQ."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session

from crm.conversations.models import Message
from crm.conversations.schemas import InboundMessage
from crm.conversations.service import record_inbound, record_outbound
from crm.errors import KnowledgeBaseError
from crm.knowledge.editing import create_faq
from crm.knowledge.unanswered import (
    UnansweredQuestion,
    not_understood_texts,
    question_key,
    top_unanswered,
)
from crm.staff.service import create_user

CORE = Path(__file__).resolve().parents[3] / "domain" / "core.yml"
RESPONSES = yaml.safe_load(CORE.read_text(encoding="utf-8"))["responses"]
DEFAULT = RESPONSES["utter_default"][0]["text"]
UNKNOWN = RESPONSES["utter_faq_unknown"][0]["text"]
OUT_OF_SCOPE = RESPONSES["utter_out_of_scope"][0]["text"]
# A window of its own: messages other tests commit (stamped now) stay out of it.
SINCE, UNTIL = datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC)


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2020, 1, day, hour, tzinfo=UTC)


def exchange(
    db: Session,
    text: str,
    reply: str,
    when: datetime,
    msg_type: str = "text",
    staff_id: int | None = None,
) -> None:
    """A customer message at `when` and the reply it got (the bot's unless `staff_id`)."""
    inbound = record_inbound(
        db,
        InboundMessage(
            appid="wx-test",
            channel="oa",
            openid=f"o-{secrets.token_hex(6)}",
            msg_type=msg_type,
            content=text,
            dedup_key=secrets.token_hex(8),
        ),
    )
    inbound.created_at = when
    answer: Message = record_outbound(db, inbound, reply.strip(), "passive", "sent")
    answer.staff_id = staff_id
    db.flush()


def test_the_not_understood_texts_come_from_the_domain() -> None:
    assert not_understood_texts() == {DEFAULT, UNKNOWN, OUT_OF_SCOPE}


def test_a_missing_response_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "core.yml"
    broken.write_text(
        yaml.safe_dump({"responses": {"utter_default": [{"text": "没听懂"}]}}, allow_unicode=True),
        encoding="utf-8",
    )
    with pytest.raises(
        KnowledgeBaseError, match=r"core\.yml: utter_faq_unknown: response is missing"
    ):
        not_understood_texts(broken)


def test_question_key_ignores_punctuation_spaces_and_width() -> None:
    assert question_key(" 电钻 能打瓷砖吗？？\n") == "电钻能打瓷砖吗"
    assert (
        question_key("ＷＩＦＩ 密码是多少!") == question_key("wifi密码是多少") == "wifi密码是多少"
    )
    assert question_key("？！…") == ""


def test_repeats_are_grouped_counted_and_ranked(db: Session) -> None:
    exchange(db, "电钻能打瓷砖吗？", DEFAULT, at(3))
    exchange(db, "电钻能打瓷砖吗", UNKNOWN, at(5))
    exchange(db, "电钻 能打 瓷砖吗!!", OUT_OF_SCOPE, at(9))
    exchange(db, "你们卖不卖油漆", DEFAULT, at(4))
    exchange(db, "能开发票吗", DEFAULT, at(6))
    exchange(db, "能开发票吗？", DEFAULT, at(2))
    exchange(db, "门店几点关门", DEFAULT, at(7))
    # Not counted: answered; answered by a person; not a text; outside the window; punctuation.
    exchange(db, "电池保修多久", "电池保修 12 个月。", at(8))
    staff = create_user(db, f"u{secrets.token_hex(4)}", "小王", "password-123", "agent", None)
    exchange(db, "有人吗", DEFAULT, at(8), staff_id=staff.id)
    exchange(db, "[image]", DEFAULT, at(8), msg_type="image")
    exchange(db, "你们卖不卖油漆", DEFAULT, datetime(2020, 2, 3, tzinfo=UTC))
    exchange(db, "？？", DEFAULT, at(8))
    assert top_unanswered(db, SINCE, UNTIL) == [
        UnansweredQuestion("电钻能打瓷砖吗", "电钻 能打 瓷砖吗!!", 3, at(9)),
        UnansweredQuestion("能开发票吗", "能开发票吗", 2, at(6)),
        UnansweredQuestion("门店几点关门", "门店几点关门", 1, at(7)),
        UnansweredQuestion("你们卖不卖油漆", "你们卖不卖油漆", 1, at(4)),
    ]
    assert [q.key for q in top_unanswered(db, SINCE, UNTIL, limit=2)] == [
        "电钻能打瓷砖吗",
        "能开发票吗",
    ]
    assert [q.count for q in top_unanswered(db, at(5), at(9))] == [1, 1, 1]


def test_a_question_turned_into_an_faq_leaves_the_list(db: Session) -> None:
    exchange(db, "你们卖不卖油漆？", DEFAULT, at(4))
    exchange(db, "你们卖不卖 油漆", DEFAULT, at(5))
    exchange(db, "门店几点关门", DEFAULT, at(7))
    answer = "匠心五金专营电动工具与五金配件，暂不销售油漆涂料，敬请谅解。"
    create_faq(db, "你们卖油漆吗？", answer, "product", "chen", "你们卖不卖油漆？")
    assert top_unanswered(db, SINCE, UNTIL) == [
        UnansweredQuestion("门店几点关门", "门店几点关门", 1, at(7)),
    ]
