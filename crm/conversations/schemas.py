"""Typed inputs of the conversations service."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InboundMessage:
    """A message as a channel received it, before it is stored."""

    appid: str
    channel: str
    openid: str
    msg_type: str
    content: str
    dedup_key: str
    wechat_msg_id: int | None = None
    unionid: str | None = None
    raw: str | None = None
    media_id: str | None = None
    media_url: str | None = None
