"""Plays WeChat: signs (and in safe mode encrypts) a customer's messages exactly as WeChat does.

`make chat` runs it as a terminal chat; the end-to-end tests drive the same class.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import xmltodict
from wechatpy.crypto import WeChatCrypto

from bot.wechat import cdata_safe
from crm.config import get_settings


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the parts sorted as strings and joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


@dataclass
class WeChatSimulator:
    """One WeChat user talking to one official account's callback."""

    base_url: str
    token: str
    aes_key: str
    appid: str
    openid: str = field(default_factory=lambda: "o" + secrets.token_urlsafe(20))
    safe_mode: bool = True
    account: str = "gh_jiangxin0001"
    timeout: float = 10.0
    last_seq: int = 0

    path: str = "/wechat/oa"
    json_format: bool = False  # mini-program pushes may be JSON

    def push(self, msg_type: str, create_time: int | None = None, **fields: Any) -> str:
        """The plaintext body (XML, or JSON when `json_format`) of a push from this user."""
        data: dict[str, Any] = {
            "ToUserName": self.account,
            "FromUserName": self.openid,
            "CreateTime": create_time or int(time.time()),
            "MsgType": msg_type,
            **fields,
        }
        if self.json_format:
            return json.dumps(data, ensure_ascii=False)
        return "<xml>" + "".join(_xml_field(k, v) for k, v in data.items()) + "</xml>"

    def text_xml(
        self, content: str, msg_id: int | None = None, create_time: int | None = None
    ) -> str:
        """A text message from this user (MsgId beyond 2**53 unless given: must stay exact)."""
        msg_id = msg_id or (1 << 62) + secrets.randbits(60)
        return self.push("text", create_time, Content=content, MsgId=msg_id)

    def event_xml(
        self, event: str, key: str = "", create_time: int | None = None, **more: Any
    ) -> str:
        """An event push (events carry no MsgId)."""
        extra = {"EventKey": key} if key else {}
        return self.push("event", create_time, Event=event, **extra, **more)

    def envelope(self, body: str) -> tuple[dict[str, str], bytes]:
        """Query parameters and body of the POST WeChat would make for `body`."""
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
        params = {
            "signature": sign(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": self.openid,
        }
        if not self.safe_mode:
            return params, body.encode()
        sealed = xmltodict.parse(
            WeChatCrypto(self.token, self.aes_key, self.appid).encrypt_message(
                body, nonce, timestamp
            )
        )["xml"]
        params.update(encrypt_type="aes", msg_signature=sealed["MsgSignature"])
        if self.json_format:
            outer = json.dumps({"ToUserName": self.account, "Encrypt": sealed["Encrypt"]})
            return params, outer.encode()
        outer = (
            f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName>"
            f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>"
        )
        return params, outer.encode()

    def post(self, xml: str) -> httpx.Response:
        """POST one push to the callback."""
        params, body = self.envelope(xml)
        return httpx.post(
            f"{self.base_url}/wechat/oa", params=params, content=body, timeout=self.timeout
        )

    def open_reply(self, response: httpx.Response) -> str | None:
        """The text of a passive reply (decrypted in safe mode), or None for `success`."""
        return self.reply_text(response.status_code, response.text)

    def reply_text(self, status: int, body: str) -> str | None:
        """open_reply of a response read by any HTTP client: its status and body."""
        if status != 200:
            raise RuntimeError(f"callback answered {status}: {body}")
        if body in ("", "success"):
            return None
        if self.safe_mode:
            sealed = xmltodict.parse(body)["xml"]
            body = WeChatCrypto(self.token, self.aes_key, self.appid).decrypt_message(
                body, sealed["MsgSignature"], sealed["TimeStamp"], sealed["Nonce"]
            )
        reply: dict[str, Any] = xmltodict.parse(body)["xml"]
        if reply.get("ToUserName") != self.openid:
            raise RuntimeError("passive reply addressed to someone else")
        return str(reply.get("Content", ""))

    def say(self, content: str) -> str | None:
        """Send a text and return the passive reply (None when the callback said `success`)."""
        return self.open_reply(self.post(self.text_xml(content)))

    def pushed(self) -> list[str]:
        """Customer-service messages the sandbox received for this user since the last call."""
        response = httpx.get(
            f"{self.base_url}/sandbox/messages",
            params={"touser": self.openid, "after": self.last_seq, "kind": "custom"},
            timeout=5,
        )
        items = response.json()
        if items:
            self.last_seq = max(int(m["seq"]) for m in items)
        return [m.get("text", {}).get("content", f"[{m.get('msgtype')}]") for m in items]


class RawXml(str):
    """A field value that is already XML (nested elements), inserted as it is."""


def _xml_field(name: str, value: Any) -> str:
    if isinstance(value, RawXml):
        return f"<{name}>{value}</{name}>"
    if isinstance(value, int):
        return f"<{name}>{value}</{name}>"
    if isinstance(value, float):
        return f"<{name}>{value}</{name}>"
    return f"<{name}><![CDATA[{cdata_safe(str(value))}]]></{name}>"


def main(argv: list[str] | None = None) -> int:
    """Terminal chat against a running `make run`."""
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="make chat", description=__doc__)
    parser.add_argument("--url", default=f"http://127.0.0.1:{settings.port}")
    parser.add_argument("--plain", action="store_true", help="plaintext mode instead of safe mode")
    parser.add_argument("--openid", default="o_local_demo_user")
    parser.add_argument("-m", "--message", action="append", help="send these and exit")
    args = parser.parse_args(argv)
    sim = WeChatSimulator(
        args.url,
        settings.wechat_oa_token,
        settings.wechat_oa_aes_key,
        settings.wechat_oa_appid,
        openid=args.openid,
        safe_mode=not args.plain,
    )
    mode = "明文模式" if args.plain else "安全模式 (AES)"
    print(
        f"模拟微信用户 {sim.openid} → {args.url}/wechat/oa，{mode}。输入消息回车发送，Ctrl-D 退出。"
    )
    try:
        sim.pushed()  # skip what earlier sessions received
        for line in args.message or iter(lambda: input("你：").strip(), None):
            if not line:
                continue
            if args.message:
                print(f"你：{line}")
            _exchange(sim, line)
    except (EOFError, KeyboardInterrupt):
        print()
    except httpx.HTTPError as exc:
        print(f"连接不到 {args.url}：{exc}。先在另一个终端运行 make run。", file=sys.stderr)
        return 1
    return 0


def _exchange(sim: WeChatSimulator, line: str) -> None:
    started = time.monotonic()
    reply = sim.say(line)
    took = time.monotonic() - started
    if reply is not None:
        print(f"小匠（被动回复，{took:.2f} s）：{reply}")
        return
    print(f"（回调 {took:.2f} s 内答复 success，等待客服消息接口的回复……）")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for text in sim.pushed():
            print(f"小匠（客服消息）：{text}")
            return
        time.sleep(0.5)
    print("（30 秒内没有收到客服消息）")


if __name__ == "__main__":
    sys.exit(main())
