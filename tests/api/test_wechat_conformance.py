"""Conformance of /wechat/oa with wechat-protocol.md, rule by rule (no NLU needed here).

The section numbers in the test names' docstrings refer to ../shared/docs/wechat-protocol.md.
"""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import xmltodict
from sqlalchemy import select

from bot import replies
from bot.simulator import RawXml, WeChatSimulator, sign
from crm.config import Settings
from crm.customers.models import SubscriptionCredit
from crm.db import session_scope
from crm.outbox import service as outbox
from crm.outbox.models import OutboxItem
from tests.api.conftest import identity_of, inbound, make_sim
from tests.servers import serve_api

OLD_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"


def post(sim: WeChatSimulator, body: str, **query: str) -> httpx.Response:
    params, content = sim.envelope(body)
    return httpx.post(f"{sim.base_url}{sim.path}", params={**params, **query}, content=content)


def test_get_verification_echoes_plain_echostr(api: str) -> None:
    """§1.2: 200 with the raw echostr for a valid signature, never echoed otherwise."""
    token = Settings().wechat_oa_token
    query = {
        "timestamp": "1714036504",
        "nonce": "1514711492",
        "echostr": "4375120948345356249",
        "signature": sign(token, "1714036504", "1514711492"),
    }
    ok = httpx.get(f"{api}/wechat/oa", params=query)
    assert (ok.status_code, ok.text) == (200, "4375120948345356249")
    bad = httpx.get(f"{api}/wechat/oa", params={**query, "nonce": "1"})
    assert bad.status_code == 403 and "4375120948345356249" not in bad.text


@pytest.mark.parametrize("field", ["signature", "msg_signature"])
def test_forged_signatures_are_refused_without_side_effect(api: str, field: str) -> None:
    """§1.3/§1.4: `signature` always, `msg_signature` in safe mode; 403, nothing stored."""
    sim = make_sim(api)
    response = post(sim, sim.event_xml("subscribe"), **{field: "0" * 40})
    assert response.status_code == 403 and "Traceback" not in response.text
    assert inbound(sim.openid) == []


def test_ciphertext_for_another_appid_is_refused(api: str) -> None:
    """§1.4 step 4: the trailing appid must be ours."""
    sim = make_sim(api, appid="wx_not_our_account")
    assert post(sim, sim.event_xml("subscribe")).status_code == 403
    assert inbound(sim.openid) == []


@pytest.mark.parametrize("encrypt", ["not*base64*at*all", base64.b64encode(b"x" * 40).decode(), ""])
def test_undecryptable_payloads_answer_success_and_store_nothing(api: str, encrypt: str) -> None:
    """§6.3 item 7: decrypt errors of every kind are no 500 and no side effect."""
    sim = make_sim(api)
    params, _ = sim.envelope(sim.event_xml("subscribe"))
    params["msg_signature"] = sign(sim.token, params["timestamp"], params["nonce"], encrypt)
    body = f"<xml><ToUserName>gh_x</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    response = httpx.post(f"{api}/wechat/oa", params=params, content=body.encode())
    assert response.status_code in (200, 403) and "Traceback" not in response.text
    assert inbound(sim.openid) == []


@pytest.mark.parametrize(
    "body",
    [
        '<!DOCTYPE x [<!ENTITY e "boom">]><xml><MsgType>text</MsgType><Content>&e;</Content></xml>',
        "<xml><FromUserName>o</FromUserName><MsgType>te",
        '{"MsgType": "text", "FromUserName": "o-json", "Content": "hi"}',
        "<xml>" + "<a>x</a>" * 20000 + "</xml>",
    ],
    ids=["doctype-entities", "broken-xml", "json-on-xml-endpoint", "oversized"],
)
def test_bad_bodies_answer_success_and_store_nothing(api: str, body: str) -> None:
    """§1.5/§6.3 item 6: malformed bodies never cause a 500 or a stored row."""
    sim = make_sim(api, safe_mode=False, openid="o-bad-body-check")
    response = post(sim, body)
    assert (response.status_code, response.text) == (200, "success")
    assert inbound("o-json") == [] and inbound(sim.openid) == []


