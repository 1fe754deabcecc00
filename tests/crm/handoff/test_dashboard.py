"""The supervisors' dashboard over one week of made-up traffic, for every store and for one,
on PostgreSQL and on the embedded SQLite default."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from crm.conversations.models import Conversation
from crm.conversations.schemas import InboundMessage
from crm.conversations.service import record_inbound, record_outbound
from crm.db import make_engine
from crm.handoff.dashboard import Bar, Dashboard, ReasonBar, dashboard_figures
from crm.handoff.demo import seed_demo_conversations
from crm.handoff.models import Handoff
from crm.knowledge.editing import create_faq
from crm.knowledge.loader import load_knowledge_base
from crm.knowledge.service import replace_all
from crm.knowledge.unanswered import UnansweredQuestion, question_key
from crm.staff.demo import seed_demo_staff
from crm.tickets import states
from tests.conftest import ROOT, migrate
from tests.crm.customers.conftest import bought, repair

RESPONSES = yaml.safe_load((ROOT / "domain" / "core.yml").read_text(encoding="utf-8"))["responses"]
OUT_OF_SCOPE = RESPONSES["utter_out_of_scope"][0]["text"]
DEFAULT = RESPONSES["utter_default"][0]["text"]
UNKNOWN = RESPONSES["utter_faq_unknown"][0]["text"]
ANSWER = "锂电池保修 2 年，详见保修政策。"
# A week of its own, years back: rows other tests leave behind (stamped now) stay out of it.
SINCE, UNTIL = datetime(2020, 1, 6, tzinfo=UTC), datetime(2020, 1, 13, tzinfo=UTC)
DRONES, INVOICE = "你们卖无人机吗", "能开发票吗"


def at(day: int, hour: int = 10, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2020, month, day, hour, minute, tzinfo=UTC)


def chat(
    db: Session,
    turns: list[tuple[str, str, datetime]],
    store: str | None = None,
    kind: str = "text",
) -> Conversation:
    """A new customer's messages with the bot's replies; a purchase makes `store` their home."""
    openid = "o-" + secrets.token_hex(6)
    for text, reply, when in turns:
        inbound = record_inbound(
            db,
            InboundMessage(
                appid="wx-dash",
                channel="oa",
                openid=openid,
                msg_type=kind,
                content=text,
                dedup_key=secrets.token_hex(8),
            ),
        )
        inbound.created_at = when
        record_outbound(db, inbound, reply, "passive", "sent")
    conversation = inbound.conversation
    if store:
        bought(db, conversation.customer_id, "RG-DR-12", datetime(2019, 12, 1, tzinfo=UTC), store)
    db.flush()
    return conversation


def handoff(
    db: Session,
    conversation: Conversation,
    reason: str,
    queued: datetime,
    assigned: datetime | None = None,
    store: str | None = None,
    left_message: bool = False,
) -> None:
    """A handoff: resolved five minutes after an agent took it, else still queued."""
    db.add(
        Handoff(
            conversation_id=conversation.id,
            customer_id=conversation.customer_id,
            reason=reason,
            state="resolved" if assigned else "queued",
            store_id=store,
            left_message=left_message,
            queued_at=queued,
            assigned_at=assigned,
            resolved_at=assigned + timedelta(minutes=5) if assigned else None,
        )
    )
    db.flush()


def ticket(
    db: Session,
    conversation: Conversation,
    sku: str,
    store: str,
    created: datetime,
    state: str,
    rating: int | None = None,
    asked: datetime | None = None,
    due_on: date | None = None,
) -> None:
    """A repair opened through the service, then placed where the story needs it."""
    row = repair(db, conversation.customer_id, sku, store)
    row.created_at, row.state, row.rating, row.rating_asked_at = created, state, rating, asked
    row.due_on = due_on or row.due_on
    db.flush()


def week(db: Session) -> None:
    """Five customers talk in the week (a sixth only sends a photo, a seventh wrote before)."""
    a = chat(
        db,
        [("电池保修多久", ANSWER, at(7)), (DRONES + "？", OUT_OF_SCOPE, at(7, 10, 1))],
        "JX-HZ01",
    )
    b = chat(db, [("我要投诉你们的维修", "已为您转接", at(7, 9, 59))], "JX-HZ01")
    c = chat(db, [(DRONES, OUT_OF_SCOPE, at(8, 11)), ("人工", "已为您转接", at(8, 11, 5))])
    d = chat(db, [("有积分商城吗", UNKNOWN, at(9, 21)), ("转人工", "已为您留言", at(9, 22))])
    g = chat(db, [(INVOICE, DEFAULT, at(9)), ("找客服", "请稍候", at(12, 16))], "JX-HZ01")
    chat(db, [("[图片]", DEFAULT, at(10))], "JX-HZ01", kind="image")
    f = chat(db, [("无人机", OUT_OF_SCOPE, at(1))])
    answer = "积分可在小程序「我的-积分」兑换优惠券，暂无单独的积分商城。"
    create_faq(db, "有积分商城吗？", answer, "points", "chen", "有积分商城吗")  # no longer open
    handoff(db, b, "complaint", at(7, 10), at(7, 10, 3), "JX-HZ01")  # 180 s
    handoff(db, c, "asked", at(8, 11, 5), at(8, 11, 6), "JX-HZ02")  # 60 s
    handoff(db, c, "fallback", at(10), at(10, 10, 10), "JX-HZ02")  # 600 s
    handoff(db, d, "asked", at(9, 22), at(10, 9), left_message=True)  # overnight: not a wait
    handoff(db, g, "asked", at(12, 16), store="JX-HZ01")  # still waiting
    handoff(db, f, "asked", at(5, 23, 50), at(6, 0, 30))  # queued before, taken in: 2400 s
    handoff(db, f, "asked", at(5, 23, 55), left_message=True)  # a message nobody took
    ticket(db, b, "RG-DR-12", "JX-HZ01", at(7), states.COMPLETED, 5, at(7, 12))
    ticket(db, c, "RG-DR-12", "JX-HZ02", at(8), states.COMPLETED, 2, at(8, 12))
    ticket(db, a, "RG-DR-12", "JX-HZ01", at(9), states.CLOSED, 4, at(9, 12))
    earlier = datetime(2019, 12, 20, tzinfo=UTC)  # rated before the week
    ticket(db, d, "RG-DR-12", "JX-HZ02", earlier, states.COMPLETED, 1, earlier + timedelta(days=8))
    ticket(db, g, "RG-AG-100", "JX-HZ02", at(10), states.COMPLETED, None, at(10, 12))
    ticket(db, g, "RG-DR-12", "JX-HZ01", at(11), states.ACCEPTED, due_on=date(2020, 1, 12))
    ticket(db, f, "RG-DR-12", "JX-HZ02", at(1), states.SUBMITTED, due_on=date(2020, 1, 3))


def windowed(figures: Dashboard) -> tuple[object, ...]:
    """The figures of the week (not those of the queue and the open tickets now)."""
    return (
        figures.conversations,
        figures.contained,
        figures.containment,
        figures.handoffs,
        figures.handoff_rate,
        figures.by_reason,
        figures.median_wait_seconds,
        figures.ratings,
        figures.average_rating,
        figures.low_ratings,
        figures.low_rating_share,
        figures.unanswered,
        figures.tickets_by_state,
    )


def asked(text: str, count: int, last: datetime) -> UnansweredQuestion:
    return UnansweredQuestion(question_key(text), text, count, last)


ALL_STORES = (
    5,  # a, b, c, d, g wrote a text in the week
    1,  # only a never needed a person
    0.2,
    5,
    1.0,
    [
        ReasonBar("客户要求人工", 3, 1.0, "asked", 0.6),
        ReasonBar("投诉", 1, 1 / 3, "complaint", 0.2),
        ReasonBar("连续未能理解", 1, 1 / 3, "fallback", 0.2),
    ],
    390.0,  # of 60, 180, 600 and 2400 seconds
    3,
    11 / 3,
    1,
    1 / 3,
    [asked(DRONES, 2, at(8, 11)), asked(INVOICE, 1, at(9))],
    [Bar("已收件", 1, 1 / 3), Bar("已完成", 3, 1.0), Bar("已关闭", 1, 1 / 3)],
)
HZ01 = (
    3,  # a, b and g bought there
    1,
    1 / 3,
    2,
    2 / 3,
    [
        ReasonBar("客户要求人工", 1, 1.0, "asked", 1 / 3),
        ReasonBar("投诉", 1, 1.0, "complaint", 1 / 3),
    ],
    180.0,
    2,
    4.5,
    0,
    0.0,
    [asked(INVOICE, 1, at(9)), asked(DRONES + "？", 1, at(7, 10, 1))],
    [Bar("已收件", 1, 1.0), Bar("已完成", 1, 1.0), Bar("已关闭", 1, 1.0)],
)


def now_figures(figures: Dashboard) -> tuple[int, int, int]:
    return figures.waiting_now, figures.messages_waiting, figures.overdue


def test_the_weeks_figures_for_every_store_and_for_one(db: Session) -> None:
    before = now_figures(dashboard_figures(db, SINCE, UNTIL))
    before_hz01 = now_figures(dashboard_figures(db, SINCE, UNTIL, "JX-HZ01"))
    week(db)

    everywhere = dashboard_figures(db, SINCE, UNTIL)
    hz01 = dashboard_figures(db, SINCE, UNTIL, "JX-HZ01")

    assert (everywhere.since, everywhere.until, everywhere.store_id) == (SINCE, UNTIL, None)
    assert windowed(everywhere) == ALL_STORES
    assert windowed(hz01) == HZ01
    waiting, messages, overdue = before
    assert now_figures(everywhere) == (waiting + 1, messages + 1, overdue + 2)
    waiting, messages, overdue = before_hz01
    assert now_figures(hz01) == (waiting + 1, messages, overdue + 1)


def test_an_empty_window_has_no_rates(db: Session) -> None:
    week(db)
    empty = dashboard_figures(db, at(1, month=3), at(8, month=3))
    assert (empty.conversations, empty.handoffs, empty.ratings) == (0, 0, 0)
    assert empty.containment is empty.handoff_rate is empty.low_rating_share is None
    assert empty.median_wait_seconds is empty.average_rating is None
    assert (empty.by_reason, empty.unanswered, empty.tickets_by_state) == ([], [], [])


def test_the_embedded_sqlite_default_gives_the_same_figures(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    migrate(url)
    sqlite = make_engine(url)
    try:
        with sqlite.connect() as conn, Session(bind=conn) as session:
            replace_all(session, load_knowledge_base(ROOT / "knowledge_base"))
            week(session)
            assert windowed(dashboard_figures(session, SINCE, UNTIL)) == ALL_STORES
            hz01 = dashboard_figures(session, SINCE, UNTIL, "JX-HZ01")
            assert windowed(hz01) == HZ01
            assert now_figures(hz01) == (1, 0, 1)
    finally:
        sqlite.dispose()


DEMO_NOW = datetime(2020, 2, 8, 12, 0, tzinfo=UTC)  # a week no other test writes into


def test_the_demo_week_seeds_once_and_shows_on_the_dashboard(db: Session) -> None:
    seed_demo_staff(db)
    prefix = f"o_t{secrets.token_hex(4)}_"  # the real demo may already be committed here
    seeded = seed_demo_conversations(db, now=DEMO_NOW, prefix=prefix)
    assert (seeded.conversations, seeded.handoffs) == (29, 5)
    assert seed_demo_conversations(db, now=DEMO_NOW, prefix=prefix).conversations == 0
    figures = dashboard_figures(db, DEMO_NOW - timedelta(days=7), DEMO_NOW)
    assert (figures.conversations, figures.contained, figures.handoffs) == (29, 24, 5)
    assert [(b.label, b.count) for b in figures.by_reason] == [
        ("客户要求人工", 3),
        ("投诉", 1),
        ("情绪激动", 1),
    ]
    assert figures.median_wait_seconds == 150.0  # waits of 1.5, 2, 3 and 6 minutes
    assert (figures.unanswered[0].text, figures.unanswered[0].count) == ("你们卖不卖自行车", 2)
