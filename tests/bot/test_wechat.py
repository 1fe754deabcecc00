"""The OA protocol against the official and documented vectors, and against bad input."""

from __future__ import annotations

import httpx
import pytest
import xmltodict

from bot.simulator import WeChatSimulator, sign
from bot.wechat import (
    CallbackQuery,
    ForgedRequest,
    MalformedPush,
    WeChatCodec,
    cdata_safe,
)

# From ../shared/docs/wechat-protocol.md §1.2 and §1.4.
TOKEN, AES_KEY, APPID = "AAAAA", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx1234567890abcdef"
ENCRYPT = (
    "Q3stYC6hdFzMh9T8HCvyDKEQDhAYgkDlMsXiU1ECxcknqa8C2RMuVTnInkaEcLrgj01l7kKdz/emwMaNhwrN8cD+ughC"
    "YAtYewpndlUcVCOTzDQRDtqN/b3prcPPFae709f3IDZx04FE5VKgx2EsCnPUASHB7HEWp2hO/O/MJeEcMfagBYNeDOYE"
    "wKIMhmpFP3QJW+rzcR4mhVH+FIO3GC6zyu++pTeIuqKBhQpfyNUR3h9EW+kAxE06rYU3ENIB5ZBgxNnszJ7UyNjetsKw"
    "zurJyeo4PJuPIH4uvh9b7rRFzYMwZUlEzP7aMjQlPqEXWJ7hkEYFTOt074TJsFaXep+RMUJ2wRDm5nkVLYKiYbU1NeZM"
    "BDvXaYrE4GLa6YxjLt94x1rGZiCN2PaJtMuVj+sJt4TWEvf33VpCJn65JRXCbBU+WdkGBKOX/QRD5DphNerm4927pRZT"
    "7mukcHC24g=="
)
SAFE_QUERY = CallbackQuery(
    signature="899cf89e464efb63f54ddac96b0a0a235f53aa78",
    timestamp="1714037059",
    nonce="486452656",
    encrypt_type="aes",
    msg_signature="ae3df4a33e199f2bc4c481c0830b1e8cf5cb3c00",
)
SAFE_BODY = (
    f"<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName>"
    f"<Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>"
).encode()

codec = WeChatCodec(TOKEN, [AES_KEY], APPID)


def test_official_signature_vectors() -> None:
    assert sign(TOKEN, "1714036504", "1514711492") == "f464b24fc39322e44b38aa78f5edd27bd1441696"
    codec.verify(
        CallbackQuery(
            signature="f464b24fc39322e44b38aa78f5edd27bd1441696",
            timestamp="1714036504",
            nonce="1514711492",
        )
    )
    with pytest.raises(ForgedRequest):
        codec.verify(CallbackQuery(signature="0" * 40, timestamp="1714036504", nonce="1514711492"))


def test_safe_mode_vector_decrypts_to_the_text_message() -> None:
    push = codec.open(SAFE_QUERY, SAFE_BODY)
    assert push.encrypted and push.msg_type == "text"
    assert push.text == "报修：3号楼电梯故障"
    assert push.openid == "o9AgO5Kd5ggOC-bXrbNODIiE3bGY"
    assert push.dedup_key == "msg:24567890123456789"


def test_tampered_ciphertext_or_wrong_msg_signature_is_forged() -> None:
    wrong_sig = CallbackQuery(**{**SAFE_QUERY.__dict__, "msg_signature": "f" * 40})
    with pytest.raises(ForgedRequest):
        codec.open(wrong_sig, SAFE_BODY)
    other_app = WeChatCodec(TOKEN, [AES_KEY], "wx_someone_else")
    with pytest.raises(ForgedRequest):
        other_app.open(SAFE_QUERY, SAFE_BODY)


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><ToUserName>",
        b"not xml at all",
        b"<xml><FromUserName>x</FromUserName></xml>",
        b'<!DOCTYPE x [<!ENTITY a "b">]><xml><MsgType>text</MsgType></xml>',
        b"\xff\xfe",
    ],
)
def test_malformed_plaintext_bodies(body: bytes) -> None:
    sim = WeChatSimulator("http://unused", TOKEN, AES_KEY, APPID, safe_mode=False)
    params, _ = sim.envelope("")
    with pytest.raises(MalformedPush):
        codec.open(CallbackQuery(**{k: v for k, v in params.items() if k != "openid"}), body)


def test_reply_round_trip_in_safe_mode_escapes_cdata() -> None:
    sim = WeChatSimulator("http://unused", TOKEN, AES_KEY, APPID, openid="o-user")
    params, body = sim.envelope(sim.text_xml("hi ]]> there\x1d"))
    query = CallbackQuery(**{k: v for k, v in params.items() if k != "openid"})
    push = codec.open(query, body)
    assert push.text == "hi ]]> there"
    sealed = codec.reply(push, "答复 ]]> 完", query)
    envelope = xmltodict.parse(sealed)["xml"]
    assert envelope["MsgSignature"] == sign(
        TOKEN, envelope["TimeStamp"], envelope["Nonce"], envelope["Encrypt"]
    )
    assert sim.open_reply(httpx.Response(200, text=sealed)) == "答复 ]]> 完"


def test_cdata_safe() -> None:
    assert cdata_safe("a]]>b\x00c") == "a]]]]><![CDATA[>bc"
