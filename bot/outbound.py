"""Outbound WeChat API calls (customer-service messages) through wechatpy, safe token policy."""

from __future__ import annotations

import time
from typing import Any

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage

from crm.config import Settings
from crm.kv import redis_client

TOKEN_ERRORS = {40001, 40014, 42001}


class StableTokenClient(WeChatClient):
    """wechatpy's client pointed at a configurable API base, using stable_token.

    wechatpy hard-codes api.weixin.qq.com for the token and retries token errors without bound;
    this fetches /cgi-bin/stable_token with a timeout and retries a token error once.
    """

    def __init__(self, appid: str, secret: str, api_base: str, session: Any) -> None:
        super().__init__(appid, secret, session=session, timeout=5, auto_retry=False)
        self.api_base = api_base.rstrip("/")
        self.API_BASE_URL = f"{self.api_base}/cgi-bin/"

    def fetch_access_token(self) -> dict[str, Any]:
        response = self._http.post(
            f"{self.api_base}/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": False,
            },
            timeout=5,
        )
        try:
            response.raise_for_status()
            data: dict[str, Any] = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise WeChatClientException(None, f"token endpoint failed: {exc}", client=self) from exc
        if data.get("errcode"):
            raise WeChatClientException(data["errcode"], data.get("errmsg"), client=self)
        self.session.set(self.access_token_key, data["access_token"], data["expires_in"])
        self.expires_at = int(time.time()) + int(data["expires_in"])
        return data

    def send_text(self, openid: str, content: str) -> None:
        """Send a customer-service text message, refreshing the token once if WeChat asks."""
        try:
            self.message.send_text(openid, content)
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            self.session.delete(self.access_token_key)
            self.fetch_access_token()
            self.message.send_text(openid, content)


def make_client(settings: Settings, appid: str, secret: str) -> StableTokenClient:
    """A client for one appid, with its token cached in Redis when configured."""
    session: Any = (
        RedisStorage(redis_client(settings.redis_url), prefix="wechatpy")
        if settings.redis_url
        else MemoryStorage()
    )
    return StableTokenClient(appid, secret, settings.effective_wechat_api_base, session)
