"""GET /metrics: Prometheus figures of the callback, Rasa, the outbox and the handoff queue."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from crm.config import Settings
from crm.db import session_scope
from crm.outbox import service as outbox
from tests.api.conftest import eventually, make_sim

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of /metrics by (name, labels)."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_a_text_message_shows_in_the_metrics(api: str) -> None:
    before = scrape(api)
    sim = make_sim(api)
    reply = sim.say("电池保修多久")  # Rasa is down here: the holding reply, passively
    assert reply
    after = scrape(api)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("jiangxin_messages_in_total", channel="oa", msg_type="text") == 1
    assert grew("jiangxin_messages_out_total", channel="oa", via="passive") == 1
    assert grew("jiangxin_callback_seconds_count", channel="oa") == 1
    assert grew("jiangxin_callback_seconds_bucket", channel="oa", le="5.0") == 1
    assert grew("jiangxin_rasa_seconds_count", outcome="error") >= 1
    assert ("jiangxin_outbox_backlog", frozenset()) in after
    assert ("jiangxin_handoff_queue_length", frozenset()) in after


def test_replies_through_the_api_and_handoffs_are_counted(api: str) -> None:
    before = scrape(api)
    mp = make_sim(api, channel="mp")  # the mini-program answers `success`
    params, body = mp.envelope(mp.text_xml("电池保修多久"))
    assert httpx.post(f"{api}{mp.path}", params=params, content=body).text == "success"
    with session_scope() as session:  # a customer-service message for the delivery worker
        outbox.enqueue(
            session,
            appid=Settings().wechat_mp_appid,
            openid=mp.openid,
            kind="custom",
            payload={"touser": mp.openid, "msgtype": "text", "text": {"content": "您好"}},
        )
    assert make_sim(api).say("我要转人工")  # straight to the queue, without Rasa

    def sent() -> bool:
        now = scrape(api)
        return value(now, "jiangxin_messages_out_total", channel="mp", via="custom") > value(
            before, "jiangxin_messages_out_total", channel="mp", via="custom"
        )

    assert eventually(sent)
    after = scrape(api)
    assert value(after, "jiangxin_handoff_queue_length") >= 1
    assert value(after, "jiangxin_messages_in_total", channel="mp", msg_type="text") == 1 + value(
        before, "jiangxin_messages_in_total", channel="mp", msg_type="text"
    )