def test_compatible_mode_and_unknown_query_parameters(api: str) -> None:
    """§1.4: compatible mode (plain fields and Encrypt, encrypt_type=aes); extra params ignored."""
    sim = make_sim(api)
    xml = sim.event_xml("subscribe")
    params, sealed = sim.envelope(xml)
    encrypt = xmltodict.parse(sealed)["xml"]["Encrypt"]
    compatible = xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
    response = httpx.post(
        f"{api}/wechat/oa", params={**params, "extra": "1"}, content=compatible.encode()
    )
    assert sim.open_reply(response) == replies.WELCOME  # the reply is encrypted


def test_key_rotation_accepts_previous_key_and_answers_with_it(engine, redis_db) -> None:  # type: ignore[no-untyped-def]
    """§1.4 key rotation: try current, then previous; reply with the key that decrypted."""
    with serve_api(rasa_url="http://127.0.0.1:9", wechat_oa_aes_key_previous=OLD_KEY) as url:
        for key in (OLD_KEY, Settings().wechat_oa_aes_key):
            sim = make_sim(url, aes_key=key)
            assert sim.open_reply(post(sim, sim.event_xml("subscribe"))) == replies.WELCOME


def test_passive_reply_swaps_ids_in_plaintext(api: str) -> None:
    """§1.5: ToUserName = the user's openid, FromUserName = our account; CreateTime integer."""
    sim = make_sim(api, safe_mode=False)
    reply = xmltodict.parse(post(sim, sim.event_xml("subscribe")).text)["xml"]
    assert (reply["ToUserName"], reply["FromUserName"]) == (sim.openid, sim.account)
    assert reply["MsgType"] == "text" and reply["CreateTime"].isdigit()


def test_every_message_type_is_kept_and_answered_sensibly(api: str) -> None:
    """§1.3 ordinary messages: voice without recognition, image, video, link, location."""
    sim = make_sim(api)
    cases = [
        (sim.push("voice", MediaId="v1", Format="amr", MsgId=1001), replies.VOICE_UNRECOGNISED),
        (sim.push("image", PicUrl="http://x/a.jpg", MediaId="m1", MsgId=1002), replies.IMAGE_KEPT),
        (sim.push("video", MediaId="m2", ThumbMediaId="t", MsgId=1003), replies.VIDEO_KEPT),
        (sim.push("shortvideo", MediaId="m3", ThumbMediaId="t", MsgId=1004), replies.VIDEO_KEPT),
        (
            sim.push("link", Title="t", Description="d", Url="http://x", MsgId=1005),
            replies.LINK_RECEIVED,
        ),
    ]
    for xml, expected in cases:
        assert sim.open_reply(post(sim, xml)) == expected
    assert [m.msg_type for m in inbound(sim.openid)] == [
        "voice",
        "image",
        "video",
        "shortvideo",
        "link",
    ]
    assert inbound(sim.openid)[1].media_id == "m1"


def test_location_answers_with_the_nearest_store(api: str) -> None:
    """Location message: the nearest store of stores.yml (拱墅 → 拱墅旗舰店)."""
    sim = make_sim(api)
    near = sim.push(
        "location", Location_X=30.318, Location_Y=120.140, Scale=15, Label="莫干山路", MsgId=2001
    )
    answer = sim.open_reply(post(sim, near))
    assert answer is not None and "杭州拱墅旗舰店" in answer and "莫干山路 1018 号" in answer
    far = sim.push(
        "location", Location_X=39.9, Location_Y=116.4, Scale=15, Label="北京", MsgId=2002
    )
    assert sim.open_reply(post(sim, far)) == replies.NO_STORE_NEARBY


def test_follow_with_scene_then_unfollow(api: str) -> None:
    """§1.3 events: qrscene_ recorded as source; after unsubscribe nothing is sent."""
    sim = make_sim(api)
    assert sim.open_reply(post(sim, sim.event_xml("subscribe", "qrscene_store_HZ01"))) == (
        replies.WELCOME
    )
    identity = identity_of(sim.openid)
    assert (identity.subscribed, identity.source) == (True, "store_HZ01")
    with session_scope() as session:
        pending = outbox.enqueue(
            session,
            appid=identity.appid,
            openid=sim.openid,
            kind="custom",
            payload={"touser": sim.openid, "msgtype": "text", "text": {"content": "稍后"}},
            idempotency_key=f"later-{sim.openid}",
        )
        pending.next_attempt_at = pending.next_attempt_at.replace(year=2099)
    response = post(sim, sim.event_xml("unsubscribe"))
    assert (response.status_code, response.text) == (200, "success")
    assert identity_of(sim.openid).subscribed is False
    with session_scope() as session:
        item = session.get(OutboxItem, pending.id)
        assert item is not None and item.status == "cancelled"


