"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError

from api import health, integration, metrics, mp, wechat
from api.backoffice import audit as backoffice_audit
from api.backoffice import coupons as backoffice_coupons
from api.backoffice import dashboard as backoffice_dashboard
from api.backoffice import handoffs as backoffice_handoffs
from api.backoffice import knowledge as backoffice_knowledge
from api.backoffice import members as backoffice_members
from api.backoffice import privacy as backoffice_privacy
from api.backoffice import simulator as backoffice_simulator
from api.backoffice import ticket_pages as backoffice_ticket_pages
from api.backoffice import tickets as backoffice_tickets
from api.backoffice import web as backoffice_web
from api.deps import AppContext, Channel
from bot import outbound
from bot.delivery import DeliveryWorker
from bot.normalize import normalize
from bot.rasa_client import RasaClient
from bot.recovery import Recovery
from bot.runtime import ChannelRuntime
from bot.sandbox import SandboxState, create_sandbox
from bot.spool import Spool
from bot.wechat import WeChatCodec
from bot.wechat_api import WeChatAPI
from crm.config import Settings, get_settings
from crm.errors import DomainError
from crm.jobs.scheduler import run_forever, sweep_handoffs_forever
from crm.kv import get_store
from crm.privacy.masking import install_log_masking

log = logging.getLogger(__name__)


def build_context(settings: Settings, http: httpx.AsyncClient) -> AppContext:
    """Wire both WeChat accounts to Rasa, the outbox and the delivery worker."""
    rasa = RasaClient(settings.rasa_url, http)
    store = get_store()
    base = settings.effective_wechat_api_base
    apis = {
        "oa": WeChatAPI(settings.wechat_oa_appid, settings.wechat_oa_secret, base, store, http),
        "mp": WeChatAPI(settings.wechat_mp_appid, settings.wechat_mp_secret, base, store, http),
    }
    worker = DeliveryWorker(
        {api.appid: api for api in apis.values()}, miniprogram_appids={settings.wechat_mp_appid}
    )
    spool = Spool(settings.spool_dir)

    def channel(name: str, token: str, keys: list[str], passive: bool) -> Channel:
        api = apis[name]
        runtime = ChannelRuntime(
            appid=api.appid,
            channel=name,
            store=store,
            rasa=rasa,
            wake_delivery=worker.wake,
            budget_seconds=settings.reply_budget_seconds,
            passive_replies=passive,
            dedup_ttl_seconds=settings.dedup_ttl_seconds,
            messages_per_minute=settings.openid_messages_per_minute,
            lookup_unionid=_unionid_of(api) if passive else None,
            typing=api.typing if passive else None,
            spool=spool,
        )
        formats = ("xml",) if passive else ("xml", "json")
        return Channel(WeChatCodec(token, keys, api.appid), runtime, api, formats)

    return AppContext(
        settings=settings,
        http=http,
        rasa=rasa,
        worker=worker,
        spool=spool,
        oa=channel(
            "oa",
            settings.wechat_oa_token,
            [settings.wechat_oa_aes_key, settings.wechat_oa_aes_key_previous],
            True,
        ),
        mp=channel(
            "mp",
            settings.wechat_mp_token,
            [settings.wechat_mp_aes_key, settings.wechat_mp_aes_key_previous],
            False,
        ),
    )


def _recovery(settings: Settings, context: AppContext) -> Recovery:
    """The sweep that replays spooled pushes and answers what the bot still owes."""
    runtimes = [context.oa.runtime, context.mp.runtime]
    return Recovery(
        runtimes,
        context.rasa,
        get_store(),
        context.spool,
        interval=settings.pending_retry_seconds,
        stale_after=settings.pending_stale_seconds,
        handoff_after=settings.pending_handoff_minutes * 60,
    )


def _unionid_of(api: WeChatAPI) -> Callable[[str], Awaitable[str | None]]:
    # Best-effort background lookups, a few at a time: under a burst of new customers they
    # wait their turn instead of crowding the connections the replies need.
    gate = asyncio.Semaphore(UNIONID_LOOKUPS_AT_ONCE)

    async def lookup(openid: str) -> str | None:
        async with gate:
            unionid = (await api.user_info(openid)).get("unionid")
        return str(unionid) if unionid else None

    return lookup


UNIONID_LOOKUPS_AT_ONCE = 4


def create_app(settings: Settings | None = None, sandbox: SandboxState | None = None) -> FastAPI:
    """The api: WeChat callbacks, health, and the WeChat sandbox in the embedded default."""
    settings = settings or get_settings()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_log_masking()  # no mobile number reaches a log in clear

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Storage runs in worker threads; the default pool (cores + 4) queues callbacks under load.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=32))
        await asyncio.to_thread(normalize, "預熱 warm-up")  # load OpenCC and jieba before traffic
        async with outbound.client() as http:
            context = build_context(settings, http)
            app.state.context = context
            worker = (
                asyncio.create_task(context.worker.run_forever())
                if settings.delivery_worker
                else None
            )
            jobs = (
                [
                    asyncio.create_task(run_forever(get_store())),
                    asyncio.create_task(sweep_handoffs_forever()),
                ]
                if settings.scheduled_jobs
                else []
            )
            if settings.recovery:
                jobs.append(asyncio.create_task(_recovery(settings, context).run_forever()))
            yield
            for job in jobs:
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            await context.oa.runtime.drain()
            await context.mp.runtime.drain()
            if worker is not None:
                await context.worker.run_once()
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker

    app = FastAPI(title="匠心五金 WeChat bot", lifespan=lifespan)
    app.state.settings = settings  # also for requests served without the lifespan (tests)
    app.include_router(wechat.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(mp.router)
    app.include_router(integration.router)
    backoffice_web.install(app)
    app.include_router(backoffice_tickets.router)
    app.include_router(backoffice_handoffs.router)
    app.include_router(backoffice_coupons.router)
    app.include_router(backoffice_dashboard.router)
    app.include_router(backoffice_knowledge.router)
    app.include_router(backoffice_ticket_pages.router)
    app.include_router(backoffice_ticket_pages.chat_router)
    app.include_router(backoffice_members.router)
    app.include_router(backoffice_simulator.router)
    app.include_router(backoffice_audit.router)
    app.include_router(backoffice_privacy.router)
    if settings.sandbox_enabled:
        app.mount("/sandbox", create_sandbox(settings, sandbox))

    @app.exception_handler(DataError)
    async def unstorable_input(_: Request, exc: DataError) -> Response:
        """Input the database cannot hold (a NUL byte in text, a number out of range): the
        caller's mistake, answered 422, never a 500 (found by the fuzz test)."""
        log.warning("input refused by the database: %s", exc.orig)
        return JSONResponse(
            {"detail": "the request holds characters or numbers that cannot be stored"},
            status_code=422,
        )

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> Response:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers())

    return app
