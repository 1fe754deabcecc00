"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api import health, wechat
from api.deps import AppContext
from bot.outbound import make_client
from bot.rasa_client import RasaClient
from bot.runtime import ChannelRuntime
from bot.sandbox import create_sandbox
from bot.wechat import OfficialAccountCodec
from crm.config import Settings, get_settings
from crm.errors import DomainError
from crm.kv import get_store


def build_context(settings: Settings, http: httpx.AsyncClient) -> AppContext:
    """Wire the channel runtime for the configured accounts."""
    rasa = RasaClient(settings.rasa_url, http)
    oa_client = make_client(settings, settings.wechat_oa_appid, settings.wechat_oa_secret)
    runtime = ChannelRuntime(
        appid=settings.wechat_oa_appid,
        channel="oa",
        store=get_store(),
        rasa=rasa,
        send_text=oa_client.send_text,
        budget_seconds=settings.reply_budget_seconds,
        dedup_ttl_seconds=settings.dedup_ttl_seconds,
    )
    codec = OfficialAccountCodec(
        settings.wechat_oa_token, settings.wechat_oa_aes_key, settings.wechat_oa_appid
    )
    return AppContext(settings=settings, http=http, rasa=rasa, oa_codec=codec, oa_runtime=runtime)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The api: WeChat callbacks, health, and the WeChat sandbox in the embedded default."""
    settings = settings or get_settings()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as http:
            app.state.context = build_context(settings, http)
            yield
            await app.state.context.oa_runtime.drain()

    app = FastAPI(title="匠心五金 WeChat bot", lifespan=lifespan)
    app.include_router(wechat.router)
    app.include_router(health.router)
    if settings.sandbox_enabled:
        app.mount("/sandbox", create_sandbox(settings))

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(
            {"error": type(exc).__name__, "detail": exc.detail}, status_code=exc.status_code
        )

    return app
