"""The WeChat channel end to end with the real Rasa model: menus, voice, the mini-program,
several bot messages, one user's messages in order, and the reply budget."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot import replies
from bot.stack import Stack
from tests.api.conftest import make_sim, sent_to, texts
from tests.api.test_metrics import scrape, value
from tests.api.test_wechat_conformance import post
from tests.conversations.conftest import msg_id
from tests.conversations.test_end_to_end import faq_answer
from tests.servers import serve_api, serve_app

pytestmark = pytest.mark.e2e
RESPONSES = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "domain/core.yml").read_text(encoding="utf-8")
)["responses"]
QUEUED = "正在为您转接人工客服"


def test_asking_for_a_human_pauses_the_bot_until_the_customer_goes_back(api_url: str) -> None:
    sim = make_sim(api_url)
    assert QUEUED in (sim.say("我要转人工") or "")
    assert sim.say("我的电钻不转了") is None  # kept for the agent; the bot stays silent
    assert sim.say("返回") == "好的，已取消转人工，小匠继续为您服务～有问题随时问我。"
    # Rasa was paused by the handoff: resumed (resume + action_listen), it answers again.
    assert sim.say("电池保修多久") == faq_answer("faq-017")


def test_menu_click_goes_through_the_bot(api_url: str) -> None:
    sim = make_sim(api_url)
    reply = sim.open_reply(post(sim, sim.event_xml("CLICK", "HUMAN")))
    assert QUEUED in (reply or "")


def test_voice_recognition_is_understood(api_url: str) -> None:
    sim = make_sim(api_url)
    voice = sim.push("voice", MediaId="v", Format="amr", Recognition="电池保修多久", MsgId=msg_id())
    assert sim.open_reply(post(sim, voice)) == faq_answer("faq-017")


@pytest.mark.parametrize("json_format", [True, False])
def test_mini_program_text_is_answered_through_the_api(api_url: str, json_format: bool) -> None:
    sim = make_sim(api_url, "mp", json_format=json_format)
    response = post(sim, sim.text_xml("电池保修多久"))
    assert (response.status_code, response.text) == (200, "success")
    assert texts(sent_to(api_url, sim.openid, wait=60, count=1)) == [faq_answer("faq-017")]


def test_one_users_messages_are_answered_in_order(rasa_stack: Stack) -> None:
    questions = ["你好", "电池保修多久", "谢谢"]
    expected = [
        RESPONSES["utter_greet"][0]["text"],
        faq_answer("faq-017"),
        RESPONSES["utter_thanks"][0]["text"],
    ]
    with serve_api(
        rasa_url=rasa_stack.rasa_url,
        action_server_url=rasa_stack.actions_url,
        reply_budget_seconds=0.001,
    ) as url:
        sim = make_sim(url)
        for question in questions:  # as fast as the user can type: each gets the holding reply
            assert sim.say(question) == replies.HOLDING
        assert texts(sent_to(url, sim.openid, wait=60, count=3)) == expected


def _deferred_busy(url: str) -> float:
    return value(scrape(url), "jiangxin_replies_deferred_total", channel="oa", why="busy")


def test_a_swamped_rasa_is_not_waited_for(rasa_stack: Stack) -> None:
    """Admission: when the turns queued on Rasa say that an answer cannot come within the
    budget, the customer hears at once that it will follow, and it comes through the API."""
    with serve_app(rasa_url=rasa_stack.rasa_url, action_server_url=rasa_stack.actions_url) as (
        url,
        app,
    ):
        sim = make_sim(url)
        assert sim.say("你好") == RESPONSES["utter_greet"][0]["text"]  # in time: passive
        before = _deferred_busy(url)
        for load in app.state.context.rasa.load.values():
            load.turn_seconds = 1000.0  # as if Rasa had fallen far behind
            load.in_flight += 1  # with another customer's turn still queued
        assert sim.say("电池保修多久") == replies.HOLDING
        assert texts(sent_to(url, sim.openid, wait=60, count=1)) == [faq_answer("faq-017")]
        assert _deferred_busy(url) == before + 1


def test_two_misunderstandings_in_a_row_hand_over_to_a_human(api_url: str) -> None:
    sim = make_sim(api_url)
    first = sim.say("明天杭州会下雨吗")
    assert first == RESPONSES["utter_out_of_scope"][0]["text"]
    second = sim.say("给我推荐一部好看的电视剧") or ""
    assert second.startswith("抱歉小匠没能理解您的问题，正在为您转接人工客服")


def test_an_angry_customer_is_handed_over_without_asking_the_bot(api_url: str) -> None:
    sim = make_sim(api_url)
    assert (sim.say("你们就是骗子，修了三次还是坏的！！") or "").startswith("非常抱歉让您不愉快了")
