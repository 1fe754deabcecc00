"""The back office's WeChat simulator: chat as a customer through the real OA callback protocol."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, model_validator
from starlette.routing import Mount

from api.backoffice.web import PREFIX, CsrfStaff, StaffPage, render
from api.deps import AppContext, context_of
from bot.menu import click_text, load_menu
from bot.sandbox import SandboxState
from bot.simulator import WeChatSimulator
from crm.errors import NotFound, UpstreamUnavailable

log = logging.getLogger(__name__)
router = APIRouter(prefix=f"{PREFIX}/simulator", tags=["back office: simulator"])

OPENID = r"^[A-Za-z0-9_-]{6,64}$"
MAX_TEXT = 1000
CALLBACK_TIMEOUT = 10.0  # above the callback's own 5-second budget: its answer always arrives
SANDBOX_PATH = "/sandbox"  # where api/main.py mounts the sandbox
# Sandbox records shown on the phone, and the label of each non-text kind.
NOTICE_LABELS = {"template": "【服务通知】", "subscribe": "【订阅通知】"}
MEDIA_LABELS = {
    "image": "[图片]",
    "voice": "[语音]",
    "video": "[视频]",
    "music": "[音乐]",
    "mpnews": "[图文]",
    "wxcard": "[卡券]",
}


def sandboxed(request: Request) -> AppContext:
    """The app's context; 404 unless this app talks to the local WeChat sandbox."""
    # What the simulator sends must never reach a real WeChat user.
    context = context_of(request)
    if not context.settings.sandbox_enabled:
        raise NotFound("模拟器只在使用本地微信沙箱时可用（未设置 WECHAT_API_BASE）")
    return context


Sandboxed = Annotated[AppContext, Depends(sandboxed)]


def mounted_sandbox(request: Request) -> SandboxState:
    """The state of the WeChat sandbox mounted on this app (read in-process: polls stay quiet)."""
    for route in request.app.routes:
        if isinstance(route, Mount) and route.path == SANDBOX_PATH:
            state = getattr(getattr(route.app, "state", None), "sandbox", None)
            if isinstance(state, SandboxState):
                return state
    raise NotFound("本服务没有挂载本地微信沙箱")


class SimulatedPush(BaseModel):
    """What the page sends as the customer: a text, or an event (follow, unfollow, menu click)."""

    openid: str = Field(pattern=OPENID)
    text: str | None = Field(default=None, max_length=MAX_TEXT)
    event: Literal["subscribe", "unsubscribe", "CLICK"] | None = None
    key: str = Field(default="", max_length=128)
    safe_mode: bool = True

    @model_validator(mode="after")
    def _one_push(self) -> SimulatedPush:
        if (self.text is None) == (self.event is None):
            raise ValueError("send either text or event")
        if self.text is not None and not self.text.strip():
            raise ValueError("text is empty")
        if self.event == "CLICK" and click_text(self.key) is None:
            raise ValueError(f"unknown menu key {self.key!r}")
        return self


def new_openid() -> str:
    """A fresh simulated customer, shaped like a real openid (28 characters)."""
    return "osim" + secrets.token_urlsafe(18)


def menu_groups() -> list[dict[str, Any]]:
    """The OA menu's click buttons as the phone shows them: top-level name and its items."""
    groups = []
    for top in load_menu()["button"]:
        items = [
            {"name": b["name"], "key": b["key"]}
            for b in [top, *top.get("sub_button", [])]
            if b.get("type") == "click"
        ]
        if items:
            groups.append({"name": top["name"], "items": items})
    return groups


def simulator_for(context: AppContext, push: SimulatedPush) -> WeChatSimulator:
    """The customer of `push`, posting to this process's own OA callback on the loopback."""
    # Not request.base_url: the Host header is the caller's to choose, and behind a proxy it is
    # the public address; this app's WeChat client reaches its sandbox the same way.
    settings = context.settings
    return WeChatSimulator(
        f"http://127.0.0.1:{settings.port}",
        settings.wechat_oa_token,
        settings.wechat_oa_aes_key,
        settings.wechat_oa_appid,
        openid=push.openid,
        safe_mode=push.safe_mode,
        timeout=CALLBACK_TIMEOUT,
    )


