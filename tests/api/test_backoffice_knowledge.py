"""The knowledge pages through the real api over HTTP: the FAQ list, an edit by a supervisor the
bot reads at once, refusals that change nothing, and an unanswered question turned into an FAQ."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import yaml
from sqlalchemy import delete, update

from api.backoffice import knowledge
from crm.conversations.schemas import InboundMessage
from crm.conversations.service import record_inbound, record_outbound
from crm.db import session_scope
from crm.knowledge.models import Faq
from crm.knowledge.schemas import FAQ_CATEGORIES
from crm.knowledge.service import get_faq, list_questions
from tests.api.conftest import CSRF_FIELD, LogIn, make_staff

CORE = Path(__file__).resolve().parents[2] / "domain" / "core.yml"
DEFAULT = yaml.safe_load(CORE.read_text(encoding="utf-8"))["responses"]["utter_default"][0]["text"]
NEW_ANSWER = "电池保修 12 个月，自购买之日起计算；凭小票或电子发票到任一门店办理即可。"
CREATED = re.compile(r"^/backoffice/knowledge/faq/(faq-bo-\d{3})\?created=1$")


@pytest.fixture(autouse=True)
def restore_faqs() -> Iterator[None]:
    """The FAQs as faq.yml has them afterwards, for the tests that run later."""
    yield
    with session_scope() as session:
        session.execute(delete(Faq).where(Faq.origin == "backoffice"))
        session.execute(
            update(Faq)
            .where(Faq.updated_by.is_not(None))
            .values(
                question=Faq.file_question, answer=Faq.file_answer, updated_by=None, updated_at=None
            )
        )


def token_of(client: httpx.Client, path: str) -> tuple[str, str]:
    """The csrf token of a page and the page."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = CSRF_FIELD.search(page.text)
    assert found is not None
    return found.group(1), page.text


def stored(faq_id: str) -> tuple[str, str, str | None]:
    with session_scope() as session:
        faq = get_faq(session, faq_id)
        return faq.question, faq.answer, faq.updated_by


def not_understood(text: str) -> None:
    """A customer's message the bot answered with utter_default, committed."""
    with session_scope() as session:
        message = record_inbound(
            session,
            InboundMessage(
                appid="wx-test",
                channel="oa",
                openid=f"o-{secrets.token_hex(6)}",
                msg_type="text",
                content=text,
                dedup_key=secrets.token_hex(8),
            ),
        )
        record_outbound(session, message, DEFAULT, "passive", "sent")


def test_every_category_has_a_label() -> None:
    assert set(knowledge.CATEGORY_LABELS) == FAQ_CATEGORIES


def test_every_staff_member_reads_and_filters_the_faqs(api: str, login: LogIn) -> None:
    agent = login(make_staff())
    page = agent.get("/backoffice/knowledge")
    assert page.status_code == 200
    assert '<span class="count">90</span>' in page.text and "faq-090" in page.text
    assert "新建 FAQ" not in page.text  # agents read only
    points = agent.get("/backoffice/knowledge", params={"category": "points"}).text
    assert '<span class="count">9</span>' in points and 'value="points" selected' in points
    found = agent.get("/backoffice/knowledge", params={"q": "faq-017"}).text
    assert '<span class="count">1</span>' in found
    faq = agent.get("/backoffice/knowledge/faq/faq-017")
    assert faq.status_code == 200 and stored("faq-017")[1] in faq.text
    assert 'name="answer"' not in faq.text and "只有主管和管理员可以修改" in faq.text
    assert agent.get("/backoffice/knowledge/faq/faq-999").status_code == 404


