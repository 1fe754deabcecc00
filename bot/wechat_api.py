"""The one outbound WeChat API client (async, both app ids): stable_token, timeouts, bounded retry.

Written on httpx rather than wechatpy's client: that one is synchronous, fetches the classic
token without a timeout and retries token errors without bound (wechat-protocol.md §6.3).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import httpx

from crm.kv import KeyValueStore

log = logging.getLogger(__name__)

TOKEN_ERRORS = {40001, 40014, 42001}
# A token read from the shared store is reused from memory this long (it stays valid at least
# 5 minutes after the store drops it): most calls then cost no round trip to Redis.
TOKEN_MEMORY_SECONDS = 30.0
# What the caller should do about an errcode.
DECISIONS = {
    45015: "fallback",  # outside the 48-hour window, or the user unfollowed
    45047: "fallback",  # customer-service quota for this interaction used up
    43101: "fallback",  # no subscribe-message acceptance left
    43004: "stop",  # the user does not follow the account
    40003: "stop",  # openid not of this app
    45009: "alert",  # daily quota exhausted
    -1: "retry",  # system busy
}


def _describe(exc: BaseException) -> str:
    """The error and its root cause: httpx says "All connection attempts failed", the cause
    below it says why (connection refused, no free local port, ...)."""
    root = exc
    while root.__cause__ is not None or root.__context__ is not None:
        root = root.__cause__ or root.__context__  # type: ignore[assignment]
    text = f"{type(exc).__name__}: {exc}"
    return text if root is exc else f"{text} ({type(root).__name__}: {root})"


class WeChatAPIError(Exception):
    """WeChat answered with an errcode, or could not be reached (errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str, maybe_delivered: bool = False) -> None:
        super().__init__(f"WeChat error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        # The request may have reached WeChat (no answer came back): a repeat may duplicate it.
        self.maybe_delivered = maybe_delivered

    @property
    def decision(self) -> str:
        """retry | fallback | stop | alert | fail."""
        if self.errcode is None:
            return "retry"
        return DECISIONS.get(self.errcode, "fail")


class WeChatAPI:
    """Calls the WeChat API for one appid; the token lives in the shared store."""

    def __init__(
        self,
        appid: str,
        secret: str,
        base_url: str,
        store: KeyValueStore,
        http: httpx.AsyncClient,
        timeout: float = 5.0,
    ) -> None:
        self.appid = appid
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.store = store
        self.http = http
        self.timeout = timeout
        self._token_key = f"wechat:token:{appid}"
        self._refresh_key = f"wechat:token-refresh:{appid}"
        self._remembered: tuple[str, float] = ("", 0.0)  # token, until (monotonic)

    async def _request(
        self, method: str, path: str, *, params: dict[str, Any], body: Any = None
    ) -> dict[str, Any]:
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        try:
            response = await self.http.request(
                method,
                f"{self.base_url}{path}",
                params=params,
                content=content,
                headers={"Content-Type": "application/json"} if content else None,
                timeout=self.timeout,
            )
            response.raise_for_status()
            data = response.json()
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise WeChatAPIError(None, _describe(exc)) from exc  # never sent
        except (httpx.HTTPError, ValueError) as exc:
            raise WeChatAPIError(
                None, f"{type(exc).__name__}: {exc}", maybe_delivered=True
            ) from exc
        if not isinstance(data, dict):
            raise WeChatAPIError(None, "response is not a JSON object")
        if data.get("errcode"):
            raise WeChatAPIError(int(data["errcode"]), str(data.get("errmsg", "")))
        return data

    async def token(self) -> str:
        """A valid access token: remembered, cached, else fetched by a single refresher."""
        token, until = self._remembered
        if token and time.monotonic() < until:
            return token
        deadline = time.monotonic() + self.timeout
        while True:
            cached = self.store.get(self._token_key)
            if cached:
                self._remembered = (cached, time.monotonic() + TOKEN_MEMORY_SECONDS)
                return cached
            if self.store.claim(self._refresh_key, int(self.timeout) + 5):
                try:
                    return await self._fetch_token()
                finally:
                    self.store.release(self._refresh_key)
            if time.monotonic() > deadline:
                raise WeChatAPIError(None, "timed out waiting for another token refresh")
            await asyncio.sleep(0.05)

    async def _fetch_token(self) -> str:
        data = await self._request(
            "POST",
            "/cgi-bin/stable_token",
            params={},
            body={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": False,
            },
        )
        token, expires_in = str(data["access_token"]), int(data.get("expires_in", 7200))
        # Refresh a little early; stable_token answers the same token until then.
        self.store.set(self._token_key, token, max(60, expires_in - 300))
        log.info("access token for %s refreshed", self.appid)
        return token

    async def call(
        self,
        path: str,
        body: Any = None,
        method: str = "POST",
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Call an access-token API; a token error refreshes once and retries once, never more."""
        token = await self.token()
        try:
            return await self._request(
                method, path, params={**(params or {}), "access_token": token}, body=body
            )
        except WeChatAPIError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            self._remembered = ("", 0.0)
            if self.store.get(self._token_key) == token:
                self.store.release(self._token_key)
            retry_token = await self.token()
            return await self._request(
                method, path, params={**(params or {}), "access_token": retry_token}, body=body
            )

    async def send_custom(self, payload: dict[str, Any]) -> dict[str, Any]:
        """message/custom/send with a full payload ({"touser", "msgtype", ...})."""
        return await self.call("/cgi-bin/message/custom/send", payload)

    async def send_template(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Official-account template message (payload carries client_msg_id)."""
        return await self.call("/cgi-bin/message/template/send", payload)

    async def send_subscribe(self, payload: dict[str, Any], miniprogram: bool) -> dict[str, Any]:
        """Subscribe message: mini-program `subscribe/send` or OA `subscribe/bizsend`."""
        path = (
            "/cgi-bin/message/subscribe/send"
            if miniprogram
            else ("/cgi-bin/message/subscribe/bizsend")
        )
        return await self.call(path, payload)

    async def typing(self, openid: str) -> None:
        """Show 'typing…' to the user (best effort)."""
        await self.call("/cgi-bin/message/custom/typing", {"touser": openid, "command": "Typing"})

    async def user_info(self, openid: str) -> dict[str, Any]:
        """Official-account user/info (unionid, subscribe state)."""
        return await self.call(
            "/cgi-bin/user/info", method="GET", params={"openid": openid, "lang": "zh_CN"}
        )

    async def code_to_session(self, code: str) -> dict[str, Any]:
        """Mini-program jscode2session, called directly: it needs no access token."""
        return await self._request(
            "GET",
            "/sns/jscode2session",
            params={
                "appid": self.appid,
                "secret": self.secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )

    async def user_phone_number(self, code: str) -> dict[str, Any]:
        """Mini-program getuserphonenumber: the `phone_info` for a getPhoneNumber button's code."""
        data = await self.call("/wxa/business/getuserphonenumber", {"code": code})
        info = data.get("phone_info")
        if not isinstance(info, dict):
            raise WeChatAPIError(None, "getuserphonenumber answered without phone_info")
        return info

    async def create_menu(self, menu: dict[str, Any]) -> dict[str, Any]:
        """Publish the official account's custom menu."""
        return await self.call("/cgi-bin/menu/create", menu)