def test_scan_view_location_event_and_unknown(api: str) -> None:
    """SCAN greets; VIEW, LOCATION and unknown events answer success; all are kept."""
    sim = make_sim(api)
    assert sim.open_reply(post(sim, sim.event_xml("SCAN", "promo_2025"))) == replies.WELCOME_BACK
    for event in ("VIEW", "LOCATION", "brand_new_event"):
        response = post(sim, sim.event_xml(event, "k-" + event))
        assert (response.status_code, response.text) == (200, "success")
    assert len(inbound(sim.openid)) == 4
    assert identity_of(sim.openid).source == "promo_2025"


def test_template_receipt_and_subscription_popup(api: str) -> None:
    """TEMPLATESENDJOBFINISH updates the outbox item; accepted pop-up templates become credits."""
    sim = make_sim(api)
    with session_scope() as session:
        item = outbox.enqueue(
            session,
            appid=Settings().wechat_oa_appid,
            openid=sim.openid,
            kind="template",
            payload={},
            idempotency_key=f"r-{sim.openid}",
        )
        item.status, item.wechat_msgid = "sent", 9_123_456_789_012_345_678
    post(
        sim,
        sim.event_xml(
            "TEMPLATESENDJOBFINISH", MsgID=9_123_456_789_012_345_678, Status="failed:user block"
        ),
    )
    with session_scope() as session:
        stored = session.get(OutboxItem, item.id)
        assert stored is not None and stored.receipt == "failed:user block"
    popup = RawXml(
        "<List><TemplateId><![CDATA[tpl-repair]]></TemplateId>"
        "<SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString></List>"
        "<List><TemplateId><![CDATA[tpl-ad]]></TemplateId>"
        "<SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString></List>"
    )
    xml = sim.event_xml("subscribe_msg_popup_event", SubscribeMsgPopupEvent=popup)
    assert post(sim, xml).text == "success"
    with session_scope() as session:
        credits = session.scalars(
            select(SubscriptionCredit).where(
                SubscriptionCredit.identity_id == identity_of(sim.openid).id
            )
        ).all()
        assert {c.template_id: c.remaining for c in credits} == {"tpl-repair": 1}


def test_events_dedup_by_sender_time_event_and_key(api: str) -> None:
    """§1.6: two different events in the same second are both kept; a repeat is not."""
    sim = make_sim(api)
    now = int(time.time())
    first = sim.event_xml("VIEW", "https://a", create_time=now)
    second = sim.event_xml("VIEW", "https://b", create_time=now)
    for body in (first, second, first):
        assert post(sim, body).status_code == 200
    assert [m.content for m in inbound(sim.openid)] == [
        "[event:view:https://a]",
        "[event:view:https://b]",
    ]


def test_concurrent_redeliveries_are_claimed_once(api: str) -> None:
    """§1.6: the three deliveries of one push, arriving together: one answer, one row."""
    sim = make_sim(api)
    body = sim.event_xml("subscribe")
    with ThreadPoolExecutor(3) as pool:
        responses = list(pool.map(lambda _: post(sim, body), range(3)))
    assert sorted(r.text == "success" for r in responses) == [False, True, True]
    assert len(inbound(sim.openid)) == 1


def test_msgid_is_kept_as_an_exact_64_bit_integer(api: str) -> None:
    """§1.3: MsgId is a 64-bit integer; ids beyond 2**53 must not be rounded."""
    sim = make_sim(api)
    msg_id = 2**63 - 1
    post(sim, sim.push("image", PicUrl="http://x/b.jpg", MediaId="m9", MsgId=msg_id))
    post(sim, sim.push("image", PicUrl="http://x/c.jpg", MediaId="m10", MsgId=msg_id - 1))
    assert [m.wechat_msg_id for m in inbound(sim.openid)] == [msg_id, msg_id - 1]
