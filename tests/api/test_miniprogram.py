"""The mini-program: customer-service pushes (XML/JSON, plain/safe) and REST login."""

from __future__ import annotations

import httpx
import pytest

from bot import replies
from crm.db import session_scope
from crm.privacy import cooling_off
from crm.privacy.models import CANCELLED, DataRequest
from tests.api.conftest import identity_of, inbound, make_sim, sent_to, texts
from tests.api.test_wechat_conformance import post
from tests.crm.privacy.people import make_person


@pytest.mark.parametrize(
    ("safe_mode", "json_format"), [(False, True), (True, True), (False, False), (True, False)]
)
def test_enter_session_greets_through_the_api_only(
    api: str, safe_mode: bool, json_format: bool
) -> None:
    """user_enter_tempsession: `success` at once, greeting via customer-service API, source kept."""
    sim = make_sim(api, "mp", safe_mode=safe_mode, json_format=json_format)
    response = post(sim, sim.event_xml("user_enter_tempsession", SessionFrom="goods_RG-DR-12"))
    assert (response.status_code, response.text) == (200, "success")
    assert texts(sent_to(api, sim.openid)) == [replies.MP_GREETING]
    assert identity_of(sim.openid).source == "goods_RG-DR-12"


def test_image_and_miniprogram_page_are_acknowledged(api: str) -> None:
    sim = make_sim(api, "mp", json_format=True)
    post(sim, sim.push("image", PicUrl="http://x/i.jpg", MediaId="mp-m1", MsgId=3001))
    post(
        sim,
        sim.push(
            "miniprogrampage",
            Title="锐工 ]]> 电锤",
            AppId="wx2",
            PagePath="p",
            ThumbUrl="u",
            ThumbMediaId="t",
            MsgId=3002,
        ),
    )
    sent = []
    for _ in range(50):
        sent = texts(sent_to(api, sim.openid))
        if len(sent) == 2:
            break
    assert sent == [replies.IMAGE_KEPT, replies.PAGE_RECEIVED.format(title="锐工 ]]> 电锤")]
    assert [m.msg_type for m in inbound(sim.openid)] == ["image", "miniprogrampage"]


def test_mp_forged_push_is_refused(api: str) -> None:
    sim = make_sim(api, "mp", json_format=True)
    assert post(sim, sim.event_xml("user_enter_tempsession"), signature="0" * 40).status_code == 403
    assert inbound(sim.openid) == []


def _register(api: str, code: str, openid: str, unionid: str | None = None) -> None:
    httpx.post(f"{api}/sandbox/codes", json={"code": code, "openid": openid, "unionid": unionid})


def test_login_issues_our_token_and_links_the_official_account(api: str) -> None:
    oa = make_sim(api, "oa")
    httpx.post(f"{api}/sandbox/users", json={"openid": oa.openid, "unionid": "u-" + oa.openid})
    post(oa, oa.event_xml("subscribe"))
    _register(api, "code-1", "mp-" + oa.openid, unionid="u-" + oa.openid)
    login = httpx.post(f"{api}/api/mp/login", json={"code": "code-1"})
    assert login.status_code == 200
    body = login.json()
    assert set(body) == {"token", "expires_in"} and "session_key" not in login.text
    me = httpx.get(f"{api}/api/mp/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["customer_id"] == identity_of(oa.openid).customer_id
    assert me.json()["linked_to_official_account"] is True


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("invalid", 401),
        ("used", 401),
        ("frequent", 429),
        ("blocked", 403),
        ("busy", 503),
        ("never-seen", 401),
    ],
)
def test_login_maps_wechat_errors(api: str, code: str, status: int) -> None:
    response = httpx.post(f"{api}/api/mp/login", json={"code": code})
    assert response.status_code == status
    assert set(response.json()) == {"error", "detail"}


def test_login_code_is_single_use_and_me_needs_a_token(api: str) -> None:
    _register(api, "code-2", "mp-once")
    assert httpx.post(f"{api}/api/mp/login", json={"code": "code-2"}).status_code == 200
    assert httpx.post(f"{api}/api/mp/login", json={"code": "code-2"}).status_code == 401
    assert httpx.get(f"{api}/api/mp/me").status_code == 401
    bad = httpx.get(f"{api}/api/mp/me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "Unauthorized"
    assert httpx.post(f"{api}/api/mp/login", json={}).status_code == 422


def test_logging_in_again_withdraws_it(api: str) -> None:
    """POL-PRV-007: logging in again during the cooling-off withdraws the erasure."""
    with session_scope() as session:
        person = make_person(session)
        cooling_off.schedule(session, person.customer_id, "chat", "customer")
    mp_openid = person.openids[1]
    httpx.post(f"{api}/sandbox/codes", json={"code": "relogin-" + mp_openid, "openid": mp_openid})
    assert httpx.post(f"{api}/api/mp/login", json={"code": "relogin-" + mp_openid}).is_success
    with session_scope() as session:
        request = session.query(DataRequest).filter_by(customer_id=person.customer_id).one()
        assert (request.status, request.decided_by) == (CANCELLED, "relogin")
