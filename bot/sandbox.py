"""A local stand-in for the WeChat API: tokens and customer-service messages, recorded for reading.

It serves the embedded default (mounted at /sandbox when WECHAT_API_BASE is unset) and the tests.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from fastapi import FastAPI, Request

from crm.config import Settings

TOKEN_TTL = 7200


class SandboxState:
    """Issued tokens and every message the sandbox received, in order."""

    def __init__(self, credentials: dict[str, str]) -> None:
        self.credentials = credentials  # appid -> secret
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (appid, expires_at)
        self.messages: list[dict[str, Any]] = []
        self.token_requests = 0
        self._lock = threading.Lock()

    def issue(self, appid: str, secret: str) -> dict[str, Any]:
        if self.credentials.get(appid) is None:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if self.credentials[appid] != secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        with self._lock:
            self.token_requests += 1
            for token, (owner, expires) in self.tokens.items():
                if owner == appid and expires - time.time() > 300:
                    return {"access_token": token, "expires_in": int(expires - time.time())}
            token = secrets.token_urlsafe(48)
            self.tokens[token] = (appid, time.time() + TOKEN_TTL)
        return {"access_token": token, "expires_in": TOKEN_TTL}

    def appid_for(self, token: str) -> str | None:
        owner = self.tokens.get(token)
        return owner[0] if owner and owner[1] > time.time() else None

    def record(self, appid: str, payload: dict[str, Any]) -> int:
        with self._lock:
            self.messages.append(
                {"seq": len(self.messages) + 1, "appid": appid, "at": time.time(), **payload}
            )
            return len(self.messages)


def create_sandbox(settings: Settings) -> FastAPI:
    """The sandbox ASGI app; its state is at `app.state.sandbox`."""
    app = FastAPI(title="WeChat API sandbox", docs_url=None, redoc_url=None)
    state = SandboxState(
        {
            settings.wechat_oa_appid: settings.wechat_oa_secret,
            settings.wechat_mp_appid: settings.wechat_mp_secret,
        }
    )
    app.state.sandbox = state

    @app.get("/cgi-bin/token")
    def token(appid: str = "", secret: str = "") -> dict[str, Any]:
        return state.issue(appid, secret)

    @app.post("/cgi-bin/stable_token")
    async def stable_token(request: Request) -> dict[str, Any]:
        body = await _json(request)
        return state.issue(str(body.get("appid", "")), str(body.get("secret", "")))

    @app.post("/cgi-bin/message/custom/send")
    async def custom_send(request: Request, access_token: str = "") -> dict[str, Any]:
        appid = state.appid_for(access_token)
        if appid is None:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
        body = await _json(request)
        if not body.get("touser") or not body.get("msgtype"):
            return {"errcode": 44002, "errmsg": "empty post data"}
        state.record(appid, body)
        return {"errcode": 0, "errmsg": "ok"}

    @app.get("/messages")
    def messages(touser: str = "", after: int = 0) -> list[dict[str, Any]]:
        """What was sent (to `touser`), after sequence number `after`."""
        return [m for m in state.messages[after:] if not touser or m["touser"] == touser]

    return app


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
