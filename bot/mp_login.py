"""Mini-program login: wx.login code -> jscode2session -> an opaque session token of our own.

WeChat's session_key stays on the server (in the store, beside our token); the client only ever
sees our token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass

from bot.wechat_api import WeChatAPI, WeChatAPIError
from crm.customers.service import link_unionid, resolve_identity
from crm.db import session_scope
from crm.errors import Forbidden, TooManyRequests, Unauthorized, UpstreamUnavailable
from crm.kv import KeyValueStore
from crm.privacy import cooling_off

log = logging.getLogger(__name__)
SESSION_PREFIX = "mp:session:"


@dataclass(frozen=True)
class MpSession:
    """Who a mini-program token belongs to."""

    identity_id: int
    customer_id: int
    openid: str
    linked_to_official_account: bool


def _map_error(exc: WeChatAPIError) -> Exception:
    if exc.errcode in (40029, 40163):
        return Unauthorized("登录凭证无效或已使用，请重新登录")
    if exc.errcode == 45011:
        return TooManyRequests("登录太频繁，请稍后再试")
    if exc.errcode == 40226:
        return Forbidden("该微信用户已被限制登录")
    return UpstreamUnavailable("微信登录服务暂时不可用，请稍后再试")


async def login(api: WeChatAPI, store: KeyValueStore, code: str, ttl: int) -> tuple[str, MpSession]:
    """Exchange a wx.login code for our token; the identity is created or linked by unionid."""
    if not code or len(code) > 128:
        raise Unauthorized("缺少登录凭证 code")
    try:
        data = await api.code_to_session(code)
    except WeChatAPIError as exc:
        raise _map_error(exc) from exc
    session = await asyncio.to_thread(_resolve, api.appid, str(data["openid"]), data.get("unionid"))
    token = secrets.token_urlsafe(32)
    record = {
        "identity_id": session.identity_id,
        "customer_id": session.customer_id,
        "openid": session.openid,
        "linked": session.linked_to_official_account,
        "session_key": data.get("session_key"),
    }
    store.set(SESSION_PREFIX + token, json.dumps(record), ttl)
    return token, session


def current_session(store: KeyValueStore, token: str) -> MpSession:
    """The session of a bearer token, or Unauthorized."""
    raw = store.get(SESSION_PREFIX + token) if token else None
    if not raw:
        raise Unauthorized("未登录或登录已过期")
    data = json.loads(raw)
    return MpSession(
        int(data["identity_id"]),
        int(data["customer_id"]),
        str(data["openid"]),
        bool(data["linked"]),
    )


def _resolve(appid: str, openid: str, unionid: object) -> MpSession:
    with session_scope() as db:
        identity = resolve_identity(db, appid, openid)
        if isinstance(unionid, str) and unionid and identity.unionid != unionid:
            link_unionid(db, identity, unionid)
        # Logging in again withdraws an erasure still in its cooling-off (POL-PRV-007).
        if cooling_off.withdraw(db, identity.customer_id, "relogin"):
            log.info("customer %d logged in again: erasure withdrawn", identity.customer_id)
        return MpSession(identity.id, identity.customer_id, identity.openid, bool(identity.unionid))
