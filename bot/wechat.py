"""WeChat callbacks: signatures, AES with key rotation, XML/JSON parsing, passive replies."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

# Characters XML 1.0 forbids; WeChat has been seen to relay some of them in user text.
_BAD_XML_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
MAX_BODY_BYTES = 64 * 1024


class ForgedRequest(Exception):
    """The signature does not match, or the ciphertext is not for us: not from WeChat."""


class MalformedPush(Exception):
    """Correctly signed, but the body cannot be understood."""


@dataclass(frozen=True)
class CallbackQuery:
    """The query parameters WeChat adds to every callback."""

    signature: str = ""
    timestamp: str = ""
    nonce: str = ""
    echostr: str = ""
    encrypt_type: str = ""
    msg_signature: str = ""

    @property
    def safe_mode(self) -> bool:
        """True when the body is AES-encrypted (compatible or safe mode)."""
        return self.encrypt_type.lower() == "aes"


@dataclass(frozen=True)
class Push:
    """One push from WeChat, its fields as sent (XML or JSON)."""

    fields: dict[str, Any]
    raw: str
    encrypted: bool = False
    key_index: int = 0  # which EncodingAESKey opened it: 0 current, 1 previous
    fmt: str = "xml"

    def get(self, name: str) -> str:
        """A field as text ('' when absent)."""
        value = self.fields.get(name)
        return "" if value is None else str(value)

    @property
    def openid(self) -> str:
        return self.get("FromUserName")

    @property
    def account(self) -> str:
        return self.get("ToUserName")

    @property
    def msg_type(self) -> str:
        return self.get("MsgType").lower()

    @property
    def event(self) -> str:
        """The event name, lower-cased (WeChat mixes `subscribe` and `SCAN`)."""
        return self.get("Event").lower()

    @property
    def event_key(self) -> str:
        return self.get("EventKey")

    @property
    def create_time(self) -> int:
        try:
            return int(self.get("CreateTime"))
        except ValueError:
            return 0

    @property
    def wechat_msg_id(self) -> int | None:
        """MsgId as an exact 64-bit integer (events have none; None when it is not one)."""
        value = self.get("MsgId")
        if not (value.isascii() and value.isdigit() and len(value) <= 19):
            return None  # "²".isdigit() is true; 2**63 and beyond do not fit the BIGINT column
        number = int(value)
        return number if 0 < number < 2**63 else None

    @property
    def dedup_key(self) -> str:
        """MsgId for messages; sender + time + event + key for events."""
        if self.wechat_msg_id:
            return f"msg:{self.wechat_msg_id}"
        return f"evt:{self.openid}:{self.create_time}:{self.event}:{self.event_key}"

    @property
    def text(self) -> str | None:
        """What the customer said, as text: typed text or voice recognition."""
        if self.msg_type == "text":
            return self.get("Content")
        if self.msg_type == "voice":
            return self.get("Recognition").strip() or None
        return None

    @property
    def summary(self) -> str:
        """A human-readable content line for the transcript."""
        if self.text is not None:
            return self.text
        if self.msg_type == "event":
            key = f":{self.event_key}" if self.event_key else ""
            return f"[event:{self.event}{key}]"
        if self.msg_type == "location":
            return f"[location:{self.get('Label')}]"
        return f"[{self.msg_type}]"


def cdata_safe(text: str) -> str:
    """Text that can sit inside CDATA: illegal characters removed, `]]>` split."""
    return _BAD_XML_CHARS.sub("", text).replace("]]>", "]]]]><![CDATA[>")


@dataclass
class WeChatCodec:
    """Verifies, decrypts and parses one account's pushes, and seals its passive replies.

    `aes_keys` holds the current EncodingAESKey first and, during a rotation, the previous one.
    """

    token: str
    aes_keys: list[str]
    appid: str
    _cryptos: list[WeChatCrypto] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cryptos = [WeChatCrypto(self.token, key, self.appid) for key in self.aes_keys if key]

    def verify(self, query: CallbackQuery) -> None:
        """Raise ForgedRequest unless `signature` matches token, timestamp and nonce."""
        try:
            check_signature(self.token, query.signature, query.timestamp, query.nonce)
        except InvalidSignatureException as exc:
            raise ForgedRequest("signature mismatch") from exc

    def open(self, query: CallbackQuery, body: bytes, formats: tuple[str, ...] = ("xml",)) -> Push:
        """Verify, decrypt (safe mode) and parse one push in one of `formats`."""
        self.verify(query)
        if len(body) > MAX_BODY_BYTES:
            raise MalformedPush("body too large")
        text = _decode(body)
        fields = _parse(text, formats)
        if not query.safe_mode:
            return _push(fields, text, encrypted=False, key_index=0)
        envelope = fields
        last: Exception | None = None
        foreign = False  # one key opened it, but it names another appid
        for index, crypto in enumerate(self._cryptos):
            try:
                plain = crypto.decrypt_message(
                    dict(envelope), query.msg_signature, query.timestamp, query.nonce
                )
            except InvalidSignatureException as exc:
                raise ForgedRequest("msg_signature mismatch") from exc
            except Exception as exc:  # wrong key or appid, bad base64, bad padding
                last = exc
                foreign = foreign or isinstance(exc, InvalidAppIdException)
                continue
            return _push(_parse(str(plain), formats), str(plain), encrypted=True, key_index=index)
        if foreign:
            raise ForgedRequest("ciphertext is for another appid or key") from last
        raise MalformedPush(f"cannot decrypt: {type(last).__name__}") from last

    def reply(self, push: Push, text: str, query: CallbackQuery) -> str:
        """The passive text reply to `push`, encrypted with the key that opened it."""
        xml: str = TextReply(
            source=push.account, target=push.openid, content=cdata_safe(text)
        ).render()
        if push.encrypted:
            crypto = self._cryptos[push.key_index]
            return str(crypto.encrypt_message(xml, query.nonce, query.timestamp))
        return xml


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPush("body is not UTF-8") from exc


def _parse(text: str, formats: tuple[str, ...]) -> dict[str, Any]:
    stripped = text.lstrip()
    if stripped.startswith("{") and "json" in formats:
        try:
            data = json.loads(stripped)
            json.dumps(data, ensure_ascii=False).encode()  # "\ud800" escapes a lone surrogate
        except ValueError as exc:  # UnicodeEncodeError included
            raise MalformedPush("invalid JSON") from exc
    elif stripped.startswith("<") and "xml" in formats:
        try:
            doc = xmltodict.parse(_BAD_XML_CHARS.sub("", stripped), disable_entities=True)
        except Exception as exc:  # expat errors, entity refusal
            raise MalformedPush(f"invalid XML: {type(exc).__name__}") from exc
        data = doc.get("xml") if isinstance(doc, dict) else None
    else:
        raise MalformedPush(f"body is not {' or '.join(formats)}")
    if not isinstance(data, dict):
        raise MalformedPush("body is not a WeChat push")
    return data


def _push(fields: dict[str, Any], raw: str, encrypted: bool, key_index: int) -> Push:
    if "Encrypt" in fields and not encrypted and len(fields) <= 2:
        raise MalformedPush("encrypted body without encrypt_type=aes")
    push = Push(
        fields=fields,
        raw=raw,
        encrypted=encrypted,
        key_index=key_index,
        fmt="json" if raw.lstrip().startswith("{") else "xml",
    )
    if not push.openid or not push.msg_type:
        raise MalformedPush("no FromUserName or MsgType")
    if push.get("MsgId") not in ("", "0") and push.wechat_msg_id is None:
        raise MalformedPush("MsgId is not a 64-bit message id")
    return push


def push_from_raw(raw: str, encrypted: bool = False, key_index: int = 0) -> Push:
    """A push again from the plaintext it was stored or spooled as (XML or JSON)."""
    return _push(_parse(raw, ("xml", "json")), raw, encrypted, key_index)


def query_from_mapping(params: Any) -> CallbackQuery:
    """CallbackQuery from any mapping of query parameters (unknown ones are ignored)."""
    names = CallbackQuery.__dataclass_fields__
    return CallbackQuery(**{name: str(params.get(name, "")) for name in names})