def push_xml(sim: WeChatSimulator, push: SimulatedPush) -> str:
    """The plaintext XML WeChat would push for `push`."""
    if push.event is None:
        return sim.text_xml(push.text or "")
    return sim.event_xml(push.event, push.key if push.event == "CLICK" else "")


def bubble(record: dict[str, Any]) -> dict[str, Any]:
    """One message the sandbox recorded, as the phone shows it (text plus tappable choices)."""
    kind, msgtype = str(record["kind"]), str(record.get("msgtype", ""))
    options: list[str] = []
    if kind in NOTICE_LABELS:
        fields = record.get("data") or {}
        values = [str(v.get("value", "")) for v in fields.values() if isinstance(v, dict)]
        text = NOTICE_LABELS[kind] + "\n".join(values)
    elif msgtype == "text":
        text = str(record.get("text", {}).get("content", ""))
    elif msgtype == "msgmenu":
        menu = record.get("msgmenu", {})
        text = "\n".join(p for p in (menu.get("head_content"), menu.get("tail_content")) if p)
        options = [str(choice.get("content", "")) for choice in menu.get("list", [])]
    elif msgtype == "news":
        articles = record.get("news", {}).get("articles", [])
        text = "[图文] " + "；".join(str(a.get("title", "")) for a in articles)
    elif msgtype == "miniprogrampage":
        text = "[小程序卡片] " + str(record.get("miniprogrampage", {}).get("title", ""))
    else:
        text = MEDIA_LABELS.get(msgtype, f"[{msgtype or kind}]")
    return {
        "seq": int(record["seq"]),
        "kind": kind,
        "msgtype": msgtype,
        "text": text,
        "options": options,
        "at": record.get("at"),
    }


def listing(records: list[dict[str, Any]], last: int) -> dict[str, Any]:
    """The page's poll answer: new bubbles, the sequence number to ask after, typing state."""
    messages: list[dict[str, Any]] = []
    typing: bool | None = None  # None: no news about the typing status
    for record in records:
        if record["kind"] == "typing":
            typing = record.get("command") == "Typing"
        elif record["kind"] == "custom" or record["kind"] in NOTICE_LABELS:
            messages.append(bubble(record))
            typing = False  # WeChat clears "typing…" when a message arrives
    return {"messages": messages, "last": last, "typing": typing}


@router.get("", response_class=HTMLResponse)
async def page(
    request: Request, _context: Sandboxed, staff: StaffPage, openid: str = ""
) -> HTMLResponse:
    """The phone: chat as a simulated customer, a new one unless `openid` names one."""
    chosen = openid if re.fullmatch(OPENID, openid) else new_openid()
    return render(request, "simulator.html", staff, openid=chosen, menu=menu_groups())


@router.post("/send")
async def send(push: SimulatedPush, context: Sandboxed, _staff: CsrfStaff) -> dict[str, Any]:
    """Sign (and encrypt) the push as WeChat does, POST it to /wechat/oa, open the reply."""
    sim = simulator_for(context, push)
    url = f"{sim.base_url}{sim.path}"
    params, body = sim.envelope(push_xml(sim, push))
    started = time.monotonic()
    try:
        response = await context.http.post(url, params=params, content=body, timeout=sim.timeout)
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(
            f"连接不到本服务的回调 {url}（PORT 设置是否与实际端口一致？）：{exc!r}"
        ) from exc
    seconds = round(time.monotonic() - started, 2)
    try:
        reply = sim.open_reply(response)
    except Exception as exc:  # a non-200 answer, or one that does not decrypt or parse
        log.warning("simulator could not open the callback's answer: %s", exc)
        raise UpstreamUnavailable(f"回调的应答无法解开：{exc}") from exc
    return {"openid": push.openid, "reply": reply, "seconds": seconds}


@router.get("/messages")
async def messages(
    request: Request,
    _context: Sandboxed,
    _staff: StaffPage,
    openid: Annotated[str, Query(pattern=OPENID)],
    after: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """What the sandbox received for `openid` after sequence number `after` (the page polls)."""
    recorded = mounted_sandbox(request).messages
    total = len(recorded)  # the sandbox only appends
    if after > total:  # the sandbox restarted with the app: everything is new again
        after = 0
    mine = [m for m in recorded[after:total] if m.get("touser") == openid]
    return listing(mine, total)
