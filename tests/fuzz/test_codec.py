"""bot.wechat under fuzzing: any body or query is a Push or a clear refusal, crypto round-trips,
and any tampering with what WeChat signed is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import xmltodict
from hypothesis import assume, given
from hypothesis import strategies as st
from wechatpy.crypto import WeChatCrypto

from bot.simulator import WeChatSimulator, sign
from bot.wechat import (
    CallbackQuery,
    ForgedRequest,
    MalformedPush,
    Push,
    WeChatCodec,
    cdata_safe,
)
from tests.fuzz.conftest import budget, fuzzed

TOKEN, APPID, OTHER_APPID = "fuzztoken", "wx1234567890abcdef", "wxffffffffffffffff"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OLD_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj"
codec = WeChatCodec(TOKEN, [KEY, OLD_KEY], APPID)
BOTH = ("xml", "json")

# Tag names and values that make XML interesting: WeChat's own fields, CDATA, entities.
TAGS = st.sampled_from(
    ["xml", "ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event"]
) | st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.-]{0,8}\Z")
FRAGMENTS = st.sampled_from(
    [
        "<xml>",
        "</xml>",
        "<![CDATA[",
        "]]>",
        "<!DOCTYPE xml [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;'>]>",
        '<!DOCTYPE x SYSTEM "file:///etc/passwd">',
        "&b;",
        "&amp;",
        "&#0;",
        "&#x1F;",
        "<?xml version='1.0' encoding='gbk'?>",
        "<a/>",
        "<Encrypt>",
        "</Encrypt>",
        "\x00",
        "\ufffe",
        "\ud800",
    ]
)
# Values that once broke, or nearly broke, a derived field ("²".isdigit() is true).
ODD = st.sampled_from(["text", "event", "voice", "²", "٣", "1" * 4400, str(2**64), "-1", " 7"])
SCALARS = st.one_of(st.text(max_size=30), st.integers(), ODD)
WECHAT_FIELDS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId"]
WECHAT_FIELDS += ["Event", "EventKey", "Recognition", "Label", "SessionFrom", "Encrypt"]


@st.composite
def xml_documents(draw: st.DrawFn) -> str:
    """Nested elements with any text, then perhaps broken by fragments spliced in."""

    def element(depth: int) -> str:
        tag = draw(TAGS)
        if depth > 2 or draw(st.booleans()):
            value = str(draw(SCALARS))
            body = f"<![CDATA[{value}]]>" if draw(st.booleans()) else value
        else:
            body = "".join(element(depth + 1) for _ in range(draw(st.integers(0, 3))))
        return f"<{tag}>{body}</{tag}>"

    doc = "<xml>" + "".join(element(1) for _ in range(draw(st.integers(0, 6)))) + "</xml>"
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(doc)))
        doc = doc[:at] + draw(FRAGMENTS | st.text(max_size=5)) + doc[at:]
    return doc


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TAGS, inner, max_size=4),
    max_leaves=10,
)
BODIES = st.one_of(
    st.binary(max_size=300),
    xml_documents().map(lambda doc: doc.encode("utf-8", "surrogatepass")),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(TAGS, JSON_VALUES, max_size=6).map(lambda d: json.dumps(d).encode()),
)


def signed(timestamp: str = "1714036504", nonce: str = "1514711492", **more: str) -> CallbackQuery:
    return CallbackQuery(sign(TOKEN, timestamp, nonce), timestamp, nonce, **more)


def sealed(plain: str, key: str = KEY, appid: str = APPID) -> tuple[CallbackQuery, bytes]:
    """The query and body of a safe-mode push, as the simulator (i.e. WeChat) makes them."""
    sim = WeChatSimulator("http://unused", TOKEN, key, appid)
    params, body = sim.envelope(plain)
    return CallbackQuery(**{k: v for k, v in params.items() if k != "openid"}), body


def opened_or_refused(query: CallbackQuery, body: bytes, formats: tuple[str, ...]) -> Push | None:
    """The push, or None when refused as forged or malformed (anything else escapes)."""
    try:
        push = codec.open(query, body, formats)
    except (ForgedRequest, MalformedPush):
        return None
    # A push the runtime can rely on: every derived field is computable.
    assert push.openid and push.msg_type
    for name in ("event", "event_key", "create_time", "wechat_msg_id", "dedup_key", "summary"):
        getattr(push, name)
    assert push.text is None or isinstance(push.text, str)
    return push


@budget(400)
@given(body=BODIES, formats=st.sampled_from([("xml",), BOTH]))
def test_any_signed_plaintext_body_is_a_push_or_a_refusal(
    body: bytes, formats: tuple[str, ...]
) -> None:
    fuzzed("codec.open plaintext body")
    opened_or_refused(signed(), body, formats)


@budget(300)
@given(
    body=BODIES,
    msg_signature=st.text(max_size=45),
    formats=st.sampled_from([("xml",), BOTH]),
)
def test_any_safe_mode_body_is_a_push_or_a_refusal(
    body: bytes, msg_signature: str, formats: tuple[str, ...]
) -> None:
    """Without the msg_signature only WeChat can compute, nothing is opened."""
    fuzzed("codec.open safe-mode body")
    query = signed(encrypt_type="aes", msg_signature=msg_signature)
    assert opened_or_refused(query, body, formats) is None


@budget(300)
@given(
    encrypt=st.one_of(
        st.text(max_size=80),
        st.binary(max_size=120).map(lambda raw: base64.b64encode(raw).decode()),
    ),
    formats=st.sampled_from([("xml",), BOTH]),
    as_json=st.booleans(),
)
def test_a_correctly_signed_envelope_around_any_ciphertext_is_refused_cleanly(
    encrypt: str, formats: tuple[str, ...], as_json: bool
) -> None:
    """The attacker who knows the token but not the key: decryption fails, never crashes."""
    fuzzed("codec.open signed envelope, fuzzed ciphertext")
    timestamp, nonce = "1714037059", "486452656"
    if as_json:
        body = json.dumps({"ToUserName": "gh_x", "Encrypt": encrypt}).encode()
    else:
        body = f"<xml><Encrypt><![CDATA[{cdata_safe(encrypt)}]]></Encrypt></xml>".encode()
    query = signed(
        timestamp,
        nonce,
        encrypt_type="aes",
        msg_signature=sign(TOKEN, timestamp, nonce, encrypt),
    )
    with pytest.raises((ForgedRequest, MalformedPush)):
        codec.open(query, body, formats)


QUERY_VALUES = st.text(max_size=50) | st.sampled_from(["aes", "AES", "raw", "", "1714036504"])


@budget(300)
@given(
    query=st.dictionaries(st.sampled_from(list(CallbackQuery.__dataclass_fields__)), QUERY_VALUES)
)
def test_a_query_without_the_token_signature_is_forged(query: dict[str, str]) -> None:
    fuzzed("codec.verify query")
    parsed = CallbackQuery(**query)
    assume(parsed.signature != sign(TOKEN, parsed.timestamp, parsed.nonce))
    with pytest.raises(ForgedRequest):
        codec.verify(parsed)
    with pytest.raises(ForgedRequest):
        codec.open(parsed, b"<xml></xml>", BOTH)


# Text WeChat relays: anything a phone keyboard makes, control characters included.
CONTENT = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)
OPENIDS = st.from_regex(r"\Ao[A-Za-z0-9_-]{5,27}\Z")


def push_body(openid: str, content: str, msg_id: int, as_json: bool) -> str:
    sim = WeChatSimulator("http://unused", TOKEN, KEY, APPID, openid=openid, json_format=as_json)
    return sim.text_xml(content, msg_id=msg_id)


@budget(300)
@given(
    openid=OPENIDS,
    content=CONTENT,
    msg_id=st.integers(1, 2**63 - 1),
    as_json=st.booleans(),
    old_key=st.booleans(),
)
def test_encrypt_then_open_gives_back_the_push(
    openid: str, content: str, msg_id: int, as_json: bool, old_key: bool
) -> None:
    """Safe mode round trip, with either key of a rotation; the reply is sealed the same way."""
    fuzzed("crypto round trip (push and reply)")
    plain = push_body(openid, content, msg_id, as_json)
    query, body = sealed(plain, OLD_KEY if old_key else KEY)
    push = codec.open(query, body, BOTH)
    assert push.encrypted and push.raw == plain and push.key_index == int(old_key)
    assert (push.openid, push.msg_type, push.wechat_msg_id) == (openid, "text", msg_id)
    if as_json:
        assert push.text == content

    reply = codec.reply(push, content, query)
    envelope = xmltodict.parse(reply)["xml"]
    crypto = WeChatCrypto(TOKEN, OLD_KEY if old_key else KEY, APPID)
    opened = crypto.decrypt_message(
        reply, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
    )
    fields: dict[str, Any] = xmltodict.parse(opened)["xml"]
    assert (fields["ToUserName"], fields["MsgType"]) == (openid, "text")


@budget(300)
@given(
    content=CONTENT,
    where=st.sampled_from(["Encrypt", "msg_signature", "timestamp", "nonce"]),
    at=st.integers(0, 10**6),
    char=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
)
def test_any_tampering_with_what_wechat_signed_is_refused(
    content: str, where: str, at: int, char: str
) -> None:
    fuzzed("crypto tampering refused")
    query, body = sealed(push_body("o_tamper", content, 1, False))
    envelope: dict[str, str] = xmltodict.parse(body)["xml"]
    fields = {"Encrypt": envelope["Encrypt"], **query.__dict__}
    value = fields[where]
    at %= len(value)
    assume(value[at] != char)
    fields[where] = value[:at] + char + value[at + 1 :]
    encrypt = fields.pop("Encrypt")
    forged = CallbackQuery(**fields)
    tampered = f"<xml><ToUserName>gh_x</ToUserName><Encrypt>{encrypt}</Encrypt></xml>".encode()
    with pytest.raises(ForgedRequest):
        codec.open(forged, tampered)


@budget(200)
@given(content=CONTENT, appid=st.from_regex(r"\Awx[0-9a-f]{16}\Z"), as_json=st.booleans())
def test_a_push_sealed_for_another_appid_is_refused(
    content: str, appid: str, as_json: bool
) -> None:
    fuzzed("crypto other appid refused")
    assume(appid != APPID)
    query, body = sealed(push_body("o_other", content, 1, as_json), appid=appid)
    with pytest.raises(ForgedRequest):
        codec.open(query, body, BOTH)


@budget(200)
@given(content=CONTENT, key=st.from_regex(r"\A[A-Za-z0-9]{43}\Z"))
def test_a_push_sealed_with_an_unknown_key_is_refused(content: str, key: str) -> None:
    fuzzed("crypto unknown key refused")
    assume(key not in (KEY, OLD_KEY))
    query, body = sealed(push_body("o_key", content, 1, False), key=key)
    with pytest.raises((ForgedRequest, MalformedPush)):
        codec.open(query, body)


@budget(300)
@given(fields=st.fixed_dictionaries({}, optional=dict.fromkeys(WECHAT_FIELDS, ODD | JSON_VALUES)))
def test_push_fields_of_any_shape_never_break_the_derived_values(fields: dict[str, Any]) -> None:
    """JSON pushes carry any JSON type where XML has text: the runtime reads them all."""
    fuzzed("Push derived fields")
    push = Push({"FromUserName": "o_x", "MsgType": "text", **fields}, raw="{}", fmt="json")
    for name in ("openid", "msg_type", "event", "create_time", "dedup_key", "text", "summary"):
        getattr(push, name)
    msg_id = push.wechat_msg_id
    assert msg_id is None or 0 < msg_id < 2**63  # it goes into a BIGINT column


@budget(300)
@given(text=CONTENT)
def test_cdata_safe_text_always_parses_back(text: str) -> None:
    fuzzed("cdata_safe")
    doc = xmltodict.parse(
        f"<xml><C><![CDATA[{cdata_safe(text)}]]></C></xml>", strip_whitespace=False
    )
    assert doc["xml"]["C"] is None or isinstance(doc["xml"]["C"], str)


@budget(200)
@given(
    lone=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    prefix=st.text(max_size=5),
    suffix=st.text(max_size=5),
)
def test_a_json_push_holding_a_lone_surrogate_is_refused(
    lone: str, prefix: str, suffix: str
) -> None:
    """JSON may escape half a UTF-16 pair ("\\ud800"): no text, and it breaks the normaliser,
    PostgreSQL and Redis downstream."""
    fuzzed("codec.open JSON with lone surrogates")
    body = json.dumps({"FromUserName": "o_x", "MsgType": "text", "Content": prefix + lone + suffix})
    with pytest.raises(MalformedPush):
        codec.open(signed(), body.encode(), BOTH)
