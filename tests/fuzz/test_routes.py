"""The served api under fuzzing: WeChat callbacks answer `success` or 403 to anything, and the
JSON APIs answer any body with a clear 4xx, never a 500."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.simulator import WeChatSimulator, sign
from crm.config import Settings
from tests.api.conftest import inbound, make_sim
from tests.fuzz.conftest import FuzzApi, budget, fuzzed
from tests.fuzz.test_codec import BODIES, CONTENT, JSON_VALUES, QUERY_VALUES

QUERY_NAMES = ["signature", "timestamp", "nonce", "echostr", "encrypt_type", "msg_signature"]
QUERIES = st.dictionaries(st.sampled_from([*QUERY_NAMES, "openid", "x"]), QUERY_VALUES)


@pytest.fixture
def client(fuzz_api: FuzzApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fuzz_api.url, timeout=30) as client:
        yield client


def token_of(channel: str) -> str:
    settings = Settings()
    return settings.wechat_oa_token if channel == "oa" else settings.wechat_mp_token


@budget(120)
@given(
    channel=st.sampled_from(["oa", "mp"]),
    method=st.sampled_from(["GET", "POST"]),
    query=QUERIES,
    sign_it=st.booleans(),
    body=BODIES,
)
def test_any_callback_request_gets_success_or_403(
    client: httpx.Client,
    channel: str,
    method: str,
    query: dict[str, str],
    sign_it: bool,
    body: bytes,
) -> None:
    """Forged: 403 and nothing stored; signed but not understood: `success`; never 5xx."""
    fuzzed("HTTP /wechat/{oa,mp} fuzzed query and body")
    if sign_it:
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        query["signature"] = sign(token_of(channel), timestamp, nonce)
    response = client.request(method, f"/wechat/{channel}", params=query, content=body)
    assert response.status_code in (200, 403), response.text
    if not sign_it:
        assert response.status_code == 403
    elif method == "GET":
        assert (response.status_code, response.text) == (200, query.get("echostr", ""))


@budget(40)
@given(
    channel=st.sampled_from(["oa", "mp"]),
    safe_mode=st.booleans(),
    as_json=st.booleans(),
    msg_type=st.sampled_from(["text", "voice", "event", "location", "image", "link", "weird"]),
    content=CONTENT,
    fields=st.dictionaries(
        st.sampled_from(["Event", "EventKey", "Recognition", "Label", "MsgId", "SessionFrom"]),
        st.text(max_size=20) | st.sampled_from(["subscribe", "CLICK", "²", str(2**64), "7"]),
    ),
)
def test_any_signed_push_is_stored_or_refused_never_a_server_error(
    fuzz_api: FuzzApi,
    channel: str,
    safe_mode: bool,
    as_json: bool,
    msg_type: str,
    content: str,
    fields: dict[str, str],
) -> None:
    """Correctly signed (and sealed) pushes with fuzzed fields reach the runtime: 200 always."""
    fuzzed("HTTP /wechat/{oa,mp} signed push, fuzzed fields")
    sim: WeChatSimulator = make_sim(
        fuzz_api.url, channel, safe_mode=safe_mode, json_format=as_json and channel == "mp"
    )
    extra: dict[str, Any] = fields
    params, body = sim.envelope(sim.push(msg_type, Content=content, **extra))
    response = httpx.post(f"{sim.base_url}{sim.path}", params=params, content=body, timeout=30)
    assert response.status_code == 200, response.text
    if fields.get("MsgId") in ("²", str(2**64)):
        assert response.text == "success" and inbound(sim.openid) == []


JSON_POSTS = [
    "/api/mp/login",
    "/api/mp/bind-phone",
    "/api/integration/v1/purchases",
    "/api/integration/v1/refunds",
    "/api/integration/v1/coupons/redeem",
    "/api/integration/v1/points/redeem",
    "/api/integration/v1/reviews",
    "/api/integration/v1/referrals",
]
RAW_BODIES = st.one_of(
    BODIES,
    JSON_VALUES.map(lambda v: json.dumps({"code": v}).encode()),
    st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=5).map(
        lambda d: json.dumps(d).encode()
    ),
)


@budget(120)
@given(
    path=st.sampled_from(JSON_POSTS),
    body=RAW_BODIES,
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/xml"]),
)
def test_any_body_to_the_json_apis_is_a_clear_4xx(
    client: httpx.Client, fuzz_api: FuzzApi, path: str, body: bytes, content_type: str
) -> None:
    """Authorised and with an Idempotency-Key, so that the body itself is what gets judged."""
    key = fuzz_api.mp_token if path.startswith("/api/mp/") else fuzz_api.integration_key
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": secrets.token_hex(8)}
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post(path, content=body, headers=headers)
    fuzzed("HTTP JSON POST raw bodies (mini-program, integration)", response.status_code != 401)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert "detail" in response.json()
