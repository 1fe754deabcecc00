"""A local stand-in for the WeChat API, recording what it receives; errors can be injected.

It serves the embedded default (mounted at /sandbox when WECHAT_API_BASE is unset) and the tests.
Test-only routes: GET /messages, GET /stats, POST/DELETE /faults, POST /codes, POST /users,
GET /sms. Not WeChat's: POST /sms/send stands in for an SMS provider (development sender).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from crm.config import Settings

TOKEN_TTL = 7200
# getPhoneNumber codes the sandbox accepts: "phone-13812345678" shares that number.
PHONE_CODE = re.compile(r"^phone-(\d{11})$")
JSCODE_ERRORS = {"invalid": 40029, "used": 40163, "frequent": 45011, "blocked": 40226, "busy": -1}


class SandboxState:
    """Issued tokens, recorded calls, injected faults, and the users the sandbox knows."""

    def __init__(self, credentials: dict[str, str]) -> None:
        self.credentials = credentials  # appid -> secret
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (appid, expires_at)
        self.messages: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.codes: dict[str, dict[str, Any]] = {}  # js_code -> session data
        self.unionids: dict[str, str] = {}  # openid -> unionid
        self.menus: dict[str, Any] = {}
        self.sms: list[dict[str, Any]] = []
        self.template_ids: dict[str, int] = {}  # client_msg_id -> msgid
        self.token_requests = 0
        self._next_msgid = 1 << 60
        self._lock = threading.Lock()

    def issue(self, appid: str, secret: str) -> dict[str, Any]:
        if appid not in self.credentials:
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

    def record(self, appid: str, kind: str, payload: dict[str, Any]) -> int:
        with self._lock:
            self._next_msgid += 1
            self.messages.append(
                {
                    "seq": len(self.messages) + 1,
                    "appid": appid,
                    "kind": kind,
                    "msgid": self._next_msgid,
                    "at": time.time(),
                    **payload,
                }
            )
            return self._next_msgid

    def record_sms(self, phone: str, text: str) -> None:
        with self._lock:
            self.sms.append(
                {"seq": len(self.sms) + 1, "phone": phone, "text": text, "at": time.time()}
            )

    def take_fault(self, path: str) -> dict[str, Any] | None:
        with self._lock:
            for fault in self.faults:
                if fault["path"] == path and fault["times"] != 0:
                    fault["times"] -= 1
                    return fault
        return None


def sandbox_state(settings: Settings) -> SandboxState:
    """A fresh sandbox state that knows the configured app ids and secrets."""
    return SandboxState(
        {
            settings.wechat_oa_appid: settings.wechat_oa_secret,
            settings.wechat_mp_appid: settings.wechat_mp_secret,
        }
    )


def create_sandbox(settings: Settings, state: SandboxState | None = None) -> FastAPI:
    """The sandbox ASGI app; its state is at `app.state.sandbox`.

    Several api servers in one process (the tests) share one `state`, as they would share the
    one real WeChat API.
    """
    app = FastAPI(title="WeChat API sandbox", docs_url=None, redoc_url=None)
    state = state or sandbox_state(settings)
    app.state.sandbox = state

    @app.middleware("http")
    async def inject_faults(request: Request, call_next):  # type: ignore[no-untyped-def]
        path = request.url.path.removeprefix(request.scope.get("root_path", ""))
        fault = state.take_fault(path)
        if fault is None:
            return await call_next(request)
        delay = float(fault.get("delay", 0))
        if fault.get("errcode") is not None:  # refused, after `delay`
            await asyncio.sleep(delay)
            return JSONResponse({"errcode": fault["errcode"], "errmsg": "injected by sandbox"})
        response = await call_next(request)  # taken, but answered `delay` seconds late
        await asyncio.sleep(delay)
        return response

    async def authorised(request: Request) -> tuple[str | None, dict[str, Any]]:
        return state.appid_for(request.query_params.get("access_token", "")), await _json(request)

    def invalid_token() -> dict[str, Any]:
        return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}

    @app.get("/cgi-bin/token")
    def token(appid: str = "", secret: str = "") -> dict[str, Any]:
        return state.issue(appid, secret)

    @app.post("/cgi-bin/stable_token")
    async def stable_token(request: Request) -> dict[str, Any]:
        body = await _json(request)
        return state.issue(str(body.get("appid", "")), str(body.get("secret", "")))

    @app.post("/cgi-bin/message/custom/send")
    async def custom_send(request: Request) -> dict[str, Any]:
        appid, body = await authorised(request)
        if appid is None:
            return invalid_token()
        if not body.get("touser") or not body.get("msgtype"):
            return {"errcode": 44002, "errmsg": "empty post data"}
        state.record(appid, "custom", body)
        return {"errcode": 0, "errmsg": "ok"}

    @app.post("/cgi-bin/message/custom/typing")
    async def typing(request: Request) -> dict[str, Any]:
        appid, body = await authorised(request)
        if appid is None:
            return invalid_token()
        if body.get("command") not in ("Typing", "CancelTyping"):
            return {"errcode": 45072, "errmsg": "command invalid"}
        state.record(appid, "typing", body)
        return {"errcode": 0, "errmsg": "ok"}

    @app.post("/cgi-bin/message/template/send")
    async def template_send(request: Request) -> dict[str, Any]:
        appid, body = await authorised(request)
        if appid is None:
            return invalid_token()
        if not body.get("touser") or not body.get("template_id"):
            return {"errcode": 40037, "errmsg": "invalid template_id"}
        client_msg_id = str(body.get("client_msg_id") or "")
        if client_msg_id in state.template_ids:  # WeChat drops a repeat of the same id
            return {"errcode": 0, "errmsg": "ok", "msgid": state.template_ids[client_msg_id]}
        msgid = state.record(appid, "template", body)
        if client_msg_id:
            state.template_ids[client_msg_id] = msgid
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    @app.post("/cgi-bin/message/subscribe/send")
    @app.post("/cgi-bin/message/subscribe/bizsend")
    async def subscribe_send(request: Request) -> dict[str, Any]:
        appid, body = await authorised(request)
        if appid is None:
            return invalid_token()
        if not body.get("touser") or not body.get("template_id"):
            return {"errcode": 40037, "errmsg": "invalid template_id"}
        msgid = state.record(appid, "subscribe", body)
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    @app.get("/cgi-bin/user/info")
    def user_info(access_token: str = "", openid: str = "") -> dict[str, Any]:
        if state.appid_for(access_token) is None:
            return invalid_token()
        info: dict[str, Any] = {"subscribe": 1, "openid": openid, "language": "zh_CN"}
        if openid in state.unionids:
            info["unionid"] = state.unionids[openid]
        return info

    @app.get("/sns/jscode2session")
    def jscode2session(appid: str = "", secret: str = "", js_code: str = "") -> dict[str, Any]:
        if state.credentials.get(appid) != secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if js_code in JSCODE_ERRORS:
            return {"errcode": JSCODE_ERRORS[js_code], "errmsg": f"sandbox {js_code}"}
        session = state.codes.pop(js_code, None)
        if session is None:
            return {"errcode": 40029, "errmsg": "invalid code"}
        return {"session_key": secrets.token_urlsafe(16), **session}

    @app.post("/wxa/business/getuserphonenumber")
    async def user_phone_number(request: Request) -> dict[str, Any]:
        appid, body = await authorised(request)
        if appid is None:
            return invalid_token()
        found = PHONE_CODE.match(str(body.get("code", "")))
        if found is None:
            return {"errcode": 40029, "errmsg": "invalid code"}
        phone = found.group(1)
        info = {"phoneNumber": phone, "purePhoneNumber": phone, "countryCode": "86"}
        watermark = {"timestamp": int(time.time()), "appid": appid}
        return {"errcode": 0, "errmsg": "ok", "phone_info": {**info, "watermark": watermark}}

    @app.post("/cgi-bin/menu/create")
    async def menu_create(request: Request) -> dict[str, Any]:
        appid, body = await authorised(request)
        if appid is None:
            return invalid_token()
        if not isinstance(body.get("button"), list) or not body["button"]:
            return {"errcode": 40016, "errmsg": "invalid button size"}
        state.menus[appid] = body
        return {"errcode": 0, "errmsg": "ok"}

    @app.get("/cgi-bin/menu/get")
    def menu_get(access_token: str = "") -> dict[str, Any]:
        appid = state.appid_for(access_token)
        if appid is None:
            return invalid_token()
        if appid not in state.menus:
            return {"errcode": 46003, "errmsg": "menu no exist"}
        return {"menu": state.menus[appid]}

    @app.post("/cgi-bin/media/upload")
    def media_upload(access_token: str = "", type: str = "image") -> dict[str, Any]:
        if state.appid_for(access_token) is None:
            return invalid_token()
        return {
            "type": type,
            "media_id": "sandbox-" + secrets.token_hex(8),
            "created_at": int(time.time()),
        }

    @app.post("/sms/send")
    async def sms_send(request: Request) -> JSONResponse:
        """Record a text message of the development SMS sender: {phone, text}."""
        body = await _json(request)
        if not body.get("phone") or not body.get("text"):
            return JSONResponse({"ok": False, "error": "phone and text required"}, 422)
        state.record_sms(str(body["phone"]), str(body["text"]))
        return JSONResponse({"ok": True})

    @app.get("/sms")
    def sms(phone: str = "") -> list[dict[str, Any]]:
        """The text messages sent (to `phone`), oldest first."""
        return [m for m in state.sms if not phone or m["phone"] == phone]

    @app.get("/messages")
    def messages(touser: str = "", after: int = 0, kind: str = "") -> list[dict[str, Any]]:
        """What was sent (to `touser`, of `kind`), after sequence number `after`."""
        return [
            m
            for m in state.messages[after:]
            if (not touser or m.get("touser") == touser) and (not kind or m["kind"] == kind)
        ]

    @app.get("/stats")
    def stats() -> dict[str, Any]:
        return {"token_requests": state.token_requests, "messages": len(state.messages)}

    @app.post("/faults")
    async def add_fault(request: Request) -> dict[str, Any]:
        """Make the next `times` calls to `path` answer `errcode` after `delay` seconds, or
        (no errcode) do what was asked but answer `delay` seconds late."""
        body = await _json(request)
        fault = {
            "path": str(body["path"]),
            "errcode": body.get("errcode"),
            "times": int(body.get("times", 1)),
            "delay": float(body.get("delay", 0)),
        }
        state.faults.append(fault)
        return fault

    @app.delete("/faults")
    def clear_faults() -> dict[str, Any]:
        state.faults.clear()
        return {"ok": True}

    @app.post("/codes")
    async def add_code(request: Request) -> dict[str, Any]:
        """Register a wx.login code: {code, openid, unionid?}."""
        body = await _json(request)
        session = {"openid": str(body["openid"])}
        if body.get("unionid"):
            session["unionid"] = str(body["unionid"])
        state.codes[str(body["code"])] = session
        return {"ok": True}

    @app.post("/users")
    async def add_user(request: Request) -> dict[str, Any]:
        """Give an official-account openid a unionid: {openid, unionid}."""
        body = await _json(request)
        state.unionids[str(body["openid"])] = str(body["unionid"])
        return {"ok": True}

    return app


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