def test_a_supervisor_edit_is_what_the_bot_reads_next(api: str, login: LogIn) -> None:
    username = make_staff(role="supervisor", name="陈主管")
    supervisor = login(username)
    path = "/backoffice/knowledge/faq/faq-017"
    token, page = token_of(supervisor, path)
    question, file_answer, _ = stored("faq-017")
    assert 'name="answer"' in page
    saved = supervisor.post(
        path, data={"csrf_token": token, "question": question, "answer": NEW_ANSWER}
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"{path}?saved=1"
    assert stored("faq-017") == (question, NEW_ANSWER, username)
    page = supervisor.get(saved.headers["location"]).text
    assert "已保存" in page and "faq.yml 中的原文" in page and file_answer in page
    listed = supervisor.get("/backoffice/knowledge", params={"q": "faq-017"}).text
    assert "文件 · 后台已修改" in listed and username in listed


def test_refusals_change_nothing(api: str, login: LogIn) -> None:
    path = "/backoffice/knowledge/faq/faq-017"
    before = stored("faq-017")
    agent = login(make_staff())
    token, _ = token_of(agent, "/backoffice/knowledge")
    form = {"csrf_token": token, "question": before[0], "answer": NEW_ANSWER}
    assert agent.post(path, data=form).status_code == 403
    assert (
        agent.post("/backoffice/knowledge/faq", data={**form, "category": "points"}).status_code
        == 403
    )
    assert agent.get("/backoffice/knowledge/faq/new").status_code == 403
    supervisor = login(make_staff(role="supervisor"))
    forged = supervisor.post(path, data={"question": before[0], "answer": NEW_ANSWER})
    assert forged.status_code == 403
    token, _ = token_of(supervisor, path)
    short = supervisor.post(
        path, data={"csrf_token": token, "question": before[0], "answer": "6个月"}
    )
    assert short.status_code == 422 and 'class="flash error"' in short.text
    assert "答案需要 10 到 600 个字" in short.text and ">6个月</textarea>" in short.text
    assert stored("faq-017") == before


def test_an_unanswered_question_becomes_an_faq_in_one_click(api: str, login: LogIn) -> None:
    asked = f"你们卖不卖{secrets.token_hex(3)}牌的油漆？"
    not_understood(asked.replace("？", " "))
    not_understood(asked)  # the latest wording is the one shown
    agent = login(make_staff())
    listed = agent.get("/backoffice/knowledge/unanswered").text
    assert re.search(rf"<td>{re.escape(asked)}</td>\s*<td>2</td>", listed)
    assert "转为FAQ" not in listed
    supervisor = login(make_staff(role="supervisor", name="陈主管"))
    listed = supervisor.get("/backoffice/knowledge/unanswered").text
    assert f'name="question" value="{asked}"' in listed and "转为FAQ" in listed
    token, form = token_of(supervisor, f"/backoffice/knowledge/faq/new?question={quote(asked)}")
    assert f'name="from_unanswered" value="{asked}"' in form
    assert (
        f'name="question" type="text" minlength="4" maxlength="100" required value="{asked}"'
        in form
    )
    answer = "匠心五金专营电动工具与五金配件，暂不销售油漆涂料，敬请谅解。"
    created = supervisor.post(
        "/backoffice/knowledge/faq",
        data={
            "csrf_token": token,
            "question": asked,
            "answer": answer,
            "category": "product",
            "from_unanswered": asked,
        },
    )
    assert created.status_code == 303
    match = CREATED.match(created.headers["location"])
    assert match is not None
    faq_id = match.group(1)
    with session_scope() as session:
        assert list_questions(session)[faq_id] == asked
        assert get_faq(session, faq_id).answer == answer
    assert "FAQ 已创建" in supervisor.get(created.headers["location"]).text
    assert asked not in supervisor.get("/backoffice/knowledge/unanswered").text
    again = supervisor.post(
        "/backoffice/knowledge/faq",
        data={
            "csrf_token": token,
            "question": asked + "呢",
            "answer": answer,
            "category": "product",
            "from_unanswered": asked,
        },
    )
    assert again.status_code == 409 and f"已经转为 FAQ {faq_id}" in again.text
