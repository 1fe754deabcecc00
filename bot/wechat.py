"""The official-account callback protocol: signatures, safe-mode AES, parsing, passive replies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.utils import check_signature

# Characters XML 1.0 forbids; WeChat has been seen to relay some of them in user text.
_BAD_XML_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class ForgedRequest(Exception):
    """The signature does not match: not from WeChat."""


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
    """One parsed push from WeChat."""

    message: BaseMessage
    xml: str
    encrypted: bool

    @property
    def openid(self) -> str:
        return str(self.message.source)

    @property
    def msg_type(self) -> str:
        """MsgType as sent (wechatpy maps unknown types and events to "unknown")."""
        return str(self.message._data.get("MsgType", "")).lower()

    @property
    def event(self) -> str:
        """The event name, lower-cased (WeChat mixes `subscribe` and `SCAN`)."""
        return str(self.message._data.get("Event", "")).lower()

    @property
    def wechat_msg_id(self) -> int | None:
        return int(self.message.id) if self.message.id else None

    @property
    def dedup_key(self) -> str:
        """MsgId for messages; sender + time + event + key for events (their MsgId is 0)."""
        if self.wechat_msg_id:
            return f"msg:{self.wechat_msg_id}"
        key = getattr(self.message, "key", "") or ""
        return f"evt:{self.openid}:{self.message.time}:{self.event}:{key}"

    @property
    def text(self) -> str | None:
        """What the customer said, as text: typed text or voice recognition."""
        if self.msg_type == "text":
            return str(self.message.content)
        if self.msg_type == "voice":
            return str(getattr(self.message, "recognition", "") or "") or None
        return None

    @property
    def summary(self) -> str:
        """A human-readable content line for the transcript."""
        if self.text is not None:
            return self.text
        if self.msg_type == "event":
            key = getattr(self.message, "key", "") or ""
            return f"[event:{self.event}{':' + key if key else ''}]"
        return f"[{self.msg_type}]"


def cdata_safe(text: str) -> str:
    """Text that can sit inside CDATA: illegal characters removed, `]]>` split."""
    return _BAD_XML_CHARS.sub("", text).replace("]]>", "]]]]><![CDATA[>")


class OfficialAccountCodec:
    """Verifies, decrypts and parses pushes of one official account, and seals its replies."""

    def __init__(self, token: str, aes_key: str, appid: str) -> None:
        self.token = token
        self.appid = appid
        self.crypto = WeChatCrypto(token, aes_key, appid)

    def verify(self, query: CallbackQuery) -> None:
        """Raise ForgedRequest unless `signature` matches token, timestamp and nonce."""
        try:
            check_signature(self.token, query.signature, query.timestamp, query.nonce)
        except InvalidSignatureException as exc:
            raise ForgedRequest("signature mismatch") from exc

    def open(self, query: CallbackQuery, body: bytes) -> Push:
        """Verify, decrypt (safe mode) and parse one push."""
        self.verify(query)
        xml = self._decrypt(query, body) if query.safe_mode else _decode(body)
        try:
            message = parse_message(_BAD_XML_CHARS.sub("", xml))
        except Exception as exc:  # expat, KeyError('MsgType'), entity refusal: all malformed
            raise MalformedPush(f"unparseable XML: {type(exc).__name__}") from exc
        if message is None or not getattr(message, "source", None):
            raise MalformedPush("empty push or no FromUserName")
        return Push(message=message, xml=xml, encrypted=query.safe_mode)

    def _decrypt(self, query: CallbackQuery, body: bytes) -> str:
        try:
            return str(
                self.crypto.decrypt_message(body, query.msg_signature, query.timestamp, query.nonce)
            )
        except InvalidSignatureException as exc:
            raise ForgedRequest("msg_signature mismatch") from exc
        except InvalidAppIdException as exc:
            raise ForgedRequest("encrypted for another appid") from exc
        except Exception as exc:  # KeyError, binascii.Error, struct.error, expat: all malformed
            raise MalformedPush(f"cannot decrypt: {type(exc).__name__}") from exc

    def reply(self, push: Push, text: str, query: CallbackQuery) -> str:
        """The passive text reply to `push`, encrypted when the push was."""
        xml: str = create_reply(cdata_safe(text), message=push.message, render=True)
        if push.encrypted:
            return str(self.crypto.encrypt_message(xml, query.nonce, query.timestamp))
        return xml


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPush("body is not UTF-8") from exc


def query_from_mapping(params: Any) -> CallbackQuery:
    """CallbackQuery from any mapping of query parameters (unknown ones are ignored)."""
    names = CallbackQuery.__dataclass_fields__
    return CallbackQuery(**{name: str(params.get(name, "")) for name in names})
